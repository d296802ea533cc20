// A minimal streaming JSON writer for large documents.
//
// The timeline export writes millions of events; building them as a DOM would grow memory
// with the trace. JsonStream appends tokens to a fixed-size buffer that is flushed to a FILE*
// whenever it fills, so memory stays constant whatever the document size.
//
// Strings are escaped per RFC 8259; bytes that are not valid UTF-8 (thread names are raw
// kernel comm bytes) become U+FFFD so strict parsers accept the output.
//
// Units: micros() takes integer nanoseconds and prints microseconds with three decimals
// (exact: 1 ns resolution), the unit of the Chrome trace-event format.
//
// Ownership: the FILE* belongs to the caller and must outlive the stream. Write errors are
// sticky: after the first failed fwrite nothing more is written and status() reports it.
// Thread-safety: none; one thread writes.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "common/result.h"

namespace causeway::timeline {

class JsonStream {
 public:
  explicit JsonStream(std::FILE* out);
  ~JsonStream();  // flushes what is buffered (errors then visible only through status())
  JsonStream(const JsonStream&) = delete;
  JsonStream& operator=(const JsonStream&) = delete;

  // Structure. Commas between members/elements are inserted automatically.
  JsonStream& begin_object();
  JsonStream& end_object();
  JsonStream& begin_array();
  JsonStream& end_array();
  JsonStream& key(std::string_view k);  // inside an object, before each value

  // Values.
  JsonStream& string(std::string_view s);
  JsonStream& integer(int64_t v);
  JsonStream& unsigned_integer(uint64_t v);
  JsonStream& micros(int64_t ns);          // ns -> µs with 3 decimals, e.g. 1234567 -> 1234.567
  JsonStream& hex(uint64_t v);             // as a string "0x..."
  JsonStream& raw(std::string_view json);  // an already-serialised value

  // Convenience: key + value.
  JsonStream& field(std::string_view k, std::string_view v) { return key(k).string(v); }
  JsonStream& field(std::string_view k, const char* v) { return key(k).string(v); }
  JsonStream& field_int(std::string_view k, int64_t v) { return key(k).integer(v); }
  JsonStream& field_us(std::string_view k, int64_t ns) { return key(k).micros(ns); }

  // Writes the buffer to the FILE and fflush()es it.
  Status flush();
  // Ok, or the first write error as one sentence (without the file name).
  Status status() const;
  // Bytes handed to the FILE so far (including the buffer).
  int64_t bytes_written() const { return written_ + static_cast<int64_t>(buf_.size()); }

  static constexpr size_t kBufferBytes = 256 * 1024;

 private:
  void separator();  // a comma if this is not the first element at this depth
  void put(std::string_view s);
  void put(char c);
  void drain();

  std::FILE* out_;
  std::string buf_;
  int64_t written_ = 0;
  int error_ = 0;  // errno of the first failed write
  // One bit per nesting level: whether an element has been written at that level. Depth is
  // bounded (events nest 3-4 levels); deeper levels just lose comma tracking beyond 64.
  uint64_t has_element_ = 0;
  int depth_ = 0;
  bool after_key_ = false;
};

}  // namespace causeway::timeline
