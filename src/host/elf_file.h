// Reading facts out of ELF files on this machine: the one place that opens an ELF file with
// libelf and reads its GNU build-id and DT_SONAME, and that stamps a file without a build-id
// by size and mtime. Used by capture (mapped libraries, CPython binaries), symbolization
// (build-id or stamp check before trusting a file) and the CUDA library search, so all three
// agree on what identifies a file.
//
// Ownership: ElfFile owns its descriptor and libelf handle and closes both on destruction.
// Thread-safety: an ElfFile is used by one thread at a time; different ElfFiles and the free
// functions are safe to use concurrently.
#pragma once

#include <libelf.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"

namespace causeway::host {

class ElfFile {
 public:
  // Opens `path` read-only (memory-mapped). Fails with one sentence when the file cannot be
  // opened ("PATH cannot be read: why.") or is not ELF ("PATH is not an ELF file.").
  static Result<std::unique_ptr<ElfFile>> open(const std::string& path);
  ~ElfFile();
  ElfFile(const ElfFile&) = delete;
  ElfFile& operator=(const ElfFile&) = delete;

  // The libelf handle, valid while this object lives.
  Elf* elf() const { return elf_; }
  // The NT_GNU_BUILD_ID note's bytes as lowercase hex; "" when the file has none. Looked for
  // in SHT_NOTE sections first, then in PT_NOTE segments (files whose section headers were
  // stripped), as libdwelf's dwelf_elf_gnu_build_id does.
  std::string build_id() const;
  // DT_SONAME from the dynamic section; "" when there is none.
  std::string soname() const;

 private:
  ElfFile(int fd, Elf* elf) : fd_(fd), elf_(elf) {}
  int fd_;
  Elf* elf_;
};

// The GNU build-id of the ELF file at `path`, lowercase hex; "" when it has none or cannot be
// read (missing, unreadable, not ELF).
std::string read_build_id(const std::string& path);

// What identifies a file that has no build-id: its size and modification time, from stat(2)
// (symlinks followed). Recorded at trace time for mapped files without a build-id and compared
// before symbolizing them, so that a binary rebuilt in place is not read as if it were the
// one that ran. A rebuild or reinstall writes the file anew, which sets a new mtime. Inode and
// device are left out on purpose: a copy that keeps the mtime (`cp -p`, `rsync -a`, a
// container layer) is the same binary and must still match, on this machine or another.
struct FileStamp {
  int64_t size_bytes = 0;
  int64_t mtime_ns = 0;  // st_mtim, nanoseconds since the Unix epoch
  bool operator==(const FileStamp&) const = default;
};

// The stamp of the file at `path`; nullopt when it cannot be stat'ed or is not a regular file.
std::optional<FileStamp> read_file_stamp(const std::string& path);

}  // namespace causeway::host
