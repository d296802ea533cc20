// Helpers shared by the fuzz targets: a private scratch directory and whole-file reads and
// writes. A fuzz target aborts (a finding libFuzzer reports with its input) when its own set-up
// fails, never when the input is bad.
// Thread-safety: none; libFuzzer runs one input at a time per process.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mcp/trace_db.h"

namespace causeway::fuzz {

// A directory only this process uses (created under $TMPDIR, or /dev/shm when it exists, on
// first call; removed at exit). Each fuzzing job is its own process, so paths never collide.
const std::string& scratch_dir();

// Writes `bytes` to `path`, replacing it. Aborts on failure.
void write_file(const std::string& path, std::string_view bytes);
// The file's bytes; "" when it cannot be read.
std::string read_file(const std::string& path);

// The MCP engine limits the fuzz targets run under: the product's, with a value-length limit of
// 100 kB instead of 1 MB. SQLite grows a string past half that limit a few bytes at a time;
// glibc's realloc extends such a block in place (printf('%.*c', -999999) takes 20 ms in the
// product), but ASan's realloc copies it every time, which makes the same call take 30 s and
// would drown real findings in timeouts. The guard's logic does not depend on the value.
mcp::EngineLimits engine_limits();

// Prints `what` and aborts: a broken invariant, reported by libFuzzer as a crash.
[[noreturn]] void fail(const std::string& what);

}  // namespace causeway::fuzz
