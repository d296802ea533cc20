#include "capture/session.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "capture/bpf_source.h"
#include "capture/decoder.h"
#include "capture/draining_source.h"
#include "capture/dwarf_unwinder.h"
#include "capture/libraries.h"
#include "capture/python_capture.h"
#include "capture/row_sink.h"
#include "causeway/abi/events.h"
#include "host/cgroup_cpu.h"
#include "store/writer.h"

namespace causeway::capture {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};

void on_signal(int sig) {
  g_signal.store(sig);
  g_stop.store(true);
}

int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

bool process_alive(int32_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return false;
  std::string line;
  std::getline(in, line);
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return false;
  char state = line[close + 2];
  return state != 'Z' && state != 'X';
}

std::string read_file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string proc_cmdline(int32_t pid) {
  std::string raw = read_file_text("/proc/" + std::to_string(pid) + "/cmdline");
  while (!raw.empty() && raw.back() == '\0') raw.pop_back();
  for (char& c : raw) {
    if (c == '\0') c = ' ';
  }
  return raw;
}

std::string proc_comm(const std::string& dir) {
  std::string s = read_file_text(dir + "/comm");
  while (!s.empty() && (s.back() == '\n')) s.pop_back();
  return s;
}

int32_t proc_ppid(int32_t pid) {
  std::string line = read_file_text("/proc/" + std::to_string(pid) + "/stat");
  auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  int ppid = 0;
  char state = 0;
  if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) != 2) return 0;
  return ppid;
}

// Paths of dynamic loaders: the system's default one plus those mapped by a process.
std::string default_loader() {
  std::error_code ec;
  for (const char* p : {"/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-x86-64.so.2"}) {
    auto c = std::filesystem::canonical(p, ec);
    if (!ec) return c.string();
  }
  return {};
}

bool is_loader(const std::string& path) {
  return std::filesystem::path(path).filename().string().rfind("ld-linux", 0) == 0;
}

std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30))
    std::snprintf(buf, sizeof(buf), "%.1f GB", static_cast<double>(b) / (1ull << 30));
  else if (b >= (1ull << 20))
    std::snprintf(buf, sizeof(buf), "%.1f MB", static_cast<double>(b) / (1ull << 20));
  else
    std::snprintf(buf, sizeof(buf), "%.1f kB", static_cast<double>(b) / 1024.0);
  return buf;
}

uint64_t db_size(const std::string& path) {
  uint64_t total = 0;
  for (const char* suffix : {"", "-wal"}) {
    struct stat st {};
    if (::stat((path + suffix).c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_size);
  }
  return total;
}

// The BPF side wakes the reader only when 1/16 of the ring is full, so this bounds how stale
// the database and the status line can be.
constexpr int kPollMs = 20;

const char* kind_name(CudaLibrary k) {
  return k == CudaLibrary::kRuntime ? "runtime" : "driver";
}

// Everything one run holds; lives on run_trace's stack.
class Session {
 public:
  explicit Session(const TraceOptions& o) : opt_(o) {}
  Result<int> run();
  bool stopped_early() const { return stopped_early_; }

 private:
  Status preflight();
  Status open_database();
  Status open_probes();
  Result<pid_t> launch();
  void scan_process(int32_t pid, bool snapshot_mappings);
  // Records the CPU quotas (cgroup cpu.max) limiting a newly traced process.
  void note_cpu_quotas(int32_t pid);
  void attach_library(const CudaLibraryFile& lib, int32_t pid);
  void attach_loaders_of(const std::vector<Mapping>& maps, int32_t pid);
  void note_mappings(int32_t pid, const std::vector<Mapping>& maps);
  void handle_hooks();
  void scan_all_processes();
  void attach_installed_libraries();
  void print_status(int64_t now);
  void continue_stopped();
  void settle_cuda_load(int32_t pid, const std::vector<CudaLibraryFile>& libs);
  void write_meta(int64_t end_ns, const std::string& exit_desc);
  void print_summary(int64_t end_ns);

  const TraceOptions& opt_;
  bool stopped_early_ = false;  // run() ended on an error after recording began
  std::unique_ptr<store::Writer> writer_;
  std::unique_ptr<WriterSink> sink_;
  std::unique_ptr<BpfSource> source_;
  // Context switches the kernel made without reporting them to sched_switch (meta
  // event_counts.switches_unreported); nullopt when unknown.
  std::optional<int64_t> switches_unreported_;
  // Empties source_'s ring on its own thread so SQLite stalls in this thread don't fill it.
  std::unique_ptr<DrainingSource> drained_;
  std::unique_ptr<PythonCapture> python_;    // Python stacks of CPython processes
  std::unique_ptr<DwarfUnwinder> unwinder_;  // --call-graph dwarf, else null
  std::unique_ptr<DwarfStacks> dwarf_;
  std::unique_ptr<Decoder> decoder_;
  int64_t origin_ns_ = 0;
  int64_t origin_realtime_ns_ = 0;
  bool db_created_ = false;

  std::set<std::pair<uint64_t, uint64_t>> probed_files_;  // (dev, inode) of CUDA libs
  std::set<std::string> probed_loaders_;
  std::vector<LibraryProbes> libraries_;
  std::vector<std::string> notes_;
  // What identifies each mapped file, read once per path: its build-id, or its size and mtime
  // when it has none (store::MappingInfo).
  struct FileIdentity {
    std::string build_id;
    std::optional<host::FileStamp> stamp;
  };
  std::map<std::string, FileIdentity> file_ids_;
  std::set<std::tuple<int32_t, uint64_t, std::string>> noted_mappings_;
  // Work queued by decoder hooks, done between polls.
  std::vector<std::pair<int32_t, bool>> lib_loads_;
  std::vector<int32_t> new_processes_;
  std::set<int32_t> stopped_;  // processes stopped by the load hook, not yet continued
  std::set<int32_t> seen_processes_;
  struct QuotaSeen {
    host::CpuQuota start;       // with the counters when the first process was seen in it
    std::vector<int32_t> pids;  // traced processes it limits (at most 64 listed)
  };
  std::map<std::string, QuotaSeen> cpu_quotas_;  // by "version:path"
  int64_t last_quota_scan_ns_ = 0;
  int64_t paused_ns_ = 0;  // targets held stopped while their new CUDA libraries were probed
  // --all: CUDA library files (dev, inode) each process was seen mapping at a stopped load,
  // and how many stopped loads in a row brought no new one.
  std::map<int32_t, std::set<std::pair<uint64_t, uint64_t>>> cuda_files_of_;
  std::map<int32_t, int> idle_cuda_stops_;
  Status sink_error_;
  int64_t last_status_ns_ = 0;
  int64_t last_status_events_ = 0;
};

Status Session::preflight() {
  if (geteuid() != 0) {
    return Status::Error(
        "causeway trace needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN) to load BPF "
        "programs: "
        "run it with sudo.");
  }
  if (opt_.mode == TargetMode::kPid) {
    if (opt_.pids.empty()) return Status::Error("Give a process to attach to with --pid PID.");
    for (int32_t pid : opt_.pids) {
      if (pid <= 0 || !process_alive(pid))
        return Status::Error("No process with pid " + std::to_string(pid) +
                             " exists; check the --pid values with 'ps -p PID'.");
    }
  }
  if (opt_.mode == TargetMode::kCommand && opt_.command.empty()) {
    return Status::Error("Give a command to trace after '--', or use --pid PID or --all.");
  }
  if (opt_.buffer_mb == 0 || opt_.buffer_mb > 4096) {
    return Status::Error("--buffer-mb must be between 1 and 4096.");
  }
  if (!opt_.user.empty() && getpwnam(opt_.user.c_str()) == nullptr) {
    return Status::Error("No user named '" + opt_.user + "' exists.");
  }
  return Status::Ok();
}

Status Session::open_database() {
  store::WriterOptions wo;
  wo.origin_ns = origin_ns_;
  auto w = store::Writer::create(opt_.db_path, wo);
  if (!w.ok()) return w.status();
  writer_ = std::move(w.value());
  db_created_ = true;
  // The whole syscall table up front, so SQL can join syscall numbers to names for every
  // syscall, recorded or not (thread_state.syscall_nr names any syscall a thread blocked in).
  Status names = Status::Ok();
  for_each_syscall([&](int32_t nr, std::string_view name) {
    if (names.ok()) names = writer_->note_syscall_name(nr, name);
  });
  if (!names.ok()) return names;
  sink_ = std::make_unique<WriterSink>(*writer_);
  return Status::Ok();
}

Status Session::open_probes() {
  BpfConfig cfg;
  cfg.stacks = opt_.stacks;
  cfg.ustack_bytes = opt_.ustack_bytes;
  cfg.syscalls = opt_.syscalls;
  cfg.block_io = opt_.block_io;
  cfg.trace_all_cuda = opt_.mode == TargetMode::kAll;
  cfg.stop_on_load = opt_.mode == TargetMode::kCommand;
  cfg.buffer_bytes = opt_.buffer_mb << 20;
  cfg.tracer_pid = getpid();
  if (opt_.syscalls) cfg.recorded_syscalls = default_syscalls();
  auto src = BpfSource::open(cfg, &g_stop);
  if (!src.ok()) return src.status();
  source_ = std::move(src.value());
  for (const auto& hook : source_->missing_hooks())
    notes_.push_back("kernel lacks tracepoint " + hook);

  DecoderOptions dopt;
  dopt.start_ns = origin_ns_;
  dopt.recorded_syscalls = cfg.recorded_syscalls;
  python_ = std::make_unique<PythonCapture>(*sink_, source_->map_fd("py_procs"),
                                            opt_.stacks && opt_.python_stacks);
  dopt.python = &python_->stacks();
  if (opt_.stacks && opt_.ustack_bytes > 0) {
    unwinder_ = std::make_unique<DwarfUnwinder>();
    dwarf_ = std::make_unique<DwarfStacks>(*unwinder_);
    dopt.dwarf = dwarf_.get();
  }
  DecoderHooks hooks;
  hooks.on_lib_load = [this](int32_t pid, bool stopped) {
    lib_loads_.emplace_back(pid, stopped);
    if (stopped) stopped_.insert(pid);
  };
  hooks.on_new_process = [this](int32_t pid) { new_processes_.push_back(pid); };
  decoder_ = std::make_unique<Decoder>(*sink_, CudaFunctionTable::builtin(), dopt, hooks);
  // The queue behind the ring holds as much again as the ring (--buffer-mb), see
  // docs/capture.md "Loss accounting".
  drained_ = std::make_unique<DrainingSource>(*source_, opt_.buffer_mb << 20, kPollMs);

  // Overrides and the default loader's library-load hook come first, so nothing the
  // target does at start-up is missed.
  if (!opt_.cudart_path.empty()) {
    auto lib = library_from_path(opt_.cudart_path, CudaLibrary::kRuntime);
    if (!lib.ok()) return lib.status();
    attach_library(lib.value(), 0);
  }
  if (!opt_.cuda_path.empty()) {
    auto lib = library_from_path(opt_.cuda_path, CudaLibrary::kDriver);
    if (!lib.ok()) return lib.status();
    attach_library(lib.value(), 0);
  }
  if (g_stop.load())
    return Status::Error("Interrupted while attaching probes; nothing was traced.");
  std::string ld = default_loader();
  if (!ld.empty()) {
    if (Status s = source_->attach_loader(ld); !s.ok())
      notes_.push_back(s.message());
    else
      probed_loaders_.insert(ld);
  }
  return Status::Ok();
}

void Session::attach_library(const CudaLibraryFile& lib, int32_t pid) {
  if (!probed_files_.insert({lib.dev, lib.inode}).second) return;
  // --cudart / --cuda replace discovery of that kind.
  if (pid != 0 && lib.kind == CudaLibrary::kRuntime && !opt_.cudart_path.empty()) return;
  if (pid != 0 && lib.kind == CudaLibrary::kDriver && !opt_.cuda_path.empty()) return;
  auto probes = source_->attach_cuda_library(lib);
  if (!probes.ok()) {
    notes_.push_back(probes.error());
    std::fprintf(stderr, "causeway: %s\n", probes.error().c_str());
    return;
  }
  libraries_.push_back(std::move(probes.value()));
}

void Session::attach_loaders_of(const std::vector<Mapping>& maps, int32_t pid) {
  for (const auto& m : maps) {
    if (m.path.empty() || !is_loader(m.path) || m.perms.size() < 3 || m.perms[2] != 'x') continue;
    std::string open_path = "/proc/" + std::to_string(pid) + "/root" + m.path;
    std::error_code ec;
    auto canonical = std::filesystem::canonical(open_path, ec);
    std::string key = ec ? open_path : canonical.string();
    if (!probed_loaders_.insert(key).second) continue;
    if (Status s = source_->attach_loader(open_path); !s.ok()) notes_.push_back(s.message());
  }
}

void Session::note_mappings(int32_t pid, const std::vector<Mapping>& maps) {
  for (const auto& m : maps) {
    if (m.path.empty() || m.path[0] != '/' || m.perms.size() < 3 || m.perms[2] != 'x') continue;
    if (!noted_mappings_.insert({pid, m.start, m.path}).second) continue;
    auto it = file_ids_.find(m.path);
    if (it == file_ids_.end()) {
      const std::string file = "/proc/" + std::to_string(pid) + "/root" + m.path;
      FileIdentity id{read_build_id(file), std::nullopt};
      // Without a build-id, "" would match any rebuilt file at symbolize time; the stamp is
      // what can tell them apart (module_symbolizer.h).
      if (id.build_id.empty()) id.stamp = host::read_file_stamp(file);
      it = file_ids_.emplace(m.path, std::move(id)).first;
    }
    store::MappingInfo info;
    info.pid = pid;
    info.start = m.start;
    info.end = m.end;
    info.file_offset = m.offset;
    info.path = m.path;
    info.build_id = it->second.build_id;
    if (it->second.stamp) {
      info.file_size = it->second.stamp->size_bytes;
      info.file_mtime_ns = it->second.stamp->mtime_ns;
    }
    (void)sink_->note_mapping(info);
  }
}

void Session::scan_process(int32_t pid, bool snapshot_mappings) {
  auto maps = read_maps(pid);
  if (!maps.ok()) return;
  attach_loaders_of(maps.value(), pid);
  for (const auto& lib : find_cuda_libraries(pid, maps.value())) attach_library(lib, pid);
  python_->scan(pid, maps.value());
  if (unwinder_) unwinder_->note_maps(pid, maps.value());  // modules for DWARF unwinding
  if (snapshot_mappings) note_mappings(pid, maps.value());
  if (seen_processes_.insert(pid).second) {
    store::ProcessInfo info;
    info.pid = pid;
    info.ppid = proc_ppid(pid);
    info.name = proc_comm("/proc/" + std::to_string(pid));
    info.cmdline = proc_cmdline(pid);
    info.traced = true;
    (void)sink_->note_process(info);
    note_cpu_quotas(pid);
  }
}

void Session::note_cpu_quotas(int32_t pid) {
  for (host::CpuQuota& q : host::read_cpu_quotas(pid)) {
    const std::string key = std::to_string(q.version) + ":" + q.path;
    auto [it, fresh] = cpu_quotas_.try_emplace(key);
    if (fresh) it->second.start = std::move(q);
    // Bounded: a --all session meets many processes, most in a few cgroups.
    auto& pids = it->second.pids;
    if (pids.size() < 64 && std::find(pids.begin(), pids.end(), pid) == pids.end())
      pids.push_back(pid);
  }
}

void Session::handle_hooks() {
  const int64_t started = monotonic_ns();
  bool resumed = false;
  auto loads = std::move(lib_loads_);
  lib_loads_.clear();
  auto fresh = std::move(new_processes_);
  new_processes_.clear();
  for (int32_t pid : fresh) scan_process(pid, true);
  for (const auto& [pid, stopped] : loads) {
    bool enrol = true;
    if (opt_.mode == TargetMode::kAll) {
      // Under --all, loads of every process are reported: enrol CUDA users only. A process
      // that opened a CUDA library is stopped at each load until the library is mapped
      // (the loader reports before and after mapping) and probed here.
      auto maps = read_maps(pid);
      const auto libs =
          maps.ok() ? find_cuda_libraries(pid, maps.value()) : std::vector<CudaLibraryFile>{};
      if (stopped) settle_cuda_load(pid, libs);
      enrol = seen_processes_.count(pid) || (!libs.empty() && source_->trace_pid(pid).ok());
    }
    if (enrol) scan_process(pid, true);
    if (stopped) {
      kill(pid, SIGCONT);
      stopped_.erase(pid);
      resumed = true;
    }
  }
  // Time a target spent stopped while its new library was probed (from when the recorder
  // took up the load; the wait before that is the poll latency, ~20 ms at most).
  if (resumed) paused_ns_ += monotonic_ns() - started;
}

// --all: `pid` was stopped because it opened a CUDA library file. The loader reports twice
// for a dlopen (before and after mapping), once at start-up (after mapping): keep stopping
// it until a CUDA library it did not map before shows up (then handle_hooks probes it), or
// two loads brought none (the file was opened but not mapped).
void Session::settle_cuda_load(int32_t pid, const std::vector<CudaLibraryFile>& libs) {
  auto& known = cuda_files_of_[pid];
  bool fresh = false;
  for (const auto& lib : libs) fresh |= known.insert({lib.dev, lib.inode}).second;
  int& idle = idle_cuda_stops_[pid];
  idle = fresh ? 0 : idle + 1;
  if (fresh || idle >= 2) source_->clear_cuda_load_pending(pid);
}

// Continues every process a load hook stopped, including those whose load record is still
// in the ring: left there when an error ended tracing before the drain, or written after the
// last drain and before the hooks went. Called after detach_all(), so no new stop can come;
// a process must never stay stopped once causeway is gone.
void Session::continue_stopped() {
  drained_->stop(/*drain=*/false);
  RecordConsumer note_stop = [this](std::span<const uint8_t> rec) {
    cw_lib_load ev;
    if (rec.size() < sizeof(ev)) return true;
    std::memcpy(&ev, rec.data(), sizeof(ev));
    if (ev.h.kind == CW_EV_LIB_LOAD && ev.stopped) stopped_.insert(static_cast<int32_t>(ev.h.pid));
    return true;
  };
  // What the queue still holds (tracing ended on an error), then what is left in the ring.
  for (EventSource* from :
       {static_cast<EventSource*>(drained_.get()), static_cast<EventSource*>(source_.get())}) {
    for (int i = 0; i < 1000; i++) {
      auto polled = from->poll(0, note_stop);
      if (!polled.ok() || polled.value() == 0) break;
    }
  }
  for (int32_t pid : stopped_) kill(pid, SIGCONT);
  stopped_.clear();
}

// --all: CUDA libraries the dynamic linker knows (ld.so.cache) and the toolkit's, probed up
// front so a process that starts later is enrolled by its first call. Others (pip wheels)
// are found when a process loads them.
void Session::attach_installed_libraries() {
  std::set<std::string> paths;
  if (FILE* p = popen("/sbin/ldconfig -p 2>/dev/null", "r")) {
    char line[4096];
    while (std::fgets(line, sizeof(line), p)) {
      std::string l(line);
      auto arrow = l.find("=> ");
      if (arrow == std::string::npos) continue;
      std::string path = l.substr(arrow + 3);
      while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
      if (classify_cuda_library(path)) paths.insert(path);
    }
    pclose(p);
  }
  std::error_code ec;
  for (const char* dir : {"/usr/local/cuda/lib64", "/usr/local/cuda/lib"}) {
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      if (classify_cuda_library(e.path().string())) paths.insert(e.path().string());
    }
  }
  for (const auto& path : paths) {
    auto kind = classify_cuda_library(path);
    // Only real shared objects: the toolkit's stubs/ and static archives are not loaded.
    if (!kind || path.find("/stubs/") != std::string::npos || path.size() < 3 ||
        path.find(".so") == std::string::npos)
      continue;
    auto lib = library_from_path(path, *kind);
    if (lib.ok()) attach_library(lib.value(), -1);
  }
}

void Session::scan_all_processes() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    int32_t pid = std::stoi(name);
    if (pid == getpid()) continue;
    auto maps = read_maps(pid);
    if (!maps.ok()) continue;
    if (find_cuda_libraries(pid, maps.value()).empty()) continue;
    if (source_->trace_pid(pid).ok()) scan_process(pid, true);
  }
}

Result<pid_t> Session::launch() {
  // Whom to run it as: --user, else the user who invoked sudo, else ourselves.
  uid_t uid = geteuid();
  gid_t gid = getegid();
  std::string user = opt_.user;
  if (user.empty() && getenv("SUDO_USER") && getenv("SUDO_UID")) user = getenv("SUDO_USER");
  bool switch_user = false;
  if (!user.empty()) {
    passwd* pw = getpwnam(user.c_str());
    if (!pw) return Status::Error("No user named '" + user + "' exists.");
    uid = pw->pw_uid;
    gid = pw->pw_gid;
    switch_user = uid != geteuid();
  }
  int go[2];
  if (pipe2(go, O_CLOEXEC) != 0)
    return Status::Error("Cannot create a pipe: " + std::string(strerror(errno)) + ".");
  std::vector<std::string> args = opt_.command;
  pid_t child = fork();
  if (child < 0)
    return Status::Error("Cannot start the command (fork failed: " + std::string(strerror(errno)) +
                         ").");
  if (child == 0) {
    close(go[1]);
    char c = 0;
    if (read(go[0], &c, 1) != 1) _exit(127);  // the tracer gave up before tracing began
    close(go[0]);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (switch_user) {
      if (initgroups(user.c_str(), gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        std::fprintf(stderr, "causeway: cannot switch to user %s: %s\n", user.c_str(),
                     strerror(errno));
        _exit(127);
      }
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "causeway: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(go[0]);
  if (Status s = source_->trace_pid(child); !s.ok()) {
    close(go[1]);
    waitpid(child, nullptr, 0);
    return s;
  }
  store::ProcessInfo info;
  info.pid = child;
  info.ppid = getpid();
  info.name = std::filesystem::path(opt_.command[0]).filename().string().substr(0, 15);
  std::string cmdline;
  for (const auto& a : opt_.command) cmdline += (cmdline.empty() ? "" : " ") + a;
  info.cmdline = cmdline;
  info.traced = true;
  info.start_ts_ns = monotonic_ns();
  (void)sink_->note_process(info);
  seen_processes_.insert(child);
  decoder_->traced_from_start(child);
  note_cpu_quotas(child);
  char c = 1;
  if (write(go[1], &c, 1) != 1) {
    close(go[1]);
    return Status::Error("Cannot start the command: " + std::string(strerror(errno)) + ".");
  }
  close(go[1]);
  return child;
}

void Session::print_status(int64_t now) {
  if (!opt_.status_line) return;
  if (now - last_status_ns_ < 1'000'000'000) return;
  const auto& c = decoder_->counts();
  double secs = static_cast<double>(now - last_status_ns_) / 1e9;
  double rate =
      last_status_ns_ == 0 ? 0 : static_cast<double>(c.events - last_status_events_) / secs;
  const uint64_t dropped = ring_drops(source_->drops());
  std::fprintf(stderr,
               "\r\033[Kcauseway: %.1f s, %" PRId64 " events (%.0f/s), %" PRIu64 " dropped, db %s",
               static_cast<double>(now - origin_ns_) / 1e9, c.events, rate, dropped,
               human_bytes(db_size(opt_.db_path)).c_str());
  std::fflush(stderr);
  last_status_ns_ = now;
  last_status_events_ = c.events;
}

void Session::write_meta(int64_t end_ns, const std::string& exit_desc) {
  auto set = [this](const std::string& k, const std::string& v) { (void)writer_->set_meta(k, v); };
  utsname u{};
  uname(&u);
  set("host", u.nodename);
  set("kernel", std::string(u.sysname) + " " + u.release + " " + u.version + " " + u.machine);
  set("tool", "causeway");
  set("tool_version", opt_.tool_version);
  // The recorder's own threads wake and stop traced processes (SIGCONT after attaching probes
  // at a dlopen): the analysis must know them so they are never named as a culprit.
  set("recorder_pid", std::to_string(getpid()));
  set("command_line", opt_.command_line);
  set("target_mode", opt_.mode == TargetMode::kCommand ? "command"
                     : opt_.mode == TargetMode::kPid   ? "pid"
                                                       : "all");
  if (opt_.mode == TargetMode::kPid) {
    std::string pids;
    for (int32_t pid : opt_.pids) pids += (pids.empty() ? "" : ",") + std::to_string(pid);
    set("target_pid", pids);
  }
  set("origin_monotonic_ns", std::to_string(origin_ns_));
  set("origin_realtime_ns", std::to_string(origin_realtime_ns_));
  set("realtime_minus_monotonic_ns", std::to_string(origin_realtime_ns_ - origin_ns_));
  set("start_ts_ns", "0");
  set("end_ts_ns", std::to_string(end_ns - origin_ns_));
  set("duration_ns", std::to_string(end_ns - origin_ns_));
  set("paused_for_probes_ns", std::to_string(paused_ns_));
  set("stacks", opt_.stacks ? "on" : "off");
  set("call_graph", !opt_.stacks        ? "off"
                    : opt_.ustack_bytes ? "dwarf," + std::to_string(opt_.ustack_bytes)
                                        : "fp");
  auto drops = source_->drops();
  if (dwarf_) {
    const auto& d = dwarf_->counts();
    const auto& u = unwinder_->counts();
    nlohmann::json dj = {{"records", d.records},
                         {"unwound", d.unwound},
                         {"attached", d.attached},
                         {"unclaimed", d.unclaimed},
                         {"malformed", d.malformed},
                         {"with_holes", d.with_holes},
                         {"copies_failed", drops[CW_SRC_STACK_COPY]},
                         {"no_process", u.no_process},
                         {"incomplete", u.incomplete},
                         {"module_refreshes", u.refreshes}};
    set("dwarf_unwinding", dj.dump());
  }
  // CPU quotas over the traced processes, with their throttling counters at the start and the
  // end: the evidence for runnable time spent while the CPU sat idle.
  nlohmann::json quotas = nlohmann::json::array();
  for (const auto& [key, q] : cpu_quotas_)
    quotas.push_back(host::cpu_quota_json(q.start, host::read_throttle_counters(q.start), q.pids));
  set("cpu_quotas", quotas.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  set("syscalls", opt_.syscalls ? "on" : "off");
  set("block_io", opt_.block_io ? "on" : "off");
  set("buffer_mb", std::to_string(opt_.buffer_mb));
  set("python", python_->meta_json());
  nlohmann::json dj = nlohmann::json::object();
  for (int i = 0; i < CW_SRC_COUNT; i++) dj[source_name(i)] = drops[static_cast<size_t>(i)];
  set("drops", dj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  set("drops_total", std::to_string(ring_drops(drops)));
  nlohmann::json libs = nlohmann::json::array();
  nlohmann::json skipped = nlohmann::json::object();
  for (const auto& l : libraries_) {
    libs.push_back({{"kind", kind_name(l.library.kind)},
                    {"path", l.library.path},
                    {"version", l.version},
                    {"build_id", l.build_id},
                    {"probed_symbols", l.attached_symbols}});
    skipped[l.library.path] = l.missing_bases;
  }
  set("cuda_libraries", libs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  set("skipped_symbols", skipped.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  const auto& c = decoder_->counts();
  nlohmann::json counts = {{"events", c.events},
                           {"cuda_calls", c.cuda_calls},
                           {"sched_switches", c.switches},
                           {"wakeups", c.wakeups},
                           {"syscalls", c.syscalls},
                           {"block_io", c.block_ios},
                           {"process_events", c.process_events},
                           {"thread_states", c.thread_states},
                           {"migrations", c.migrations},
                           {"cpu_slices", c.cpu_slices},
                           {"cpu_seq_gaps", c.cpu_seq_gaps},
                           {"cpu_holder_breaks", c.cpu_holder_breaks},
                           {"switches_missed", c.switches_missed},
                           {"malformed", c.malformed}};
  if (switches_unreported_) counts["switches_unreported"] = *switches_unreported_;
  set("event_counts", counts.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  set("notes",
      nlohmann::json(notes_).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  set("exit", exit_desc);
}

void Session::print_summary(int64_t end_ns) {
  const auto& c = decoder_->counts();
  double secs = static_cast<double>(end_ns - origin_ns_) / 1e9;
  if (opt_.status_line) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr,
               "causeway: traced %.1f s: %" PRId64
               " events (%.0f/s) -> %s (%s)\n"
               "  cuda calls %" PRId64 ", syscalls %" PRId64 ", context switches %" PRId64
               ", wakeups %" PRId64 ", block I/O %" PRId64 ", process events %" PRId64 "\n",
               secs, c.events, secs > 0 ? static_cast<double>(c.events) / secs : 0.0,
               opt_.db_path.c_str(), human_bytes(db_size(opt_.db_path)).c_str(), c.cuda_calls,
               c.syscalls, c.switches, c.wakeups, c.block_ios, c.process_events);
  auto drops = source_->drops();
  std::string d;
  for (int i = 0; i < CW_SRC_COUNT; i++) {
    if (drops[static_cast<size_t>(i)] == 0) continue;
    d += (d.empty() ? "" : ", ") + std::string(source_name(i)) + " " +
         std::to_string(drops[static_cast<size_t>(i)]);
  }
  std::fprintf(stderr, "  dropped: %s\n", d.empty() ? "none" : d.c_str());
  // What tracing cost this process (not the traced command): CPU and peak resident memory.
  rusage self{};
  if (getrusage(RUSAGE_SELF, &self) == 0) {
    auto secs_of = [](const timeval& tv) {
      return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
    };
    std::fprintf(stderr, "  tracer: cpu %.2f s (user %.2f, sys %.2f), peak rss %.1f MB\n",
                 secs_of(self.ru_utime) + secs_of(self.ru_stime), secs_of(self.ru_utime),
                 secs_of(self.ru_stime), static_cast<double>(self.ru_maxrss) / 1024.0);
  }
  // How close the queue behind the ring came to its bound: a full queue is where drops start.
  std::fprintf(stderr, "  queue: peak %s of %s, full %" PRIu64 " times\n",
               human_bytes(drained_->peak_bytes()).c_str(),
               human_bytes(static_cast<uint64_t>(opt_.buffer_mb) << 20).c_str(),
               drained_->full_waits());
  if (libraries_.empty()) {
    std::fprintf(stderr, "  no CUDA library found: kernel events only\n");
  }
  for (const auto& l : libraries_) {
    std::fprintf(stderr, "  %s %s: %d symbols probed, %zu API functions absent\n",
                 kind_name(l.library.kind), l.library.path.c_str(), l.attached_symbols,
                 l.missing_bases.size());
  }
}

Result<int> Session::run() {
  if (Status s = preflight(); !s.ok()) return s;
  origin_ns_ = monotonic_ns();
  origin_realtime_ns_ = realtime_ns();

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  struct Restore {
    struct sigaction i, t;
    ~Restore() {
      sigaction(SIGINT, &i, nullptr);
      sigaction(SIGTERM, &t, nullptr);
    }
  } restore{old_int, old_term};

  if (Status s = open_database(); !s.ok()) return s;
  if (Status s = open_probes(); !s.ok()) {
    drained_.reset();  // its thread polls source_
    source_.reset();
    writer_.reset();
    if (db_created_) {
      std::error_code ec;
      for (const char* suffix : {"", "-wal", "-shm", "-journal"})
        std::filesystem::remove(opt_.db_path + suffix, ec);
    }
    return s;
  }

  pid_t child = -1;
  if (opt_.mode == TargetMode::kCommand) {
    auto c = launch();
    if (!c.ok()) return c.status();
    child = c.value();
  } else if (opt_.mode == TargetMode::kPid) {
    for (int32_t target : opt_.pids) {
      if (Status s = source_->trace_pid(target); !s.ok()) return s;
      decoder_->traced_from_start(target);
      scan_process(target, true);
      // Existing threads' names.
      std::error_code ec;
      for (const auto& e :
           std::filesystem::directory_iterator("/proc/" + std::to_string(target) + "/task", ec)) {
        store::ThreadInfo t;
        t.pid = target;
        t.tid = std::stoi(e.path().filename().string());
        t.comm = proc_comm(e.path().string());
        t.traced = true;
        (void)sink_->note_thread(t);
      }
    }
  } else {
    attach_installed_libraries();
    scan_all_processes();
  }
  if (opt_.mode != TargetMode::kCommand && libraries_.empty() && opt_.cudart_path.empty() &&
      opt_.cuda_path.empty()) {
    notes_.push_back("no CUDA library found in the target at start");
    if (opt_.mode == TargetMode::kPid)
      std::fprintf(stderr,
                   "causeway: no CUDA library is mapped by %s; tracing kernel events (and CUDA "
                   "libraries loaded later).\n",
                   opt_.pids.size() == 1 ? ("pid " + std::to_string(opt_.pids[0])).c_str()
                                         : "the given processes");
  }

  // --duration counts the time the target runs traced: from here (probes on, target
  // started or enrolled), not from the database's creation, and not the time the recorder
  // held it stopped to probe a library it loaded (paused_ns_, added as it accrues).
  const int64_t deadline =
      opt_.duration_s > 0 ? monotonic_ns() + static_cast<int64_t>(opt_.duration_s * 1e9) : 0;
  int child_status = 0;
  bool child_done = false;
  std::string exit_desc = "running";
  int64_t last_scan = monotonic_ns();
  RecordConsumer consume = [this](std::span<const uint8_t> rec) {
    Status s = decoder_->ingest(rec);
    if (!s.ok()) {
      sink_error_ = s;
      return false;
    }
    return true;
  };

  while (true) {
    auto polled = drained_->poll(kPollMs, consume);
    if (!polled.ok()) {
      notes_.push_back(polled.error());
      exit_desc = "poll error";
      break;
    }
    if (!sink_error_.ok()) {
      exit_desc = "database error";
      break;
    }
    handle_hooks();
    int64_t now = monotonic_ns();
    print_status(now);
    if (now - last_quota_scan_ns_ >= 1'000'000'000) {
      // A process can move into a limited cgroup after it was first seen (a wrapper that
      // joins it, then execs the job): look again about once a second.
      last_quota_scan_ns_ = now;
      for (int32_t pid : seen_processes_) note_cpu_quotas(pid);
    }
    if (child > 0 && !child_done) {
      int st = 0;
      pid_t r = waitpid(child, &st, WNOHANG);
      if (r == child) {
        child_done = true;
        child_status = st;
        exit_desc = "command exited";
        break;
      }
    }
    if (opt_.mode == TargetMode::kPid &&
        std::none_of(opt_.pids.begin(), opt_.pids.end(), process_alive)) {
      exit_desc = opt_.pids.size() == 1 ? "process exited" : "processes exited";
      break;
    }
    if (g_stop.load()) {
      exit_desc = g_signal.load() == SIGINT ? "SIGINT" : "SIGTERM";
      break;
    }
    if (deadline && now >= deadline + paused_ns_) {
      exit_desc = "duration elapsed";
      break;
    }
    if (opt_.mode == TargetMode::kAll && now - last_scan > 2'000'000'000) {
      scan_all_processes();
      last_scan = now;
    }
  }

  // Drain what is already in the ring (the exit of the command, the last switches): the
  // drain thread moves it into the queue and ends, then this thread writes the queue out.
  drained_->stop(/*drain=*/sink_error_.ok());
  if (sink_error_.ok()) {
    for (int i = 0; i < 1000; i++) {
      auto polled = drained_->poll(0, consume);
      if (!polled.ok() || polled.value() == 0 || !sink_error_.ok()) break;
      handle_hooks();
    }
  }
  const int64_t end_ns = monotonic_ns();
  switches_unreported_ = source_->unreported_switches();
  source_->detach_all();
  continue_stopped();

  Status final_status = sink_error_;
  if (final_status.ok()) final_status = decoder_->finish(end_ns);
  // Mappings of processes still alive, for symbolization.
  for (int32_t pid : seen_processes_) {
    auto maps = read_maps(pid);
    if (maps.ok()) note_mappings(pid, maps.value());
  }
  write_meta(end_ns, exit_desc);
  Status closed = writer_->close();
  print_summary(end_ns);
  if (final_status.ok() && !closed.ok()) final_status = closed;

  // The command keeps running when tracing stops early (duration, signal, error): forward
  // the signal, then wait for it so causeway exits with its status.
  if (child > 0 && !child_done) {
    // Ctrl-C at a terminal already reached the command (same foreground process group);
    // sending it again would interrupt its clean-up. Other signals are forwarded.
    const int sig = g_signal.load();
    const bool terminal_sent_it =
        sig == SIGINT && isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
    if (sig != 0 && !terminal_sent_it) kill(child, sig);
    int st = 0;
    while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
    }
    child_status = st;
    child_done = true;
  }
  if (!final_status.ok()) {
    std::fprintf(
        stderr,
        "causeway: tracing stopped early: %s The database keeps everything written before that.\n",
        final_status.message().c_str());
    stopped_early_ = true;
    return 1;
  }
  if (child > 0) {
    if (WIFEXITED(child_status)) return WEXITSTATUS(child_status);
    if (WIFSIGNALED(child_status)) return 128 + WTERMSIG(child_status);
  }
  return 0;
}

}  // namespace

Result<TraceRun> run_trace(const TraceOptions& options) {
  g_stop.store(false);
  g_signal.store(0);
  Session session(options);
  auto status = session.run();
  if (!status.ok()) return status.status();
  return TraceRun{*status, session.stopped_early()};
}

}  // namespace causeway::capture
