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

static __always_inline void drops__count(__u32 source) {
  __u64* n = bpf_map_lookup_elem(&drops, &source);
  if (n) *n += 1;
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

/* Submit flags: wake the reader only when the producer position crosses a multiple of
 * cfg_wakeup_bytes (a power of two), i.e. about once per that much data. Waking it per event
 * would cost a context switch per event, on the very CPUs being traced (and trace itself);
 * asking how much data waits (BPF_RB_AVAIL_DATA) reads the consumer position, a cache line
 * the reader on another CPU keeps writing. The reader also polls on a short timeout, so
 * nothing waits long. */
static __always_inline __u64 ring__wakeup_flags(void) {
  __u64 pos = bpf_ringbuf_query(&events, BPF_RB_PROD_POS);
  return (pos & (cfg_wakeup_bytes - 1)) < 1024 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Reserves a fixed-size event or counts a drop for `source`. */
static __always_inline void* ring__reserve(__u64 size, __u32 source) {
  void* e = bpf_ringbuf_reserve(&events, size, 0);
  if (!e) drops__count(source);
  return e;
}

#endif /* CAUSEWAY_BPF_H */
