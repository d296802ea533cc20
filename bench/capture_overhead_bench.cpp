// Capture overhead per traced CUDA call, measured side by side in one run:
//   untraced  — the call loop alone;
//   floor     — the same loop with empty BPF programs on the same uprobe + uretprobe pair
//               (what the kernel's uprobe machinery costs, whatever the tracer does);
//   traced    — the same loop under `causeway trace` (syscall rows off, stacks on; more
//               options with --trace-args "...");
//   dwarf     — with --dwarf, also under `causeway trace --call-graph dwarf` (plus the same
//               --trace-args): what copying and unwinding stacks adds to the walk.
// Each configuration runs `--runs` times, interleaved, and the medians are reported, both as
// wall time and as CPU time of the calling thread (where the probes run; unlike wall time it
// does not depend on what else the shared machine is doing). Also printed: the tracer
// process's own CPU per call, spent on another CPU.
// Needs root and BPF; says so and exits 0 without them (it is a benchmark, not a test).
#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

const std::string kBuild = CAUSEWAY_BUILD_DIR;

// What one run of the call loop printed: wall and calling-thread CPU ns per call, and (for
// traced runs) the tracer's own CPU seconds from its summary; -1 when absent.
struct Sample {
  double wall_ns = -1;
  double cpu_ns = -1;
  double tracer_cpu_s = -1;
};

// Runs a shell command (stdout and stderr) and picks the figures out of its output.
Sample run_and_read(const std::string& cmd) {
  Sample out;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((cmd + " 2>&1").c_str(), "r"), pclose);
  if (!pipe) return out;
  std::array<char, 512> line{};
  while (fgets(line.data(), line.size(), pipe.get()) != nullptr) {
    double wall = 0, cpu = 0, tracer = 0;
    if (std::sscanf(line.data(), "%lf %lf", &wall, &cpu) == 2) {
      out.wall_ns = wall;
      out.cpu_ns = cpu;
    } else if (std::sscanf(line.data(), "  tracer: cpu %lf", &tracer) == 1) {
      out.tracer_cpu_s = tracer;
    }
  }
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? -1 : v[v.size() / 2];
}

int quiet(enum libbpf_print_level, const char*, va_list) {
  return 0;
}

// Attaches the empty programs to cudaGetDevice in `lib`; the links live until destroyed.
struct Floor {
  bpf_object* obj = nullptr;
  bpf_link* entry = nullptr;
  bpf_link* ret = nullptr;
  bool attach(const std::string& lib) {
    obj = bpf_object__open_file((kBuild + "/bench/empty_probe.bpf.o").c_str(), nullptr);
    if (obj == nullptr || bpf_object__load(obj) != 0) return false;
    LIBBPF_OPTS(bpf_uprobe_opts, eo, .func_name = "cudaGetDevice");
    LIBBPF_OPTS(bpf_uprobe_opts, ro, .retprobe = true, .func_name = "cudaGetDevice");
    entry = bpf_program__attach_uprobe_opts(bpf_object__find_program_by_name(obj, "empty_entry"),
                                            -1, lib.c_str(), 0, &eo);
    ret = bpf_program__attach_uprobe_opts(bpf_object__find_program_by_name(obj, "empty_return"), -1,
                                          lib.c_str(), 0, &ro);
    return entry != nullptr && ret != nullptr;
  }
  ~Floor() {
    bpf_link__destroy(entry);
    bpf_link__destroy(ret);
    bpf_object__close(obj);
  }
};

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  long calls = 200000;
  std::string extra;   // more `causeway trace` options, e.g. "--no-stacks"
  bool dwarf = false;  // also measure --call-graph dwarf
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--dwarf") dwarf = true;
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--dwarf") {
      --i;  // a flag without a value
      continue;
    }
    if (flag == "--runs") runs = std::atoi(argv[i + 1]);
    if (flag == "--calls") calls = std::atol(argv[i + 1]);
    if (flag == "--trace-args") extra = argv[i + 1];
  }
  if (geteuid() != 0) {
    std::printf("capture_overhead_bench: skipped: needs root to load BPF programs.\n");
    return 0;
  }
  libbpf_set_print(quiet);
  const std::string loop = kBuild + "/bench/cuda_call_loop " + std::to_string(calls);
  const std::string lib = kBuild + "/sim/libcudart.so.13";
  const std::string db = "/tmp/causeway-overhead-bench.db";
  std::vector<Sample> untraced;
  std::vector<Sample> floor;
  std::vector<Sample> traced;
  std::vector<Sample> traced_dwarf;
  for (int r = 0; r < runs; ++r) {
    untraced.push_back(run_and_read(loop));
    {
      Floor f;
      if (!f.attach(lib)) {
        std::printf("capture_overhead_bench: skipped: cannot attach the empty probes to %s.\n",
                    lib.c_str());
        return 0;
      }
      floor.push_back(run_and_read(loop));
    }
    std::remove(db.c_str());
    traced.push_back(run_and_read(kBuild + "/causeway trace --no-syscalls " + extra + " --db " +
                                  db + " -- " + loop));
    if (dwarf) {
      std::remove(db.c_str());
      traced_dwarf.push_back(run_and_read(kBuild +
                                          "/causeway trace --no-syscalls --call-graph dwarf " +
                                          extra + " --db " + db + " -- " + loop));
    }
  }
  std::remove(db.c_str());
  auto med = [](const std::vector<Sample>& v, double Sample::*field) {
    std::vector<double> x;
    for (const auto& s : v) x.push_back(s.*field);
    return median(x);
  };
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf("cudaGetDevice on the simulated runtime, %ld calls x %d runs (medians), load %.1f:\n",
              calls, runs, load[0]);
  std::printf("  %-32s %12s %12s %12s %12s\n", "ns per call", "wall", "added", "thread CPU",
              "added");
  const double uw = med(untraced, &Sample::wall_ns), uc = med(untraced, &Sample::cpu_ns);
  const double fw = med(floor, &Sample::wall_ns), fc = med(floor, &Sample::cpu_ns);
  const double tw = med(traced, &Sample::wall_ns), tc = med(traced, &Sample::cpu_ns);
  std::printf("  %-32s %12.1f %12s %12.1f %12s\n", "untraced", uw, "", uc, "");
  std::printf("  %-32s %12.1f %12.1f %12.1f %12.1f\n", "floor (empty uprobe+uretprobe)", fw,
              fw - uw, fc, fc - uc);
  std::printf("  %-32s %12.1f %12.1f %12.1f %12.1f\n", "causeway trace", tw, tw - uw, tc, tc - uc);
  if (dwarf) {
    const double dw = med(traced_dwarf, &Sample::wall_ns), dc = med(traced_dwarf, &Sample::cpu_ns);
    std::printf("  %-32s %12.1f %12.1f %12.1f %12.1f\n", "causeway trace --call-graph dwarf", dw,
                dw - uw, dc, dc - uc);
    const double ds = med(traced_dwarf, &Sample::tracer_cpu_s);
    if (ds >= 0)
      std::printf("  tracer process CPU per traced call, --call-graph dwarf: %.1f ns\n",
                  ds * 1e9 / static_cast<double>(calls + 1000));
  }
  std::printf("  traced added / floor added: wall %.2fx, thread CPU %.2fx (target <= 1.3x)\n",
              (tw - uw) / std::max(1.0, fw - uw), (tc - uc) / std::max(1.0, fc - uc));
  // The tracer's own CPU (decoding and writing the database, on another CPU), per call.
  const double tracer_s = med(traced, &Sample::tracer_cpu_s);
  if (tracer_s >= 0) {
    std::printf("  tracer process CPU per traced call: %.1f ns (whole run incl. start-up)\n",
                tracer_s * 1e9 / static_cast<double>(calls + 1000));
  }
  return 0;
}
