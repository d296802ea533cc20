// Facts about this machine that decide whether eBPF tracing can work: kernel release, BTF,
// capabilities, tracefs, uprobe support and whether the bpf() system call is usable.
//
// All functions read /proc and /sys (and may load one trivial BPF program to probe
// permissions); none changes the system. Thread-safe: no shared state.
#pragma once

#include <string>

namespace causeway::host {

struct Capabilities {
  bool bpf = false;        // CAP_BPF (39)
  bool perfmon = false;    // CAP_PERFMON (38)
  bool sys_admin = false;  // CAP_SYS_ADMIN (21)
  bool known = false;      // false when /proc/self/status could not be read
};

struct HostFacts {
  std::string kernel_release;  // uname -r
  std::string hostname;
  bool btf = false;           // /sys/kernel/btf/vmlinux readable
  std::string tracefs_mount;  // where tracefs is mounted, empty when it is not
  bool uprobes = false;       // the uprobe perf PMU exists
  Capabilities caps;
  bool bpf_usable = false;  // a trivial tracing program loads
  std::string bpf_error;    // why not, when !bpf_usable
};

// Reads every fact. Loading the probe program needs privileges; failure is a fact, not an error.
HostFacts read_host_facts();

// Effective capabilities of this process, from /proc/self/status.
Capabilities read_capabilities();

// Mount point of tracefs ("/sys/kernel/tracing" or the debugfs path), empty when not mounted.
std::string find_tracefs_mount();

}  // namespace causeway::host
