#include "cli/trace_state_note.h"

namespace causeway::cli {

std::string trace_state_note(const store::Reader& reader, const std::string& path) {
  if (reader.finished()) return "";
  if (reader.being_recorded()) {
    return "note: " + path +
           " is still being recorded; this covers the events committed so far (run the "
           "command again for newer ones).\n";
  }
  return "note: " + path +
         " was not closed cleanly (its recorder was killed or crashed); run 'causeway finish "
         "--db " +
         path + "' to index it and store its causal chains.\n";
}

}  // namespace causeway::cli
