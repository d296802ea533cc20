// Detection and resolution against a real interpreter: the machine's /usr/bin/python3 runs
// a small script and blocks at a known line; the test finds its _PyRuntime and version
// (detect_python), walks its thread and frames exactly as bpf/pystack.bpf.c does (from the
// cw_py_proc configuration), and resolves the frames (PythonResolver) to the functions and
// the exact lines of the script. No root needed: the child is ours.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "capture/libraries.h"
#include "capture/process_memory.h"
#include "capture/python_process.h"
#include "capture/python_resolver.h"
#include "causeway/abi/events.h"
#include "support/test_support.h"

namespace causeway::capture {
namespace {

constexpr const char* kScript = R"PY(import sys, threading

def wait_here():
    print("ready", threading.get_native_id(), flush=True)
    return sys.stdin.readline()  # @block

class Outer:
    def middle(self):
        return wait_here()  # @call-wait

Outer().middle()  # @call-middle
)PY";

int marker_line(const std::string& marker) {
  std::istringstream in(kScript);
  std::string line;
  for (int n = 1; std::getline(in, line); n++) {
    if (line.find(marker) != std::string::npos) return n;
  }
  return -1;
}

// The script, running, with its stdin held open until destruction.
struct Child {
  pid_t pid = -1;
  int to_child = -1;
  int tid = 0;
  ~Child() {
    if (to_child >= 0) close(to_child);
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

bool start(const std::string& script, Child& c) {
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) return false;
  c.pid = fork();
  if (c.pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[1]);
    close(out[0]);
    execl("/usr/bin/python3", "python3", script.c_str(), nullptr);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  c.to_child = in[1];
  FILE* f = fdopen(out[0], "r");
  char buf[128] = {};
  const bool ok =
      fgets(buf, sizeof(buf), f) != nullptr && std::sscanf(buf, "ready %d", &c.tid) == 1;
  fclose(f);
  usleep(100 * 1000);  // let it reach the read
  return ok;
}

// The walk of bpf/pystack.bpf.c, in user space.
struct Walked {
  std::vector<cw_py_frame> frames;
  uint32_t entry_mask = 0;
};
bool walk(ProcessMemory& mem, int32_t pid, uint32_t tid, const cw_py_proc& cfg, Walked& out) {
  auto ptr = [&](uint64_t a) {
    uint64_t v = 0;
    return mem.read(pid, a, &v, 8) ? v : 0;
  };
  uint64_t interp = ptr(cfg.runtime + cfg.interp_head), tstate = 0;
  for (uint64_t ts = interp ? ptr(interp + cfg.interp_threads) : 0; ts;
       ts = ptr(ts + cfg.ts_next)) {
    if (ptr(ts + cfg.ts_thread_id) == tid) tstate = ts;
  }
  if (!tstate) return false;
  uint64_t frame = ptr(tstate + cfg.ts_frame);
  if (frame && cfg.cframe_frame >= 0) frame = ptr(frame + static_cast<uint32_t>(cfg.cframe_frame));
  uint8_t buf[128];
  while (frame && out.frames.size() < CW_PY_MAX_FRAMES) {
    if (!mem.read(pid, frame, buf, cfg.frame_bytes)) return false;
    uint64_t code = 0, prev = 0, instr = 0;
    std::memcpy(&code, buf + cfg.fr_code, 8);
    std::memcpy(&prev, buf + cfg.fr_previous, 8);
    std::memcpy(&instr, buf + cfg.fr_instr, 8);
    if (cfg.fr_owner >= 0 && cfg.owner_cstack >= 0 && buf[cfg.fr_owner] == cfg.owner_cstack) {
      if (!out.frames.empty()) out.entry_mask |= 1u << (out.frames.size() - 1);
    } else if (code) {
      if (cfg.fr_is_entry >= 0 && buf[cfg.fr_is_entry]) out.entry_mask |= 1u << out.frames.size();
      __u64 words[CW_PY_STAMP_WORDS];
      const uint64_t stamp = mem.read(pid, code + CW_PY_STAMP_OFFSET, words, sizeof(words))
                                 ? cw_py_code_stamp(words)
                                 : 0;
      out.frames.push_back({code, instr, stamp});
    }
    frame = prev;
  }
  return true;
}

TEST(CapturePythonProcess, FindsTheInterpreterAndResolvesExactLinesOfARealPython) {
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3 here";
  testing::TempDir dir;
  const std::string script = dir.file("blocker.py");
  std::ofstream(script) << kScript;
  Child child;
  ASSERT_TRUE(start(script, child)) << "the script did not start";

  auto maps = read_maps(child.pid);
  ASSERT_TRUE(maps.ok()) << maps.error();
  char exe[4096] = {};
  ASSERT_GT(readlink(("/proc/" + std::to_string(child.pid) + "/exe").c_str(), exe, sizeof(exe) - 1),
            0);
  LiveProcessMemory mem;
  auto found = detect_python(child.pid, maps.value(), exe, "", mem);
  ASSERT_TRUE(found.has_value()) << "python3 not recognised as CPython";
  ASSERT_TRUE(found->process.ok()) << found->process.error();
  const PythonProcess& p = found->process.value();
  EXPECT_EQ(p.version.rfind("3.", 0), 0u) << p.version;
  EXPECT_NE(p.runtime, 0u);
  if (p.layout.minor > 12)
    GTEST_SKIP() << "python3 is " << p.version << "; walk checked on 3.10-3.12";

  cw_py_proc cfg{};
  fill_py_proc(p.layout, p.runtime, cfg);
  Walked w;
  ASSERT_TRUE(walk(mem, child.pid, static_cast<uint32_t>(child.tid), cfg, w));
  ASSERT_GE(w.frames.size(), 3u);

  PythonResolver resolver(mem);
  resolver.add_process(child.pid, p.layout);
  auto frames = resolver.resolve(child.pid, w.frames, w.entry_mask);
  ASSERT_GE(frames.size(), 3u);
  EXPECT_EQ(frames[0].function, "wait_here");
  EXPECT_EQ(frames[0].file, script);
  EXPECT_EQ(frames[0].line, marker_line("# @block"));
  EXPECT_EQ(frames[1].function, p.layout.code_qualname >= 0 ? "Outer.middle" : "middle");
  EXPECT_EQ(frames[1].line, marker_line("# @call-wait"));
  EXPECT_EQ(frames.back().function, "<module>");
  EXPECT_EQ(frames.back().line, marker_line("# @call-middle"));
  // One eval-loop call runs all three (Python-to-Python calls stay in it): only the
  // outermost frame was entered from C.
  EXPECT_TRUE(frames.back().entry);
  EXPECT_FALSE(frames[0].entry);
  EXPECT_EQ(resolver.code_objects_read(), static_cast<int64_t>(frames.size()));

  // A non-code address is reported as such, not invented.
  std::vector<cw_py_frame> bogus = {{p.runtime, 0, 0}};
  auto bad = resolver.resolve(child.pid, bogus, 0);
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].function.rfind("<unresolved: ", 0), 0u) << bad[0].function;
  EXPECT_TRUE(bad[0].file.empty());
  EXPECT_EQ(bad[0].line, -1);
}

TEST(CapturePythonProcess, VersionFromFileNames) {
  EXPECT_EQ(python_minor_from_name("/usr/bin/python3.11"), 11);
  EXPECT_EQ(python_minor_from_name("/usr/lib/x86_64-linux-gnu/libpython3.10.so.1.0"), 10);
  EXPECT_EQ(python_minor_from_name("/opt/py/bin/python3.13t"), 13);
  EXPECT_FALSE(python_minor_from_name("/usr/bin/python3").has_value());
  EXPECT_FALSE(python_minor_from_name("/usr/lib/libcudart.so.13").has_value());
  EXPECT_TRUE(may_hold_python("/usr/lib/libpython3.12.so.1.0", "/usr/bin/app"));
  EXPECT_TRUE(may_hold_python("/usr/bin/app", "/usr/bin/app"));
  EXPECT_FALSE(may_hold_python("/usr/lib/libc.so.6", "/usr/bin/app"));
}

TEST(CapturePythonProcess, ANonPythonProcessIsNotPython) {
  auto maps = read_maps(getpid());
  ASSERT_TRUE(maps.ok());
  char exe[4096] = {};
  ASSERT_GT(readlink("/proc/self/exe", exe, sizeof(exe) - 1), 0);
  LiveProcessMemory mem;
  EXPECT_FALSE(detect_python(getpid(), maps.value(), exe, "", mem).has_value());
}

}  // namespace
}  // namespace causeway::capture
