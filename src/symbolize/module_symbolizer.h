// Native address -> frames, with elfutils libdwfl: ELF symbols, DWARF lines, inlined frames,
// demangled C++ names, separate debug info (.gnu_debuglink, /usr/lib/debug/.build-id).
//
// Input is what a trace records and nothing from capture time: the mapped file's path, the
// build-id recorded when it was mapped, and the address's file offset. The file is opened
// from disk now; when its build-id no longer matches the recorded one (the binary was
// rebuilt or upgraded since the trace), no symbol is read from it and the frames say
// "binary changed". A recorded empty build-id only matches a file that still has none.
//
// Files without a build-id ("" == "" proves nothing) are checked by the size and mtime
// recorded with the mapping instead (host::read_file_stamp): a difference is "binary
// changed", as for a build-id. When the trace recorded no stamp (traces from before causeway
// recorded one), such a file cannot be checked and is not read at all: its frames are
// "binary_unverified" (module+offset). Symbolizing it anyway, even with a warning, would
// show a rebuilt program's names, which look exactly like right ones; an honest
// module+offset costs little, because nearly every distributed binary has a build-id and
// old traces that already stored their symbols are not symbolized again.
//
// Caching: one Dwfl session per (path, recorded identity), opened on first use and kept for
// the object's life; each distinct (module, offset, lookup kind) is resolved once.
//
// Ownership: owns its Dwfl sessions. Thread-safety: none (one thread per object).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "host/elf_file.h"
#include "symbolize/frame.h"

namespace causeway::symbolize {

// What a trace recorded about a mapped file when it was mapped (table `mapping`), to check
// the file on disk against before reading symbols from it.
struct RecordedModule {
  std::string build_id;  // hex GNU build-id; "" = the file had none
  // Size and mtime, recorded only for a file without a build-id; nullopt when build_id is
  // set, and in traces recorded before causeway recorded it. Initialized explicitly so that
  // `{build_id}` brace-initializes without -Wmissing-field-initializers.
  std::optional<host::FileStamp> stamp = std::nullopt;
};

class ModuleSymbolizer {
 public:
  ModuleSymbolizer();
  ~ModuleSymbolizer();
  ModuleSymbolizer(const ModuleSymbolizer&) = delete;
  ModuleSymbolizer& operator=(const ModuleSymbolizer&) = delete;

  // Frames for the code at `file_offset` (bytes) in the file `path`, innermost (inlined)
  // first, the function owning the code last; never empty. `recorded` is what the trace
  // recorded about the file; a file that does not match it gives one kBinaryChanged frame,
  // a file without a build-id and without a recorded stamp one kBinaryUnverified frame.
  // Fields pc and module_offset of the result are set to `file_offset`; callers overwrite
  // pc with the captured address. The address must already be the one to look up: for a
  // return address, pass the offset of (return address - 1) so that the call instruction's
  // line is reported. The reference stays valid for the object's life.
  const std::vector<Frame>& resolve(const std::string& path, const RecordedModule& recorded,
                                    uint64_t file_offset);

  // Counters, for benchmarks and tests.
  int64_t modules_opened() const { return modules_opened_; }
  int64_t addresses_resolved() const { return addresses_resolved_; }

 private:
  struct Module;
  Module& module(const std::string& path, const RecordedModule& recorded);

  // By (path, build-id, stamp or "-"), '\0'-separated.
  std::map<std::string, std::unique_ptr<Module>> modules_;
  int64_t modules_opened_ = 0;
  int64_t addresses_resolved_ = 0;
};

// Demangles a C++ (Itanium ABI) symbol; returns it unchanged when it is not mangled.
std::string demangle(const char* name);

}  // namespace causeway::symbolize
