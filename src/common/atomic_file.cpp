#include "common/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace causeway {

Result<AtomicFile> AtomicFile::create(const std::string& path) {
  std::string target = path;
  if (char* real = realpath(path.c_str(), nullptr)) {
    target = real;  // replace the file a symlink points to, not the symlink
    std::free(real);
  }
  // The pid keeps two processes writing the same target from sharing a temporary file.
  std::string partial = target + ".partial-" + std::to_string(getpid());
  std::FILE* out = std::fopen(partial.c_str(), "wb");
  if (out == nullptr) {
    return Status::Error("cannot write " + path + ": " + std::strerror(errno) + ".");
  }
  return AtomicFile(path, std::move(target), std::move(partial), out);
}

AtomicFile::AtomicFile(std::string path, std::string target, std::string partial, std::FILE* out)
    : path_(std::move(path)), target_(std::move(target)), partial_(std::move(partial)), out_(out) {}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)),
      target_(std::move(other.target_)),
      partial_(std::move(other.partial_)),
      out_(std::exchange(other.out_, nullptr)),
      done_(std::exchange(other.done_, true)) {}

AtomicFile::~AtomicFile() {
  abandon();
}

void AtomicFile::abandon() {
  if (done_) return;
  done_ = true;
  if (out_ != nullptr) std::fclose(out_);
  out_ = nullptr;
  std::remove(partial_.c_str());
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
