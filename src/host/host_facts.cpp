#include "host/host_facts.h"

#include <bpf/libbpf.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace causeway::host {

Capabilities read_capabilities() {
  Capabilities caps;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    unsigned long long mask = std::stoull(line.substr(7), nullptr, 16);
    caps.sys_admin = (mask >> 21) & 1;
    caps.perfmon = (mask >> 38) & 1;
    caps.bpf = (mask >> 39) & 1;
    caps.known = true;
  }
  return caps;
}

std::string find_tracefs_mount() {
  std::ifstream mounts("/proc/mounts");
  std::string line;
  std::string debugfs;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string device;
    std::string dir;
    std::string type;
    fields >> device >> dir >> type;
    if (type == "tracefs") return dir;
    if (type == "debugfs") debugfs = dir;
  }
  // tracefs is auto-mounted under debugfs on access on many systems.
  if (!debugfs.empty() && access((debugfs + "/tracing/events").c_str(), R_OK) == 0) {
    return debugfs + "/tracing";
  }
  return {};
}

namespace {

int silent_print(enum libbpf_print_level, const char*, va_list) {
  return 0;
}

}  // namespace

HostFacts read_host_facts() {
  HostFacts facts;
  utsname uts{};
  if (uname(&uts) == 0) {
    facts.kernel_release = uts.release;
    facts.hostname = uts.nodename;
  }
  facts.btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
  facts.tracefs_mount = find_tracefs_mount();
  facts.uprobes = access("/sys/bus/event_source/devices/uprobe/type", R_OK) == 0;
  facts.caps = read_capabilities();

  // The authoritative answer to "may I load BPF?" is to try: capabilities can be present
  // while a LSM or kernel.unprivileged_bpf_disabled still refuses.
  libbpf_print_fn_t previous = libbpf_set_print(silent_print);
  int rc = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACEPOINT, nullptr);
  libbpf_set_print(previous);
  if (rc == 1) {
    facts.bpf_usable = true;
  } else if (rc == 0 && !facts.caps.sys_admin && !facts.caps.bpf) {
    // libbpf reports a refused load as "unsupported"; without the capability it is a refusal.
    facts.bpf_error = "loading a BPF program is not permitted without CAP_BPF or CAP_SYS_ADMIN";
  } else if (rc == 0) {
    facts.bpf_error = "this kernel does not support BPF tracepoint programs";
  } else {
    facts.bpf_error = std::string("loading a BPF program failed: ") + std::strerror(-rc);
  }
  return facts;
}

}  // namespace causeway::host
