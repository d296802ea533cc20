// The simulated GPU's binaries look like NVIDIA's to a tracer: SONAMEs, exported names (a
// subset of NVIDIA's, including the _ptsz/_ptds variants), the libcudart.so.13 version node,
// `push %rbp` at every entry point (cheap uprobes), the runtime finding the simulated driver,
// and the probe program bound to NVIDIA's real runtime (the comparisons with NVIDIA's files
// need a CUDA toolkit and skip, saying so, without one).
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace {

using causeway::testing::build_path;
using causeway::testing::run_command;

const std::string kRealCudart = causeway::testing::cuda_home() + "/lib64/libcudart.so.13";
const std::string kStubDriver = causeway::testing::cuda_home() + "/lib64/stubs/libcuda.so";

std::string run_ok(const std::vector<std::string>& argv) {
  auto result = run_command(argv);
  EXPECT_EQ(result.exit_code, 0) << argv[0] << ": " << result.err;
  return result.out;
}

// Defined function symbols of a shared library's dynamic symbol table, without version suffix.
std::set<std::string> exported_functions(const std::string& library) {
  std::set<std::string> names;
  std::istringstream lines(run_ok({"/usr/bin/nm", "-D", "--defined-only", library}));
  std::string address, type, name;
  while (lines >> address >> type >> name) {
    if (type == "T") names.insert(name.substr(0, name.find('@')));
  }
  return names;
}

std::string dynamic_section(const std::string& file) {
  return run_ok({"/usr/bin/readelf", "-d", file});
}

const std::vector<std::string> kRuntimeRequired = {
    "cudaMalloc", "cudaMallocHost", "cudaMallocManaged", "cudaMallocAsync", "cudaFree",
    "cudaFreeHost", "cudaFreeAsync", "cudaMemcpy", "cudaMemcpyAsync", "cudaMemset",
    "cudaMemsetAsync", "cudaLaunchKernel", "cudaStreamCreate", "cudaStreamCreateWithFlags",
    "cudaStreamDestroy", "cudaStreamSynchronize", "cudaStreamWaitEvent", "cudaDeviceSynchronize",
    "cudaEventCreate", "cudaEventRecord", "cudaEventSynchronize", "cudaEventElapsedTime",
    "cudaEventDestroy", "cudaGetLastError", "cudaGetErrorString", "cudaGetDeviceCount",
    "cudaSetDevice", "cudaGetDevice", "cudaStreamBeginCapture", "cudaStreamEndCapture",
    "cudaGraphInstantiate", "cudaGraphLaunch", "cudaGraphDestroy", "cudaGraphExecDestroy",
    "cudaLaunchKernelExC", "cudaMemcpy2D", "cudaMemcpy2DAsync", "cudaMemcpyPeer",
    "cudaMemcpyPeerAsync",
    // per-thread default stream variants
    "cudaMemcpy_ptds", "cudaMemcpy2D_ptds", "cudaMemset_ptds", "cudaMemcpyAsync_ptsz",
    "cudaMemcpy2DAsync_ptsz", "cudaMemsetAsync_ptsz", "cudaLaunchKernel_ptsz",
    "cudaLaunchKernelExC_ptsz", "cudaStreamSynchronize_ptsz", "cudaStreamWaitEvent_ptsz",
    "cudaEventRecord_ptsz", "cudaStreamBeginCapture_ptsz", "cudaStreamEndCapture_ptsz",
    "cudaGraphLaunch_ptsz", "cudaMallocAsync_ptsz", "cudaFreeAsync_ptsz"};

const std::vector<std::string> kDriverRequired = {
    "cuInit", "cuDeviceGet", "cuDeviceGetCount", "cuCtxCreate_v4", "cuDevicePrimaryCtxRetain",
    "cuCtxSetCurrent", "cuMemAlloc_v2", "cuMemFree_v2", "cuMemAllocHost_v2", "cuMemFreeHost",
    "cuMemAllocManaged", "cuMemAllocAsync", "cuMemFreeAsync", "cuMemcpyHtoD_v2", "cuMemcpyDtoH_v2",
    "cuMemcpyDtoD_v2", "cuMemcpyAsync", "cuMemcpyHtoDAsync_v2", "cuMemcpyDtoHAsync_v2",
    "cuMemsetD8_v2", "cuMemsetD8Async", "cuLaunchKernel", "cuLaunchKernelEx", "cuStreamCreate",
    "cuStreamDestroy_v2", "cuStreamSynchronize", "cuStreamWaitEvent", "cuCtxSynchronize",
    "cuEventCreate", "cuEventRecord", "cuEventSynchronize", "cuEventElapsedTime_v2",
    "cuEventDestroy_v2", "cuGraphLaunch", "cuGetErrorString",
    // per-thread default stream variants
    "cuMemcpyAsync_ptsz", "cuMemcpyHtoD_v2_ptds", "cuMemcpyDtoH_v2_ptds",
    "cuMemcpyHtoDAsync_v2_ptsz", "cuMemcpyDtoHAsync_v2_ptsz", "cuLaunchKernel_ptsz",
    "cuLaunchKernelEx_ptsz", "cuStreamSynchronize_ptsz", "cuEventRecord_ptsz", "cuGraphLaunch_ptsz",
    "cuMemAllocAsync_ptsz", "cuMemFreeAsync_ptsz"};

TEST(sim_library, SonamesAndRunpathMatchNvidiasLayout) {
  const std::string runtime = dynamic_section(build_path("sim/libcudart.so.13"));
  EXPECT_NE(runtime.find("Library soname: [libcudart.so.13]"), std::string::npos) << runtime;
  // The runtime dlopen()s libcuda.so.1 and must find the simulated one next to it.
  EXPECT_NE(runtime.find("[$ORIGIN]"), std::string::npos) << runtime;
  EXPECT_EQ(runtime.find("libcuda.so"), std::string::npos) << "the driver is loaded, not linked";
  const std::string driver = dynamic_section(build_path("sim/libcuda.so.1"));
  EXPECT_NE(driver.find("Library soname: [libcuda.so.1]"), std::string::npos) << driver;
}

TEST(sim_library, RuntimeExportsTheRequiredFunctionsUnderNvidiasVersionNode) {
  const std::string library = build_path("sim/libcudart.so.13");
  const std::set<std::string> names = exported_functions(library);
  for (const std::string& name : kRuntimeRequired) EXPECT_TRUE(names.count(name)) << name;
  const std::string raw = run_ok({"/usr/bin/nm", "-D", "--defined-only", library});
  EXPECT_NE(raw.find("cudaMalloc@@libcudart.so.13"), std::string::npos);
  // Nothing but the CUDA API leaks out (no C++ internals).
  for (const std::string& name : names) EXPECT_EQ(name.rfind("cuda", 0), 0u) << name;
}

TEST(sim_library, DriverExportsTheRequiredFunctions) {
  const std::set<std::string> names = exported_functions(build_path("sim/libcuda.so.1"));
  for (const std::string& name : kDriverRequired) EXPECT_TRUE(names.count(name)) << name;
  for (const std::string& name : names) EXPECT_EQ(name.rfind("cu", 0), 0u) << name;
}

TEST(sim_library, EveryExportIsARealNvidiaSymbolName) {
  CAUSEWAY_REQUIRE_CUDA_TOOLKIT();
  // A name NVIDIA does not export would make the tracer look for something that does not exist.
  const std::set<std::string> real_runtime = exported_functions(kRealCudart);
  ASSERT_FALSE(real_runtime.empty()) << kRealCudart;
  for (const std::string& name : exported_functions(build_path("sim/libcudart.so.13"))) {
    EXPECT_TRUE(real_runtime.count(name)) << name << " is not in NVIDIA's libcudart.so.13";
  }
  const std::set<std::string> real_driver = exported_functions(kStubDriver);
  ASSERT_FALSE(real_driver.empty()) << kStubDriver;
  for (const std::string& name : exported_functions(build_path("sim/libcuda.so.1"))) {
    EXPECT_TRUE(real_driver.count(name)) << name << " is not in NVIDIA's libcuda";
  }
}

TEST(sim_library, EveryEntryPointStartsWithPushRbp) {
  // A uprobe on `push %rbp` is emulated by the kernel (~0.9 us per hit with the return probe);
  // anything else is single-stepped (~10 us): the simulation must not distort overhead figures.
  const std::regex header(R"(^[0-9a-f]+ <([^>@]+)(@[^>]*)?>:$)");
  for (const char* file : {"sim/libcudart.so.13", "sim/libcuda.so.1"}) {
    const std::string library = build_path(file);
    const std::set<std::string> names = exported_functions(library);
    std::istringstream lines(run_ok({"/usr/bin/objdump", "-d", "--no-show-raw-insn", library}));
    std::string line;
    std::set<std::string> checked;
    while (std::getline(lines, line)) {
      std::smatch match;
      if (!std::regex_match(line, match, header) || names.count(match[1]) == 0) continue;
      std::string first;
      std::getline(lines, first);
      const std::string instruction = first.substr(first.find(':') + 1);
      EXPECT_TRUE(std::regex_search(instruction, std::regex(R"(^\s*push\s+%rbp\s*$)")))
          << file << ": " << match[1] << " starts with `" << instruction << "`";
      checked.insert(match[1]);
    }
    EXPECT_EQ(checked.size(), names.size()) << file << ": not every export was disassembled";
  }
}

TEST(sim_library, ScenariosBindTheSimulatedRuntime) {
  // The ld.so cache may list NVIDIA's libcudart.so.13 too; RUNPATH must win for the scenarios.
  const std::string scenario = run_ok({"/usr/bin/ldd", build_path("sim/scenario_host_sync")});
  EXPECT_NE(scenario.find(build_path("sim/libcudart.so.13")), std::string::npos) << scenario;
}

TEST(sim_library, ProbeBindsNvidiasRuntime) {
  CAUSEWAY_REQUIRE_CUDA_TOOLKIT();
  const std::string probe = run_ok({"/usr/bin/ldd", build_path("sim/real_cudart_probe")});
  EXPECT_NE(probe.find("libcudart.so.13 => " + causeway::testing::cuda_home()), std::string::npos)
      << probe;
  EXPECT_EQ(probe.find(build_path("sim")), std::string::npos) << probe;
}

TEST(sim_library, RealRuntimeProbeCallsEachFunctionAndReportsInsufficientDriver) {
  CAUSEWAY_REQUIRE_CUDA_TOOLKIT();
  auto result = run_command({build_path("sim/real_cudart_probe"), "--iterations", "2"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* function : {"cudaGetDeviceCount", "cudaMalloc", "cudaMemcpy", "cudaLaunchKernel",
                               "cudaStreamSynchronize", "cudaFree"}) {
    EXPECT_NE(result.out.find(std::string(" ") + function + "=2"), std::string::npos)
        << function << " in: " << result.out;
  }
  // 35 = cudaErrorInsufficientDriver: no GPU driver on these machines.
  EXPECT_NE(result.out.find("rc_cudaMalloc=35"), std::string::npos) << result.out;
}

TEST(sim_library, DlopenWorkloadLoadsTheRuntimeLate) {
  auto result = run_command({build_path("sim/dlopen_workload"), "--cudart",
                             build_path("sim/libcudart.so.13"), "--iterations", "4"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("cudaMalloc=4"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("rc_cudaMalloc=0 "), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("rc_cudaFree=0"), std::string::npos) << result.out;
  auto missing = run_command({build_path("sim/dlopen_workload"), "--cudart", "/nonexistent.so"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("cannot load"), std::string::npos) << missing.err;
}

}  // namespace
