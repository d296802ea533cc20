// The note `explain`, `stats` and `stacks` print on stderr when a trace is not finished: still
// being recorded (results cover what was committed so far), or interrupted (the recorder was
// killed: no indexes, nothing stored; `causeway finish` fixes both).
#pragma once

#include <string>

#include "store/reader.h"

namespace causeway::cli {

// "" for a complete or finished trace, else one sentence (with a trailing newline) naming
// the file, what state it is in and what to do.
std::string trace_state_note(const store::Reader& reader, const std::string& path);

}  // namespace causeway::cli
