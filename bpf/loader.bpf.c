/* Library loads: a uprobe on the dynamic loader's debugger hook (_dl_debug_state), which
 * ld.so calls after every change of the link map — at start-up once the DT_NEEDED
 * libraries are mapped, and on each dlopen/dlclose — before the new code runs. Capture
 * rescans /proc/PID/maps and attaches CUDA probes to any new CUDA library. With
 * cfg_stop_on_load the process is stopped until that is done (capture sends SIGCONT). */
#include "causeway.bpf.h"

#define CW_SIGSTOP 19

SEC("uprobe")
int BPF_KPROBE(loader__link_map_changed) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32;
  bool traced = tgid__is_traced(tgid);
  /* Under --all every process's library loads are reported (they are rare): one that maps a
   * CUDA library joins the traced set. Only those that opened a CUDA library file (see
   * syscalls.bpf.c) are stopped until capture has probed it; the others run on. */
  if (!traced && (!cfg_trace_all_cuda || tgid == cfg_tracer_tgid)) return 0;
  bool stop = traced && cfg_stop_on_load;
  if (cfg_trace_all_cuda && bpf_map_lookup_elem(&cuda_load_pending, &tgid)) stop = true;
  struct cw_lib_load* e = ring__reserve(sizeof(*e), CW_SRC_PROC);
  if (!e) return 0;
  header__fill(&e->h, CW_EV_LIB_LOAD, bpf_ktime_get_ns(), tgid, (__u32)id);
  e->stopped = 0;
  if (stop && bpf_send_signal(CW_SIGSTOP) == 0) e->stopped = 1;
  __builtin_memset(e->_pad0, 0, sizeof(e->_pad0));
  bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP); /* the process may be stopped, waiting */
  return 0;
}
