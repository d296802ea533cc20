// Capture overhead per traced CUDA call, measured side by side in one run:
//   untraced  — the call loop alone;
//   floor     — the same loop with empty BPF programs on the same uprobe + uretprobe pair
//               (what the kernel's uprobe machinery costs, whatever the tracer does);
//   traced    — the same loop under `causeway trace` (syscalls off, stacks on).
// Each configuration runs `--runs` times, interleaved, and the medians are reported.
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

// Runs a shell command and returns the last number it printed on stdout, or -1.
double run_and_read_ns(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return -1;
  std::array<char, 256> line{};
  double value = -1;
  while (fgets(line.data(), line.size(), pipe.get()) != nullptr) {
    char* end = nullptr;
    double v = std::strtod(line.data(), &end);
    if (end != line.data()) value = v;
  }
  return value;
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
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--runs") runs = std::atoi(argv[i + 1]);
    if (flag == "--calls") calls = std::atol(argv[i + 1]);
  }
  if (geteuid() != 0) {
    std::printf("capture_overhead_bench: skipped: needs root to load BPF programs.\n");
    return 0;
  }
  libbpf_set_print(quiet);
  const std::string loop = kBuild + "/bench/cuda_call_loop " + std::to_string(calls);
  const std::string lib = kBuild + "/sim/libcudart.so.13";
  const std::string db = "/tmp/causeway-overhead-bench.db";
  std::vector<double> untraced;
  std::vector<double> floor;
  std::vector<double> traced;
  for (int r = 0; r < runs; ++r) {
    untraced.push_back(run_and_read_ns(loop));
    {
      Floor f;
      if (!f.attach(lib)) {
        std::printf("capture_overhead_bench: skipped: cannot attach the empty probes to %s.\n",
                    lib.c_str());
        return 0;
      }
      floor.push_back(run_and_read_ns(loop));
    }
    std::remove(db.c_str());
    traced.push_back(run_and_read_ns(kBuild + "/causeway trace --no-syscalls --db " + db + " -- " +
                                     loop + " 2>/dev/null"));
  }
  std::remove(db.c_str());
  double u = median(untraced);
  double f = median(floor);
  double t = median(traced);
  std::printf("cudaGetDevice on the simulated runtime, %ld calls x %d runs (medians):\n", calls,
              runs);
  std::printf("  untraced                       %8.1f ns/call\n", u);
  std::printf("  floor (empty uprobe+uretprobe) %8.1f ns/call   added %8.1f ns\n", f, f - u);
  std::printf("  causeway trace                 %8.1f ns/call   added %8.1f ns\n", t, t - u);
  std::printf("  traced added cost / floor added cost: %.2fx (target <= 1.3x)\n",
              (t - u) / std::max(1.0, f - u));
  return 0;
}
