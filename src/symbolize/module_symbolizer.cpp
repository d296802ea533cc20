#include "symbolize/module_symbolizer.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <tuple>

#include "host/elf_file.h"

namespace causeway::symbolize {
namespace {

// The default search path for separate debug info: next to the file, in .debug/ beside it,
// and under /usr/lib/debug (including /usr/lib/debug/.build-id/xx/yyyy.debug).
char* debuginfo_path = nullptr;

const Dwfl_Callbacks kCallbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

const char* die_string(Dwarf_Die* die, unsigned int name) {
  Dwarf_Attribute attr;
  return dwarf_formstring(dwarf_attr_integrate(die, name, &attr));
}

// Qualified, demangled name of a subprogram or inlined-subroutine DIE (following
// DW_AT_abstract_origin / DW_AT_specification to the declaration).
std::string die_function(Dwarf_Die* die) {
  const char* linkage = die_string(die, DW_AT_linkage_name);
  if (linkage == nullptr) linkage = die_string(die, DW_AT_MIPS_linkage_name);
  if (linkage != nullptr) return demangle(linkage);
  const char* name = die_string(die, DW_AT_name);
  return name != nullptr ? name : "";
}

// File and line where an inlined subroutine was called from (its caller's location).
void call_site(Dwarf_Die* cudie, Dwarf_Die* inlined, std::string& file, int64_t& line) {
  Dwarf_Attribute attr;
  Dwarf_Word value = 0;
  file.clear();
  line = 0;
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_file, &attr), &value) == 0) {
    Dwarf_Files* files = nullptr;
    size_t nfiles = 0;
    if (dwarf_getsrcfiles(cudie, &files, &nfiles) == 0 && value < nfiles) {
      const char* name = dwarf_filesrc(files, value, nullptr, nullptr);
      if (name != nullptr) file = name;
    }
  }
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_line, &attr), &value) == 0) {
    line = static_cast<int64_t>(value);
  }
}

// Functions and inlined calls of one compilation unit, indexed by address, from one walk
// over the unit's DIE tree. dwarf_getscopes() walks the tree again for every address, which
// measured ~1 ms per address in template-heavy C++ units (bench/symbolize_bench.cpp).
class CuIndex {
 public:
  struct Node {
    Dwarf_Die die;
    bool inlined = false;  // DW_TAG_inlined_subroutine (else DW_TAG_subprogram)
    std::vector<std::pair<Dwarf_Addr, Dwarf_Addr>> ranges;  // [low, high)
    std::vector<size_t> children;  // inlined calls directly inside this node
    bool contains(Dwarf_Addr a) const {
      for (const auto& [lo, hi] : ranges) {
        if (a >= lo && a < hi) return true;
      }
      return false;
    }
  };

  explicit CuIndex(Dwarf_Die* cudie) {
    walk(cudie, kNone);
    std::sort(top_.begin(), top_.end());
  }

  // Nodes containing `addr` (a DWARF address, bias removed), innermost first: inlined calls,
  // then the function owning the code. Empty when no function of this unit covers it.
  std::vector<const Node*> lookup(Dwarf_Addr addr) const {
    std::vector<const Node*> path;
    auto it = std::upper_bound(top_.begin(), top_.end(),
                               std::make_tuple(addr, ~Dwarf_Addr{0}, ~size_t{0}));
    // Functions do not overlap, except for the odd alias; a few entries back is enough.
    for (int back = 0; back < 16 && it != top_.begin(); ++back) {
      --it;
      if (addr < std::get<1>(*it)) {
        path.push_back(&nodes_[std::get<2>(*it)]);
        break;
      }
    }
    while (!path.empty()) {
      const Node* inner = nullptr;
      for (size_t c : path.back()->children) {
        if (nodes_[c].contains(addr)) {
          inner = &nodes_[c];
          break;
        }
      }
      if (inner == nullptr) break;
      path.push_back(inner);
    }
    std::reverse(path.begin(), path.end());
    return path;
  }

 private:
  static constexpr size_t kNone = ~size_t{0};

  static bool may_hold_code(int tag) {
    switch (tag) {
      case DW_TAG_formal_parameter:
      case DW_TAG_variable:
      case DW_TAG_member:
      case DW_TAG_base_type:
      case DW_TAG_pointer_type:
      case DW_TAG_reference_type:
      case DW_TAG_rvalue_reference_type:
      case DW_TAG_const_type:
      case DW_TAG_volatile_type:
      case DW_TAG_typedef:
      case DW_TAG_enumerator:
      case DW_TAG_enumeration_type:
      case DW_TAG_subrange_type:
      case DW_TAG_array_type:
      case DW_TAG_template_type_parameter:
      case DW_TAG_template_value_parameter:
      case DW_TAG_GNU_call_site:
      case DW_TAG_call_site:
      case DW_TAG_label:
        return false;
      default:
        return true;
    }
  }

  void walk(Dwarf_Die* parent, size_t parent_node) {
    Dwarf_Die child;
    if (dwarf_child(parent, &child) != 0) return;
    do {
      const int tag = dwarf_tag(&child);
      size_t node = parent_node;
      if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine) {
        Node n;
        n.die = child;
        n.inlined = tag == DW_TAG_inlined_subroutine;
        Dwarf_Addr base = 0, lo = 0, hi = 0;
        ptrdiff_t off = 0;
        while ((off = dwarf_ranges(&child, off, &base, &lo, &hi)) > 0) {
          if (hi > lo) n.ranges.emplace_back(lo, hi);
        }
        if (!n.ranges.empty()) {
          node = nodes_.size();
          // A function nested in another (local class, lambda body) is a function of its
          // own, not an inlined call.
          const bool top = !n.inlined || parent_node == kNone;
          for (const auto& [l, h] : n.ranges) {
            if (top) top_.emplace_back(l, h, node);
          }
          nodes_.push_back(std::move(n));
          if (!top) nodes_[parent_node].children.push_back(node);
        } else if (tag == DW_TAG_subprogram) {
          node = kNone;  // a declaration or abstract instance: nothing below it is code
        }
      }
      if (may_hold_code(tag)) walk(&child, node);
    } while (dwarf_siblingof(&child, &child) == 0);
  }

  std::vector<Node> nodes_;
  std::vector<std::tuple<Dwarf_Addr, Dwarf_Addr, size_t>> top_;  // (low, high, node)
};

}  // namespace

std::string demangle(const char* name) {
  if (name == nullptr) return {};
  if (name[0] != '_' || name[1] != 'Z') return name;
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status != 0 || out == nullptr) return name;
  std::string result(out);
  std::free(out);
  return result;
}

struct ModuleSymbolizer::Module {
  FrameKind unusable = FrameKind::kNative;  // kNative: usable; else why not
  Dwfl* dwfl = nullptr;
  Dwfl_Module* mod = nullptr;
  GElf_Addr bias = 0;
  std::vector<GElf_Phdr> loads;
  std::unordered_map<uint64_t, std::vector<Frame>> cache;         // by file offset
  std::unordered_map<Dwarf_Off, std::unique_ptr<CuIndex>> units;  // by CU DIE offset
  std::string path;
  // Function symbols sorted by address, loaded on first use. dwfl_module_addrinfo scans the
  // whole symbol table per call (60% of the benchmark's time on a 10^5-symbol binary).
  struct Symbol {
    Dwarf_Addr start, size;
    const char* name;  // owned by libdwfl's string table, valid while `dwfl` lives
  };
  std::vector<Symbol> symbols;
  bool symbols_loaded = false;

  // Name of the function symbol covering `addr` (dwfl address); nullptr when none does.
  // Zero-sized symbols only match their exact address: nothing is guessed from the nearest
  // preceding symbol.
  const char* symbol_at(Dwarf_Addr addr) {
    if (!symbols_loaded) {
      symbols_loaded = true;
      const int n = dwfl_module_getsymtab(mod);
      for (int i = 1; i < n; ++i) {
        GElf_Sym sym;
        GElf_Addr value = 0;
        GElf_Word shndx = 0;
        Elf* elf = nullptr;
        Dwarf_Addr sym_bias = 0;
        const char* name = dwfl_module_getsym_info(mod, i, &sym, &value, &shndx, &elf, &sym_bias);
        const int type = GELF_ST_TYPE(sym.st_info);
        if (name == nullptr || name[0] == '\0' || sym.st_shndx == SHN_UNDEF || value == 0 ||
            (type != STT_FUNC && type != STT_GNU_IFUNC)) {
          continue;
        }
        symbols.push_back({value, sym.st_size, name});
      }
      std::sort(symbols.begin(), symbols.end(), [](const Symbol& a, const Symbol& b) {
        return a.start != b.start ? a.start < b.start : a.size > b.size;
      });
    }
    auto it = std::upper_bound(symbols.begin(), symbols.end(), addr,
                               [](Dwarf_Addr a, const Symbol& s) { return a < s.start; });
    // Nested or aliased symbols: look a few entries back for one that covers the address.
    for (int back = 0; back < 8 && it != symbols.begin(); ++back) {
      --it;
      if (addr < it->start + it->size || addr == it->start) return it->name;
    }
    return nullptr;
  }

  ~Module() {
    if (dwfl != nullptr) dwfl_end(dwfl);
  }

  // Address in dwfl's coordinates of a file offset; nullopt when no loaded segment maps it.
  std::optional<Dwarf_Addr> address_of(uint64_t file_offset) const {
    for (const GElf_Phdr& ph : loads) {
      if (file_offset >= ph.p_offset && file_offset < ph.p_offset + ph.p_filesz) {
        return file_offset - ph.p_offset + ph.p_vaddr + bias;
      }
    }
    return std::nullopt;
  }

  const CuIndex& unit(Dwarf_Die* cudie) {
    auto& slot = units[dwarf_dieoffset(cudie)];
    if (!slot) slot = std::make_unique<CuIndex>(cudie);
    return *slot;
  }

  std::vector<Frame> resolve(uint64_t file_offset) {
    Frame base;
    base.module = path;
    base.pc = file_offset;
    base.module_offset = file_offset;
    if (unusable != FrameKind::kNative) {
      base.kind = unusable;
      return {base};
    }
    const auto addr = address_of(file_offset);
    if (!addr) {
      base.kind = FrameKind::kUnresolved;
      return {base};
    }
    const char* sym_name = symbol_at(*addr);

    Dwarf_Addr dw_bias = 0;
    Dwarf_Die* cudie = dwfl_module_addrdie(mod, *addr, &dw_bias);
    std::string file;
    int64_t line = 0;
    if (Dwfl_Line* l = dwfl_module_getsrc(mod, *addr)) {
      int lineno = 0;
      const char* src = dwfl_lineinfo(l, nullptr, &lineno, nullptr, nullptr, nullptr);
      if (src != nullptr) {
        file = src;
        line = lineno;
      }
    }
    std::vector<Frame> frames;
    if (cudie != nullptr) {
      const auto path = unit(cudie).lookup(*addr - dw_bias);
      for (const CuIndex::Node* node : path) {
        Frame f = base;
        f.kind = FrameKind::kNative;
        f.function = die_function(const_cast<Dwarf_Die*>(&node->die));
        f.file = file;
        f.line = line;
        f.inlined = node->inlined;
        if (!node->inlined && f.function.empty() && sym_name != nullptr) {
          f.function = demangle(sym_name);
        }
        frames.push_back(std::move(f));
        // The caller continues at the inlined subroutine's call site.
        if (node->inlined) call_site(cudie, const_cast<Dwarf_Die*>(&node->die), file, line);
      }
    }
    if (!frames.empty()) return frames;
    if (sym_name != nullptr) {
      // No DWARF scope: the symbol table names the function; a line table may still know
      // the line (e.g. assembly with line info).
      base.function = demangle(sym_name);
      base.kind = line > 0 ? FrameKind::kNative : FrameKind::kSymbolOnly;
      if (line > 0) {
        base.file = file;
        base.line = line;
      }
      return {base};
    }
    base.kind = FrameKind::kUnresolved;
    return {base};
  }
};

ModuleSymbolizer::ModuleSymbolizer() = default;
ModuleSymbolizer::~ModuleSymbolizer() = default;

ModuleSymbolizer::Module& ModuleSymbolizer::module(const std::string& path,
                                                   const RecordedModule& recorded) {
  std::string key = path + '\0' + recorded.build_id + '\0';
  if (recorded.stamp) {
    key +=
        std::to_string(recorded.stamp->size_bytes) + ':' + std::to_string(recorded.stamp->mtime_ns);
  } else {
    key += '-';
  }
  auto it = modules_.find(key);
  if (it != modules_.end()) return *it->second;
  auto m = std::make_unique<Module>();
  m->path = path;
  ++modules_opened_;
  constexpr std::string_view kDeleted = " (deleted)";
  const bool deleted =
      path.size() > kDeleted.size() &&
      path.compare(path.size() - kDeleted.size(), kDeleted.size(), kDeleted.data()) == 0;
  if (deleted || access(path.c_str(), R_OK) != 0) {
    m->unusable = FrameKind::kBinaryMissing;
  } else if (host::read_build_id(path) != recorded.build_id) {
    // Checked before any symbol is read: a rebuilt or upgraded file would otherwise yield
    // plausible but wrong names.
    m->unusable = FrameKind::kBinaryChanged;
  } else if (recorded.build_id.empty() && !recorded.stamp) {
    // Neither the trace nor the file has a build-id, and the trace has no stamp either: a
    // rebuilt file would pass every check we can make, so nothing is read (header comment).
    m->unusable = FrameKind::kBinaryUnverified;
  } else if (recorded.build_id.empty() && host::read_file_stamp(path) != recorded.stamp) {
    // No build-id on either side, so the size and mtime stand in for it. A file with a
    // build-id is judged by that alone: a touched or copied file with the same id is the same.
    m->unusable = FrameKind::kBinaryChanged;
  } else {
    m->dwfl = dwfl_begin(&kCallbacks);
    if (m->dwfl != nullptr) {
      const std::string name = path.substr(path.rfind('/') + 1);
      // Reported at base 0: addresses are the file's own virtual addresses (plus the bias
      // libdwfl reports for position-independent files).
      m->mod = dwfl_report_elf(m->dwfl, name.c_str(), path.c_str(), -1, 0, false);
      dwfl_report_end(m->dwfl, nullptr, nullptr);
    }
    Elf* elf = m->mod != nullptr ? dwfl_module_getelf(m->mod, &m->bias) : nullptr;
    size_t nphdr = 0;
    if (elf == nullptr || elf_getphdrnum(elf, &nphdr) != 0) {
      m->unusable = FrameKind::kBinaryMissing;
    } else {
      for (size_t i = 0; i < nphdr; ++i) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf, static_cast<int>(i), &ph) != nullptr && ph.p_type == PT_LOAD) {
          m->loads.push_back(ph);
        }
      }
    }
  }
  return *modules_.emplace(std::move(key), std::move(m)).first->second;
}

const std::vector<Frame>& ModuleSymbolizer::resolve(const std::string& path,
                                                    const RecordedModule& recorded,
                                                    uint64_t file_offset) {
  Module& m = module(path, recorded);
  auto it = m.cache.find(file_offset);
  if (it != m.cache.end()) return it->second;
  ++addresses_resolved_;
  return m.cache.emplace(file_offset, m.resolve(file_offset)).first->second;
}

}  // namespace causeway::symbolize
