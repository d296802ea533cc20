#include "support/test_support.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "store/reader.h"
#include "verify/trace_verify.h"

namespace causeway::testing {

std::string build_path(const std::string& relative) {
  const char* env = std::getenv("CAUSEWAY_BUILD_DIR");
  return std::string(env != nullptr ? env : CAUSEWAY_BUILD_DIR) + "/" + relative;
}

std::string source_path(const std::string& relative) {
  return std::string(CAUSEWAY_SOURCE_DIR) + "/" + relative;
}

std::string cuda_home() {
  return CAUSEWAY_CUDA_HOME;
}

bool cuda_toolkit_found() {
  return CAUSEWAY_HAVE_CUDA_TOOLKIT;
}

std::string verify_trace(const std::string& path) {
  auto reader = store::Reader::open(path);
  if (!reader.ok()) return reader.error() + "\n";
  auto report = verify::verify_trace((*reader)->db());
  if (!report.ok()) return report.error() + "\n";
  return verify::violation_text(*report);
}

std::map<std::string, std::string> workload_summary(const std::string& out) {
  std::map<std::string, std::string> kv;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("summary ", 0) != 0) continue;
    std::istringstream words(line.substr(8));
    std::string w;
    while (words >> w) {
      auto eq = w.find('=');
      if (eq != std::string::npos) kv[w.substr(0, eq)] = w.substr(eq + 1);
    }
  }
  return kv;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void exec_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << path << ": " << sqlite3_errmsg(db);
    sqlite3_close(db);
    return;
  }
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    ADD_FAILURE() << (err != nullptr ? err : "?") << " in: " << sql;
  }
  sqlite3_free(err);
  sqlite3_close(db);
}

int64_t query_int(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* s = nullptr;
  int64_t v = -1;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    v = sqlite3_column_int64(s, 0);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return v;
}

std::string causeway_binary() {
  return build_path("causeway");
}

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr ? tmp : "/tmp") + "/causeway-test-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

CommandResult run_command(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          const std::string& input) {
  int out_pipe[2];
  int err_pipe[2];
  int in_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
      pipe2(in_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    for (const auto& kv : env) putenv(strdup(kv.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (!input.empty()) {
    size_t off = 0;
    while (off < input.size()) {
      ssize_t n = write(in_pipe[1], input.data() + off, input.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
  }
  close(in_pipe[1]);
  CommandResult result;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

bool running_in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && (std::strcmp(ci, "true") == 0 || std::strcmp(ci, "1") == 0);
}

bool bpf_available(std::string* why) {
  if (geteuid() != 0) {
    *why = "not running as root (run the privileged tests with sudo)";
    return false;
  }
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    *why = "kernel BTF (/sys/kernel/btf/vmlinux) is missing";
    return false;
  }
  // bpf(BPF_PROG_LOAD) with an empty attr fails with EINVAL when the syscall exists and we
  // may use it, with EPERM when we may not, ENOSYS when the kernel lacks it.
  long rc = syscall(SYS_bpf, 5 /* BPF_PROG_LOAD */, nullptr, 0);
  if (rc < 0 && (errno == EPERM || errno == ENOSYS)) {
    *why = std::string("the bpf() system call is not permitted: ") + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace causeway::testing
