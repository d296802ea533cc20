// Python stacks within one trace session: recognises CPython processes among the traced
// ones (python_process.h), hands their interpreter layout to BPF (the py_procs map) so the
// probes record their Python frames, and owns the resolver and the decoder stage that turn
// those frames into stored stacks (python_stacks.h).
//
// Per process the outcome is reported once: supported (version), or a sentence on stderr
// saying why its Python stacks are not recorded; meta_json() gives the same for the trace's
// meta table ("python" key). Processes that are not CPython are never configured, so the
// BPF side costs them one map lookup miss.
// Thread-safety: none; the session thread uses it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "capture/libraries.h"
#include "capture/process_memory.h"
#include "capture/python_process.h"
#include "capture/python_resolver.h"
#include "capture/python_stacks.h"
#include "capture/row_sink.h"

namespace causeway::capture {

class PythonCapture {
 public:
  // `map_fd`: the py_procs BPF map (-1: none, e.g. tests). `enabled` false (--no-python-stacks
  // or --no-stacks) records nothing but still notes which processes run Python.
  PythonCapture(RowSink& sink, int map_fd, bool enabled);

  // Examines a traced process's mappings (at start, after exec, after each library load).
  void scan(int32_t pid, const std::vector<Mapping>& maps);
  // The process exited: its configuration and caches go.
  void forget(int32_t pid);

  PythonStacks& stacks() { return *stacks_; }
  // {"<pid>": {"version": "3.11.2", "binary": "...", "status": "ok" | "<why not>"}}.
  std::string meta_json() const;

 private:
  void on_exit(int32_t pid);

  struct Outcome {
    std::string binary, version, status;
    bool current = true;  // false once the image it describes exited or exec'd
  };
  LiveProcessMemory memory_;
  PythonResolver resolver_;
  std::unique_ptr<PythonStacks> stacks_;
  int map_fd_;
  bool enabled_;
  std::map<int32_t, Outcome> outcomes_;
  std::set<std::pair<int32_t, std::string>> examined_;  // (pid, exe) already looked at
};

}  // namespace causeway::capture
