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

namespace {

std::string hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; i++) {
    s.push_back(digits[p[i] >> 4]);
    s.push_back(digits[p[i] & 15]);
  }
  return s;
}

std::string build_id_of(Elf* elf) {
  size_t nphdr = 0;
  if (elf_getphdrnum(elf, &nphdr) != 0) return {};
  for (size_t i = 0; i < nphdr; i++) {
    GElf_Phdr ph;
    if (!gelf_getphdr(elf, static_cast<int>(i), &ph) || ph.p_type != PT_NOTE) continue;
    Elf_Data* data =
        elf_getdata_rawchunk(elf, static_cast<int64_t>(ph.p_offset), ph.p_filesz, ELF_T_NHDR);
    if (!data) continue;
    size_t off = 0, name_off = 0, desc_off = 0;
    GElf_Nhdr nh;
    while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
      const char* base = static_cast<const char*>(data->d_buf);
      if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
          std::memcmp(base + name_off, "GNU", 4) == 0)
        return hex(reinterpret_cast<const unsigned char*>(base + desc_off), nh.n_descsz);
    }
  }
  return {};
}

}  // namespace

ElfFile::~ElfFile() {
  if (elf) elf_end(elf);
  if (fd >= 0) ::close(fd);
}

bool open_elf(const std::string& path, ElfFile& f) {
  if (elf_version(EV_CURRENT) == EV_NONE) return false;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) return false;
  f.elf = elf_begin(f.fd, ELF_C_READ_MMAP, nullptr);
  return f.elf && elf_kind(f.elf) == ELF_K_ELF;
}

Result<ElfSymbols> ElfSymbols::load(const std::string& path) {
  ElfFile f;
  if (!open_elf(path, f)) return Status::Error("Cannot read ELF file " + path + ".");
  ElfSymbols out;
  out.build_id_ = build_id_of(f.elf);
  // Executable PT_LOAD segments translate symbol addresses to file offsets.
  std::vector<GElf_Phdr> loads;
  size_t nphdr = 0;
  elf_getphdrnum(f.elf, &nphdr);
  for (size_t i = 0; i < nphdr; i++) {
    GElf_Phdr ph;
    if (gelf_getphdr(f.elf, static_cast<int>(i), &ph) && ph.p_type == PT_LOAD) loads.push_back(ph);
  }
  // .dynsym first (exported entry points), then .symtab adds what it knows.
  for (Elf64_Word wanted : {SHT_DYNSYM, SHT_SYMTAB}) {
    Elf_Scn* scn = nullptr;
    while ((scn = elf_nextscn(f.elf, scn)) != nullptr) {
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
        const char* name = elf_strptr(f.elf, sh.sh_link, sym.st_name);
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

std::string read_build_id(const std::string& path) {
  ElfFile f;
  if (!open_elf(path, f)) return {};
  return build_id_of(f.elf);
}

std::string library_version(const std::string& path) {
  std::error_code ec;
  auto resolved = std::filesystem::canonical(path, ec);
  std::string name = (ec ? std::filesystem::path(path) : resolved).filename().string();
  auto pos = name.find(".so.");
  return pos == std::string::npos ? std::string() : name.substr(pos + 4);
}

}  // namespace causeway::capture
