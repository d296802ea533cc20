#include "report/html_report.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <unordered_map>

#include "analyze/chain_store.h"
#include "report/html_text.h"
#include "report/report_assets.h"
#include "store/sql_util.h"
#include "store/trace_meta.h"

namespace causeway::report {
namespace {

using analyze::Chain;
using analyze::TaskRef;
using nlohmann::json;
using store::sql::query_error;
using store::sql::Stmt;

std::string esc(std::string_view s) {
  return html_escape(s);
}

std::string percent(double fraction) {
  char buf[32];
  const double p = fraction * 100;
  std::snprintf(buf, sizeof buf, p > 0 && p < 1 ? "%.1f%%" : "%.0f%%", p);
  return buf;
}

std::string with_commas(int64_t n) {
  const std::string digits = std::to_string(n < 0 ? -n : n);
  std::string s = n < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s += ',';
    s += digits[i];
  }
  return s;
}

std::string task_text(const TaskRef& t) {
  std::string s = t.comm.empty() ? "?" : t.comm;
  s += " (";
  if (t.pid != 0 && t.pid != t.tid) s += "pid " + std::to_string(t.pid) + ", ";
  s += "tid " + std::to_string(t.tid) + ")";
  if (!t.process.empty() && t.process != t.comm) s += " in " + t.process;
  return s;
}

// "2026-11-22 04:31:07 UTC" from Unix ns; empty when unknown.
std::string utc_time(const std::string& unix_ns) {
  if (unix_ns.empty()) return "";
  char* end = nullptr;
  const long long ns = std::strtoll(unix_ns.c_str(), &end, 10);
  if (*end != '\0' || ns <= 0) return "";
  const std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  if (gmtime_r(&secs, &tm) == nullptr) return "";
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

Result<std::map<std::string, std::string>> read_meta(sqlite3* db) {
  std::map<std::string, std::string> out;
  Stmt q(db,
         "SELECT key, value FROM meta WHERE key IN ('cuda_libraries', 'command_line', "
         "'origin_realtime_ns', 'schema_version', 'end_ts', 'complete')");
  if (!q.ok()) return query_error(db, "trace facts (meta)");
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) out[q.text(0)] = q.text(1);
  if (rc != SQLITE_DONE) return query_error(db, "trace facts (meta)");
  return out;
}

// ---------------------------------------------------------------------------------------
// HTML pieces. Everything from the trace goes through esc().

class Html {
 public:
  Html& raw(std::string_view s) {
    out_ += s;
    return *this;
  }
  Html& text(std::string_view s) {
    out_ += esc(s);
    return *this;
  }
  std::string& str() { return out_; }

 private:
  std::string out_;
};

void fact_row(Html& h, const char* label, const std::string& value, bool mono = false) {
  if (value.empty()) return;
  h.raw("<tr><th>").raw(label).raw("</th><td").raw(mono ? " class=\"mono\"" : "").raw(">");
  h.text(value).raw("</td></tr>\n");
}

void tile(Html& h, const std::string& value, const char* label, const char* cls = "") {
  h.raw("<div class=\"tile ").raw(cls).raw("\"><div class=\"tile-value\">").text(value);
  h.raw("</div><div class=\"tile-label\">").raw(label).raw("</div></div>\n");
}

std::string title_of(const ReportModel& m) {
  std::string what;
  for (const auto& p : m.stats.processes) {
    if (p.cuda_calls == 0) continue;
    what = p.name;
    break;
  }
  if (what.empty() && !m.stats.processes.empty()) what = m.stats.processes.front().name;
  std::string t = what.empty() ? "trace" : what;
  if (!m.stats.host.empty()) t += " on " + m.stats.host;
  return t;
}

void render_summary(Html& h, const ReportModel& m) {
  const auto& s = m.stats;
  const auto& lim = m.options.limits;
  int64_t cuda_calls = 0;
  if (auto it = s.events.find("cuda_call"); it != s.events.end()) cuda_calls = it->second;
  int high = 0, medium = 0;
  for (const Chain& c : m.chains) {
    high += c.severity == "high";
    medium += c.severity == "medium";
  }
  h.raw("<section id=\"summary\" class=\"card\">\n<h2>Trace summary</h2>\n<div class=\"tiles\">\n");
  tile(h, format_duration(s.duration_ns), "duration");
  tile(h, with_commas(cuda_calls), "CUDA calls");
  tile(h, with_commas(s.total_events), "events recorded");
  tile(h, with_commas(s.total_drops), "events dropped", s.total_drops > 0 ? "warn" : "good");
  tile(h, std::to_string(s.processes.size()), "traced processes");
  tile(h, std::to_string(m.chains_total), "causal chains",
       high > 0 ? "bad" : (medium > 0 ? "warn" : "good"));
  h.raw("</div>\n");
  if (s.total_drops > 0) {
    h.raw("<p class=\"note warn\">").text(with_commas(s.total_drops));
    h.raw(
        " events were lost (ring buffer overflow). Numbers below are lower bounds where "
        "those events would have counted.</p>\n");
  }
  if (!s.complete) {
    h.raw(
        "<p class=\"note warn\">The recorder did not close this trace cleanly (interrupted "
        "or still recording): it holds what was committed before that.</p>\n");
  }
  h.raw("<div class=\"columns\">\n<table class=\"facts\"><tbody>\n");
  fact_row(h, "Host", s.host);
  fact_row(h, "Kernel", s.kernel_release);
  auto meta = [&](const char* k) {
    auto it = m.meta.find(k);
    return it == m.meta.end() ? std::string() : it->second;
  };
  fact_row(h, "CUDA libraries",
           clip(store::cuda_libraries_summary(meta("cuda_libraries")), lim.max_text_bytes));
  fact_row(h, "Recorded", utc_time(meta("origin_realtime_ns")));
  fact_row(h, "Recorded by", s.tool_version);
  fact_row(h, "Command", clip(meta("command_line"), lim.max_text_bytes), true);
  fact_row(h, "Trace file", m.options.source, true);
  if (m.options.since_ns || m.options.until_ns || m.options.pid) {
    std::string w;
    if (m.options.since_ns) w += "from " + format_duration(*m.options.since_ns) + " ";
    if (m.options.until_ns) w += "until " + format_duration(*m.options.until_ns) + " ";
    if (m.options.pid) w += "process " + std::to_string(*m.options.pid);
    fact_row(h, "Report window", w);
  }
  fact_row(h, "Analysis",
           std::string(m.chains_stored ? "chains stored in the trace" : "chains computed now") +
               (m.stats_stored ? ", statistics stored in the trace" : ", statistics computed now"));
  h.raw(
      "</tbody></table>\n<table class=\"grid\"><thead><tr><th>events</th><th class=\"num\">rows"
      "</th></tr></thead><tbody>\n");
  for (const auto& [table, n] : s.events) {
    h.raw("<tr><td>").text(table).raw("</td><td class=\"num\">").text(with_commas(n));
    h.raw("</td></tr>\n");
  }
  // Only the sources that lost something (the tile above gives the ring total); the gaps
  // that keep their events say so.
  for (const auto& [source, n] : s.drops) {
    if (n == 0) continue;
    const bool ring = store::is_ring_drop_source(source);
    h.raw("<tr class=\"")
        .raw(ring ? "warn" : "")
        .raw("\"><td>")
        .text(ring ? "dropped: " + source
                   : source + (source == "stack_copy" ? " (stack copies not made)"
                                                      : " (returns without their entry)"));
    h.raw("</td><td class=\"num\">").text(with_commas(n)).raw("</td></tr>\n");
  }
  h.raw("</tbody></table>\n</div>\n");

  h.raw(
      "<h3>Processes</h3>\n<table class=\"grid wide\"><thead><tr><th class=\"num\">pid</th>"
      "<th>name</th><th class=\"num\">threads</th><th class=\"num\">CUDA calls</th>"
      "<th>command line</th></tr></thead><tbody>\n");
  size_t shown = 0;
  for (const auto& p : s.processes) {
    if (shown++ >= lim.max_processes) break;
    h.raw("<tr><td class=\"num\">").text(std::to_string(p.pid)).raw("</td><td>").text(p.name);
    h.raw("</td><td class=\"num\">").text(with_commas(p.threads));
    h.raw("</td><td class=\"num\">").text(with_commas(p.cuda_calls));
    h.raw("</td><td class=\"mono cmd\">").text(clip(p.cmdline, lim.max_text_bytes));
    h.raw("</td></tr>\n");
  }
  h.raw("</tbody></table>\n");
  if (s.processes.size() > lim.max_processes) {
    h.raw("<p class=\"note\">").text(std::to_string(s.processes.size() - lim.max_processes));
    h.raw(" more processes are not listed (report limit).</p>\n");
  }
  h.raw("</section>\n");
}

// The decomposition as a stacked bar with a legend.
void render_breakdown(Html& h, const Chain& c) {
  struct Part {
    std::string label;
    int64_t ns;
    std::string cls;
  };
  std::vector<Part> parts;
  parts.push_back({"on CPU", c.on_cpu_ns, "seg-cpu"});
  parts.push_back({"runnable (waiting for a CPU)", c.runnable_ns, "seg-runnable"});
  int64_t by_reason = 0;
  for (const auto& [reason, ns] : c.blocked_by_reason) {
    parts.push_back({"blocked: " + reason, ns, "seg-blocked"});
    by_reason += ns;
  }
  if (c.blocked_ns > by_reason)
    parts.push_back({"blocked", c.blocked_ns - by_reason, "seg-blocked"});
  parts.push_back({"waiting for the GPU", c.gpu_wait_ns, "seg-gpu"});
  parts.push_back({"no scheduling data", c.unaccounted_ns, "seg-none"});
  int64_t total = 0;
  for (const auto& p : parts) total += std::max<int64_t>(0, p.ns);
  if (total <= 0) return;
  h.raw("<div class=\"breakdown\" role=\"img\" aria-label=\"where the time went\">");
  for (const auto& p : parts) {
    if (p.ns <= 0) continue;
    char width[32];
    std::snprintf(width, sizeof width, "%.3f", 100.0 * static_cast<double>(p.ns) / double(total));
    h.raw("<span class=\"seg ").raw(p.cls).raw("\" style=\"width:").raw(width).raw("%\" title=\"");
    h.text(p.label + ": " + format_duration(p.ns)).raw("\"></span>");
  }
  h.raw("</div>\n<ul class=\"legend\">");
  for (const auto& p : parts) {
    if (p.ns <= 0) continue;
    h.raw("<li><span class=\"swatch ").raw(p.cls).raw("\"></span>").text(p.label).raw(" ");
    h.raw("<b>").text(format_duration(p.ns)).raw("</b> <span class=\"muted\">");
    h.text(percent(static_cast<double>(p.ns) / double(total))).raw("</span></li>");
  }
  h.raw("</ul>\n");
}

void render_chain(Html& h, const Chain& c, bool has_view) {
  const std::string id = std::to_string(c.id);
  h.raw("<li class=\"chain sev-").text(c.severity).raw("\" id=\"chain-").raw(id);
  h.raw("\" data-chain=\"").raw(id).raw("\">\n<div class=\"chain-head\">");
  h.raw("<span class=\"rank\">#").raw(id).raw("</span>");
  h.raw("<span class=\"badge sev\">").text(c.severity).raw("</span>");
  h.raw("<span class=\"badge cat\">").text(c.category).raw("</span>");
  if (!c.function.empty()) h.raw("<span class=\"badge fn\">").text(c.function).raw("</span>");
  h.raw("<span class=\"impact\"><b>").text(format_duration(c.impact_ns)).raw("</b> lost");
  h.raw(" <span class=\"muted\">· ").text(percent(c.impact_share)).raw(" of the trace · ");
  h.text(percent(c.thread_share)).raw(" of the thread's active time</span></span>");
  if (has_view) {
    h.raw("<button type=\"button\" class=\"show-timeline\" data-chain=\"").raw(id);
    h.raw("\">Show on timeline</button>");
  }
  h.raw("</div>\n<h3 class=\"summary\">").text(c.summary).raw("</h3>\n");
  h.raw("<p class=\"who\">Slowed: <b>").text(task_text(c.subject)).raw("</b>");
  if (c.culprit) h.raw(" · Culprit: <b>").text(task_text(*c.culprit)).raw("</b>");
  if (c.occurrences > 0) {
    h.raw(" · ")
        .text(with_commas(c.occurrences))
        .raw(c.occurrences == 1 ? " occurrence" : " occurrences");
  }
  h.raw("</p>\n<p class=\"explanation\">").text(c.explanation).raw("</p>\n");
  render_breakdown(h, c);
  if (!c.recommendation.empty()) {
    h.raw("<div class=\"fix\"><span class=\"fix-label\">Fix</span> ").text(c.recommendation);
    h.raw("</div>\n");
  }
  h.raw("<details class=\"evidence\"><summary>Evidence and details</summary>\n");
  if (c.baseline) {
    h.raw("<p>Baseline of this function on this thread: median <b>");
    h.text(format_duration(c.baseline->median_ns)).raw("</b> (MAD ");
    h.text(format_duration(c.baseline->mad_ns)).raw(", ").text(with_commas(c.baseline->count));
    h.raw(" calls).");
    if (c.observed_max_ns > 0) {
      h.raw(" The slow ones: median <b>").text(format_duration(c.observed_p50_ns));
      h.raw("</b>, p99 ").text(format_duration(c.observed_p99_ns)).raw(", max ");
      h.text(format_duration(c.observed_max_ns)).raw(".");
    }
    h.raw("</p>\n");
  }
  h.raw("<p class=\"muted\">Affected span: ").text(format_duration(c.window_start_ns));
  h.raw(" – ").text(format_duration(c.window_end_ns)).raw(" after the trace start.</p>\n");
  if (!c.preempters.empty()) {
    h.raw(
        "<table class=\"grid\"><thead><tr><th>CPU held by (while runnable)</th><th "
        "class=\"num\">CPU</th>"
        "<th class=\"num\">time</th><th class=\"num\">intervals</th></tr></thead><tbody>\n");
    for (const auto& p : c.preempters) {
      // From the CPU's own timeline (cpu_slice): a task, the CPU sitting idle, or time
      // nothing recorded.
      h.raw("<tr><td>")
          .text(p.holder == "idle"      ? std::string("the CPU was idle")
                : p.holder == "unknown" ? std::string("unknown (not recorded)")
                                        : task_text(p.task));
      h.raw("</td><td class=\"num\">").text(p.cpu >= 0 ? std::to_string(p.cpu) : "?");
      h.raw("</td><td class=\"num\">").text(format_duration(p.ns));
      h.raw("</td><td class=\"num\">").text(with_commas(p.intervals)).raw("</td></tr>\n");
    }
    h.raw("</tbody></table>\n");
  }
  if (!c.blocked.empty()) {
    h.raw(
        "<table class=\"grid\"><thead><tr><th>blocked in</th><th>cause</th><th>woken by</th>"
        "<th class=\"num\">time</th><th class=\"num\">intervals</th></tr></thead><tbody>\n");
    for (const auto& b : c.blocked) {
      h.raw("<tr><td>").text(b.reason);
      if (!b.device.empty())
        h.raw(" <span class=\"muted\">(device ").text(b.device).raw(")</span>");
      h.raw("</td><td>").text(b.cause).raw("</td><td>");
      h.text(b.waker ? task_text(*b.waker) : std::string("—"));
      h.raw("</td><td class=\"num\">").text(format_duration(b.ns));
      h.raw("</td><td class=\"num\">").text(with_commas(b.intervals)).raw("</td></tr>\n");
    }
    h.raw("</tbody></table>\n");
  }
  if (!c.waker_chain.empty()) {
    h.raw("<ol class=\"wakers\">\n");
    for (const auto& w : c.waker_chain) {
      h.raw("<li><b>").text(task_text(w.task)).raw("</b> ").text(w.detail).raw("</li>\n");
    }
    h.raw("</ol>\n");
  }
  if (!c.stack.empty()) {
    h.raw("<p class=\"muted\">Call stack of ").text(with_commas(c.stack_events));
    h.raw(c.stack_events == 1 ? " evidence event" : " evidence events").raw(":</p>\n");
    h.raw("<pre class=\"stack\">");
    for (const auto& frame : c.stack) h.text(frame).raw("\n");
    h.raw("</pre>\n");
  }
  if (!c.evidence.empty()) {
    h.raw(
        "<table class=\"grid ev-table\"><thead><tr><th>evidence</th><th>row</th>"
        "<th class=\"num\">at</th><th></th></tr></thead><tbody>\n");
    for (const auto& e : c.evidence) {
      h.raw("<tr><td>").text(e.role).raw("</td><td class=\"mono\">").text(e.table).raw(" ");
      h.text(std::to_string(e.id)).raw("</td><td class=\"num\">");
      h.text(e.ts_ns > 0 ? format_duration(e.ts_ns) : std::string("")).raw("</td><td>");
      if (has_view) {
        h.raw("<button type=\"button\" class=\"ev-link\" data-chain=\"").raw(id);
        h.raw("\" data-table=\"").text(e.table).raw("\" data-id=\"");
        h.text(std::to_string(e.id)).raw("\">locate</button>");
      }
      h.raw("</td></tr>\n");
    }
    h.raw("</tbody></table>\n");
    h.raw("<p class=\"muted sql\">SQL: <code>SELECT * FROM ").text(c.evidence.front().table);
    h.raw("s WHERE id = ").text(std::to_string(c.evidence.front().id)).raw("</code></p>\n");
  }
  h.raw("</details>\n</li>\n");
}

void render_chains(Html& h, const ReportModel& m) {
  h.raw("<section id=\"findings\" class=\"card\">\n<h2>Why it was slow: causal chains</h2>\n");
  if (m.chains.empty()) {
    h.raw(
        "<p class=\"empty\">No causal chains: no CUDA call or gap between calls was far above "
        "its baseline, and no pipeline pattern was found. The timeline and latency "
        "distributions below show what ran.</p>\n");
  } else {
    h.raw(
        "<p class=\"muted\">Ranked by severity, then time lost. Each chain links slow "
        "intervals to what the thread was doing instead: on CPU, runnable (who held the CPU), "
        "blocked (in what, woken by whom), or waiting for the GPU.</p>\n");
    h.raw("<ol class=\"chain-list\" id=\"chain-list\">\n");
    for (size_t i = 0; i < m.chains.size(); ++i) render_chain(h, m.chains[i], i < m.views.size());
    h.raw("</ol>\n");
    if (m.chains_total > m.chains.size()) {
      h.raw("<p class=\"note\">").text(std::to_string(m.chains_total - m.chains.size()));
      h.raw(
          " lower-ranked chains are not listed (report limit); <code>causeway explain</code> "
          "shows all.</p>\n");
    }
  }
  h.raw("</section>\n");
}

void render_timeline(Html& h, const ReportModel& m) {
  h.raw("<section id=\"timeline\" class=\"card\">\n<h2>Timeline of the worst intervals</h2>\n");
  if (m.views.empty()) {
    h.raw("<p class=\"empty\">No timeline: there are no causal chains to show.</p>\n</section>\n");
    return;
  }
  h.raw("<div class=\"tl-toolbar\"><label>Chain <select id=\"tl-select\">");
  for (size_t i = 0; i < m.views.size(); ++i) {
    const Chain& c = m.chains[i];
    h.raw("<option value=\"").raw(std::to_string(i)).raw("\">#").raw(std::to_string(c.id));
    h.raw(" ").text(c.category).raw(" — ").text(clip(c.subject.comm, 64));
    h.raw(" (").text(format_duration(c.impact_ns)).raw(")</option>");
  }
  h.raw(
      "</select></label>"
      "<button type=\"button\" id=\"tl-zoom-in\" title=\"Zoom in\">+</button>"
      "<button type=\"button\" id=\"tl-zoom-out\" title=\"Zoom out\">−</button>"
      "<button type=\"button\" id=\"tl-fit\" title=\"Zoom to the evidence\">Evidence</button>"
      "<button type=\"button\" id=\"tl-reset\" title=\"Show the whole window\">Whole window"
      "</button><span class=\"hint\">Ctrl + wheel zooms, drag pans, hover for details"
      "</span></div>\n<div id=\"tl\" class=\"tl\"></div>\n<div id=\"tl-tip\" class=\"tip\" "
      "hidden></div>\n<ul class=\"legend tl-legend\">"
      "<li><span class=\"swatch st-running\"></span>running</li>"
      "<li><span class=\"swatch st-runnable\"></span>runnable (waiting for a CPU; hover: who held "
      "it)</li>"
      "<li><span class=\"swatch st-held\"></span>held a CPU a traced thread ran on or waited "
      "for</li>"
      "<li><span class=\"swatch st-sleeping\"></span>sleeping</li>"
      "<li><span class=\"swatch st-uninterruptible\"></span>uninterruptible (I/O)</li>"
      "<li><span class=\"swatch k-cuda\"></span>CUDA call</li>"
      "<li><span class=\"swatch k-syscall\"></span>syscall</li>"
      "<li><span class=\"swatch k-io\"></span>block I/O</li>"
      "<li><span class=\"swatch k-wake\"></span>wakeup</li>"
      "<li><span class=\"swatch k-ev\"></span>evidence of the chain</li></ul>\n"
      "<p class=\"note\" id=\"tl-note\"></p>\n"
      "<noscript><p class=\"note\">The timeline and the histograms are drawn by the page's "
      "script; enable JavaScript to see them.</p></noscript>\n</section>\n");
}

void render_latency(Html& h, const ReportModel& m) {
  const auto& hs = m.histograms;
  h.raw("<section id=\"latency\" class=\"card\">\n<h2>Latency per CUDA function</h2>\n");
  if (hs.functions.empty()) {
    h.raw("<p class=\"empty\">No CUDA calls were recorded");
    h.raw(m.options.since_ns || m.options.until_ns || m.options.pid ? " in the report window" : "");
    h.raw(".</p>\n</section>\n");
    return;
  }
  h.raw(
      "<p class=\"muted\">Log-scale buckets (4 per decade); p50, p95 and p99 are nearest-rank "
      "over every call");
  h.raw(m.options.since_ns || m.options.until_ns || m.options.pid
            ? " in the report window"
            : " (as <code>causeway stats</code>)");
  h.raw(".</p>\n<div class=\"hist-grid\" id=\"histograms\">\n");
  for (size_t i = 0; i < m.drawn.size(); ++i) {
    const auto& f = hs.functions[m.drawn[i]];
    h.raw("<figure class=\"hist\" data-index=\"").raw(std::to_string(i)).raw("\"><figcaption><b>");
    h.text(f.function).raw("</b> <span class=\"muted\">").text(with_commas(f.count));
    h.raw(f.count == 1 ? " call" : " calls").raw(" · total ").text(format_duration(f.total_ns));
    h.raw("</span><br><span class=\"pct\">p50 ").text(format_duration(f.p50_ns));
    h.raw(" · p95 ").text(format_duration(f.p95_ns)).raw(" · p99 ").text(format_duration(f.p99_ns));
    h.raw(" · max ").text(format_duration(f.max_ns)).raw("</span></figcaption>");
    h.raw("<div class=\"hist-plot\"></div></figure>\n");
  }
  h.raw("</div>\n");
  h.raw(
      "<h3>Every function</h3>\n<table class=\"grid wide\"><thead><tr><th>function</th>"
      "<th class=\"num\">calls</th><th class=\"num\">total</th><th class=\"num\">p50</th>"
      "<th class=\"num\">p95</th><th class=\"num\">p99</th><th class=\"num\">max</th>"
      "</tr></thead><tbody>\n");
  for (const auto& f : hs.functions) {
    h.raw("<tr><td class=\"mono\">").text(f.function).raw("</td><td class=\"num\">");
    h.text(with_commas(f.count)).raw("</td><td class=\"num\">").text(format_duration(f.total_ns));
    for (int64_t v : {f.p50_ns, f.p95_ns, f.p99_ns, f.max_ns}) {
      h.raw("</td><td class=\"num\">").text(format_duration(v));
    }
    h.raw("</td></tr>\n");
  }
  h.raw("</tbody></table>\n");
  if (hs.functions_total > hs.functions.size()) {
    h.raw("<p class=\"note\">").text(std::to_string(hs.functions_total - hs.functions.size()));
    h.raw(
        " functions with less total time are not listed (report limit); "
        "<code>causeway stats</code> lists all.</p>\n");
  }
  if (m.drawn.size() < hs.functions.size()) {
    h.raw("<p class=\"note\">Histograms are drawn for the ");
    h.text(std::to_string(m.options.limits.max_histograms));
    h.raw(" functions with the most total time that have at least ");
    h.text(std::to_string(m.options.limits.min_histogram_calls)).raw(" calls.</p>\n");
  }
  h.raw("</section>\n");
}

}  // namespace

Result<ReportModel> build_report(sqlite3* db, const ReportOptions& options) {
  ReportModel m;
  m.options = options;
  auto stats = analyze::stats_for_reader(db, &m.stats_stored);
  if (!stats.ok()) return stats.status();
  m.stats = std::move(*stats);
  auto meta = read_meta(db);
  if (!meta.ok()) return meta.status();
  m.meta = std::move(*meta);

  analyze::ExplainOptions eo;
  eo.pid = options.pid;
  eo.since_ns = options.since_ns;
  eo.until_ns = options.until_ns;
  auto chains = analyze::chains_for_reader(db, eo, &m.chains_stored);
  if (!chains.ok()) return chains.status();
  m.chains = std::move(*chains);
  m.chains_total = m.chains.size();
  if (m.chains.size() > options.limits.max_chains) m.chains.resize(options.limits.max_chains);

  HistogramFilter hf;
  hf.since_ns = options.since_ns;
  hf.until_ns = options.until_ns;
  hf.pid = options.pid;
  auto hist = compute_histograms(db, hf, &m.stats, options.limits.max_function_rows);
  if (!hist.ok()) return hist.status();
  m.histograms = std::move(*hist);
  for (size_t i = 0; i < m.histograms.functions.size(); ++i) {
    if (m.drawn.size() >= options.limits.max_histograms) break;
    if (m.histograms.functions[i].count >= options.limits.min_histogram_calls) m.drawn.push_back(i);
  }

  auto views = build_timeline_views(db, m.chains, options.limits.timeline);
  if (!views.ok()) return views.status();
  m.views = std::move(*views);
  return m;
}

json report_data(const ReportModel& m) {
  // Names and tooltips repeat a lot (function names, "preempted by backup ..."): one table.
  json strings = json::array();
  std::unordered_map<std::string, size_t> index;
  auto sid = [&](const std::string& s) {
    auto [it, fresh] = index.try_emplace(s, strings.size());
    if (fresh) strings.push_back(s);
    return it->second;
  };
  json chains = json::array();
  for (size_t i = 0; i < m.chains.size(); ++i) {
    const Chain& c = m.chains[i];
    json ev = json::array();
    for (const auto& e : c.evidence) ev.push_back({e.table, e.id});
    chains.push_back({{"id", c.id},
                      {"severity", c.severity},
                      {"category", c.category},
                      {"view", i < m.views.size() ? json(i) : json(nullptr)},
                      {"evidence", std::move(ev)}});
  }
  json histograms = json::array();
  for (size_t i : m.drawn) {
    const auto& f = m.histograms.functions[i];
    json buckets = json::array();
    for (const auto& b : f.buckets) buckets.push_back({b.lo_ns, b.hi_ns, b.count});
    histograms.push_back({{"function", f.function},
                          {"count", f.count},
                          {"total_ns", f.total_ns},
                          {"min_ns", f.min_ns},
                          {"p50_ns", f.p50_ns},
                          {"p95_ns", f.p95_ns},
                          {"p99_ns", f.p99_ns},
                          {"max_ns", f.max_ns},
                          {"buckets", std::move(buckets)}});
  }
  json views = json::array();
  for (const auto& v : m.views) {
    json lanes = json::array();
    for (const auto& l : v.lanes) {
      lanes.push_back({{"tid", l.tid},
                       {"pid", l.pid},
                       {"thread", l.thread},
                       {"process", l.process},
                       {"role", l.role},
                       {"traced", l.traced}});
    }
    json events = json::array();
    for (const auto& e : v.events) {
      events.push_back({e.lane, static_cast<int>(e.kind), e.ts_ns, e.dur_ns, e.id, e.depth,
                        sid(e.name), sid(e.detail), e.evidence ? 1 : 0});
    }
    json wakeups = json::array();
    for (const auto& w : v.wakeups) {
      wakeups.push_back({w.ts_ns, w.from_lane, w.to_lane, sid(w.waker), w.id});
    }
    views.push_back({{"chain", v.chain_id},
                     {"start_ns", v.start_ns},
                     {"end_ns", v.end_ns},
                     {"focus", {v.focus_start_ns, v.focus_end_ns}},
                     {"lanes", std::move(lanes)},
                     {"events", std::move(events)},
                     {"wakeups", std::move(wakeups)},
                     {"omitted",
                      {{"events", v.omitted_events},
                       {"wakeups", v.omitted_wakeups},
                       {"lanes", v.omitted_lanes}}}});
  }
  return {{"format", "causeway-report/1"},
          {"event_kinds",
           {"cuda_call", "running", "runnable", "sleeping", "uninterruptible", "other", "syscall",
            "block_io", "held_cpu"}},
          {"strings", std::move(strings)},
          {"chains", std::move(chains)},
          {"histograms", std::move(histograms)},
          {"views", std::move(views)}};
}

std::string render_html(const ReportModel& m) {
  Html h;
  const std::string title = "causeway report: " + title_of(m);
  h.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
  // No network: nothing may be fetched, whatever a string in the trace says.
  h.raw(
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n");
  h.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
  h.raw("<meta name=\"generator\" content=\"").text(m.options.generator).raw("\">\n");
  h.raw("<title>").text(title).raw("</title>\n<style>\n").raw(kReportCss).raw("</style>\n");
  h.raw("</head>\n<body>\n<header class=\"top\"><div class=\"wrap\">");
  h.raw("<div class=\"brand\">causeway <span>report</span></div>");
  h.raw("<h1>").text(title_of(m)).raw("</h1><p class=\"sub\">");
  h.text(format_duration(m.stats.duration_ns)).raw(" traced");
  const auto rec = m.meta.find("origin_realtime_ns");
  if (rec != m.meta.end() && !utc_time(rec->second).empty()) {
    h.raw(" · ").text(utc_time(rec->second));
  }
  h.raw(" · <span class=\"mono\">").text(m.options.source).raw("</span></p>");
  h.raw(
      "<nav><a href=\"#summary\">Summary</a><a href=\"#findings\">Causal chains</a>"
      "<a href=\"#timeline\">Timeline</a><a href=\"#latency\">Latency</a></nav>");
  h.raw("</div></header>\n<main class=\"wrap\">\n");
  if (!m.chains.empty()) {
    const Chain& top = m.chains.front();
    h.raw("<aside class=\"verdict sev-").text(top.severity).raw("\"><div class=\"verdict-label\">");
    h.raw("Top finding</div><div class=\"verdict-text\">").text(top.summary).raw("</div>");
    if (!top.recommendation.empty()) {
      h.raw("<div class=\"verdict-fix\"><b>Fix:</b> ").text(top.recommendation).raw("</div>");
    }
    h.raw("</aside>\n");
  }
  render_summary(h, m);
  render_chains(h, m);
  render_timeline(h, m);
  render_latency(h, m);
  h.raw("</main>\n<footer class=\"wrap\">Generated by ").text(m.options.generator);
  h.raw(" from ")
      .text(m.options.source)
      .raw(
          ". Times are since the trace start. The report "
          "shows at most ")
      .text(std::to_string(m.options.limits.max_chains));
  h.raw(" chains, timelines for the first ")
      .text(std::to_string(m.options.limits.timeline.max_views));
  h.raw(" and ").text(std::to_string(m.options.limits.max_histograms));
  h.raw(" histograms; the trace database holds every event (<code>causeway schema</code>).");
  h.raw("</footer>\n<script type=\"application/json\" id=\"causeway-data\">");
  h.raw(script_json(report_data(m)));
  h.raw("</script>\n<script>\n").raw(kReportJs).raw("</script>\n</body>\n</html>\n");
  return std::move(h.str());
}

}  // namespace causeway::report
