/* Definitions of the maps and configuration shared by all programs (see causeway.bpf.h). */
#define CW_DEFINE_MAPS
#include "causeway.bpf.h"

const volatile __u8 cfg_capture_stacks = 1;
const volatile __u8 cfg_trace_all_cuda = 0;
const volatile __u8 cfg_stop_on_load = 0;
const volatile __u32 cfg_tracer_tgid = 0;
const volatile __u64 cfg_wakeup_bytes = 1 << 20;

char LICENSE[] SEC("license") = "GPL";
