#include "common/atomic_file.h"

#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

namespace causeway {
namespace {

// Temporary files to remove if the process is interrupted. The handler reads them, so they
// are fixed buffers published through `live` (the handler never allocates or locks).
struct PartialSlot {
  std::atomic<bool> live{false};
  char path[PATH_MAX];
};
PartialSlot g_slots[kMaxOpenAtomicFiles];

constexpr int kCleanupSignals[] = {SIGINT, SIGTERM, SIGHUP};
struct sigaction g_previous[sizeof kCleanupSignals / sizeof kCleanupSignals[0]];
std::mutex g_install_mu;
int g_open = 0;  // AtomicFiles registered; the handler is installed while > 0

void on_signal(int sig) {
  for (auto& slot : g_slots) {
    if (slot.live.load()) unlink(slot.path);
  }
  for (size_t i = 0; i < sizeof kCleanupSignals / sizeof kCleanupSignals[0]; ++i) {
    if (kCleanupSignals[i] != sig) continue;
    const struct sigaction& prev = g_previous[i];
    if (!(prev.sa_flags & SA_SIGINFO) && prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
      prev.sa_handler(sig);  // the program's own handler decides what happens next
      return;
    }
    // The default action: end the process with this signal, as it would have without us.
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
}

// Registers `partial`; returns its slot, or -1 when all slots are taken.
int register_partial(const std::string& partial) {
  std::lock_guard<std::mutex> lock(g_install_mu);
  int slot = -1;
  for (int i = 0; i < kMaxOpenAtomicFiles; ++i) {
    if (!g_slots[i].live.load()) {
      slot = i;
      break;
    }
  }
  if (slot < 0 || partial.size() >= PATH_MAX) return -1;
  std::memcpy(g_slots[slot].path, partial.c_str(), partial.size() + 1);
  g_slots[slot].live.store(true);
  if (g_open++ == 0) {
    for (size_t i = 0; i < sizeof kCleanupSignals / sizeof kCleanupSignals[0]; ++i) {
      struct sigaction now {};
      sigaction(kCleanupSignals[i], nullptr, &g_previous[i]);
      // An ignored signal stays ignored: it cannot interrupt the write.
      if (!(g_previous[i].sa_flags & SA_SIGINFO) && g_previous[i].sa_handler == SIG_IGN) continue;
      now.sa_handler = on_signal;
      sigemptyset(&now.sa_mask);
      sigaction(kCleanupSignals[i], &now, nullptr);
    }
  }
  return slot;
}

void unregister_partial(int slot) {
  std::lock_guard<std::mutex> lock(g_install_mu);
  g_slots[slot].live.store(false);
  if (--g_open == 0) {
    for (size_t i = 0; i < sizeof kCleanupSignals / sizeof kCleanupSignals[0]; ++i) {
      struct sigaction current {};
      sigaction(kCleanupSignals[i], nullptr, &current);
      if (!(current.sa_flags & SA_SIGINFO) && current.sa_handler == on_signal) {
        sigaction(kCleanupSignals[i], &g_previous[i], nullptr);
      }
    }
  }
}

// Removes "<target>.partial-<pid>" files left by processes that no longer exist (killed
// before they could clean up). A pid that is alive — possibly reused — keeps its file.
void remove_stale_partials(const std::string& target) {
  const size_t slash = target.rfind('/');
  const std::string dir = slash == std::string::npos ? "./" : target.substr(0, slash + 1);
  const std::string prefix =
      (slash == std::string::npos ? target : target.substr(slash + 1)) + ".partial-";
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid <= 0 || pid == getpid()) continue;
    if (kill(pid, 0) != 0 && errno == ESRCH) unlink((dir + name).c_str());
  }
  closedir(d);
}

}  // namespace

Result<AtomicFile> AtomicFile::create(const std::string& path) {
  std::string target = path;
  if (char* real = realpath(path.c_str(), nullptr)) {
    target = real;  // replace the file a symlink points to, not the symlink
    std::free(real);
  }
  // The pid keeps two processes writing the same target from sharing a temporary file.
  std::string partial = target + ".partial-" + std::to_string(getpid());
  remove_stale_partials(target);
  // Registered before it exists, so no signal can come between creating and registering.
  const int slot = register_partial(partial);
  if (slot < 0) {
    return Status::Error("cannot write " + path + ": too many files are being written at once.");
  }
  std::FILE* out = std::fopen(partial.c_str(), "wb");
  if (out == nullptr) {
    const int err = errno;
    unregister_partial(slot);
    return Status::Error("cannot write " + path + ": " + std::strerror(err) + ".");
  }
  return AtomicFile(path, std::move(target), std::move(partial), out, slot);
}

AtomicFile::AtomicFile(std::string path, std::string target, std::string partial, std::FILE* out,
                       int slot)
    : path_(std::move(path)),
      target_(std::move(target)),
      partial_(std::move(partial)),
      out_(out),
      slot_(slot) {}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)),
      target_(std::move(other.target_)),
      partial_(std::move(other.partial_)),
      out_(std::exchange(other.out_, nullptr)),
      done_(std::exchange(other.done_, true)),
      slot_(std::exchange(other.slot_, -1)) {}

void AtomicFile::unregister() {
  if (slot_ >= 0) unregister_partial(slot_);
  slot_ = -1;
}

AtomicFile::~AtomicFile() {
  abandon();
}

void AtomicFile::abandon() {
  if (done_) return;
  done_ = true;
  if (out_ != nullptr) std::fclose(out_);
  out_ = nullptr;
  std::remove(partial_.c_str());
  unregister();
}

Status AtomicFile::commit() {
  if (done_) return Status::Error("cannot write " + path_ + ": it was already finished.");
  // fflush reports a failed buffered write (ENOSPC, EFBIG) with its errno; ferror catches
  // one an earlier fwrite already saw.
  errno = 0;
  const bool flushed = std::fflush(out_) == 0 && std::ferror(out_) == 0;
  int err = errno;
  const bool closed = std::fclose(out_) == 0;
  out_ = nullptr;
  if (flushed && !closed) err = errno;
  if (!flushed || !closed) {
    abandon();
    return Status::Error("writing " + path_ + " failed: " + std::strerror(err != 0 ? err : EIO) +
                         ".");
  }
  if (std::rename(partial_.c_str(), target_.c_str()) != 0) {
    err = errno;
    abandon();
    return Status::Error("cannot move the finished file to " + path_ + ": " + std::strerror(err) +
                         ".");
  }
  done_ = true;
  unregister();
  return Status::Ok();
}

Status write_file_atomically(const std::string& path, std::string_view bytes) {
  auto file = AtomicFile::create(path);
  if (!file.ok()) return file.status();
  errno = 0;
  if (std::fwrite(bytes.data(), 1, bytes.size(), file->stream()) != bytes.size()) {
    // Returning destroys the AtomicFile, which removes the temporary file.
    const int err = errno != 0 ? errno : EIO;
    return Status::Error("writing " + path + " failed: " + std::strerror(err) + ".");
  }
  return file->commit();
}

}  // namespace causeway
