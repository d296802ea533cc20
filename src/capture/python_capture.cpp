#include "capture/python_capture.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "causeway/abi/events.h"

namespace causeway::capture {

PythonCapture::PythonCapture(RowSink& sink, int map_fd, bool enabled)
    : resolver_(memory_),
      stacks_(std::make_unique<PythonStacks>(sink, resolver_)),
      map_fd_(map_fd),
      enabled_(enabled) {
  stacks_->set_exit_hook([this](int32_t pid) { on_exit(pid); });
}

void PythonCapture::scan(int32_t pid, const std::vector<Mapping>& maps) {
  std::error_code ec;
  const std::string proc = "/proc/" + std::to_string(pid);
  const std::string exe = std::filesystem::read_symlink(proc + "/exe", ec).string();
  auto known = outcomes_.find(pid);
  if (known != outcomes_.end() && known->second.current) {
    // Still the same interpreter (no exec since)? Then nothing changed.
    bool mapped = false;
    for (const Mapping& m : maps) mapped = mapped || m.path == known->second.binary;
    if (mapped) return;
    forget(pid);
    outcomes_.erase(pid);
  }
  // The maps were read before the exe link: if an exec happened in between, they describe
  // the old image. Examine nothing then; the exec event brings a consistent rescan.
  bool exe_mapped = false;
  for (const Mapping& m : maps) exe_mapped = exe_mapped || m.path == exe;
  if (!exe_mapped) return;
  // Look again only when something new could hold an interpreter (a new exe or libpython).
  bool fresh = !examined_.count({pid, exe});
  for (const Mapping& m : maps) {
    if (m.offset == 0 && may_hold_python(m.path, exe) && m.path != exe)
      fresh = fresh || !examined_.count({pid, m.path});
  }
  if (!fresh) return;
  examined_.insert({pid, exe});
  for (const Mapping& m : maps) {
    if (m.offset == 0 && may_hold_python(m.path, exe)) examined_.insert({pid, m.path});
  }

  auto found = detect_python(pid, maps, exe, proc + "/root", memory_);
  if (!found) return;
  Outcome o;
  o.binary = found->binary;
  if (!found->process.ok()) {
    o.status = found->process.error();
    std::fprintf(stderr, "causeway: no Python stacks for process %d (%s): %s.\n", pid,
                 o.binary.c_str(), o.status.c_str());
    outcomes_[pid] = o;
    return;
  }
  const PythonProcess& p = found->process.value();
  o.version = p.version;
  if (!enabled_) {
    o.status = "off (--no-python-stacks or --no-stacks)";
    outcomes_[pid] = o;
    return;
  }
  cw_py_proc cfg{};
  fill_py_proc(p.layout, p.runtime, cfg);
  const auto key = static_cast<uint32_t>(pid);
  if (map_fd_ >= 0 && bpf_map_update_elem(map_fd_, &key, &cfg, BPF_ANY) != 0) {
    o.status = "cannot configure the BPF walker (py_procs map full or unavailable)";
    std::fprintf(stderr, "causeway: no Python stacks for process %d: %s.\n", pid, o.status.c_str());
    outcomes_[pid] = o;
    return;
  }
  resolver_.add_process(pid, p.layout);
  o.status = "ok";
  outcomes_[pid] = o;
}

void PythonCapture::forget(int32_t pid) {
  stacks_->forget_process(pid);  // calls on_exit()
}

void PythonCapture::on_exit(int32_t pid) {
  // The outcome stays for meta_json(); a later image under this pid is examined afresh.
  if (auto it = outcomes_.find(pid); it != outcomes_.end()) it->second.current = false;
  if (map_fd_ >= 0) {
    const auto key = static_cast<uint32_t>(pid);
    bpf_map_delete_elem(map_fd_, &key);
  }
  for (auto it = examined_.begin(); it != examined_.end();) {
    it = it->first == pid ? examined_.erase(it) : std::next(it);
  }
}

std::string PythonCapture::meta_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [pid, o] : outcomes_) {
    nlohmann::json e = {{"binary", o.binary}, {"status", o.status}};
    if (!o.version.empty()) e["version"] = o.version;
    j[std::to_string(pid)] = e;
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace causeway::capture
