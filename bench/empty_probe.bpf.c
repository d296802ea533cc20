// The overhead floor: empty entry and return programs. Attached by capture_overhead_bench
// to the same function causeway probes, they measure what the kernel's uprobe machinery
// alone costs on this machine.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("uprobe")
int empty_entry(void* ctx) { return 0; }

SEC("uretprobe")
int empty_return(void* ctx) { return 0; }

char LICENSE[] SEC("license") = "GPL";
