// Dense numbering of distinct (process, address) keys, for the per-frame lookups of
// symbolization: a trace's stacks look an address up once per frame of every stack
// (millions of times) among a few ten thousand distinct addresses. An open-addressing table
// of plain slots takes one probe into one array per lookup; node-based maps (std::map,
// std::unordered_map) chased pointers through the heap and recomputed bucket indexes, a large
// part of the cost of storing 100,000 symbolized stacks with their merged stacks
// (docs/performance.md, "Symbolization").
//
// Ownership: plain value. Thread-safety: none; one thread per object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace causeway::symbolize {

class AddressIndex {
 public:
  // The number of `(upid, address)`: 0, 1, 2, ... in order of first insertion. `added` is
  // true when the key was new (its number is then the previous size()). At most 2^32 - 1
  // keys (a trace has one per distinct code address its stacks hold).
  struct Found {
    uint32_t number;
    bool added;
  };
  Found find_or_add(int64_t upid, uint64_t address) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash(upid, address) & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.number == kEmpty) {
        s = {upid, address, static_cast<uint32_t>(size_)};
        return {static_cast<uint32_t>(size_++), true};
      }
      if (s.address == address && s.upid == upid) return {s.number, false};
    }
  }
  // Distinct keys added so far.
  size_t size() const { return size_; }

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  struct Slot {
    int64_t upid = 0;
    uint64_t address = 0;
    uint32_t number = kEmpty;
  };
  static size_t hash(int64_t upid, uint64_t address) {
    // splitmix64-style finalizer: code addresses differ mostly in their low bits, and the
    // table index takes the low bits of the hash.
    uint64_t x = address ^ (static_cast<uint64_t>(upid) * 0x9e3779b97f4a7c15ULL);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return static_cast<size_t>(x ^ (x >> 31));
  }
  // Doubles the table (at most half full, so probe runs stay short).
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
    const size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.number == kEmpty) continue;
      size_t i = hash(s.upid, s.address) & mask;
      while (slots_[i].number != kEmpty) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace causeway::symbolize
