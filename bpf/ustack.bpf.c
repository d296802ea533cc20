/* Raw user stacks for DWARF unwinding (--call-graph dwarf), as `perf --call-graph dwarf`
 * samples them: the registers and a bounded copy of the user stack from %rsp upwards go into
 * the ring buffer, and user space unwinds them with the binaries' CFI (.eh_frame), which
 * works through code built without frame pointers. Costs a copy of up to cfg_ustack_bytes
 * per CUDA call / blocking switch; nothing when cfg_ustack_bytes is 0. */
#include "ustack.bpf.h"

const volatile __u32 cfg_ustack_bytes = 0;

/* The record is built here (up to 16 KiB: far too big for the BPF stack). A uprobe program
 * runs preemptible (only migration is disabled), so another program on this CPU (a CUDA
 * entry of another thread, a blocking switch) can start a copy while one is half done:
 * `users` lets only one copy own a buffer at a time, as in pystack.bpf.c. The copy takes
 * microseconds, long enough to be preempted now and then under load, so each CPU has
 * CW_USTACK_SLOTS buffers and a copy takes the first free one. */
#define CW_USTACK_SLOTS 2
struct ustack_scratch {
  struct cw_user_stack ev;
  __u32 users;
  /* Never written: lets the verifier accept a page-sized read at any offset below
   * CW_USTACK_MAX_BYTES in ev.data (ustack__copy only reads up to the copy's length). */
  __u8 slack[CW_PAGE_BYTES];
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, CW_USTACK_SLOTS);
  __type(key, __u32);
  __type(value, struct ustack_scratch);
} ustack_scratch SEC(".maps");

/* Per thread: the bounds of the mapping its stack pointer was last seen in, so the copy does
 * not run past the end of the stack (a thread near the top of its stack has less than the
 * copy size above %rsp; reading the unmapped pages past it would only fail, each at the cost
 * of a page fault). Looked up with bpf_find_vma once per thread, again only when %rsp leaves the
 * cached range (the main stack grew, a signal or coroutine stack), the thread has another
 * address space (task storage survives exec: the launched command is traced from before its
 * exec, when it still runs causeway's image), or a copy failed. */
struct ustack_bounds {
  __u64 start;
  __u64 end;
  __u64 mm; /* address of the mm_struct the range belongs to */
};
struct {
  __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct ustack_bounds);
} ustack_bounds SEC(".maps");

static long ustack__vma_cb(struct task_struct* task, struct vm_area_struct* vma, void* data) {
  struct ustack_bounds* b = data;
  b->start = vma->vm_start;
  b->end = vma->vm_end;
  return 0;
}

/* ---- Frame-pointer walk (both --call-graph modes; the CUDA probes and the scheduler) ----
 * How far above the stack pointer a frame may lie. A frame-pointer chain that leaves this
 * window, stops growing upward or is misaligned has run into code built without frame
 * pointers (or the end of the stack, where rbp is 0): the walk stops there. */
#define CW_FRAME_WINDOW (256ull << 20)

struct cw_frame_record {
  __u64 next_fp; /* saved rbp: the caller's frame */
  __u64 ret;     /* return address into the caller */
};

struct ustack_fp_walk {
  struct cw_ustack_frames* out;
  __u64 low;  /* the next frame must lie at or above this */
  __u64 high; /* ... and at or below this */
  __u64 fp;   /* next frame record */
  __u32 n;    /* frames written */
};

/* One rbp frame per step. Through bpf_loop, so the verifier checks this body once instead of
 * once per unrolled iteration and caller state (an inline loop made each program that used
 * it take ~0.2 s longer to load). */
static long ustack__fp_step(__u64 index, void* data) {
  struct ustack_fp_walk* w = data;
  const __u64 fp = w->fp;
  if (w->n >= CW_MAX_STACK || fp < w->low || fp > w->high || (fp & 7)) return 1;
  struct cw_frame_record fr;
  if (bpf_probe_read_user(&fr, sizeof(fr), (void*)fp) != 0 || fr.ret < 4096) return 1;
  w->out->f[w->n & (CW_MAX_STACK - 1)] = fr.ret;
  w->n++;
  w->low = fp + sizeof(fr); /* the caller's frame lies above this one */
  w->fp = fr.next_fp;
  return 0;
}

/* The user stack from registers (ip, sp, fp), innermost first: ip, then, when `at_entry` (a
 * function's first instruction, before it pushed rbp), the caller's return address at [sp],
 * then one return address per frame of the rbp chain. The same frames as
 * bpf_get_stack(BPF_F_USER_STACK), at a fraction of the cost and without its fault: the
 * kernel's walk reads the frame rbp = 0 points to (a page fault, ~0.5 us in a VM, on almost
 * every stack); this one checks a frame is plausible before reading it.
 * A uretprobe pending on an outer call (the runtime calling the driver) has replaced that
 * call's return address on the stack with the uretprobe trampoline; the original addresses
 * are put back, innermost first, from the kernel's list of pending returns (what the
 * kernel's own stack walk does; costs nothing unless a uretprobe is pending). */
__noinline __u32 ustack__walk(struct cw_ustack_frames* out, __u64 ip, __u64 sp, __u64 fp,
                              __u32 at_entry) {
  if (!out) return 0;
  struct ustack_fp_walk w = {.out = out, .low = sp, .high = sp + CW_FRAME_WINDOW, .fp = fp};
  out->f[0] = ip;
  w.n = 1;
  if (at_entry) {
    __u64 ret = 0;
    if (bpf_probe_read_user(&ret, sizeof(ret), (void*)sp) != 0 || ret < 4096) return 1;
    out->f[1] = ret;
    w.n = 2;
  }
  bpf_loop(CW_MAX_STACK, ustack__fp_step, &w, 0);
  const __u32 n = w.n;

  struct task_struct* task = bpf_get_current_task_btf();
  struct uprobe_task* utask = task->utask;
  if (!utask) return n;
  struct return_instance* ri = utask->return_instances;
  if (!ri) return n;
  struct xol_area* area = task->mm->uprobes_state.xol_area;
  if (!area) return n;
  const __u64 tramp = area->vaddr;
  for (__u32 i = 1; i < CW_MAX_STACK; i++) {
    if (i >= n || !ri) break;
    if (out->f[i] == tramp) {
      out->f[i] = ri->orig_ret_vaddr;
      ri = ri->next;
    }
  }
  return n;
}

/* Copies user memory [sp, sp + len) into e->data one page at a time, and returns the pages
 * that could not be read as a bitmap (bit i: the i-th page the copy touches, counted from the
 * one sp is in), left zero-filled. A BPF program cannot fault pages in, and
 * bpf_probe_read_user fails as a whole if any page of its range is not present: a stack has
 * such pages wherever a large frame reserved space it never wrote (the loader's and libc's
 * start-up code do, depending on where ASLR put the stack top), and a single read of the whole
 * range then loses every frame above them. Read page by page, only the untouched pages are
 * lost, which hold no frame anyway; the unwinder treats them as unreadable (see
 * cw_user_stack.holes). len <= CW_USTACK_MAX_BYTES. */
static __always_inline __u32 ustack__copy(struct cw_user_stack* e, __u64 sp, __u64 len) {
  __u32 holes = 0;
  __u64 off = 0;
  for (int i = 0; i < CW_USTACK_MAX_PAGES; i++) {
    if (off >= len) break;
    __u64 n = CW_PAGE_BYTES - ((sp + off) & (CW_PAGE_BYTES - 1));
    if (n > len - off) n = len - off;
    if (n > CW_PAGE_BYTES) n = CW_PAGE_BYTES; /* for the verifier: it holds already */
    const __u64 at = off & (CW_USTACK_MAX_BYTES - 1);
    if (bpf_probe_read_user(&e->data[at], n, (void*)(sp + off)) != 0) holes |= 1u << i;
    off += n;
  }
  return holes;
}

/* Most pending uretprobes whose hijacked return address is put back into the copy. */
#define CW_USTACK_MAX_RETURNS 8

__noinline int ustack__emit(const struct cw_ustack_regs* regs, __u64 ts, __u32 trigger) {
  if (!regs || cfg_ustack_bytes == 0) return 0;
  const __u32 source = trigger == CW_STACK_FOR_CUDA ? CW_SRC_CUDA : CW_SRC_SCHED;
  struct task_struct* task = bpf_get_current_task_btf();
  const __u64 mm = (__u64)task->mm;
  if (!mm) return 0; /* an exiting thread past exit_mm(): no user stack left to copy */
  const __u64 sp = regs->r[CW_UREG_SP];
  struct ustack_bounds* b =
      bpf_task_storage_get(&ustack_bounds, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
  if (!b) {
    drops__count(CW_SRC_STACK_COPY);
    return 0;
  }
  __u64 end = b->end;
  if (sp < b->start || sp >= b->end || b->mm != mm) {
    struct ustack_bounds found = {};
    if (bpf_find_vma(task, sp, ustack__vma_cb, &found, 0) == 0 && sp >= found.start &&
        sp < found.end) {
      b->start = found.start;
      b->end = found.end;
      b->mm = mm;
      end = found.end;
    } else {
      /* The lookup fails (-EBUSY) while another thread holds the mmap lock for writing (in
       * mmap, munmap, brk): a thread blocking then is a common case. Copy without knowing
       * where the stack ends: pages past its end cannot be read and become holes, which the
       * unwinder never needs. Nothing is cached. */
      end = sp + cfg_ustack_bytes;
    }
  }
  __u64 len = end - sp;
  if (len > cfg_ustack_bytes) len = cfg_ustack_bytes;
  len &= ~7ull;
  if (len > CW_USTACK_MAX_BYTES) len = CW_USTACK_MAX_BYTES;
  if (len == 0) return 0;

  /* Claim a buffer (see pystack__emit): proceed only if this copy's increment is the only
   * one; otherwise back off and try the next. None free: count a drop. */
  struct ustack_scratch* s = 0;
  for (__u32 k = 0; k < CW_USTACK_SLOTS; k++) {
    struct ustack_scratch* c = bpf_map_lookup_elem(&ustack_scratch, &k);
    if (!c) break;
    __sync_fetch_and_add(&c->users, 1);
    if (*(volatile __u32*)&c->users == 1) {
      s = c;
      break;
    }
    __sync_fetch_and_add(&c->users, -1);
  }
  if (!s) {
    drops__count(source);
    return 0;
  }
  struct cw_user_stack* e = &s->ev;
  const __u64 id = bpf_get_current_pid_tgid();
  header__fill(&e->h, CW_EV_USER_STACK, ts, id >> 32, (__u32)id);
  e->trigger = trigger;
  e->_pad0[0] = e->_pad0[1] = 0;
  for (int i = 0; i < CW_UREG_COUNT; i++) e->regs[i] = regs->r[i];
  const __u32 holes = ustack__copy(e, sp, len);
  if (holes & 1) {
    /* The page %rsp is in was never written: a new thread that blocks before running any
     * user code (its %rsp at the top of a fresh stack). A call pushes its return address at
     * %rsp, so there is no frame to unwind: no record, and nothing lost. (Should the
     * mapping have changed under the cached range instead, it is looked up again next
     * time.) */
    b->end = 0;
    goto out;
  }
  e->holes = holes;
  e->size = len;
  /* Outer calls with a pending uretprobe (the runtime calling the driver, a blocking call in
   * progress) have the uretprobe trampoline where their return address was; the kernel
   * remembers the stack slot (ri->stack: the stack pointer at that call's entry, where the
   * return address lies) and the original value. Put those back so CFI unwinding goes on. */
  struct uprobe_task* utask = task->utask;
  struct return_instance* ri = utask ? utask->return_instances : 0;
  for (int i = 0; i < CW_USTACK_MAX_RETURNS; i++) {
    if (!ri) break;
    const __u64 off = ri->stack - sp;
    if (off < len && !(off & 7)) {
      const __u64 o = off & (CW_USTACK_MAX_BYTES - 8);
      *(__u64*)&e->data[o] = ri->orig_ret_vaddr;
    }
    ri = ri->next;
  }
  const __u64 bytes = sizeof(*e) - sizeof(e->data) + len;
  if (bpf_ringbuf_output(&events, e, bytes, ring__wakeup_flags()) != 0) drops__count(source);
out:
  __sync_fetch_and_add(&s->users, -1);
  return 0;
}
