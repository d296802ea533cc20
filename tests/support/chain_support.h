// Helpers for the tests of causal chains (tests/unit/analyze_chains_test.cpp and the
// analyze_detect_<category>_test.cpp files): compute a trace's chains, print them, find one.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "analyze/chains.h"
#include "store/reader.h"

namespace causeway::testing {

// The chains of the trace at `path` (fails the test when it cannot be read).
inline std::vector<analyze::Chain> chains_of(const std::string& path,
                                             const analyze::ExplainOptions& o = {}) {
  auto r = store::Reader::open(path);
  EXPECT_TRUE(r.ok()) << r.error();
  if (!r.ok()) return {};
  auto c = analyze::compute_chains((*r)->db(), o);
  EXPECT_TRUE(c.ok()) << c.error();
  return c.ok() ? *c : std::vector<analyze::Chain>{};
}

// The chains as `causeway explain` prints them, for failure messages.
inline std::string dump(const std::vector<analyze::Chain>& v) {
  return analyze::format_chains_text(v, 0);
}

// The first chain of `category`, or null.
inline const analyze::Chain* find(const std::vector<analyze::Chain>& v,
                                  const std::string& category) {
  for (const analyze::Chain& c : v) {
    if (c.category == category) return &c;
  }
  return nullptr;
}

inline void expect_no_high(const std::vector<analyze::Chain>& v) {
  for (const analyze::Chain& c : v) EXPECT_NE(c.severity, "high") << dump(v);
}

// Whether the chain cites a row of `table` as evidence.
inline bool cites(const analyze::Chain& c, const std::string& table) {
  for (const auto& e : c.evidence) {
    if (e.table == table && e.id > 0) return true;
  }
  return false;
}

}  // namespace causeway::testing
