// `causeway check`: can tracing work on this machine, and if not, what to do about it.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "capture/cuda_functions.h"
#include "capture/libraries.h"
#include "cli/command.h"
#include "host/cuda_libraries.h"
#include "host/host_facts.h"

namespace causeway::cli {
namespace {

struct CheckOptions {
  std::string cudart;
  std::string cuda;
  bool json = false;
};

struct Line {
  std::string item;
  std::string value;
  std::string verdict;  // "ok", "note", "FAIL"
};

struct LibraryReport {
  host::CudaLibrary lib;
  std::string version;  // or the reason there is none
  std::vector<std::string> resolved;
  std::vector<std::string> missing;
  std::string symbol_error;
};

// Which probed API functions the library exports: an API counts as resolved when its base
// symbol or any of its _v2/_ptsz/_ptds variants is present (the same table capture attaches by).
LibraryReport describe_library(const host::CudaLibrary& lib) {
  LibraryReport report{lib, {}, {}, {}, {}};
  auto version = host::query_cuda_version(lib);
  report.version = version.ok() ? *version : "unknown (" + version.error() + ")";
  auto symbols = capture::ElfSymbols::load(lib.real_path);
  if (!symbols.ok()) {
    report.symbol_error = symbols.error();
    return report;
  }
  report.lib.build_id = symbols->build_id();
  auto kind = lib.kind == host::CudaLibraryKind::kRuntime ? capture::CudaLibrary::kRuntime
                                                          : capture::CudaLibrary::kDriver;
  const auto& table = capture::CudaFunctionTable::builtin();
  for (const auto& base : table.bases(kind)) {
    bool present = false;
    for (const auto& fn : table.functions()) {
      if (fn.base == base && symbols->offset_of(fn.name).has_value()) {
        present = true;
        break;
      }
    }
    (present ? report.resolved : report.missing).push_back(base);
  }
  if (report.resolved.empty()) report.symbol_error = "it exports none of the probed CUDA functions";
  return report;
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

int run_check(const CheckOptions& opts) {
  host::HostFacts facts = host::read_host_facts();
  std::vector<Line> lines;
  std::vector<std::string> fixes;

  lines.push_back({"kernel", facts.kernel_release, "ok"});
  if (facts.btf) {
    lines.push_back({"BTF", "/sys/kernel/btf/vmlinux", "ok"});
  } else {
    lines.push_back({"BTF", "missing", "FAIL"});
    fixes.push_back("use a kernel built with CONFIG_DEBUG_INFO_BTF=y (BTF is needed for CO-RE)");
  }
  std::vector<std::string> caps;
  if (facts.caps.bpf) caps.emplace_back("CAP_BPF");
  if (facts.caps.perfmon) caps.emplace_back("CAP_PERFMON");
  if (facts.caps.sys_admin) caps.emplace_back("CAP_SYS_ADMIN");
  bool caps_ok = facts.caps.sys_admin || (facts.caps.bpf && facts.caps.perfmon);
  lines.push_back(
      {"capabilities", caps.empty() ? "none" : join(caps, " "), caps_ok ? "ok" : "FAIL"});
  if (!caps_ok) fixes.push_back("run as root (sudo causeway ...) or grant CAP_BPF and CAP_PERFMON");
  lines.push_back({"bpf()", facts.bpf_usable ? "a tracing program loads" : facts.bpf_error,
                   facts.bpf_usable ? "ok" : "FAIL"});
  if (!facts.bpf_usable && caps_ok)
    fixes.push_back("allow BPF on this host (" + facts.bpf_error + ")");
  lines.push_back({"uprobes", facts.uprobes ? "supported" : "not supported (no uprobe PMU)",
                   facts.uprobes ? "ok" : "FAIL"});
  if (!facts.uprobes)
    fixes.push_back("use a kernel with CONFIG_UPROBE_EVENTS=y to trace CUDA calls");
  lines.push_back(
      {"tracefs",
       facts.tracefs_mount.empty()
           ? "not mounted (BTF tracepoints need none; causeway trace mounts it if needed)"
           : facts.tracefs_mount,
       facts.tracefs_mount.empty() ? "note" : "ok"});

  auto libs = host::find_cuda_libraries(opts.cudart, opts.cuda);
  std::vector<LibraryReport> reports;
  if (!libs.ok()) {
    std::fprintf(stderr, "causeway check: %s\n", libs.error().c_str());
    return 2;
  }
  for (const auto& lib : *libs) reports.push_back(describe_library(lib));
  bool have_runtime = false;
  bool have_real_driver = false;
  for (const auto& r : reports) {
    bool runtime = r.lib.kind == host::CudaLibraryKind::kRuntime;
    const char* name = runtime ? "libcudart" : "libcuda";
    std::string value = r.lib.real_path + " [" + r.lib.origin + "]";
    if (r.lib.stub) value += " (link-time stub: no driver behind it)";
    value += "; version " + r.version;
    if (!r.symbol_error.empty()) {
      value += "; " + r.symbol_error;
    } else {
      value += "; " + std::to_string(r.resolved.size()) + "/" +
               std::to_string(r.resolved.size() + r.missing.size()) + " probed symbols resolve";
      if (!r.missing.empty()) value += " (absent, will be skipped: " + join(r.missing, ", ") + ")";
    }
    bool usable = r.symbol_error.empty() && !r.resolved.empty();
    if (runtime && usable) have_runtime = true;
    if (!runtime && usable && !r.lib.stub) have_real_driver = true;
    lines.push_back({name, value, usable ? "ok" : "note"});
  }
  if (reports.empty()) {
    lines.push_back({"CUDA", "no libcudart or libcuda found", "note"});
  }

  bool can_trace = fixes.empty();
  std::string verdict;
  if (!can_trace) {
    verdict = "cannot trace: " + join(fixes, "; ") + ".";
  } else if (!have_runtime && !have_real_driver) {
    verdict =
        "ready to trace kernel events; no CUDA library found here, so CUDA calls are traced only "
        "in "
        "processes that map one (or pass --cudart/--cuda).";
  } else if (!have_real_driver) {
    verdict =
        "ready to trace: CUDA runtime found; no real NVIDIA driver here, so driver calls are "
        "traced "
        "only in processes that load one (e.g. the simulated GPU).";
  } else {
    verdict = "ready to trace CUDA runtime, driver and kernel events.";
  }

  if (opts.json) {
    nlohmann::json out;
    out["ready"] = can_trace;
    out["verdict"] = verdict;
    out["checks"] = nlohmann::json::array();
    for (const auto& l : lines) {
      out["checks"].push_back({{"item", l.item}, {"value", l.value}, {"status", l.verdict}});
    }
    out["libraries"] = nlohmann::json::array();
    for (const auto& r : reports) {
      out["libraries"].push_back(
          {{"kind", r.lib.kind == host::CudaLibraryKind::kRuntime ? "runtime" : "driver"},
           {"path", r.lib.real_path},
           {"found_via", r.lib.origin},
           {"soname", r.lib.soname},
           {"build_id", r.lib.build_id},
           {"stub", r.lib.stub},
           {"version", r.version},
           {"symbols_resolved", r.resolved},
           {"symbols_missing", r.missing}});
    }
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    for (const auto& l : lines) {
      std::printf("%-5s %-13s %s\n", l.verdict.c_str(), l.item.c_str(), l.value.c_str());
    }
    std::printf("verdict: %s\n", verdict.c_str());
  }
  return can_trace ? 0 : 1;
}

void setup_check(CLI::App& sub, int& exit_code) {
  auto opts = std::make_shared<CheckOptions>();
  sub.add_option("--cudart", opts->cudart, "Check this CUDA runtime library (libcudart.so*) too")
      ->option_text("PATH");
  sub.add_option("--cuda", opts->cuda, "Check this CUDA driver library (libcuda.so*) too")
      ->option_text("PATH");
  sub.add_flag("--json", opts->json, "Print the report as JSON");
  sub.footer(
      "Reports the kernel, BTF, capabilities (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN), whether a BPF "
      "program loads, uprobe support, tracefs, and the CUDA libraries found with the probed "
      "symbols each exports. Exits 0 when tracing can work, 1 when it cannot (the verdict names "
      "the fix), 2 on bad arguments.");
  sub.callback([opts, &exit_code] { exit_code = run_check(*opts); });
}

}  // namespace

CAUSEWAY_COMMAND({"check", "Report whether tracing can work on this machine, and why not", 10,
                  &setup_check});

}  // namespace causeway::cli
