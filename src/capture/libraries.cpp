#include "capture/libraries.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace causeway::capture {

Result<std::vector<Mapping>> read_maps(int32_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  if (!in)
    return Status::Error("Cannot read /proc/" + std::to_string(pid) +
                         "/maps: the process is gone or not accessible.");
  std::vector<Mapping> out;
  std::string line;
  while (std::getline(in, line)) {
    Mapping m;
    char perms[8] = {};
    unsigned long long start = 0, end = 0, offset = 0, inode = 0;
    int path_pos = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %*x:%*x %llu %n", &start, &end, perms,
                    &offset, &inode, &path_pos) < 5)
      continue;
    m.start = start;
    m.end = end;
    m.offset = offset;
    m.perms = perms;
    m.inode = inode;
    if (path_pos > 0 && static_cast<size_t>(path_pos) < line.size()) m.path = line.substr(path_pos);
    out.push_back(std::move(m));
  }
  return out;
}

std::optional<CudaLibrary> classify_cuda_library(const std::string& path) {
  std::string base = std::filesystem::path(path).filename().string();
  if (base.rfind("libcudart.so", 0) == 0) return CudaLibrary::kRuntime;
  if (base.rfind("libcuda.so", 0) == 0) return CudaLibrary::kDriver;
  return std::nullopt;
}

namespace {
bool stat_identity(const std::string& path, uint64_t* dev, uint64_t* ino) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  *dev = st.st_dev;
  *ino = st.st_ino;
  return true;
}
}  // namespace

std::vector<CudaLibraryFile> find_cuda_libraries(int32_t pid, const std::vector<Mapping>& maps) {
  std::vector<CudaLibraryFile> out;
  std::set<std::pair<uint64_t, uint64_t>> seen;
  for (const auto& m : maps) {
    if (m.path.empty() || m.path[0] != '/' || m.perms.size() < 3 || m.perms[2] != 'x') continue;
    auto kind = classify_cuda_library(m.path);
    if (!kind) continue;
    CudaLibraryFile lib;
    lib.kind = *kind;
    lib.path = m.path;
    lib.open_path = "/proc/" + std::to_string(pid) + "/root" + m.path;
    if (!stat_identity(lib.open_path, &lib.dev, &lib.inode)) continue;
    if (!seen.insert({lib.dev, lib.inode}).second) continue;
    out.push_back(std::move(lib));
  }
  return out;
}

Result<CudaLibraryFile> library_from_path(const std::string& path, CudaLibrary kind) {
  CudaLibraryFile lib;
  lib.kind = kind;
  std::error_code ec;
  auto canonical = std::filesystem::canonical(path, ec);
  if (ec) return Status::Error("CUDA library " + path + " does not exist or is not readable.");
  lib.path = canonical.string();
  lib.open_path = lib.path;
  if (!stat_identity(lib.open_path, &lib.dev, &lib.inode))
    return Status::Error("CUDA library " + path + " does not exist or is not readable.");
  return lib;
}

Result<ElfSymbols> ElfSymbols::load(const std::string& path) {
  auto file = host::ElfFile::open(path);
  if (!file.ok()) return Status::Error("Cannot read ELF file " + path + ".");
  Elf* elf = (*file)->elf();
  ElfSymbols out;
  out.build_id_ = (*file)->build_id();
  // Executable PT_LOAD segments translate symbol addresses to file offsets.
  std::vector<GElf_Phdr> loads;
  size_t nphdr = 0;
  elf_getphdrnum(elf, &nphdr);
  for (size_t i = 0; i < nphdr; i++) {
    GElf_Phdr ph;
    if (gelf_getphdr(elf, static_cast<int>(i), &ph) && ph.p_type == PT_LOAD) loads.push_back(ph);
  }
  // .dynsym first (exported entry points), then .symtab adds what it knows.
  for (Elf64_Word wanted : {SHT_DYNSYM, SHT_SYMTAB}) {
    Elf_Scn* scn = nullptr;
    while ((scn = elf_nextscn(elf, scn)) != nullptr) {
      GElf_Shdr sh;
      if (!gelf_getshdr(scn, &sh) || sh.sh_type != wanted || sh.sh_entsize == 0) continue;
      Elf_Data* data = elf_getdata(scn, nullptr);
      if (!data) continue;
      size_t count = sh.sh_size / sh.sh_entsize;
      for (size_t i = 0; i < count; i++) {
        GElf_Sym sym;
        if (!gelf_getsym(data, static_cast<int>(i), &sym)) continue;
        if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF || sym.st_value == 0)
          continue;
        const char* name = elf_strptr(elf, sh.sh_link, sym.st_name);
        if (!name || !*name) continue;
        for (const auto& ph : loads) {
          if (sym.st_value >= ph.p_vaddr && sym.st_value < ph.p_vaddr + ph.p_memsz) {
            out.offsets_.emplace(name, sym.st_value - ph.p_vaddr + ph.p_offset);
            break;
          }
        }
      }
    }
  }
  return out;
}

std::optional<uint64_t> ElfSymbols::offset_of(const std::string& name) const {
  auto it = offsets_.find(name);
  if (it == offsets_.end()) return std::nullopt;
  return it->second;
}

std::string library_version(const std::string& path) {
  std::error_code ec;
  auto resolved = std::filesystem::canonical(path, ec);
  std::string name = (ec ? std::filesystem::path(path) : resolved).filename().string();
  auto pos = name.find(".so.");
  return pos == std::string::npos ? std::string() : name.substr(pos + 4);
}

}  // namespace causeway::capture
