#include "fuzz_support.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace causeway::fuzz {

namespace {
std::string* g_dir = nullptr;
void remove_dir() {
  std::error_code ec;
  if (g_dir) std::filesystem::remove_all(*g_dir, ec);
}
}  // namespace

const std::string& scratch_dir() {
  if (g_dir) return *g_dir;
  // /dev/shm keeps the per-input database writes off the disk.
  std::string base = "/dev/shm";
  struct stat st {};
  if (stat(base.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || access(base.c_str(), W_OK) != 0) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp && *tmp ? tmp : "/tmp";
  }
  std::string templ = base + "/causeway-fuzz-XXXXXX";
  if (!mkdtemp(templ.data())) fail("cannot create a scratch directory under " + base);
  g_dir = new std::string(templ);
  std::atexit(remove_dir);
  return *g_dir;
}

void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) fail("cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

mcp::EngineLimits engine_limits() {
  mcp::EngineLimits l;
  l.max_value_bytes = 100'000;
  return l;
}

void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace causeway::fuzz
