// Helpers shared by tests: paths to build products, temporary directories, running commands,
// reading files and poking at trace databases.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace causeway::testing {

// Absolute path of a file in the build tree / source tree.
std::string build_path(const std::string& relative);
std::string source_path(const std::string& relative);

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;  // exit status, or 128 + signal when killed
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs argv (argv[0] is a path) with optional extra environment ("K=V"), capturing output.
// stdin is /dev/null unless `input` is given.
CommandResult run_command(const std::vector<std::string>& argv,
                          const std::vector<std::string>& env = {}, const std::string& input = "");

// key=value pairs of a simulated workload's "summary k=v k=v ..." output line (sim/).
std::map<std::string, std::string> workload_summary(const std::string& out);

// The whole content of the file at `path` (bytes as they are; "" when it cannot be read).
std::string read_file(const std::string& path);

// Runs `sql` (any number of statements) on the database at `path` through a read-write
// connection (creating the file if it does not exist). A failure is a test failure (gtest
// ADD_FAILURE) naming the SQLite error and the statement; the test goes on.
void exec_sql(const std::string& path, const std::string& sql);

// The first column of the first row `sql` returns on the database at `path` (opened
// read-only), or -1 when the query fails or returns no row.
int64_t query_int(const std::string& path, const std::string& sql);

// Runs `causeway verify`'s checks (src/verify) on the trace at `path`: every violation
// sentence, one per line, or "" when the trace is consistent. A file that cannot be read as a
// trace gives its error sentence instead, so EXPECT_EQ(verify_trace(db), "") fails on it too.
// Checks the trace itself says it cannot support (context switches the kernel did not report,
// lost records: docs/verify.md) are skipped by verify, not failed.
std::string verify_trace(const std::string& path);

// Path of the causeway binary under test.
std::string causeway_binary();

// Whether privileged (BPF) tests can run here. When they cannot, `why` says so.
bool bpf_available(std::string* why);

// In a privileged test: skip with `why` outside CI, fail under CI=true (CI has BPF).
#define CAUSEWAY_REQUIRE_BPF()                                                              \
  do {                                                                                      \
    std::string why_;                                                                       \
    if (!::causeway::testing::bpf_available(&why_)) {                                       \
      if (::causeway::testing::running_in_ci()) {                                           \
        FAIL() << "BPF unavailable under CI=true (CI must run privileged tests): " << why_; \
      }                                                                                     \
      GTEST_SKIP() << "BPF unavailable: " << why_;                                          \
    }                                                                                       \
  } while (0)

bool running_in_ci();

// In a test that needs NVIDIA's CUDA toolkit (its real libcudart.so.13 or stub libcuda.so):
// skip, saying so, when the build found none at CAUSEWAY_CUDA_HOME. Unlike missing BPF this is
// not an error under CI=true: CI also builds without a toolkit on purpose, and its toolkit
// build configures with CAUSEWAY_REQUIRE_CUDA_TOOLKIT=ON, so a lost toolkit fails there.
#define CAUSEWAY_REQUIRE_CUDA_TOOLKIT()                                                  \
  do {                                                                                   \
    if (!::causeway::testing::cuda_toolkit_found()) {                                    \
      GTEST_SKIP() << "skipped: no CUDA toolkit at " << ::causeway::testing::cuda_home() \
                   << " (this test needs NVIDIA's libraries; configure with "            \
                      "-DCAUSEWAY_CUDA_HOME=<toolkit>)";                                 \
    }                                                                                    \
  } while (0)

// The CUDA toolkit folder the build was configured with (CAUSEWAY_CUDA_HOME), and whether the
// build found a toolkit there.
std::string cuda_home();
bool cuda_toolkit_found();

}  // namespace causeway::testing
