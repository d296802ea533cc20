// Scheduling situations whose answer is known, for the capture tests of wakers and of who
// held a CPU (tests/privileged/capture_sched_test.cpp). No GPU calls: what is checked is the
// kernel side of a trace.
//
//   sched_workload pingpong [N]   two processes (parent on CPU 0, child on CPU 1) pass a byte
//                                 through two pipes N times: every wakeup's waker is the other
//   sched_workload timeouts [N]   a thread waits N times on a condition variable nobody
//                                 signals, 5 ms each: every wakeup is a timer expiry
//   sched_workload lockio [N]     "decode" takes a mutex every step that "logger" holds across
//                                 write + fdatasync: decode's waits are ended by logger
//   sched_workload contend        "decode" (CPU 0) computes in short slices with a "helper"
//                                 thread that briefly takes CPU 0 every 500 us, while a child
//                                 "spinner" at nice -10 spins on CPU 0 for 1.5 s
//
// Prints "summary mode=... key=value ..." with the pids/tids a test needs.
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof(set), &set);
}

void name(const char* n) {
  prctl(PR_SET_NAME, n);
}

int tid() {
  return static_cast<int>(syscall(SYS_gettid));
}

void spin_for(std::chrono::microseconds d) {
  const auto end = Clock::now() + d;
  while (Clock::now() < end) {
  }
}

int pingpong(int n) {
  int a[2], b[2];
  if (pipe(a) != 0 || pipe(b) != 0) return 1;
  char c = 'x';
  const pid_t child = fork();
  if (child == 0) {
    pin(1);
    name("pong");
    for (int i = 0; i < n; i++) {
      if (read(a[0], &c, 1) != 1 || write(b[1], &c, 1) != 1) _exit(1);
    }
    _exit(0);
  }
  pin(0);
  name("ping");
  for (int i = 0; i < n; i++) {
    if (write(a[1], &c, 1) != 1 || read(b[0], &c, 1) != 1) return 1;
  }
  int st = 0;
  waitpid(child, &st, 0);
  std::printf("summary mode=pingpong rounds=%d ping=%d pong=%d\n", n, getpid(), child);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

int timeouts(int n) {
  name("waiter");
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
  int timed_out = 0;
  pthread_mutex_lock(&m);
  for (int i = 0; i < n; i++) {
    timespec t{};
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_nsec += 5'000'000;
    if (t.tv_nsec >= 1'000'000'000) {
      t.tv_sec++;
      t.tv_nsec -= 1'000'000'000;
    }
    if (pthread_cond_timedwait(&cv, &m, &t) == ETIMEDOUT) timed_out++;
  }
  pthread_mutex_unlock(&m);
  std::printf("summary mode=timeouts waits=%d timed_out=%d pid=%d tid=%d\n", n, timed_out, getpid(),
              tid());
  return 0;
}

struct LockIo {
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  std::atomic<bool> stop{false};
  std::atomic<int> logger_tid{0};
  std::string path;
};

void* logger_main(void* arg) {
  auto* s = static_cast<LockIo*>(arg);
  name("logger");
  s->logger_tid = tid();
  const int fd = open(s->path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  std::vector<char> buf(64 * 1024, 'x');
  while (!s->stop) {
    pthread_mutex_lock(&s->mutex);
    if (fd >= 0) {
      if (write(fd, buf.data(), buf.size()) < 0) break;
      fdatasync(fd);
    }
    pthread_mutex_unlock(&s->mutex);
    usleep(2000);
  }
  if (fd >= 0) close(fd);
  return nullptr;
}

int lockio(int n) {
  LockIo s;
  const char* dir = getenv("TMPDIR");
  s.path = std::string(dir ? dir : "/var/tmp") + "/sched_workload." + std::to_string(getpid());
  pthread_t t;
  pthread_create(&t, nullptr, logger_main, &s);
  name("decode");
  for (int i = 0; i < n; i++) {
    pthread_mutex_lock(&s.mutex);
    spin_for(std::chrono::microseconds(200));
    pthread_mutex_unlock(&s.mutex);
    spin_for(std::chrono::microseconds(2000));
  }
  s.stop = true;
  pthread_join(t, nullptr);
  unlink(s.path.c_str());
  std::printf("summary mode=lockio steps=%d pid=%d decode=%d logger=%d\n", n, getpid(), tid(),
              s.logger_tid.load());
  return 0;
}

std::atomic<bool> g_helper_stop{false};
std::atomic<int> g_helper_tid{0};

void* helper_main(void*) {
  name("helper");
  pin(0);
  g_helper_tid = tid();
  while (!g_helper_stop) {
    spin_for(std::chrono::microseconds(20));
    usleep(500);
  }
  return nullptr;
}

int contend() {
  pin(0);
  name("decode");
  const pid_t child = fork();
  if (child == 0) {
    name("spinner");
    setpriority(PRIO_PROCESS, 0, -10);
    usleep(100'000);
    spin_for(std::chrono::milliseconds(1500));
    _exit(0);
  }
  pthread_t h;
  pthread_create(&h, nullptr, helper_main, nullptr);
  const auto end = Clock::now() + std::chrono::milliseconds(2000);
  while (Clock::now() < end) {
    spin_for(std::chrono::microseconds(2000));
    usleep(200);
  }
  g_helper_stop = true;
  pthread_join(h, nullptr);
  waitpid(child, nullptr, 0);
  std::printf("summary mode=contend pid=%d decode=%d helper=%d spinner=%d\n", getpid(), tid(),
              g_helper_tid.load(), child);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  const int n = argc > 2 ? std::atoi(argv[2]) : 0;
  if (mode == "pingpong") return pingpong(n > 0 ? n : 3000);
  if (mode == "timeouts") return timeouts(n > 0 ? n : 100);
  if (mode == "lockio") return lockio(n > 0 ? n : 300);
  if (mode == "contend") return contend();
  std::fprintf(stderr, "usage: sched_workload pingpong|timeouts|lockio|contend [N]\n");
  return 2;
}
