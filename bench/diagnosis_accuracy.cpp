// Diagnosis accuracy: runs N generated cases with known answers (bench/diagnosis_cases.h) through
// `causeway trace` and `causeway explain`, and reports how often the top chain names the right
// category and culprit, per family and overall, how many healthy twins raised no high-severity
// chain, and one line per miss. Failed cases keep their .db, log and explain output in --out.
// Needs root and BPF. Run by scripts/bench.sh (`make bench`); figures go to docs/explain.md.
//
//   diagnosis_accuracy [--cases N] [--seed S] [--out DIR] [--family NAME] [--keep-all] [--list]
//   diagnosis_accuracy --case ID   (one case by its id, e.g. lock-healthy-123: rerun a miss)
#include <unistd.h>

#include <sys/stat.h>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "diagnosis_cases.h"

using causeway::bench::Case;
using causeway::bench::CaseResult;
using causeway::bench::Expect;

namespace {

struct Tally {
  int cases = 0;
  int correct = 0;
  int not_run = 0;
};

std::string read_loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string line;
  std::getline(in, line);
  return line + "\n";
}

[[noreturn]] void usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: diagnosis_accuracy [--cases N] [--seed S] [--out DIR] [--family NAME] "
               "[--keep-all] [--list]\n"
               "       diagnosis_accuracy --case ID\n"
               "Traces N generated cases (default 240) from seed S (default 1) and scores "
               "`causeway explain` against their known diagnoses.\n");
  std::exit(code);
}

}  // namespace

int main(int argc, char** argv) {
  int count = 240;
  uint64_t seed = 1;
  std::string out_dir = std::string(CAUSEWAY_BUILD_DIR) + "/bench/diagnosis-cases";
  std::string only_family;
  bool keep_all = false;
  bool list = false;
  std::string one_case;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(2);
      return argv[++i];
    };
    if (flag == "--cases") {
      count = std::atoi(value().c_str());
    } else if (flag == "--seed") {
      seed = std::strtoull(value().c_str(), nullptr, 10);
    } else if (flag == "--out") {
      out_dir = value();
    } else if (flag == "--family") {
      only_family = value();
    } else if (flag == "--list") {
      list = true;
    } else if (flag == "--case") {
      one_case = value();
    } else if (flag == "--keep-all") {
      keep_all = true;
    } else if (flag == "--help" || flag == "-h") {
      usage(0);
    } else {
      std::fprintf(stderr, "diagnosis_accuracy: unknown argument '%s'\n", flag.c_str());
      usage(2);
    }
  }
  if (count <= 0) usage(2);
  const int cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  std::vector<Case> cases;
  if (!one_case.empty()) {
    std::optional<Case> c = causeway::bench::case_from_id(one_case, cpus);
    if (!c) {
      std::fprintf(stderr, "diagnosis_accuracy: '%s' is not a case id (FAMILY[-healthy]-SEED)\n",
                   one_case.c_str());
      return 2;
    }
    cases.push_back(*c);
  } else {
    cases = causeway::bench::generate_cases(seed, count, cpus);
  }
  if (!only_family.empty()) {
    std::erase_if(cases, [&](const Case& c) { return family_name(c.family) != only_family; });
  }
  if (list) {
    for (const Case& c : cases) {
      std::printf("%s [%s] expected: %s\n", c.id.c_str(), c.label.c_str(),
                  c.expected_text().c_str());
    }
    return 0;
  }
  if (geteuid() != 0) {
    std::printf("diagnosis_accuracy: skipped, needs root (causeway trace loads BPF programs)\n");
    return 0;
  }
  mkdir(out_dir.c_str(), 0755);

  causeway::bench::RunConfig config;
  config.causeway = std::string(CAUSEWAY_BUILD_DIR) + "/causeway";
  config.workload = std::string(CAUSEWAY_BUILD_DIR) + "/sim/scenario_generated";
  config.python_dir = std::string(CAUSEWAY_SOURCE_DIR) + "/sim/python";
  config.cudart = std::string(CAUSEWAY_BUILD_DIR) + "/sim/libcudart.so.13";
  config.out_dir = out_dir;
  config.keep_passed = keep_all;
  const bool has_verify = causeway::bench::verify_available(config.causeway);

  std::printf("# load average at start: %s", read_loadavg().c_str());
  std::printf("# %zu cases from seed %llu on %d CPUs; output in %s; causeway verify %s\n",
              cases.size(), static_cast<unsigned long long>(seed), cpus, out_dir.c_str(),
              has_verify ? "available" : "not available (skipped)");
  std::fflush(stdout);

  // Per family, pathology and healthy twins apart; then by kind of expectation.
  std::map<std::string, Tally> by_family;
  std::map<std::string, Tally> healthy_by_family;
  Tally top, healthy, no_blame, all;
  int verify_failed = 0;
  int strangers = 0;
  Tally waiting;                // ranks: the waiting rank's own first chain
  int weak = 0;                 // pathology cases whose workload measured too little of its wait
  int confirmed_strangers = 0;  // ... of which the workload's run_delay exceeded its own wait
  std::vector<std::string> misses;
  double seconds = 0;
  for (const Case& c : cases) {
    const CaseResult r = causeway::bench::run_case(c, config);
    seconds += r.seconds;
    auto count_in = [&](Tally& t) {
      ++t.cases;
      if (!r.ran) ++t.not_run;
      if (r.correct) ++t.correct;
    };
    const std::string name = family_name(c.family);
    count_in(c.healthy ? healthy_by_family[name] : by_family[name]);
    // A pathology that did not happen (weak) is judged, and counted, as a healthy run.
    count_in(r.weak                          ? healthy
             : c.expect == Expect::kTopChain ? top
             : c.expect == Expect::kNoHigh   ? healthy
                                             : no_blame);
    count_in(all);
    if (r.verify_exit > 0) ++verify_failed;
    if (r.ran && !r.correct && r.blames_stranger) {
      ++strangers;
      if (r.runnable_share > r.measured_share && r.runnable_share >= causeway::bench::kWeakShare) {
        ++confirmed_strangers;
      }
    }
    if (r.waiting_correct >= 0) {
      ++waiting.cases;
      if (r.waiting_correct == 1) ++waiting.correct;
    }
    const char* mark = !r.ran ? "ERROR" : r.correct ? "ok" : "MISS";
    std::string measured;
    if (r.measured_share >= 0) {
      char buf[96];
      std::snprintf(buf, sizeof buf, " waited %.0f%% runnable %.0f%%%s", 100.0 * r.measured_share,
                    100.0 * r.runnable_share, r.weak ? " (weak: scored as no high chain)" : "");
      measured = buf;
    }
    if (r.weak) ++weak;
    std::printf("%-5s %s [%s]%s %.1fs load %s\n", mark, c.id.c_str(), c.label.c_str(),
                measured.c_str(), r.seconds, r.load.c_str());
    if (!r.correct) {
      misses.push_back(
          c.id + " (seed " + std::to_string(c.seed) + ", " + c.label + ", load " + r.load +
          "): expected " + c.expected_text() + "; got " + (r.ran ? r.got : "not run: " + r.error) +
          (r.blames_stranger ? " [cpu_contention by a process the case did not start]" : "") +
          "; kept " + r.db);
    }
    if (r.waiting_correct == 0) {
      misses.push_back(c.id + " (waiting rank): expected its first chain " +
                       c.waiting_accept.category + " culprit=" + c.waiting_accept.culprit_comm +
                       "; got " + r.waiting_got + "; kept " + r.db);
    }
    if (r.verify_exit > 0) {
      misses.push_back(c.id + ": causeway verify exited " + std::to_string(r.verify_exit) + ": " +
                       r.verify_note + "; kept " + r.db);
    }
    std::fflush(stdout);
  }

  auto row = [](const std::string& name, const Tally& t, const Tally& h) {
    std::string not_run =
        t.not_run + h.not_run > 0 ? " (" + std::to_string(t.not_run + h.not_run) + " not run)" : "";
    std::printf("%-11s %3d of %3d   %3d of %3d%s\n", name.c_str(), t.correct, t.cases, h.correct,
                h.cases, not_run.c_str());
  };
  std::printf("\n## per family: pathology right, healthy twin right\n");
  for (const auto family : causeway::bench::all_families()) {
    const std::string name = family_name(family);
    if (by_family.count(name) + healthy_by_family.count(name) == 0) continue;
    row(name, by_family[name], healthy_by_family[name]);
  }
  std::printf("\ntop chain category and culprit right in %d of %d cases\n", top.correct, top.cases);
  std::printf("healthy twins with no high chain: %d of %d\n", healthy.correct, healthy.cases);
  std::printf("ranks: the waiting rank's first chain is peer_wait naming the spinner in %d of %d\n",
              waiting.correct, waiting.cases);
  std::printf("timeout traps with no high chain blaming another task: %d of %d\n", no_blame.correct,
              no_blame.cases);
  std::printf(
      "pathology cases whose own wait stayed under %.0f%% of the loop (scored as no high chain "
      "expected): %d\n",
      100.0 * causeway::bench::kWeakShare, weak);
  std::printf("all cases right: %d of %d (%.0f%%); %.0f s\n", all.correct, all.cases,
              all.cases > 0 ? 100.0 * all.correct / all.cases : 0.0, seconds);
  std::printf(
      "misses that are cpu_contention by a process the case did not start (other load on the "
      "machine): %d of %d\n",
      strangers, all.cases - all.correct);
  std::printf(
      "  of which the workload's own time waiting for a CPU (run_delay) exceeded the wait the case "
      "creates: %d\n",
      confirmed_strangers);
  if (has_verify) {
    std::printf("causeway verify failed on %d of %d traces\n", verify_failed, all.cases);
  }
  std::printf("# load average at end: %s", read_loadavg().c_str());
  if (!misses.empty()) {
    std::printf("\n## misses\n");
    for (const std::string& line : misses) std::printf("%s\n", line.c_str());
  }
  return 0;
}
