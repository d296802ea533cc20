// Turns the raw Python frames BPF recorded (code object address, instruction) into
// function, file and the line being executed, by reading the code objects from the live
// process: its qualified name (3.11+; the plain name on 3.10), co_filename, co_firstlineno
// and line table. The type of every object is checked ("code") before it is trusted, so a
// stale or wrong address yields a frame that says it could not be resolved rather than an
// invented one. An address is not an identity: module bodies, class bodies, exec'd code and
// notebook cells are freed once they have run and the next code object is often allocated
// at the same place, sometimes before this reads it. So BPF records each frame's stamp
// (cw_py_code_stamp, events.h) at the event, code objects are cached per process by
// (address, stamp), and a code object whose stamp on reading differs from the recorded one
// was replaced after the event: the frame says so instead of naming its successor. Frames
// without a stamp (BPF could not read it) are cached by address and checked against the
// live object (its type, name, file and line-table pointers, first line and size, one small
// read) each time a new stack is resolved, and read again when it has changed.
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
  // Cached code objects found replaced by another object at the same address and read
  // again. Raw stacks remembered by address alone (PythonStacks) are stale once this grows.
  int64_t code_objects_replaced() const { return code_replaced_; }

 private:
  // What tells two code objects at one address apart: pointers to objects each code object
  // owns or names (a freed code object's strings and line table go with it or stay
  // referenced elsewhere, so a successor rarely has all of them at the same addresses), its
  // first line and its size.
  struct Identity {
    uint64_t type = 0, filename = 0, name = 0, linetable = 0;
    uint64_t units = 0;  // ob_size (3.11+), 0 before
    int32_t first_line = 0;
    uint64_t stamp = 0;  // cw_py_code_stamp() of the object
    bool operator==(const Identity&) const = default;
  };
  struct CodeKey {
    uint64_t addr, stamp;
    bool operator==(const CodeKey&) const = default;
  };
  struct CodeKeyHash {
    size_t operator()(const CodeKey& k) const {
      return std::hash<uint64_t>()(k.addr ^ (k.stamp * 0x9e3779b97f4a7c15ULL));
    }
  };
  struct Code {
    Identity identity;
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
    std::unordered_map<CodeKey, Code, CodeKeyHash> codes;
  };

  Code read_code(int32_t pid, const PyLayout& l, uint64_t addr);
  // One read of the code object's header; false when unreadable.
  bool read_identity(int32_t pid, const PyLayout& l, uint64_t addr, Identity& out);
  std::optional<std::string> read_string(int32_t pid, const PyLayout& l, uint64_t addr);
  bool read_u64(int32_t pid, uint64_t addr, uint64_t& out);

  ProcessMemory& memory_;
  std::unordered_map<int32_t, Process> processes_;
  int64_t code_reads_ = 0;
  int64_t code_replaced_ = 0;
  std::vector<uint64_t> checked_;  // code objects validated in the current resolve()
};

}  // namespace causeway::capture
