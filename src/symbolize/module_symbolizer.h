// Native address -> frames, with elfutils libdwfl: ELF symbols, DWARF lines, inlined frames,
// demangled C++ names, separate debug info (.gnu_debuglink, /usr/lib/debug/.build-id).
//
// Input is what a trace records and nothing from capture time: the mapped file's path, the
// build-id recorded when it was mapped, and the address's file offset. The file is opened
// from disk now; when its build-id no longer matches the recorded one (the binary was
// rebuilt or upgraded since the trace), no symbol is read from it and the frames say
// "binary changed". A recorded empty build-id only matches a file that still has none.
//
// Caching: one Dwfl session per (path, build-id), opened on first use and kept for the
// object's life; each distinct (module, offset, lookup kind) is resolved once.
//
// Ownership: owns its Dwfl sessions. Thread-safety: none (one thread per object).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "symbolize/frame.h"

namespace causeway::symbolize {

class ModuleSymbolizer {
 public:
  ModuleSymbolizer();
  ~ModuleSymbolizer();
  ModuleSymbolizer(const ModuleSymbolizer&) = delete;
  ModuleSymbolizer& operator=(const ModuleSymbolizer&) = delete;

  // Frames for the code at `file_offset` (bytes) in the file `path`, innermost (inlined)
  // first, the function owning the code last; never empty. `build_id` is the hex build-id
  // recorded at trace time ("" = the file had none). Fields pc and module_offset of the
  // result are set to `file_offset`; callers overwrite pc with the captured address.
  // The address must already be the one to look up: for a return address, pass the offset
  // of (return address - 1) so that the call instruction's line is reported.
  const std::vector<Frame>& resolve(const std::string& path, const std::string& build_id,
                                    uint64_t file_offset);

  // Counters, for benchmarks and tests.
  int64_t modules_opened() const { return modules_opened_; }
  int64_t addresses_resolved() const { return addresses_resolved_; }

 private:
  struct Module;
  Module& module(const std::string& path, const std::string& build_id);

  std::map<std::pair<std::string, std::string>, std::unique_ptr<Module>> modules_;
  int64_t modules_opened_ = 0;
  int64_t addresses_resolved_ = 0;
};

// Demangles a C++ (Itanium ABI) symbol; returns it unchanged when it is not mangled.
std::string demangle(const char* name);

}  // namespace causeway::symbolize
