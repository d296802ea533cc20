#!/usr/bin/env python3
"""A small training loop that drives the simulated GPU (sim/ libcudart.so.13) through ctypes,
as PyTorch-style code drives a real one: per step it allocates a buffer, uploads a batch,
launches kernels, synchronizes the stream, frees the buffer and "loads" the next batch with a
short sleep (a blocking interval). Each CUDA call sits in its own method and carries a marker
comment (# @name) so that tests can find the exact line a stack must name.

  train_loop.py --cudart build/sim/libcudart.so.13 [--steps N] [--sleep-ms N]
  train_loop.py --cudart ... --bench N [--depth D]  # N cheap calls, D Python frames deep, timed
  train_loop.py --cudart ... --exec-chunks N [--chunk-sleep-ms MS]  # also N short-lived code objects

Prints "summary <cudaFunction>=<calls> ..." like the C++ scenarios.
"""
import argparse
import ctypes
import os
import sys
import time

CUDA_MEMCPY_HOST_TO_DEVICE = 1


class Dim3(ctypes.Structure):
    _fields_ = [("x", ctypes.c_uint), ("y", ctypes.c_uint), ("z", ctypes.c_uint)]


class Gpu:
    def __init__(self, path):
        self.rt = ctypes.CDLL(path)
        self.rt.cudaLaunchKernel.argtypes = [ctypes.c_void_p, Dim3, Dim3, ctypes.c_void_p,
                                             ctypes.c_size_t, ctypes.c_void_p]
        self.rt.cudaMemcpy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                       ctypes.c_int]
        self.rt.cudaStreamSynchronize.argtypes = [ctypes.c_void_p]
        self.rt.cudaFree.argtypes = [ctypes.c_void_p]
        # The simulated driver identifies a kernel by its host address; any function will do.
        self.kernel = ctypes.cast(self.rt.cudaGetDeviceCount, ctypes.c_void_p)
        self.calls = {}

    def count(self, name, rc):
        if rc != 0:
            raise RuntimeError("%s failed with %d" % (name, rc))
        self.calls[name] = self.calls.get(name, 0) + 1


class Trainer:
    def __init__(self, gpu, batch_bytes, sleep_s):
        self.gpu = gpu
        self.batch = ctypes.create_string_buffer(batch_bytes)
        self.sleep_s = sleep_s

    def alloc(self):
        ptr = ctypes.c_void_p()
        rc = self.gpu.rt.cudaMalloc(ctypes.byref(ptr), len(self.batch))  # @malloc
        self.gpu.count("cudaMalloc", rc)
        return ptr

    def upload(self, dev):
        rc = self.gpu.rt.cudaMemcpy(dev, self.batch, len(self.batch), CUDA_MEMCPY_HOST_TO_DEVICE)  # @memcpy
        self.gpu.count("cudaMemcpy", rc)

    def launch(self):
        rc = self.gpu.rt.cudaLaunchKernel(self.gpu.kernel, Dim3(64, 1, 1), Dim3(256, 1, 1), None, 0, None)  # @launch
        self.gpu.count("cudaLaunchKernel", rc)

    def sync(self):
        rc = self.gpu.rt.cudaStreamSynchronize(None)  # @sync
        self.gpu.count("cudaStreamSynchronize", rc)

    def free(self, dev):
        rc = self.gpu.rt.cudaFree(dev)  # @free
        self.gpu.count("cudaFree", rc)

    def next_batch(self):
        time.sleep(self.sleep_s)  # @sleep

    def step(self):
        dev = self.alloc()  # @call-alloc
        self.upload(dev)  # @call-upload
        self.launch()  # @call-launch
        self.sync()  # @call-sync
        self.free(dev)  # @call-free
        self.next_batch()  # @call-next-batch


def train(trainer, steps):
    for _ in range(steps):
        trainer.step()  # @call-step


def bench(gpu, n, depth):
    if depth > 1:  # the walk's cost grows with the Python stack depth at the call
        return bench(gpu, n, depth - 1)
    sync = gpu.rt.cudaStreamSynchronize
    start = time.perf_counter_ns()
    for _ in range(n):
        sync(None)  # @bench
    elapsed = time.perf_counter_ns() - start
    gpu.calls["cudaStreamSynchronize"] = n
    print("bench calls=%d ns_per_call=%.1f" % (n, elapsed / n))


CHUNK_BYTES = 4096  # chunk i allocates CHUNK_BYTES + i bytes: the call names its chunk


def chunk_source(i, sleep_s):
    """Chunk i: i filler lines, then the calls (the cudaMalloc on line i + 2) and a sleep (as
    a cell's or module's work goes on after a call). Each chunk has its own size and shape,
    as different modules and cells do."""
    return ("".join("v%d = %d\n" % (k, k) for k in range(i)) +
            "ptr = ctypes.c_void_p()\n"
            "rc = rt.cudaMalloc(ctypes.byref(ptr), %d)\n"
            "rt.cudaFree(ptr)\n"
            "time.sleep(%r)\n" % (CHUNK_BYTES + i, sleep_s))


def exec_chunks(gpu, n, sleep_s):
    """Runs n code objects that live only while they run, as a notebook's cells and every
    imported module's body do: each is compiled, run once and freed, so the interpreter puts
    later ones where earlier ones were. A stack must still name the chunk that made the call
    (file "<chunk-i>", line i + 2), not whichever code object first lived at that address.
    Prints how many distinct addresses the n code objects had, to show the reuse happened."""
    addresses = set()
    for i in range(n):
        code = compile(chunk_source(i, sleep_s), "<chunk-%d>" % i, "exec")
        addresses.add(id(code))
        exec(code, {"ctypes": ctypes, "rt": gpu.rt, "time": time})
        del code
        gpu.calls["cudaMalloc"] = gpu.calls.get("cudaMalloc", 0) + 1
        gpu.calls["cudaFree"] = gpu.calls.get("cudaFree", 0) + 1
    if n > 0:
        print("exec_chunks chunks=%d code_addresses=%d" % (n, len(addresses)))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cudart", default=os.environ.get("CAUSEWAY_SIM_CUDART", "libcudart.so.13"))
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--batch-kb", type=int, default=64)
    p.add_argument("--sleep-ms", type=float, default=20.0)
    p.add_argument("--bench", type=int, default=0)
    p.add_argument("--depth", type=int, default=1)
    p.add_argument("--exec-chunks", type=int, default=0)
    p.add_argument("--chunk-sleep-ms", type=float, default=100.0)
    args = p.parse_args()
    gpu = Gpu(args.cudart)
    if args.bench > 0:
        bench(gpu, args.bench, args.depth)
    else:
        train(Trainer(gpu, args.batch_kb * 1024, args.sleep_ms / 1000.0), args.steps)  # @call-train
    exec_chunks(gpu, args.exec_chunks, args.chunk_sleep_ms / 1000.0)
    print("summary scenario=python_train_loop " +
          " ".join("%s=%d" % kv for kv in sorted(gpu.calls.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())  # @call-main
