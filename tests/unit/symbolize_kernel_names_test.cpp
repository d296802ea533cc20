// Kernel names: the device-stub rule on names as nvcc and clang produce them, and
// symbolize_and_store naming the kernels of a trace whose launches pass real functions of this
// test binary (mapped as /proc/self/maps says), leaving driver handles, unmapped addresses and
// a rebuilt binary unnamed.
#include "symbolize/kernel_names.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <map>
#include <memory>
#include <string>

#include "fixtures/own_mappings.h"
#include "store/writer.h"
#include "support/test_support.h"
#include "symbolize/stack_symbols.h"

// Stand-ins for what nvcc emits for `__global__ void probe_kernel(float*)` in a host binary:
// the host function with the kernel's own name, whose address cudaLaunchKernel is given, and
// the device stub it calls (global scope, named after the kernel's mangled name, as nvcc
// names it). Distinct bodies, so identical-code folding cannot merge them.
volatile int g_kernel_probe = 0;
__attribute__((noinline, noipa)) void __device_stub__Z12probe_kernelPf(float*) {
  g_kernel_probe = 1;
}
namespace kernel_probe {
__attribute__((noinline, noipa)) void probe_kernel(float*) {
  g_kernel_probe = 2;
}
__attribute__((noinline, noipa)) void driver_only(int) {
  g_kernel_probe = 3;
}
}  // namespace kernel_probe

namespace causeway::symbolize {
namespace {

using causeway::testing::exec_sql;
using causeway::testing::query_int;
using causeway::testing::TempDir;

TEST(SymbolizeKernelNames, NvccDeviceStubsNameTheirKernel) {
  // Names as `nm -C` shows them for nvcc 13 host objects.
  EXPECT_EQ(kernel_name("__device_stub__Z6vecAddPfPKfi(float*, float const*, int)"),
            "vecAdd(float*, float const*, int)");
  EXPECT_EQ(kernel_name("__device_stub__ZN2ns5innerEi(int)"), "ns::inner(int)");
  EXPECT_EQ(kernel_name("__device_stub__Z5scaleIfEvPT_S0_(float*, float)"),
            "void scale<float>(float*, float)");
}

TEST(SymbolizeKernelNames, ClangDeviceStubsLoseTheirPrefix) {
  EXPECT_EQ(kernel_name("ns::__device_stub__vecAdd(float*, int)"), "ns::vecAdd(float*, int)");
  EXPECT_EQ(kernel_name("__device_stub__vecAdd"), "vecAdd");
  // Not a mangled name after all: only the prefix goes.
  EXPECT_EQ(kernel_name("__device_stub__Zed(int)"), "Zed(int)");
}

TEST(SymbolizeKernelNames, OtherNamesAreKept) {
  EXPECT_EQ(kernel_name("vecAdd(float*, float const*, int)"), "vecAdd(float*, float const*, int)");
  EXPECT_EQ(kernel_name("cfun"), "cfun");
  EXPECT_EQ(kernel_name("my__device_stub__x()"), "my__device_stub__x()");
  EXPECT_EQ(kernel_name(""), "");
}

constexpr int32_t kPid = 310;
constexpr int64_t kOriginNs = 1'000'000'000;

// The address of a function or object, as a launch records it.
template <typename T>
uint64_t addr(T* p) {
  return reinterpret_cast<uint64_t>(p);
}

class SymbolizeKernelNamesTrace : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("trace.db");
    store::WriterOptions o;
    o.origin_ns = kOriginNs;
    auto created = store::Writer::create(db_, o);
    ASSERT_TRUE(created.ok()) << created.error();
    store::Writer& w = **created;
    ASSERT_TRUE(
        w.note_process({kPid, 1, "app", "app", true, std::nullopt, std::nullopt, std::nullopt})
            .ok());
    for (const auto& m : causeway::testing::own_mappings(kPid)) ASSERT_TRUE(w.note_mapping(m).ok());
    int64_t ts = kOriginNs;
    auto launch = [&](const char* function, uint64_t kernel, store::StringId name = 0) {
      store::CudaCallRow c;
      c.ts_ns = ts += 1000;
      c.dur_ns = 100;
      c.pid = kPid;
      c.tid = kPid;
      c.function = w.intern(function);
      c.kernel_addr = kernel;
      c.kernel = name;
      c.grid[0] = c.block[0] = 1;
      ASSERT_TRUE(w.add(c).ok());
    };
    launch("cudaLaunchKernel", addr(&kernel_probe::probe_kernel));
    // The simulated runtime forwards its `func` to cuLaunchKernel: the same row.
    launch("cuLaunchKernel", addr(&kernel_probe::probe_kernel));
    launch("cudaLaunchKernel_ptsz", addr(&__device_stub__Z12probe_kernelPf));
    // A driver handle names nothing, even where its value happens to be code.
    launch("cuLaunchKernel", addr(&kernel_probe::driver_only));
    // A cudaKernel_t handle or garbage: in no mapping.
    launch("cudaLaunchKernel", 0x10);
    // Named when recorded: kept as it is.
    launch("cudaLaunchKernelExC", addr(&g_kernel_probe), w.intern("recorded_name"));
    ASSERT_TRUE(w.close().ok());
  }

  // cuda_calls.kernel of each call, in order; "NULL" where there is none.
  std::vector<std::string> kernels() {
    std::vector<std::string> out;
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT kernel FROM cuda_calls ORDER BY ts", -1, &s, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    while (sqlite3_step(s) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(s, 0);
      out.push_back(t != nullptr ? reinterpret_cast<const char*>(t) : "NULL");
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
  }

  TempDir dir_;
  std::string db_;
};

TEST_F(SymbolizeKernelNamesTrace, RuntimeLaunchesAreNamedOnce) {
  EXPECT_EQ(kernels(),
            (std::vector<std::string>{"NULL", "NULL", "NULL", "NULL", "NULL", "recorded_name"}));
  auto s = symbolize_and_store(db_);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->kernels, 3);  // probe_kernel, the stub, 0x10
  EXPECT_EQ(s->kernels_named, 2);
  const std::vector<std::string> want = {"kernel_probe::probe_kernel(float*)",
                                         "kernel_probe::probe_kernel(float*)",
                                         "probe_kernel(float*)",
                                         "NULL",
                                         "NULL",
                                         "recorded_name"};
  EXPECT_EQ(kernels(), want);
  // Again (`causeway finish`, `stacks`): the same names, nothing interned twice.
  s = symbolize_and_store(db_);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->kernels, 1);  // only 0x10 is still unnamed
  EXPECT_EQ(s->kernels_named, 0);
  EXPECT_EQ(kernels(), want);
  EXPECT_EQ(query_int(db_,
                      "SELECT count(*) FROM string WHERE str = "
                      "'kernel_probe::probe_kernel(float*)'"),
            1);
}

TEST_F(SymbolizeKernelNamesTrace, ARebuiltBinaryNamesNothing) {
  // As if the test binary had been rebuilt since the trace: its recorded build-id differs.
  exec_sql(db_, "UPDATE mapping SET build_id = 'deadbeef' WHERE build_id IS NOT NULL");
  auto s = symbolize_and_store(db_);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->kernels, 3);
  EXPECT_EQ(s->kernels_named, 0);
  EXPECT_EQ(kernels(),
            (std::vector<std::string>{"NULL", "NULL", "NULL", "NULL", "NULL", "recorded_name"}));
}

}  // namespace
}  // namespace causeway::symbolize
