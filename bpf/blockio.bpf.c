/* Block I/O on behalf of traced processes. A request is claimed when first seen in the
 * submitter's context (block_io_start, else insert, else issue) by a traced task; issue
 * and completion may run anywhere (kworker, interrupt) and are matched by request address. */
#include "causeway.bpf.h"

struct blockio_pending {
  __u64 start_ts;  /* first seen, ns */
  __u64 insert_ts; /* queued, ns (0 = not seen) */
  __u64 issue_ts;  /* handed to the driver, ns (0 = not yet) */
  __u32 pid;       /* submitter's thread group */
  __u32 tid;       /* submitter */
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH); /* requests whose completion we miss age out */
  __uint(max_entries, 8192);
  __type(key, __u64); /* struct request address */
  __type(value, struct blockio_pending);
} blockio_inflight SEC(".maps");

/* Starts tracking rq if the current task is traced; returns the record or NULL. */
static __always_inline struct blockio_pending* blockio__claim(struct request* rq, __u64 now) {
  __u64 key = (__u64)rq;
  struct blockio_pending* p = bpf_map_lookup_elem(&blockio_inflight, &key);
  if (p) return p;
  __u64 id = bpf_get_current_pid_tgid();
  if (!tgid__is_traced(id >> 32)) return NULL;
  struct blockio_pending fresh = {.start_ts = now, .pid = id >> 32, .tid = (__u32)id};
  bpf_map_update_elem(&blockio_inflight, &key, &fresh, BPF_ANY);
  return bpf_map_lookup_elem(&blockio_inflight, &key);
}

SEC("tp_btf/block_io_start")
int BPF_PROG(blockio__start, struct request* rq) {
  blockio__claim(rq, bpf_ktime_get_ns());
  return 0;
}

SEC("tp_btf/block_rq_insert")
int BPF_PROG(blockio__insert, struct request* rq) {
  __u64 now = bpf_ktime_get_ns();
  struct blockio_pending* p = blockio__claim(rq, now);
  if (p) p->insert_ts = now;
  return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(blockio__issue, struct request* rq) {
  __u64 now = bpf_ktime_get_ns();
  struct blockio_pending* p = blockio__claim(rq, now);
  if (p) p->issue_ts = now;
  return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(blockio__complete, struct request* rq, blk_status_t error, unsigned int nr_bytes) {
  __u64 key = (__u64)rq;
  struct blockio_pending* p = bpf_map_lookup_elem(&blockio_inflight, &key);
  if (!p) return 0;
  struct cw_block_io* e = ring__reserve(sizeof(*e), CW_SRC_BLOCKIO);
  if (e) {
    header__fill(&e->h, CW_EV_BLOCK_IO, p->start_ts, p->pid, p->tid);
    e->insert_ts = p->insert_ts;
    e->issue_ts = p->issue_ts;
    e->complete_ts = bpf_ktime_get_ns();
    e->sector = BPF_CORE_READ(rq, __sector);
    e->bytes = BPF_CORE_READ(rq, __data_len);
    if (e->bytes == 0) e->bytes = nr_bytes;
    e->cmd_flags = BPF_CORE_READ(rq, cmd_flags);
    e->error = error;
    dev_t dev = BPF_CORE_READ(rq, part, bd_dev);
    if (!dev) {
      struct gendisk* disk = BPF_CORE_READ(rq, q, disk);
      if (disk) dev = (BPF_CORE_READ(disk, major) << 20) | BPF_CORE_READ(disk, first_minor);
    }
    e->dev = dev;
    bpf_ringbuf_submit(e, ring__wakeup_flags());
  }
  bpf_map_delete_elem(&blockio_inflight, &key);
  return 0;
}
