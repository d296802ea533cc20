// JSON form of chains: the `--json` output, the MCP tool result and the stored form.
#include <string>

#include "analyze/chains.h"

namespace causeway::analyze {
namespace {

using nlohmann::json;

json task_json(const TaskRef& t) {
  return {{"pid", t.pid}, {"tid", t.tid}, {"comm", t.comm}, {"process", t.process}};
}

TaskRef task_from(const json& j) {
  TaskRef t;
  t.pid = j.value("pid", 0);
  t.tid = j.value("tid", 0);
  t.comm = j.value("comm", "");
  t.process = j.value("process", "");
  return t;
}

}  // namespace

nlohmann::json to_json(const Chain& c) {
  json j;
  j["id"] = c.id;
  j["severity"] = c.severity;
  j["category"] = c.category;
  j["kind"] = c.kind;
  j["summary"] = c.summary;
  j["explanation"] = c.explanation;
  j["recommendation"] = c.recommendation;
  j["subject"] = task_json(c.subject);
  j["function"] = c.function.empty() ? json(nullptr) : json(c.function);
  j["culprit"] = c.culprit ? task_json(*c.culprit) : json(nullptr);
  j["impact_ns"] = c.impact_ns;
  j["impact_share"] = c.impact_share;
  j["thread_share"] = c.thread_share;
  j["occurrences"] = c.occurrences;
  if (c.baseline) {
    j["baseline"] = {{"count", c.baseline->count},
                     {"p50_ns", c.baseline->median_ns},
                     {"mad_ns", c.baseline->mad_ns}};
  } else {
    j["baseline"] = nullptr;
  }
  j["observed"] = {
      {"p50_ns", c.observed_p50_ns}, {"p99_ns", c.observed_p99_ns}, {"max_ns", c.observed_max_ns}};
  j["window"] = {{"start_ns", c.window_start_ns}, {"end_ns", c.window_end_ns}};
  j["on_cpu_ns"] = c.on_cpu_ns;
  j["runnable_ns"] = c.runnable_ns;
  j["blocked_ns"] = c.blocked_by_reason;  // by reason (syscall name or state)
  j["blocked_total_ns"] = c.blocked_ns;
  j["gpu_wait_ns"] = c.gpu_wait_ns;
  j["unaccounted_ns"] = c.unaccounted_ns;
  json pre = json::array();
  for (const PreemptorShare& p : c.preempters) {
    json t = task_json(p.task);
    t["holder"] = p.holder;
    t["cpu"] = p.cpu;
    t["ns"] = p.ns;
    t["intervals"] = p.intervals;
    pre.push_back(std::move(t));
  }
  j["preempters"] = std::move(pre);
  json blk = json::array();
  for (const BlockedShare& b : c.blocked) {
    blk.push_back({{"cause", b.cause},
                   {"reason", b.reason},
                   {"waker", b.waker ? task_json(*b.waker) : json(nullptr)},
                   {"woken_by", b.woken_by.empty() ? json(nullptr) : json(b.woken_by)},
                   {"device", b.device.empty() ? json(nullptr) : json(b.device)},
                   {"ns", b.ns},
                   {"intervals", b.intervals}});
  }
  j["blocked"] = std::move(blk);
  json wc = json::array();
  for (const WakerStep& w : c.waker_chain) {
    wc.push_back({{"depth", w.depth},
                  {"task", task_json(w.task)},
                  {"window_start_ns", w.window_start_ns},
                  {"window_end_ns", w.window_end_ns},
                  {"activity", w.activity},
                  {"detail", w.detail},
                  {"on_cpu_ns", w.on_cpu_ns},
                  {"runnable_ns", w.runnable_ns},
                  {"blocked_ns", w.blocked_ns}});
  }
  j["waker_chain"] = std::move(wc);
  json ev = json::array();
  for (const EvidenceRef& e : c.evidence) {
    ev.push_back({{"table", e.table}, {"id", e.id}, {"ts_ns", e.ts_ns}, {"role", e.role}});
  }
  j["evidence"] = std::move(ev);
  if (!c.stack.empty()) j["stack"] = {{"frames", c.stack}, {"events", c.stack_events}};
  return j;
}

nlohmann::json chains_to_json(const std::vector<Chain>& chains) {
  json arr = json::array();
  for (const Chain& c : chains) arr.push_back(to_json(c));
  return json{{"chains", std::move(arr)}};
}

Result<Chain> chain_from_json(const nlohmann::json& j) {
  try {
    Chain c;
    c.id = j.at("id").get<int64_t>();
    c.severity = j.at("severity").get<std::string>();
    c.category = j.at("category").get<std::string>();
    c.kind = j.value("kind", "");
    c.summary = j.at("summary").get<std::string>();
    c.explanation = j.value("explanation", "");
    c.recommendation = j.value("recommendation", "");
    c.subject = task_from(j.at("subject"));
    if (j.contains("function") && j["function"].is_string()) c.function = j["function"];
    if (j.contains("culprit") && j["culprit"].is_object()) c.culprit = task_from(j["culprit"]);
    c.impact_ns = j.at("impact_ns").get<int64_t>();
    c.impact_share = j.value("impact_share", 0.0);
    c.thread_share = j.value("thread_share", 0.0);
    c.occurrences = j.value("occurrences", int64_t{0});
    if (j.contains("baseline") && j["baseline"].is_object()) {
      c.baseline = Baseline{j["baseline"].value("count", int64_t{0}),
                            j["baseline"].value("p50_ns", int64_t{0}),
                            j["baseline"].value("mad_ns", int64_t{0})};
    }
    if (j.contains("observed")) {
      c.observed_p50_ns = j["observed"].value("p50_ns", int64_t{0});
      c.observed_p99_ns = j["observed"].value("p99_ns", int64_t{0});
      c.observed_max_ns = j["observed"].value("max_ns", int64_t{0});
    }
    if (j.contains("window")) {
      c.window_start_ns = j["window"].value("start_ns", int64_t{0});
      c.window_end_ns = j["window"].value("end_ns", int64_t{0});
    }
    c.on_cpu_ns = j.value("on_cpu_ns", int64_t{0});
    c.runnable_ns = j.value("runnable_ns", int64_t{0});
    c.blocked_ns = j.value("blocked_total_ns", int64_t{0});
    if (j.contains("blocked_ns") && j["blocked_ns"].is_object()) {
      for (const auto& [k, v] : j["blocked_ns"].items()) c.blocked_by_reason[k] = v.get<int64_t>();
    }
    c.gpu_wait_ns = j.value("gpu_wait_ns", int64_t{0});
    c.unaccounted_ns = j.value("unaccounted_ns", int64_t{0});
    for (const json& p : j.value("preempters", json::array())) {
      PreemptorShare s;
      s.task = task_from(p);
      s.holder = p.value("holder", "task");
      s.cpu = p.value("cpu", -1);
      s.ns = p.value("ns", int64_t{0});
      s.intervals = p.value("intervals", int64_t{0});
      c.preempters.push_back(std::move(s));
    }
    for (const json& b : j.value("blocked", json::array())) {
      BlockedShare s;
      s.cause = b.value("cause", "");
      s.reason = b.value("reason", "");
      if (b.contains("waker") && b["waker"].is_object()) s.waker = task_from(b["waker"]);
      if (b.contains("woken_by") && b["woken_by"].is_string()) s.woken_by = b["woken_by"];
      if (b.contains("device") && b["device"].is_string()) s.device = b["device"];
      s.ns = b.value("ns", int64_t{0});
      s.intervals = b.value("intervals", int64_t{0});
      c.blocked.push_back(std::move(s));
    }
    for (const json& w : j.value("waker_chain", json::array())) {
      WakerStep s;
      s.depth = w.value("depth", 1);
      s.task = task_from(w.value("task", json::object()));
      s.window_start_ns = w.value("window_start_ns", int64_t{0});
      s.window_end_ns = w.value("window_end_ns", int64_t{0});
      s.activity = w.value("activity", "");
      s.detail = w.value("detail", "");
      s.on_cpu_ns = w.value("on_cpu_ns", int64_t{0});
      s.runnable_ns = w.value("runnable_ns", int64_t{0});
      s.blocked_ns = w.value("blocked_ns", int64_t{0});
      c.waker_chain.push_back(std::move(s));
    }
    for (const json& e : j.value("evidence", json::array())) {
      c.evidence.push_back({e.value("table", ""), e.value("id", int64_t{0}),
                            e.value("ts_ns", int64_t{0}), e.value("role", "")});
    }
    if (j.contains("stack")) {
      c.stack = j["stack"].value("frames", std::vector<std::string>{});
      c.stack_events = j["stack"].value("events", int64_t{0});
    }
    return c;
  } catch (const nlohmann::json::exception& e) {
    return Status::Error(std::string("A stored causal chain is malformed (") + e.what() +
                         "); run `causeway explain --recompute` to rebuild them.");
  }
}

}  // namespace causeway::analyze
