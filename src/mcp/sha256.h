// SHA-256 (FIPS 180-4), used to hash-chain the audit log.
//
// Written here rather than linking libcrypto so the static causeway binary keeps no extra
// runtime dependency. Thread-safety: Sha256 objects are independent values; the free
// function is reentrant.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace causeway::mcp {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  // Returns the 32-byte digest; the object must not be updated afterwards.
  std::array<uint8_t, 32> finish();

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_bytes_ = 0;
};

// Lower-case hex SHA-256 of `data` (64 characters).
std::string sha256_hex(std::string_view data);

}  // namespace causeway::mcp
