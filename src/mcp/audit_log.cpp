#include "mcp/audit_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <set>

#include "common/terminal_text.h"
#include "mcp/sha256.h"

namespace causeway::mcp {
namespace {

const std::string kGenesis(64, '0');
constexpr std::string_view kHashKey = ",\"hash\":\"";
// `,"hash":"` + 64 hex digits + `"}`
constexpr size_t kHashSuffixBytes = 9 + 64 + 2;

std::string utc_now() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(ms));
  return buf;
}

// The prefix of `s` of at most `max` bytes, cut at a UTF-8 boundary.
std::string_view utf8_prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut);
}

std::string truncation_marker(std::string_view original) {
  return "…(truncated, " + std::to_string(original.size()) + " bytes, sha256 " +
         sha256_hex(original) + ")";
}

// Offset where the line that ends just before `end` starts (after the previous '\n', or 0),
// scanning backwards at most `limit` bytes; -1 when no line start was found within the limit.
off_t line_start_before(int fd, off_t end, off_t limit) {
  char buf[65536];
  off_t pos = end;
  while (pos > 0 && end - pos < limit) {
    off_t chunk = std::min<off_t>(static_cast<off_t>(sizeof buf), pos);
    ssize_t n = pread(fd, buf, static_cast<size_t>(chunk), pos - chunk);
    if (n != chunk) return -1;
    for (off_t i = chunk - 1; i >= 0; --i) {
      if (buf[i] == '\n') return pos - chunk + i + 1;
    }
    pos -= chunk;
  }
  return pos == 0 ? 0 : -1;
}

// Where the next record chains to. A file whose last line is cut short (a writer that died
// mid-write) has that fragment removed first: it never was a record.
struct Tail {
  int64_t seq = 0;
  std::string hash = kGenesis;
};

Result<Tail> read_tail(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    return Status::Error(std::string("cannot read it: ") + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode) || st.st_size == 0) return Tail{};  // a device, or an empty file
  off_t size = st.st_size;
  char last = 0;
  if (pread(fd, &last, 1, size - 1) != 1) {
    return Status::Error(std::string("cannot read it: ") + std::strerror(errno));
  }
  if (last != '\n') {
    off_t start = line_start_before(fd, size, size);
    if (start < 0 || ftruncate(fd, start) != 0) {
      return Status::Error(std::string("cannot remove a torn record at its end: ") +
                           std::strerror(errno));
    }
    size = start;
    if (size == 0) return Tail{};
  }
  const off_t max_line = static_cast<off_t>(kMaxAuditRecordBytes) + 1;
  off_t start = line_start_before(fd, size - 1, max_line);
  Tail tail;
  if (start < 0) {
    // Longer than any record: damaged. Chain past it; verification names the line.
    tail.hash = sha256_hex("damaged record at offset " + std::to_string(size));
    return tail;
  }
  std::string line(static_cast<size_t>(size - 1 - start), '\0');
  if (pread(fd, line.data(), line.size(), start) != static_cast<ssize_t>(line.size())) {
    return Status::Error(std::string("cannot read it: ") + std::strerror(errno));
  }
  Json r = parse_audit_line(line);
  if (r.is_object() && r.contains("hash") && r["hash"].is_string() && r.contains("seq") &&
      r["seq"].is_number_integer()) {
    tail.seq = r["seq"].get<int64_t>();
    tail.hash = r["hash"].get<std::string>();
  } else {
    // A damaged tail: chain to its raw bytes so appending continues; verification will still
    // name the damaged line.
    tail.hash = sha256_hex(line);
  }
  return tail;
}

// Writes all of `data` with one write() (retried only when interrupted before writing).
ssize_t write_once(int fd, const std::string& data) {
  for (;;) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    return n;
  }
}

// The pre-0.x record hash: SHA-256 of nlohmann's re-serialisation without "hash". Only used
// to tell the reader that a log predates byte-exact hashing.
std::string legacy_record_hash(const Json& record) {
  Json copy = record;
  copy.erase("hash");
  return sha256_hex(to_wire(copy));
}

}  // namespace

std::string cap_text(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  return std::string(utf8_prefix(text, max_bytes)) + truncation_marker(text);
}

Json cap_json(const Json& value, size_t max_bytes) {
  std::string s = to_wire(value);
  if (s.size() <= max_bytes) return value;
  return std::string(utf8_prefix(s, max_bytes)) + truncation_marker(s);
}

std::string seal_audit_record(const Json& record) {
  std::string body = to_wire(record);
  std::string line = body.substr(0, body.size() - 1);
  line += kHashKey;
  line += sha256_hex(body);
  line += "\"}";
  return line;
}

std::string audit_line_hash(std::string_view line) {
  if (line.size() < kHashSuffixBytes + 2 || line.back() != '}') return "";
  const size_t at = line.size() - kHashSuffixBytes;
  if (line.substr(at, kHashKey.size()) != kHashKey || line[line.size() - 2] != '"') return "";
  for (size_t i = at + kHashKey.size(); i < line.size() - 2; ++i) {
    const char c = line[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return "";
  }
  std::string body(line.substr(0, at));
  body += '}';
  return sha256_hex(body);
}

Json parse_audit_line(std::string_view line, std::string* duplicate_key) {
  // One set of keys per open object; a key seen twice in the same object is recorded.
  std::vector<std::set<std::string>> open;
  std::string dup;
  Json::parser_callback_t cb = [&](int, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        open.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!open.empty()) open.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!open.empty() && !open.back().insert(parsed.get<std::string>()).second && dup.empty()) {
          dup = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  Json r = Json::parse(line.begin(), line.end(), cb, /*allow_exceptions=*/false);
  if (duplicate_key) *duplicate_key = dup;
  return r;
}

AuditLineReader::Status AuditLineReader::next(std::string& line, bool& terminated) {
  line.clear();
  terminated = false;
  bool overlong = false;
  bool any = false;
  int c;
  while ((c = getc_unlocked(in_)) != EOF) {
    any = true;
    if (c == '\n') {
      terminated = true;
      break;
    }
    if (line.size() < max_) {
      line.push_back(static_cast<char>(c));
    } else {
      overlong = true;
    }
  }
  if (!any) return Status::kEof;
  return overlong ? Status::kOverlong : Status::kLine;
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::Error("Cannot open audit log " + path + ": " + std::strerror(errno) +
                         "; pass a writable path with --audit-log FILE.");
  }
  return std::unique_ptr<AuditLog>(new AuditLog(fd, path));
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
}

Status AuditLog::append(const AuditEntry& e) {
  std::lock_guard<std::mutex> lock(mu_);
  auto fail = [&](const std::string& why) {
    return Status::Error("Cannot write audit log " + path_ + ": " + why + ".");
  };
  if (flock(fd_, LOCK_EX) != 0) return fail(std::string("cannot lock it: ") + std::strerror(errno));
  struct Unlock {
    int fd;
    ~Unlock() { flock(fd, LOCK_UN); }
  } unlock{fd_};
  auto tail = read_tail(fd_);
  if (!tail.ok()) return fail(tail.error());
  Json r{{"seq", tail->seq + 1},
         {"ts", utc_now()},
         {"client", cap_text(e.client, kMaxAuditTextBytes)},
         {"proto", cap_text(e.protocol_version, kMaxAuditTextBytes)},
         {"method", cap_text(e.method, kMaxAuditTextBytes)},
         {"outcome", cap_text(e.outcome, kMaxAuditTextBytes)},
         {"result_bytes", e.result_bytes},
         {"dur_us", e.duration_us},
         {"prev", tail->hash}};
  if (!e.tool.empty()) r["tool"] = cap_text(e.tool, kMaxAuditTextBytes);
  if (!e.id.is_null()) r["id"] = cap_json(e.id, kMaxAuditIdBytes);
  if (!e.arguments.is_null()) r["args"] = cap_json(e.arguments, kMaxAuditArgBytes);
  if (!e.error.empty()) r["error"] = cap_text(e.error, kMaxAuditErrorBytes);
  std::string line = seal_audit_record(r) + "\n";
  struct stat st {};
  const bool regular = fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
  ssize_t n = write_once(fd_, line);
  if (n == static_cast<ssize_t>(line.size())) return Status::Ok();
  const int saved = errno;
  // Part of the record reached the file (a disk that filled up mid-write): cut it off again so
  // the log ends with a whole record. O_APPEND wrote it at the old end of file.
  if (n > 0 && regular && ftruncate(fd_, st.st_size) != 0) {
    return fail(std::string("short write, and removing the partial record failed: ") +
                std::strerror(errno));
  }
  return fail(n < 0 ? std::strerror(saved) : "short write (disk full?)");
}

AuditVerification verify_audit_log(const std::string& path) {
  AuditVerification v;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    v.problem = "Cannot read audit log " + path + ": " + std::strerror(errno) + ".";
    return v;
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(f, std::fclose);
  AuditLineReader reader(f, kMaxAuditRecordBytes);
  std::string line;
  bool terminated = false;
  std::string prev = kGenesis;
  int64_t expected_seq = 1;
  int64_t lineno = 0;
  auto bad = [&](std::string why) {
    v.ok = false;
    v.first_bad_line = lineno;
    v.problem = "Record on line " + std::to_string(lineno) + " " + why;
    return v;
  };
  for (;;) {
    auto status = reader.next(line, terminated);
    if (status == AuditLineReader::Status::kEof) break;
    ++lineno;
    if (status == AuditLineReader::Status::kOverlong) {
      return bad("is longer than any record causeway writes (" +
                 std::to_string(kMaxAuditRecordBytes) + " bytes): damaged or not an audit record.");
    }
    if (!terminated) {
      return bad(
          "is cut short (no newline at its end): a writer stopped in the middle of it; "
          "the " +
          std::to_string(v.records) + " records before it verify.");
    }
    std::string dup;
    Json r = parse_audit_line(line, &dup);
    if (!r.is_object()) return bad("is not a JSON object (damaged or edited).");
    if (!dup.empty()) {
      return bad("has the key \"" + terminal_safe(dup) +
                 "\" twice: it was edited (readers disagree on which value counts).");
    }
    if (!r.contains("hash") || !r["hash"].is_string() || !r.contains("prev") ||
        !r["prev"].is_string() || !r.contains("seq") || !r["seq"].is_number_integer()) {
      return bad("lacks seq/prev/hash (not a causeway audit record).");
    }
    if (r["seq"].get<int64_t>() != expected_seq) {
      return bad("has seq " + std::to_string(r["seq"].get<int64_t>()) + ", expected " +
                 std::to_string(expected_seq) + " (a record was removed or reordered).");
    }
    if (audit_line_hash(line) != r["hash"].get<std::string>()) {
      if (legacy_record_hash(r) == r["hash"].get<std::string>()) {
        return bad("(seq " + std::to_string(expected_seq) +
                   ") was written by an older causeway that hashed re-serialised JSON, which "
                   "cannot be checked byte for byte; keep that log as it is and start a new one.");
      }
      return bad("(seq " + std::to_string(expected_seq) +
                 ") does not match its hash: its bytes were edited (a value, key order, "
                 "spacing or a key).");
    }
    if (r["prev"].get<std::string>() != prev) {
      return bad("(seq " + std::to_string(expected_seq) +
                 ") does not chain to the record before it: a record was removed, inserted or "
                 "replaced.");
    }
    prev = r["hash"].get<std::string>();
    ++expected_seq;
    ++v.records;
  }
  v.ok = true;
  return v;
}

std::string render_audit_record(const Json& r) {
  auto str = [&](const char* k) {
    return r.contains(k) && r[k].is_string() ? terminal_safe(r[k].get<std::string>())
                                             : std::string();
  };
  // Built by appending: g++ 12 -O3 reports a false -Wrestrict on
  // operator+(const char*, std::string&&) (GCC bug 105329).
  std::string out = "#";
  out += r.contains("seq") ? terminal_safe(to_wire(r["seq"])) : "?";
  out += ' ';
  out += str("ts");
  out += ' ';
  out += str("client").empty() ? "-" : str("client");
  out += ' ';
  out += str("method");
  if (!str("tool").empty()) {
    out += ' ';
    out += str("tool");
  }
  if (r.contains("id")) {
    out += " id=";
    out += terminal_safe(to_wire(r["id"]));
  }
  out += " → ";
  out += str("outcome");
  if (r.contains("result_bytes")) {
    out += ' ';
    out += terminal_safe(to_wire(r["result_bytes"]));
    out += 'B';
  }
  if (r.contains("dur_us") && r["dur_us"].is_number()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " %.1fms", r["dur_us"].get<double>() / 1000.0);
    out += buf;
  }
  if (r.contains("args")) out += " args=" + terminal_safe(to_wire(r["args"]));
  if (!str("error").empty()) out += " error=\"" + str("error") + "\"";
  return out;
}

}  // namespace causeway::mcp
