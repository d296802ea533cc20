#include "mcp/audit_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>

#include "mcp/sha256.h"

namespace causeway::mcp {
namespace {

const std::string kGenesis(64, '0');

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

// The last complete line of the file behind `fd` ("" for an empty file). Records are capped
// well below the window, so reading the tail suffices.
std::string last_line(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || st.st_size == 0) return "";
  const off_t window = 256 * 1024;
  off_t start = st.st_size > window ? st.st_size - window : 0;
  std::string buf(static_cast<size_t>(st.st_size - start), '\0');
  ssize_t n = pread(fd, buf.data(), buf.size(), start);
  if (n <= 0) return "";
  buf.resize(static_cast<size_t>(n));
  while (!buf.empty() && buf.back() == '\n') buf.pop_back();
  size_t nl = buf.rfind('\n');
  return nl == std::string::npos ? buf : buf.substr(nl + 1);
}

}  // namespace

Json cap_json(const Json& value, size_t max_bytes) {
  std::string s = to_wire(value);
  if (s.size() <= max_bytes) return value;
  // Cut at a UTF-8 boundary so the prefix stays valid text.
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "…(truncated, " + std::to_string(s.size()) + " bytes)";
}

std::string audit_record_hash(const Json& record) {
  Json copy = record;
  copy.erase("hash");
  return sha256_hex(to_wire(copy));
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
  if (flock(fd_, LOCK_EX) != 0) {
    return Status::Error(std::string("Cannot lock audit log: ") + std::strerror(errno) + ".");
  }
  std::string prev = kGenesis;
  int64_t seq = 1;
  std::string tail = last_line(fd_);
  if (!tail.empty()) {
    Json last = Json::parse(tail, nullptr, false);
    if (last.is_object() && last.contains("hash") && last["hash"].is_string() &&
        last.contains("seq") && last["seq"].is_number_integer()) {
      prev = last["hash"].get<std::string>();
      seq = last["seq"].get<int64_t>() + 1;
    } else {
      // A damaged tail: chain to its raw bytes so appending continues; verification will
      // still name the damaged line.
      prev = sha256_hex(tail);
    }
  }
  Json r{{"seq", seq},
         {"ts", utc_now()},
         {"client", e.client},
         {"proto", e.protocol_version},
         {"method", e.method},
         {"outcome", e.outcome},
         {"result_bytes", e.result_bytes},
         {"dur_us", e.duration_us},
         {"prev", prev}};
  if (!e.tool.empty()) r["tool"] = e.tool;
  if (!e.id.is_null()) r["id"] = e.id;
  if (!e.arguments.is_null()) r["args"] = cap_json(e.arguments, kMaxAuditArgBytes);
  if (!e.error.empty()) r["error"] = e.error;
  // Round-trip once so the hash is computed over exactly what a verifier will parse.
  r = Json::parse(to_wire(r));
  r["hash"] = audit_record_hash(r);
  std::string line = to_wire(r) + "\n";
  ssize_t n = ::write(fd_, line.data(), line.size());
  int saved = errno;
  flock(fd_, LOCK_UN);
  if (n != static_cast<ssize_t>(line.size())) {
    return Status::Error(std::string("Cannot write audit log: ") +
                         (n < 0 ? std::strerror(saved) : "short write") + ".");
  }
  return Status::Ok();
}

AuditVerification verify_audit_log(const std::string& path) {
  AuditVerification v;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    v.problem = "Cannot read audit log " + path + ".";
    return v;
  }
  std::string line;
  std::string prev = kGenesis;
  int64_t expected_seq = 1;
  int64_t lineno = 0;
  auto bad = [&](std::string why) {
    v.ok = false;
    v.first_bad_line = lineno;
    v.problem = "Record on line " + std::to_string(lineno) + " " + why;
    return v;
  };
  while (std::getline(in, line)) {
    ++lineno;
    Json r = Json::parse(line, nullptr, false);
    if (!r.is_object()) return bad("is not a JSON object (damaged or edited).");
    if (!r.contains("hash") || !r["hash"].is_string() || !r.contains("prev") ||
        !r["prev"].is_string() || !r.contains("seq") || !r["seq"].is_number_integer()) {
      return bad("lacks seq/prev/hash (not a causeway audit record).");
    }
    if (r["seq"].get<int64_t>() != expected_seq) {
      return bad("has seq " + std::to_string(r["seq"].get<int64_t>()) + ", expected " +
                 std::to_string(expected_seq) + " (a record was removed or reordered).");
    }
    if (audit_record_hash(r) != r["hash"].get<std::string>()) {
      return bad("(seq " + std::to_string(expected_seq) +
                 ") does not match its hash: its content was edited.");
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
    return r.contains(k) && r[k].is_string() ? r[k].get<std::string>() : std::string();
  };
  // Built by appending: g++ 12 -O3 reports a false -Wrestrict on
  // operator+(const char*, std::string&&) (GCC bug 105329).
  std::string out = "#";
  out += r.contains("seq") ? to_wire(r["seq"]) : "?";
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
  out += " → ";
  out += str("outcome");
  if (r.contains("result_bytes")) {
    out += ' ';
    out += to_wire(r["result_bytes"]);
    out += 'B';
  }
  if (r.contains("dur_us") && r["dur_us"].is_number()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " %.1fms", r["dur_us"].get<double>() / 1000.0);
    out += buf;
  }
  if (r.contains("args")) out += " args=" + to_wire(r["args"]);
  if (!str("error").empty()) out += " error=\"" + str("error") + "\"";
  return out;
}

}  // namespace causeway::mcp
