#include "capture/python_process.h"

#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <regex>

namespace causeway::capture {
namespace {

std::string base_name(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

}  // namespace

Result<ElfDataSymbols> read_python_symbols(const std::string& path) {
  auto file = host::ElfFile::open(path);
  if (!file.ok()) {
    return Status::Error(::access(path.c_str(), R_OK) != 0 ? "cannot open " + path
                                                           : path + " is not an ELF file");
  }
  Elf* elf = (*file)->elf();
  ElfDataSymbols out;
  GElf_Ehdr eh;
  if (!gelf_getehdr(elf, &eh)) return Status::Error(path + " has no ELF header");
  out.is_shared = eh.e_type == ET_DYN;
  size_t nphdr = 0;
  elf_getphdrnum(elf, &nphdr);
  bool have_load = false;
  for (size_t i = 0; i < nphdr; i++) {
    GElf_Phdr ph;
    if (!gelf_getphdr(elf, static_cast<int>(i), &ph) || ph.p_type != PT_LOAD) continue;
    if (!have_load || ph.p_vaddr < out.first_load_vaddr) {
      out.first_load_vaddr = ph.p_vaddr;
      out.first_load_offset = ph.p_offset;
      have_load = true;
    }
  }
  for (Elf64_Word wanted : {SHT_DYNSYM, SHT_SYMTAB}) {
    Elf_Scn* scn = nullptr;
    while ((scn = elf_nextscn(elf, scn)) != nullptr) {
      GElf_Shdr sh;
      if (!gelf_getshdr(scn, &sh) || sh.sh_type != wanted || sh.sh_entsize == 0) continue;
      Elf_Data* data = elf_getdata(scn, nullptr);
      if (!data) continue;
      const size_t count = sh.sh_size / sh.sh_entsize;
      for (size_t i = 0; i < count; i++) {
        GElf_Sym sym;
        if (!gelf_getsym(data, static_cast<int>(i), &sym) || sym.st_shndx == SHN_UNDEF ||
            sym.st_value == 0 || GELF_ST_TYPE(sym.st_info) != STT_OBJECT)
          continue;
        const char* name = elf_strptr(elf, sh.sh_link, sym.st_name);
        if (!name) continue;
        if (!out.py_runtime && std::strcmp(name, "_PyRuntime") == 0) out.py_runtime = sym.st_value;
        if (!out.py_version && std::strcmp(name, "Py_Version") == 0) out.py_version = sym.st_value;
      }
    }
  }
  return out;
}

std::optional<int> python_minor_from_name(const std::string& path) {
  static const std::regex kName(R"(^(lib)?python3\.(\d+)[a-z]*(\.so.*)?$)");
  std::smatch m;
  const std::string name = base_name(path);
  if (!std::regex_match(name, m, kName)) return std::nullopt;
  return std::stoi(m[2].str());
}

bool may_hold_python(const std::string& path, const std::string& exe) {
  if (path.empty() || path[0] != '/') return false;
  return path == exe || base_name(path).rfind("libpython3", 0) == 0;
}

std::optional<PythonDetection> detect_python(int32_t pid, const std::vector<Mapping>& maps,
                                             const std::string& exe, const std::string& open_prefix,
                                             ProcessMemory& memory) {
  // libpython first: an executable linked against it defines no _PyRuntime of its own.
  std::vector<const Mapping*> candidates;
  for (const Mapping& m : maps) {
    if (m.offset != 0 || !may_hold_python(m.path, exe)) continue;
    bool dup = false;
    for (const Mapping* c : candidates) dup = dup || c->path == m.path;
    if (dup) continue;
    if (base_name(m.path).rfind("libpython3", 0) == 0)
      candidates.insert(candidates.begin(), &m);
    else
      candidates.push_back(&m);
  }
  for (const Mapping* m : candidates) {
    auto syms = read_python_symbols(open_prefix + m->path);
    if (!syms.ok() || !syms.value().py_runtime) continue;
    const ElfDataSymbols& s = syms.value();
    PythonDetection d;
    d.binary = m->path;
    // Load bias: where the first PT_LOAD's page landed, minus its link-time address.
    const uint64_t page = 4096;
    const uint64_t bias = s.is_shared ? m->start - (s.first_load_vaddr & ~(page - 1)) : 0;
    PythonProcess p;
    p.binary = m->path;
    p.runtime = bias + *s.py_runtime;
    uint32_t hex = 0;
    if (s.py_version) {
      uint64_t v = 0;
      if (!memory.read(pid, bias + *s.py_version, &v, sizeof(v))) {
        d.process = Status::Error("cannot read Py_Version from process " + std::to_string(pid));
        return d;
      }
      hex = static_cast<uint32_t>(v);
    }
    const std::optional<int> name_minor = python_minor_from_name(m->path);
    const int minor = hex != 0 ? static_cast<int>((hex >> 16) & 0xff) : name_minor.value_or(-1);
    if ((hex != 0 && (hex >> 24) != 3) || minor < 0) {
      d.process = Status::Error("cannot tell which CPython version " + m->path +
                                " is (no Py_Version symbol and no version in its name)");
      return d;
    }
    if (minor >= 13) {
      std::vector<uint8_t> raw(kPyDebugOffsetsBytes);
      if (!memory.read(pid, p.runtime, raw.data(), raw.size())) {
        d.process = Status::Error("cannot read _PyRuntime of process " + std::to_string(pid));
        return d;
      }
      auto layout = python_layout_from_debug_offsets(raw);
      if (!layout.ok()) {
        d.process = layout.status();
        return d;
      }
      p.layout = layout.value();
    } else {
      auto layout = python_layout_for(minor);
      if (!layout.ok()) {
        d.process = layout.status();
        return d;
      }
      p.layout = layout.value();
      p.layout.version_hex = hex;
    }
    p.version = hex != 0 ? python_version_text(hex) : "3." + std::to_string(minor);
    d.process = std::move(p);
    return d;
  }
  return std::nullopt;
}

}  // namespace causeway::capture
