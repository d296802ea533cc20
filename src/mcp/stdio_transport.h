// Newline-delimited stdio transport: one JSON-RPC message per line.
//
// LineReader reads from a file descriptor with a hard cap on line length: a longer line is
// skipped to its newline without being stored (memory stays bounded by the cap) and is
// reported as kOverlong so the server can answer with an error. LineWriter writes one
// message per line; it is thread-safe (the reader thread and the worker both emit).
#pragma once

#include <cstddef>
#include <mutex>
#include <string>

namespace causeway::mcp {

constexpr size_t kDefaultMaxLineBytes = 4 * 1024 * 1024;

class LineReader {
 public:
  enum class Status { kLine, kOverlong, kEof, kError };
  // Does not own `fd`. Not thread-safe: one reading thread.
  LineReader(int fd, size_t max_line_bytes);
  // Next line without its terminating '\n' (a trailing '\r' is dropped too). At EOF a final
  // unterminated line is returned first. Blocks until a line, EOF or an error.
  Status next(std::string& line);

 private:
  bool fill();  // false at EOF/error
  int fd_;
  size_t max_;
  std::string buf_;
  size_t pos_ = 0;
  size_t scanned_ = 0;  // bytes after pos_ already searched for '\n' (no rescans)
  bool eof_ = false;
  bool error_ = false;
};

class LineWriter {
 public:
  explicit LineWriter(int fd) : fd_(fd) {}
  // Writes `line` + '\n' atomically with respect to other write() calls on this object.
  // Returns false when the peer is gone (EPIPE) or on another write error.
  bool write(const std::string& line);

 private:
  int fd_;
  std::mutex mu_;
};

}  // namespace causeway::mcp
