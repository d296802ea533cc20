// Recognising a CPython process and where its interpreter state lives.
//
// A process runs CPython when its executable or a mapped libpython3.X.so defines the
// `_PyRuntime` symbol. The version comes from the `Py_Version` symbol (3.11+, read from the
// process), else from the file name (python3.10, libpython3.10.so.1.0); 3.13+ take their
// layout from _PyRuntime's debug offsets, older versions from capture's tables
// (python_layout.h). Symbol addresses are relocated with the object's load bias from
// /proc/PID/maps (PIE executables and shared libraries alike).
// Thread-safety: none; plain functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "capture/libraries.h"
#include "capture/process_memory.h"
#include "capture/python_layout.h"
#include "common/result.h"

namespace causeway::capture {

struct PythonProcess {
  std::string binary;    // the file defining _PyRuntime, as the process sees it
  std::string version;   // "3.11.2", or "3.10" when only the file name tells
  uint64_t runtime = 0;  // address of _PyRuntime in the process
  PyLayout layout;
};

// Data symbols an ELF file defines, as link-time addresses, and its PT_LOAD segments.
struct ElfDataSymbols {
  std::optional<uint64_t> py_runtime;  // _PyRuntime
  std::optional<uint64_t> py_version;  // Py_Version (const unsigned long PY_VERSION_HEX)
  uint64_t first_load_vaddr = 0;       // lowest PT_LOAD p_vaddr
  uint64_t first_load_offset = 0;      // its p_offset
  bool is_shared = false;              // ET_DYN (PIE or shared library): relocated at load
};
// Reads the symbols of `path` (.dynsym, then .symtab); an error when it is not ELF.
Result<ElfDataSymbols> read_python_symbols(const std::string& path);

// 3.<minor> from a file name like python3.11, python3.11d, libpython3.10.so.1.0; nullopt
// when the name does not say.
std::optional<int> python_minor_from_name(const std::string& path);

// Whether a mapped file is worth examining: the executable (`exe`) or a libpython3.X.
bool may_hold_python(const std::string& path, const std::string& exe);

// What detection found: not Python (nullopt), a supported CPython process, or a CPython
// process whose layout is unknown or unreadable (the error says which and why).
struct PythonDetection {
  std::string binary;
  Result<PythonProcess> process = Status::Error("not examined");
};
// Examines the files of `maps` that may_hold_python() picks (`open_prefix` + path opens them
// from causeway's mount namespace, e.g. "/proc/PID/root"). `memory` reads Py_Version and
// the debug offsets from the process.
std::optional<PythonDetection> detect_python(int32_t pid, const std::vector<Mapping>& maps,
                                             const std::string& exe, const std::string& open_prefix,
                                             ProcessMemory& memory);

}  // namespace causeway::capture
