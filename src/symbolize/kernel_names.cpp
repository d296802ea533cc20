#include "symbolize/kernel_names.h"

#include <sqlite3.h>

#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "symbolize/module_symbolizer.h"
#include "symbolize/stack_symbols.h"

namespace causeway::symbolize {
namespace {

constexpr std::string_view kStubPrefix = "__device_stub__";

bool identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Where kStubPrefix starts a name component ("__device_stub__x", "ns::__device_stub__x",
// "void __device_stub__x<int>(...)"), or npos: a function merely containing the text in the
// middle of an identifier is not a stub.
size_t stub_prefix_at(std::string_view function) {
  for (size_t at = function.find(kStubPrefix); at != std::string_view::npos;
       at = function.find(kStubPrefix, at + 1)) {
    if (at == 0 || function[at - 1] == ':' || function[at - 1] == ' ') return at;
  }
  return std::string_view::npos;
}

using UniqueStmt = std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)>;

UniqueStmt prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) {
    sqlite3_finalize(s);
    s = nullptr;
  }
  return UniqueStmt(s, sqlite3_finalize);
}

Status sql_error(sqlite3* db, const char* what) {
  return Status::Error(std::string("Naming kernels failed while ") + what + ": " +
                       sqlite3_errmsg(db) + ".");
}

// The `string` table, interned on demand: names already there (a kernel launched from two
// processes, a name that is also a symbol elsewhere) are reused, new ones appended.
class StringTable {
 public:
  explicit StringTable(sqlite3* db) : db_(db) {}

  // The id of `s`, inserted when new; nullopt on an SQLite error.
  std::optional<int64_t> id(const std::string& s) {
    if (!loaded_) {
      loaded_ = true;
      UniqueStmt all = prepare(db_, "SELECT id, str FROM string ORDER BY id");
      if (!all) return std::nullopt;
      while (sqlite3_step(all.get()) == SQLITE_ROW) {
        const unsigned char* t = sqlite3_column_text(all.get(), 1);
        if (t != nullptr)
          ids_.emplace(reinterpret_cast<const char*>(t), sqlite3_column_int64(all.get(), 0));
      }
    }
    if (auto it = ids_.find(s); it != ids_.end()) return it->second;
    UniqueStmt ins = prepare(db_, "INSERT INTO string (str) VALUES (?1)");
    if (!ins) return std::nullopt;
    sqlite3_bind_text(ins.get(), 1, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(ins.get()) != SQLITE_DONE) return std::nullopt;
    const int64_t id = sqlite3_last_insert_rowid(db_);
    ids_.emplace(s, id);
    return id;
  }

 private:
  sqlite3* db_;
  bool loaded_ = false;
  std::unordered_map<std::string, int64_t> ids_;
};

}  // namespace

std::string kernel_name(std::string_view function) {
  const size_t at = stub_prefix_at(function);
  if (at == std::string_view::npos) return std::string(function);
  const std::string_view rest = function.substr(at + kStubPrefix.size());
  size_t end = 0;
  while (end < rest.size() && identifier_char(rest[end])) ++end;
  if (end > 1 && rest[0] == 'Z') {
    // nvcc's stub: its name is the kernel's mangled name without the leading '_'. Only taken
    // when that really demangles (a clang stub of a kernel named "Zed" stays as it is).
    const std::string mangled = "_" + std::string(rest.substr(0, end));
    std::string demangled = demangle(mangled.c_str());
    if (demangled != mangled) return demangled;
  }
  return std::string(function.substr(0, at)) + std::string(rest);
}

Result<KernelNamingSummary> name_kernels(sqlite3* db, StackSymbolizer& symbolizer) {
  KernelNamingSummary summary;
  // One pass over cuda_call (the IN lists are computed once), not one per kernel; comparing
  // function ids rather than looking each call's name up took a third less on 7.7 M calls.
  UniqueStmt todo = prepare(db,
                            "SELECT k.id, k.upid, k.addr FROM cuda_kernel k WHERE k.name_id IS "
                            "NULL AND k.addr IS NOT NULL AND k.id IN (SELECT c.kernel_id FROM "
                            "cuda_call c WHERE c.kernel_id IS NOT NULL AND c.function_id IN "
                            "(SELECT id FROM string WHERE substr(str, 1, 4) = 'cuda')) ORDER BY "
                            "k.id");
  if (!todo) return sql_error(db, "finding the launched kernels");
  struct Kernel {
    int64_t id, upid;
    uint64_t addr;
  };
  std::vector<Kernel> kernels;
  int rc;
  while ((rc = sqlite3_step(todo.get())) == SQLITE_ROW) {
    kernels.push_back({sqlite3_column_int64(todo.get(), 0), sqlite3_column_int64(todo.get(), 1),
                       static_cast<uint64_t>(sqlite3_column_int64(todo.get(), 2))});
  }
  if (rc != SQLITE_DONE) return sql_error(db, "finding the launched kernels");

  StringTable strings(db);
  UniqueStmt set = prepare(db, "UPDATE cuda_kernel SET name_id = ?2 WHERE id = ?1");
  if (!set) return sql_error(db, "preparing the update");
  for (const Kernel& k : kernels) {
    ++summary.kernels;
    const std::vector<Frame>& frames = symbolizer.code_at(k.upid, k.addr);
    // The function owning the code is the last frame; inner ones are calls inlined at its
    // entry (nvcc's stub inlined into the kernel's host function), not what was launched.
    const Frame& owner = frames.back();
    if ((owner.kind != FrameKind::kNative && owner.kind != FrameKind::kSymbolOnly) ||
        owner.function.empty()) {
      continue;
    }
    const auto name_id = strings.id(kernel_name(owner.function));
    if (!name_id) return sql_error(db, "adding a kernel name");
    sqlite3_reset(set.get());
    sqlite3_bind_int64(set.get(), 1, k.id);
    sqlite3_bind_int64(set.get(), 2, *name_id);
    if (sqlite3_step(set.get()) != SQLITE_DONE) return sql_error(db, "storing a kernel name");
    ++summary.named;
  }
  return summary;
}

}  // namespace causeway::symbolize
