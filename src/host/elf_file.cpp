#include "host/elf_file.h"

#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace causeway::host {
namespace {

std::string hex(const unsigned char* bytes, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 15];
  }
  return out;
}

// The build-id in one block of notes; "" when it holds none.
std::string build_id_in(Elf_Data* data) {
  if (data == nullptr || data->d_buf == nullptr) return {};
  size_t off = 0, name_off = 0, desc_off = 0;
  GElf_Nhdr nh;
  while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
    const char* base = static_cast<const char*>(data->d_buf);
    if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && nh.n_descsz > 0 &&
        std::memcmp(base + name_off, "GNU", 4) == 0) {
      return hex(reinterpret_cast<const unsigned char*>(base + desc_off), nh.n_descsz);
    }
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<ElfFile>> ElfFile::open(const std::string& path) {
  if (elf_version(EV_CURRENT) == EV_NONE) {
    return Status::Error("libelf is unusable, so " + path + " cannot be read.");
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Error(path + " cannot be read: " + std::strerror(errno) + ".");
  Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  if (elf == nullptr || elf_kind(elf) != ELF_K_ELF) {
    if (elf != nullptr) elf_end(elf);
    ::close(fd);
    return Status::Error(path + " is not an ELF file.");
  }
  return std::unique_ptr<ElfFile>(new ElfFile(fd, elf));
}

ElfFile::~ElfFile() {
  elf_end(elf_);
  ::close(fd_);
}

std::string ElfFile::build_id() const {
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf_, scn)) != nullptr) {
    GElf_Shdr sh;
    if (gelf_getshdr(scn, &sh) == nullptr || sh.sh_type != SHT_NOTE) continue;
    std::string id = build_id_in(elf_getdata(scn, nullptr));
    if (!id.empty()) return id;
  }
  size_t nphdr = 0;
  if (elf_getphdrnum(elf_, &nphdr) != 0) return {};
  for (size_t i = 0; i < nphdr; ++i) {
    GElf_Phdr ph;
    if (gelf_getphdr(elf_, static_cast<int>(i), &ph) == nullptr || ph.p_type != PT_NOTE) continue;
    // Notes in a segment aligned to 8 use the 8-byte-aligned note layout (gABI).
    const Elf_Type type = ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR;
    std::string id = build_id_in(
        elf_getdata_rawchunk(elf_, static_cast<int64_t>(ph.p_offset), ph.p_filesz, type));
    if (!id.empty()) return id;
  }
  return {};
}

std::string ElfFile::soname() const {
  std::string soname;
  Elf_Scn* scn = nullptr;
  while ((scn = elf_nextscn(elf_, scn)) != nullptr) {
    GElf_Shdr sh;
    if (gelf_getshdr(scn, &sh) == nullptr || sh.sh_type != SHT_DYNAMIC) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (data == nullptr) continue;
    const size_t count = sh.sh_entsize != 0 ? sh.sh_size / sh.sh_entsize : 0;
    for (size_t i = 0; i < count; ++i) {
      GElf_Dyn dyn;
      if (gelf_getdyn(data, static_cast<int>(i), &dyn) == nullptr) continue;
      if (dyn.d_tag == DT_SONAME) {
        const char* name = elf_strptr(elf_, sh.sh_link, dyn.d_un.d_val);
        if (name != nullptr) soname = name;
      }
    }
  }
  return soname;
}

std::string read_build_id(const std::string& path) {
  auto file = ElfFile::open(path);
  return file.ok() ? (*file)->build_id() : std::string();
}

std::optional<FileStamp> read_file_stamp(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  FileStamp stamp;
  stamp.size_bytes = static_cast<int64_t>(st.st_size);
  stamp.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return stamp;
}

}  // namespace causeway::host
