// Turns the raw Python frames BPF recorded (code object address, instruction) into
// function, file and the line being executed, by reading the code objects from the live
// process: its qualified name (3.11+; the plain name on 3.10), co_filename, co_firstlineno
// and line table. Each code object is read once per process and cached; the type of every
// object is checked ("code") before it is trusted, so a stale or wrong address yields a
// frame that says it could not be resolved rather than an invented one.
// Thread-safety: none; the capture thread uses it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "capture/process_memory.h"
#include "capture/python_layout.h"
#include "store/records.h"

struct cw_py_frame;

namespace causeway::capture {

class PythonResolver {
 public:
  explicit PythonResolver(ProcessMemory& memory) : memory_(memory) {}

  // Registers a CPython process and its layout (replaces an earlier registration: exec).
  void add_process(int32_t pid, const PyLayout& layout);
  bool knows(int32_t pid) const { return processes_.count(pid) != 0; }
  // Drops a process's cached code objects (it exited).
  void forget_process(int32_t pid);

  // The frames of one recorded stack, innermost first. Incomplete frames (pushed but not yet
  // started, which CPython hides from tracebacks too) are left out. A frame that cannot be
  // read says so in its function name ("<unresolved ...>") with no file and line -1.
  // `entry_mask` bit i marks frames[i] as entered from C. Empty if pid is unknown.
  std::vector<store::PyFrameRow> resolve(int32_t pid, std::span<const cw_py_frame> frames,
                                         uint32_t entry_mask);

  int64_t code_objects_read() const { return code_reads_; }

 private:
  struct Code {
    bool ok = false;
    std::string error;  // when !ok
    std::string function, file;
    int32_t first_line = 0;
    std::vector<uint8_t> linetable;
    uint64_t code_start = 0;  // address of the bytecode (3.11+)
    uint64_t code_units = 0;  // its length in 2-byte code units (3.11+)
    int64_t first_traceable = 0;
  };
  struct Process {
    PyLayout layout;
    std::unordered_map<uint64_t, Code> codes;
  };

  Code read_code(int32_t pid, const PyLayout& l, uint64_t addr);
  std::optional<std::string> read_string(int32_t pid, const PyLayout& l, uint64_t addr);
  bool read_u64(int32_t pid, uint64_t addr, uint64_t& out);

  ProcessMemory& memory_;
  std::unordered_map<int32_t, Process> processes_;
  int64_t code_reads_ = 0;
};

}  // namespace causeway::capture
