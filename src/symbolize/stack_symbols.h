// Symbolized stacks of a trace database: stored once by writers, computed in memory by
// readers that must never write.
//
// Storage (tables `symbol` and `frame_symbol`, view `stack_symbols`; docs/schema.md): every
// distinct (process, looked-up address) of the trace's stacks is symbolized once; its frames
// (several when functions were inlined) point at deduplicated `symbol` rows. The looked-up
// address is the captured pc for a stack's innermost frame and pc - 1 for the others, which
// are return addresses: pc - 1 lies in the call instruction, so the call's line is reported.
//
// Everything here reads only the trace database and the mapped files on disk as they are
// now (build-ids checked, see module_symbolizer.h) — never capture-time state.
//
// Python stacks (tables python_stack / python_frame, written by capture when the traced
// process runs CPython) are read when present and merged (python_merge.h); a trace without
// them simply has native frames only.
//
// Ownership: StackSymbolizer borrows the connection (it must outlive the object).
// Thread-safety: none; one thread per object.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "symbolize/address_index.h"
#include "symbolize/frame.h"
#include "symbolize/module_symbolizer.h"
#include "symbolize/python_merge.h"

struct sqlite3;
struct sqlite3_stmt;

namespace causeway::symbolize {

struct SymbolizeSummary;
struct SymbolStore;

class StackSymbolizer {
 public:
  // `db`: an open connection to a causeway trace; only SELECTs are run on it.
  explicit StackSymbolizer(sqlite3* db);
  ~StackSymbolizer();
  StackSymbolizer(const StackSymbolizer&) = delete;
  StackSymbolizer& operator=(const StackSymbolizer&) = delete;

  // Native frames of stack `stack_id` (stack.id), innermost first with inlined frames
  // expanded: from the stored symbols where the trace has them, otherwise symbolized now.
  // An unknown stack id gives an empty stack.
  Result<std::vector<Frame>> native(int64_t stack_id);
  // Python frames of Python stack `py_stack_id`, innermost first; empty when the trace has
  // no Python stacks.
  Result<std::vector<PythonFrame>> python(int64_t py_stack_id);
  // The stack shown to people: native and Python frames merged (either id may be absent).
  Result<std::vector<Frame>> merged(std::optional<int64_t> stack_id,
                                    std::optional<int64_t> py_stack_id);

  // Frames of the code at `address` in process `upid`, innermost (inlined) first, the function
  // owning the code last; never empty. For an address that is called or pointed to (a launched
  // kernel's host function), not a return address; `pc` of the frames is not set.
  const std::vector<Frame>& code_at(int64_t upid, uint64_t address) {
    return lookup(upid, address, false);
  }
  // Name of the column linking `table` (cuda_call, thread_state) to its Python stack, or ""
  // when the trace has none.
  std::string python_stack_column(std::string_view table) const;
  // Whether frames came from stored symbols (true) or were computed here (false), so far.
  bool used_stored() const { return used_stored_; }
  int64_t computed_addresses() const { return computed_; }

 private:
  friend struct SymbolStore;  // symbolize_and_store's work (stack_symbols.cpp)
  struct Mapping {
    uint64_t start, end, file_offset;
    std::string path;
    RecordedModule recorded;  // build-id, or size and mtime for a file without one
  };
  struct PythonSchema;
  Status load_python_schema();
  // Frames of the address looked up for captured `pc` (pc - 1 for a return address), cached
  // by (upid, looked-up address); their `pc` field is not set (callers stamp the captured pc).
  const std::vector<Frame>& lookup(int64_t upid, uint64_t pc, bool return_address);
  std::vector<Frame> stored(int64_t upid, uint64_t lookup_pc);
  const std::vector<Mapping>& mappings(int64_t upid);

  sqlite3* db_;
  ModuleSymbolizer modules_;
  bool have_stored_ = false;
  bool used_stored_ = false;
  int64_t computed_ = 0;
  sqlite3_stmt* frames_stmt_ = nullptr;
  sqlite3_stmt* stored_stmt_ = nullptr;
  std::map<int64_t, std::vector<Mapping>> mappings_;
  // Frames by (upid, lookup pc): cache_[cache_index_ number]. A deque, so growing it never
  // moves the frames lookup() has returned references to.
  AddressIndex cache_index_;
  std::deque<std::vector<Frame>> cache_;
  std::unique_ptr<PythonSchema> py_;
};

struct SymbolizeSummary {
  int64_t addresses = 0;      // distinct (process, address) pairs symbolized
  int64_t symbols = 0;        // distinct symbol rows stored
  int64_t unresolved = 0;     // addresses left as module+offset (or no mapping / binary changed)
  int64_t modules = 0;        // mapped files opened
  int64_t merged_stacks = 0;  // distinct (native, Python) stack pairs stored merged
  int64_t kernels = 0;        // unnamed kernels of runtime launches looked up (kernel_names.h)
  int64_t kernels_named = 0;  // of those, kernels that got a name
};

// For writers (the end of `causeway trace`, `causeway finish`, `causeway stacks` on a writable
// complete trace): symbolizes every address of every stack in the trace at `path` and stores
// the result (replacing earlier results) together with every event's merged native + Python
// stack (merged_stack / merged_frame), names the kernels of runtime launches whose name is
// not known yet (cuda_kernel.name_id, kernel_names.h), then sets meta 'symbolized' = 1. One
// transaction.
// Fails with one sentence when the file cannot be opened for writing or is still being
// recorded.
Result<SymbolizeSummary> symbolize_and_store(const std::string& path);

// Whether the trace's stacks were symbolized and stored (meta 'symbolized' = 1).
bool stacks_symbolized(sqlite3* db);

}  // namespace causeway::symbolize
