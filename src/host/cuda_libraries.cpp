#include "host/cuda_libraries.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>

#include "host/elf_file.h"

namespace causeway::host {
namespace fs = std::filesystem;

namespace {

// Lines of `ldconfig -p` that name `prefix`, as paths.
std::vector<std::string> ld_cache_paths(const std::string& prefix) {
  std::vector<std::string> paths;
  for (const char* ldconfig : {"/sbin/ldconfig", "/usr/sbin/ldconfig"}) {
    if (access(ldconfig, X_OK) != 0) continue;
    std::string cmd = std::string(ldconfig) + " -p 2>/dev/null";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
    if (!pipe) break;
    std::array<char, 1024> line{};
    while (fgets(line.data(), line.size(), pipe.get()) != nullptr) {
      std::string text(line.data());
      auto name_start = text.find_first_not_of(" \t");
      if (name_start == std::string::npos || text.compare(name_start, prefix.size(), prefix) != 0) {
        continue;
      }
      auto arrow = text.find("=> ");
      if (arrow == std::string::npos) continue;
      std::string path = text.substr(arrow + 3);
      while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
      paths.push_back(path);
    }
    break;
  }
  return paths;
}

// Files in `dir` whose names start with `prefix` (e.g. "libcudart.so").
std::vector<std::string> matching_files(const fs::path& dir, const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0) out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// pip wheels install the CUDA runtime as site-packages/nvidia/<component>/lib/.
std::vector<fs::path> python_wheel_dirs() {
  std::vector<fs::path> dirs;
  std::vector<fs::path> roots = {"/usr/lib", "/usr/local/lib"};
  if (const char* home = std::getenv("HOME")) roots.emplace_back(fs::path(home) / ".local/lib");
  std::error_code ec;
  for (const auto& root : roots) {
    if (!fs::is_directory(root, ec)) continue;
    for (const auto& py : fs::directory_iterator(root, ec)) {
      if (py.path().filename().string().rfind("python3", 0) != 0) continue;
      for (const char* site : {"site-packages", "dist-packages"}) {
        fs::path nvidia = py.path() / site / "nvidia";
        if (!fs::is_directory(nvidia, ec)) continue;
        for (const auto& comp : fs::directory_iterator(nvidia, ec))
          dirs.push_back(comp.path() / "lib");
      }
    }
  }
  return dirs;
}

}  // namespace

Result<std::vector<CudaLibrary>> find_cuda_libraries(const std::string& cudart_override,
                                                     const std::string& cuda_override) {
  std::vector<CudaLibrary> found;
  std::set<std::string> seen;
  auto consider = [&](CudaLibraryKind kind, const std::string& path, const std::string& origin) {
    std::error_code ec;
    fs::path real = fs::canonical(path, ec);
    if (ec || !fs::is_regular_file(real, ec)) return;
    if (!seen.insert(real.string()).second) return;
    auto file = ElfFile::open(real.string());
    if (!file.ok()) return;
    CudaLibrary lib;
    lib.kind = kind;
    lib.path = path;
    lib.real_path = real.string();
    lib.soname = (*file)->soname();
    lib.stub = real.string().find("/stubs/") != std::string::npos;
    lib.origin = origin;
    found.push_back(std::move(lib));
  };

  for (const auto& [override_path, kind, flag] :
       {std::tuple{cudart_override, CudaLibraryKind::kRuntime, "--cudart"},
        std::tuple{cuda_override, CudaLibraryKind::kDriver, "--cuda"}}) {
    if (override_path.empty()) continue;
    std::error_code ec;
    if (!fs::is_regular_file(override_path, ec)) {
      return Status::Error(std::string(flag) + " " + override_path +
                           ": no such library file; pass the path of the .so the workload loads.");
    }
    size_t before = found.size();
    consider(kind, override_path, flag);
    if (found.size() == before) {
      return Status::Error(std::string(flag) + " " + override_path +
                           " is not an ELF shared library.");
    }
  }

  struct Wanted {
    CudaLibraryKind kind;
    const char* prefix;
  };
  const Wanted wanted[] = {{CudaLibraryKind::kRuntime, "libcudart.so"},
                           {CudaLibraryKind::kDriver, "libcuda.so"}};
  for (const auto& w : wanted) {
    for (const auto& p : ld_cache_paths(w.prefix)) consider(w.kind, p, "ld.so cache");
    if (const char* llp = std::getenv("LD_LIBRARY_PATH")) {
      std::stringstream dirs(llp);
      std::string dir;
      while (std::getline(dirs, dir, ':')) {
        for (const auto& p : matching_files(dir, w.prefix)) consider(w.kind, p, "LD_LIBRARY_PATH");
      }
    }
    for (const char* dir :
         {"/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/local/cuda/lib64",
          "/usr/local/cuda/lib64/stubs", "/usr/local/cuda/lib", "/usr/local/cuda/lib/stubs"}) {
      for (const auto& p : matching_files(dir, w.prefix)) consider(w.kind, p, dir);
    }
    for (const auto& dir : python_wheel_dirs()) {
      for (const auto& p : matching_files(dir, w.prefix)) consider(w.kind, p, "python wheel");
    }
  }
  // Stubs last within a kind: a real library is what a workload would load.
  std::stable_sort(found.begin(), found.end(), [](const CudaLibrary& a, const CudaLibrary& b) {
    if (a.kind != b.kind) return a.kind < b.kind;
    return !a.stub && b.stub;
  });
  return found;
}

Result<std::string> query_cuda_version(const CudaLibrary& lib) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::Error("pipe failed");
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return Status::Error("fork failed");
  }
  if (pid == 0) {
    // Child: load the library and ask it. Never returns to the caller's code.
    close(fds[0]);
    int version = -1;
    int rc = -1;
    void* handle = dlopen(lib.real_path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle != nullptr) {
      const char* fn_name =
          lib.kind == CudaLibraryKind::kRuntime ? "cudaRuntimeGetVersion" : "cuDriverGetVersion";
      using VersionFn = int (*)(int*);
      auto fn = reinterpret_cast<VersionFn>(dlsym(handle, fn_name));
      if (fn != nullptr) rc = fn(&version);
    }
    int reply[2] = {rc, version};
    ssize_t ignored = write(fds[1], reply, sizeof reply);
    (void)ignored;
    _exit(0);
  }
  close(fds[1]);
  int reply[2] = {-1, -1};
  pollfd pfd{fds[0], POLLIN, 0};
  bool answered = poll(&pfd, 1, 2000) == 1 && read(fds[0], reply, sizeof reply) == sizeof reply;
  close(fds[0]);
  if (!answered) kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  if (!answered) return Status::Error("the library did not answer a version query within 2 s");
  if (reply[0] != 0 || reply[1] <= 0) {
    return Status::Error(lib.kind == CudaLibraryKind::kDriver
                             ? "the driver cannot report its version (no NVIDIA driver loaded)"
                             : "the runtime cannot report its version");
  }
  return std::to_string(reply[1] / 1000) + "." + std::to_string((reply[1] % 1000) / 10);
}

}  // namespace causeway::host
