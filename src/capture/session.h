// One `causeway trace` run: start the target (or find it), load and attach the probes,
// stream events through the decoder into the trace database, stop on the target's exit,
// --duration, SIGINT or SIGTERM, and leave a complete database with its meta filled in.
// Every probe is detached on every way out. Start-up failures are one user-facing sentence.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace causeway::capture {

enum class TargetMode { kCommand, kPid, kAll };

struct TraceOptions {
  std::string db_path = "trace.db";
  double duration_s = 0;    // 0 = until the target exits / a signal
  std::string cudart_path;  // --cudart: probe this runtime instead of discovering it
  std::string cuda_path;    // --cuda: probe this driver instead of discovering it
  bool stacks = true;
  bool python_stacks = true;  // Python frames of CPython processes (needs `stacks`)
  // --call-graph dwarf[,BYTES]: bytes of user stack copied per stack for DWARF-CFI unwinding
  // (multiple of 8, at most CW_USTACK_MAX_BYTES); 0 = --call-graph fp (frame pointers only).
  uint32_t ustack_bytes = 0;
  bool syscalls = true;
  bool block_io = true;
  uint64_t buffer_mb = 16;
  std::string user;  // run the command as this user (default: $SUDO_USER, else as is)
  TargetMode mode = TargetMode::kCommand;
  std::vector<std::string> command;  // kCommand
  std::vector<int32_t> pids;         // kPid: the processes to attach to (one or more)
  // For meta.
  std::string tool_version;
  std::string command_line;
  bool status_line = false;  // live one-line status on stderr (when it is a terminal)
};

struct TraceRun {
  int exit_status = 0;  // what causeway should end with (the command's own in kCommand mode)
  // Recording stopped before the end because of an error (e.g. the disk filled up); the
  // database keeps what was written before, and the reason was printed on stderr.
  bool stopped_early = false;
};

// Runs the trace. Returns how it ended, or a failed Result with one sentence for start-up
// errors.
Result<TraceRun> run_trace(const TraceOptions& options);

}  // namespace causeway::capture
