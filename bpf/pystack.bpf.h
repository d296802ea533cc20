/* Python stacks: the one entry point the CUDA and scheduler programs call (defined in
 * pystack.bpf.c, linked into the same skeleton). For a process that is not a configured
 * CPython process it costs one hash-map lookup miss. */
#ifndef CAUSEWAY_PYSTACK_BPF_H
#define CAUSEWAY_PYSTACK_BPF_H

#include "causeway.bpf.h"

/* Emits a CW_EV_PY_STACK record with the current thread's Python frames, tagged with
 * (tid, ts) of the event it belongs to. trigger: CW_PY_FOR_CUDA / CW_PY_FOR_BLOCK; its drops
 * are counted under the matching source. Must run in the context of that thread (current).
 * A global function: verified once, on its own, not inlined into each caller. */
extern int pystack__emit(__u32 tgid, __u32 tid, __u64 ts, __u32 trigger);

#endif /* CAUSEWAY_PYSTACK_BPF_H */
