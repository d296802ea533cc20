#include "mcp/stdio_transport.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace causeway::mcp {

LineReader::LineReader(int fd, size_t max_line_bytes) : fd_(fd), max_(max_line_bytes) {}

bool LineReader::fill() {
  if (eof_ || error_) return false;
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  char chunk[65536];
  for (;;) {
    ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n > 0) {
      buf_.append(chunk, static_cast<size_t>(n));
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno == EINTR) continue;
    error_ = true;
    return false;
  }
}

LineReader::Status LineReader::next(std::string& line) {
  bool overlong = false;
  for (;;) {
    size_t nl = buf_.find('\n', pos_ + scanned_);
    if (nl == std::string::npos) scanned_ = buf_.size() - pos_;
    if (nl != std::string::npos) {
      scanned_ = 0;
      if (overlong) {
        pos_ = nl + 1;
        return Status::kOverlong;
      }
      size_t len = nl - pos_;
      if (len > max_) {
        pos_ = nl + 1;
        return Status::kOverlong;
      }
      line.assign(buf_, pos_, len);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      pos_ = nl + 1;
      return Status::kLine;
    }
    if (buf_.size() - pos_ > max_) {
      // Drop what we have of the oversized line and keep skipping to its end, so memory
      // never grows past the cap plus one read chunk.
      overlong = true;
      buf_.clear();
      pos_ = 0;
      scanned_ = 0;
    }
    if (!fill()) {
      if (overlong) {
        buf_.clear();
        pos_ = 0;
        return Status::kOverlong;
      }
      scanned_ = 0;
      if (pos_ < buf_.size()) {
        line.assign(buf_, pos_, std::string::npos);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        buf_.clear();
        pos_ = 0;
        return Status::kLine;
      }
      return error_ ? Status::kError : Status::kEof;
    }
  }
}

bool LineWriter::write(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out = line;
  out.push_back('\n');
  const char* p = out.data();
  size_t left = out.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace causeway::mcp
