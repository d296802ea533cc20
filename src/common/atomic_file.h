// Writing an output file all-or-nothing: the bytes go to a temporary file next to the target
// ("<target>.partial-<pid>"), which is renamed over the target only once everything is
// written and closed. A failed or interrupted write (full disk, a query error half-way, a
// crash) never leaves a truncated file under the final name, and an existing file keeps its
// old content until the new one is complete. Used by `causeway report` and `causeway export`.
//
// A symlink as the target is followed: the file it points to is replaced, the link stays.
// Devices and FIFOs (/dev/stdout, a named pipe) cannot be renamed over; callers write those
// in place instead.
//
// Interruption: while an AtomicFile is open, SIGINT, SIGTERM and SIGHUP first remove its
// temporary file, then take their previous course (the default action ends the process with
// that signal; a handler the program installed still runs). A process killed outright
// (SIGKILL, a crash) cannot clean up; the next create() for the same target removes such
// stale "<target>.partial-<pid>" files whose process no longer exists.
//
// Errors are one sentence naming the path given and the system's reason.
// Ownership: an AtomicFile owns its temporary file and FILE*; it removes the temporary file
// unless commit() moved it into place. Thread-safety: none (one writer, one thread); at most
// kMaxOpenAtomicFiles may be open at once in a process (create() fails beyond that).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "common/result.h"

namespace causeway {

inline constexpr int kMaxOpenAtomicFiles = 8;

class AtomicFile {
 public:
  // Creates the temporary file for `path`. Fails ("cannot write PATH: <reason>.") when it
  // cannot be created, e.g. the directory is missing or not writable.
  static Result<AtomicFile> create(const std::string& path);

  // Abandons an uncommitted file: closes and removes the temporary file.
  ~AtomicFile();
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Where to write the content; valid until commit() or destruction.
  std::FILE* stream() const { return out_; }
  // The temporary file's name (for tests and messages).
  const std::string& temp_path() const { return partial_; }

  // Flushes and closes the stream, then renames the temporary file over the target. On
  // failure ("writing PATH failed: <reason>." or "cannot move the finished file to PATH:
  // <reason>.") the temporary file is removed and the target is untouched. Call once.
  Status commit();

 private:
  AtomicFile(std::string path, std::string target, std::string partial, std::FILE* out, int slot);
  void abandon();
  void unregister();

  std::string path_;     // as given, for messages
  std::string target_;   // `path_` with symlinks resolved: what the rename replaces
  std::string partial_;  // the temporary file
  std::FILE* out_ = nullptr;
  bool done_ = false;  // committed, abandoned or moved from: nothing left to clean up
  int slot_ = -1;      // entry in the signal handler's list of temporary files
};

// Writes `bytes` to `path` through an AtomicFile: all of them, or the target is untouched.
Status write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace causeway
