/* Shared by every bpf/<name>.bpf.c: the maps and configuration all programs see, and small
 * helpers. Maps are defined once in maps.bpf.c and declared extern elsewhere; the object
 * files are linked into one (`bpftool gen object`) so there is one skeleton. */
#ifndef CAUSEWAY_BPF_H
#define CAUSEWAY_BPF_H

#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "causeway/abi/events.h"

#ifdef CW_DEFINE_MAPS
#define CW_EXTERN
#else
#define CW_EXTERN extern
#endif

/* Thread groups being traced: tgid -> 1. Seeded by capture, grown on fork, shrunk when the
 * last thread of a process exits. Every hook checks it first, so untraced tasks cost one
 * hash lookup. */
CW_EXTERN struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u32);
  __type(value, __u8);
} traced_tgids SEC(".maps");

/* The one ring buffer for all events (size set by capture from --buffer-mb). A single
 * buffer keeps events of one task in order across sources. */
CW_EXTERN struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

/* Events lost per source (enum cw_source): ring buffer full, or a gap. */
CW_EXTERN struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, CW_SRC_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} drops SEC(".maps");

/* Syscalls in progress of traced threads: tid -> entry record (also read by sched.bpf.c to
 * tie a blocked interval to its syscall). */
struct cw_syscall_entry {
  __u64 ts_ns;   /* entry time */
  __u64 args[6]; /* raw arguments */
  __s32 nr;      /* syscall number */
  __u32 _pad0;
};
CW_EXTERN struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 32768);
  __type(key, __u32);
  __type(value, struct cw_syscall_entry);
} syscalls_active SEC(".maps");

/* --all: processes that opened a CUDA runtime/driver library file (seen at openat by
 * syscalls.bpf.c) and whose next link-map change (loader.bpf.c) must stop them until
 * capture has probed that library and enrolled them. Removed by capture once done. LRU: a
 * process that exits first leaves an entry that simply ages out. */
CW_EXTERN struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, __u8);
} cuda_load_pending SEC(".maps");

/* Configuration, fixed before load. */
CW_EXTERN const volatile __u8 cfg_capture_stacks; /* user stacks on CUDA calls/blocks */
CW_EXTERN const volatile __u8 cfg_trace_all_cuda; /* --all: a CUDA call enrols its process */
CW_EXTERN const volatile __u8 cfg_stop_on_load;   /* SIGSTOP traced processes on dlopen */
CW_EXTERN const volatile __u32 cfg_tracer_tgid;   /* causeway itself, never traced */
CW_EXTERN const volatile __u64 cfg_wakeup_bytes;  /* wake the reader at this much data */

static __always_inline bool tgid__is_traced(__u32 tgid) {
  /* Read the value (always 1) rather than compare the pointer: clang otherwise combines
   * two lookups' pointers with bitwise ops, which the verifier rejects. */
  __u8* v = bpf_map_lookup_elem(&traced_tgids, &tgid);
  return v && *v;
}

/* Atomic although the counter is per CPU: programs run with migration disabled but can be
 * preempted or interrupted, and another program on the same CPU (sched_switch during that very
 * preemption, a tracepoint in an interrupt) may count in between; a plain read-modify-write
 * would then lose a count. */
static __always_inline void drops__count(__u32 source) {
  __u64* n = bpf_map_lookup_elem(&drops, &source);
  if (n) __sync_fetch_and_add(n, 1);
}

static __always_inline void header__fill(struct cw_header* h, __u16 kind, __u64 ts, __u32 pid,
                                         __u32 tid) {
  h->kind = kind;
  h->_pad0 = 0;
  h->cpu = bpf_get_smp_processor_id();
  h->ts_ns = ts;
  h->pid = pid;
  h->tid = tid;
}

/* Producer position (bytes ever reserved in `events`) at which this CPU last woke the
 * reader; see ring__wakeup_flags. Per CPU, so it is written without contention. */
CW_EXTERN struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} ring_wake_pos SEC(".maps");

/* Submit flags: wake the reader about once per cfg_wakeup_bytes of data. Waking it per event
 * would cost a context switch per event, on the very CPUs being traced (and trace itself);
 * asking how much data waits (BPF_RB_AVAIL_DATA) reads the consumer position, a cache line
 * the reader on another CPU keeps writing. A CPU wakes the reader when the producer position
 * has moved cfg_wakeup_bytes or more since this CPU last did. Every CPU's last wakeup is at or
 * before the latest one, so whichever CPU writes next once cfg_wakeup_bytes have followed the
 * latest wakeup wakes the reader: no window is skipped, whatever the record sizes and however
 * producers interleave (testing whether the position had just crossed a multiple of the
 * window could be jumped over by a record larger than the test's margin, or by a concurrent
 * reservation). Costs at most one wakeup per window per producing CPU. The reader also polls
 * on a short timeout, so nothing waits long. */
static __always_inline __u64 ring__wakeup_flags(void) {
  __u32 zero = 0;
  __u64* last = bpf_map_lookup_elem(&ring_wake_pos, &zero);
  const __u64 pos = bpf_ringbuf_query(&events, BPF_RB_PROD_POS);
  if (!last) return BPF_RB_FORCE_WAKEUP; /* cannot happen: a one-entry array */
  if (pos - *last < cfg_wakeup_bytes) return BPF_RB_NO_WAKEUP;
  *last = pos;
  return BPF_RB_FORCE_WAKEUP;
}

/* Reserves a fixed-size event or counts a drop for `source`. */
static __always_inline void* ring__reserve(__u64 size, __u32 source) {
  void* e = bpf_ringbuf_reserve(&events, size, 0);
  if (!e) drops__count(source);
  return e;
}

#endif /* CAUSEWAY_BPF_H */
