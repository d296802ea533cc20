#include "export/json_stream.h"

#include <cerrno>
#include <cstring>

#include "common/utf8.h"

namespace causeway::timeline {

JsonStream::JsonStream(std::FILE* out) : out_(out) {
  buf_.reserve(kBufferBytes + 1024);
}

JsonStream::~JsonStream() {
  drain();
}

void JsonStream::drain() {
  if (buf_.empty()) return;
  if (error_ == 0) {
    errno = 0;
    if (std::fwrite(buf_.data(), 1, buf_.size(), out_) != buf_.size()) {
      error_ = errno != 0 ? errno : EIO;
    }
  }
  written_ += static_cast<int64_t>(buf_.size());
  buf_.clear();
}

void JsonStream::put(std::string_view s) {
  buf_.append(s);
  if (buf_.size() >= kBufferBytes) drain();
}

void JsonStream::put(char c) {
  buf_.push_back(c);
  if (buf_.size() >= kBufferBytes) drain();
}

void JsonStream::separator() {
  if (after_key_) {  // a value right after its key: no comma
    after_key_ = false;
    return;
  }
  if (depth_ > 0 && depth_ <= 64) {
    const uint64_t bit = uint64_t{1} << (depth_ - 1);
    if (has_element_ & bit) put(',');
    has_element_ |= bit;
  }
}

JsonStream& JsonStream::begin_object() {
  separator();
  put('{');
  ++depth_;
  if (depth_ <= 64) has_element_ &= ~(uint64_t{1} << (depth_ - 1));
  return *this;
}

JsonStream& JsonStream::end_object() {
  --depth_;
  put('}');
  return *this;
}

JsonStream& JsonStream::begin_array() {
  separator();
  put('[');
  ++depth_;
  if (depth_ <= 64) has_element_ &= ~(uint64_t{1} << (depth_ - 1));
  return *this;
}

JsonStream& JsonStream::end_array() {
  --depth_;
  put(']');
  return *this;
}

JsonStream& JsonStream::key(std::string_view k) {
  string(k);
  put(':');
  after_key_ = true;
  return *this;
}

JsonStream& JsonStream::string(std::string_view s) {
  separator();
  put('"');
  static constexpr char kHex[] = "0123456789abcdef";
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      put('\\');
      put(static_cast<char>(c));
      ++i;
    } else if (c < 0x20) {
      switch (c) {
        case '\n':
          put("\\n");
          break;
        case '\t':
          put("\\t");
          break;
        case '\r':
          put("\\r");
          break;
        default: {
          const char esc[7] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15], 0};
          put(std::string_view(esc, 6));
        }
      }
      ++i;
    } else if (c < 0x80) {
      put(static_cast<char>(c));
      ++i;
    } else {
      const size_t n = utf8_sequence_length(s, i);
      if (n == 0) {
        put("\\ufffd");
        ++i;
      } else {
        put(s.substr(i, n));
        i += n;
      }
    }
  }
  put('"');
  return *this;
}

JsonStream& JsonStream::integer(int64_t v) {
  separator();
  char tmp[24];
  const int n = std::snprintf(tmp, sizeof tmp, "%lld", static_cast<long long>(v));
  put(std::string_view(tmp, static_cast<size_t>(n)));
  return *this;
}

JsonStream& JsonStream::unsigned_integer(uint64_t v) {
  separator();
  char tmp[24];
  const int n = std::snprintf(tmp, sizeof tmp, "%llu", static_cast<unsigned long long>(v));
  put(std::string_view(tmp, static_cast<size_t>(n)));
  return *this;
}

JsonStream& JsonStream::micros(int64_t ns) {
  separator();
  // Integer arithmetic keeps every nanosecond: a double would lose them past ~2^53 ns.
  const bool negative = ns < 0;
  const uint64_t mag =
      negative ? uint64_t{0} - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  const uint64_t whole = mag / 1000;
  const uint64_t frac = mag % 1000;
  char tmp[32];
  int n;
  if (frac == 0) {
    n = std::snprintf(tmp, sizeof tmp, "%s%llu", negative ? "-" : "",
                      static_cast<unsigned long long>(whole));
  } else {
    n = std::snprintf(tmp, sizeof tmp, "%s%llu.%03llu", negative ? "-" : "",
                      static_cast<unsigned long long>(whole),
                      static_cast<unsigned long long>(frac));
  }
  put(std::string_view(tmp, static_cast<size_t>(n)));
  return *this;
}

JsonStream& JsonStream::hex(uint64_t v) {
  char tmp[24];
  const int n = std::snprintf(tmp, sizeof tmp, "0x%llx", static_cast<unsigned long long>(v));
  return string(std::string_view(tmp, static_cast<size_t>(n)));
}

JsonStream& JsonStream::raw(std::string_view json) {
  separator();
  put(json);
  return *this;
}

Status JsonStream::flush() {
  drain();
  if (error_ == 0 && std::fflush(out_) != 0) error_ = errno != 0 ? errno : EIO;
  return status();
}

Status JsonStream::status() const {
  if (error_ == 0) return Status::Ok();
  return Status::Error(std::string("writing failed: ") + std::strerror(error_));
}

}  // namespace causeway::timeline
