#!/usr/bin/env python3
"""GIL contention, the `gil` family of the diagnosis-accuracy cases (bench/diagnosis_cases.cpp).

The main thread drives the simulated GPU through ctypes, which releases the GIL for every
foreign call; a "gil-hog" thread runs pure-Python CPU work. Each time a CUDA call returns, the
main thread must take the GIL back and waits until the hog is made to drop it (the switch
interval, 5 ms by default), so the GPU idles between launches. Expected diagnosis: lock_wait
with the hog as culprit. --healthy: the hog spends the same time in time.sleep (which releases
the GIL) instead of computing.

  gil_contention.py --cudart build/sim/libcudart.so.13 [--duration-ms N] [--hogs N]
                    [--kernel-threads N] [--healthy]

Prints "summary scenario=python_gil ..." like the C++ scenarios.
"""
import argparse
import ctypes
import threading
import time

CUDA_MEMCPY_HOST_TO_DEVICE = 1
PR_SET_NAME = 15


class Dim3(ctypes.Structure):
    _fields_ = [("x", ctypes.c_uint), ("y", ctypes.c_uint), ("z", ctypes.c_uint)]


def name_thread(name):
    # The comm the trace records; Python's own thread names never reach the kernel.
    libc = ctypes.CDLL(None)
    libc.prctl(PR_SET_NAME, name.encode(), 0, 0, 0)


def hog(stop, healthy, index):
    name_thread("gil-hog-%d" % index)
    x = 0
    while not stop.is_set():
        if healthy:
            time.sleep(0.002)
        else:
            for i in range(20000):  # pure Python: holds the GIL throughout
                x = (x * 31 + i) % 1000003
    return x


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cudart", required=True)
    parser.add_argument("--duration-ms", type=int, default=1500)
    parser.add_argument("--hogs", type=int, default=1)
    parser.add_argument("--kernel-threads", type=int, default=1 << 20)
    parser.add_argument("--healthy", action="store_true")
    args = parser.parse_args()

    rt = ctypes.CDLL(args.cudart)
    rt.cudaLaunchKernel.argtypes = [ctypes.c_void_p, Dim3, Dim3, ctypes.c_void_p,
                                    ctypes.c_size_t, ctypes.c_void_p]
    rt.cudaMemcpyAsync.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                   ctypes.c_int, ctypes.c_void_p]
    rt.cudaStreamSynchronize.argtypes = [ctypes.c_void_p]
    kernel = ctypes.cast(rt.cudaGetDeviceCount, ctypes.c_void_p)  # any host address will do
    calls = {}

    def check(name, rc):
        calls[name] = calls.get(name, 0) + 1
        if rc != 0:
            raise SystemExit("%s failed: %d" % (name, rc))

    stream = ctypes.c_void_p()
    check("cudaStreamCreate", rt.cudaStreamCreate(ctypes.byref(stream)))
    nbytes = 256 << 10
    dev = ctypes.c_void_p()
    host = ctypes.c_void_p()
    check("cudaMalloc", rt.cudaMalloc(ctypes.byref(dev), nbytes))
    check("cudaMallocHost", rt.cudaMallocHost(ctypes.byref(host), nbytes))
    grid = Dim3(max(1, args.kernel_threads // 256), 1, 1)
    block = Dim3(256, 1, 1)

    stop = threading.Event()
    hogs = [threading.Thread(target=hog, args=(stop, args.healthy, i)) for i in range(args.hogs)]
    for t in hogs:
        t.start()
    steps = 0
    end = time.monotonic() + args.duration_ms / 1000.0
    while time.monotonic() < end:
        check("cudaMemcpyAsync", rt.cudaMemcpyAsync(dev, host, nbytes,
                                                    CUDA_MEMCPY_HOST_TO_DEVICE, stream))
        check("cudaLaunchKernel", rt.cudaLaunchKernel(kernel, grid, block, None, 0, stream))
        check("cudaLaunchKernel", rt.cudaLaunchKernel(kernel, grid, block, None, 0, stream))
        check("cudaStreamSynchronize", rt.cudaStreamSynchronize(stream))
        steps += 1
    stop.set()
    for t in hogs:
        t.join()
    check("cudaFree", rt.cudaFree(dev))
    check("cudaFreeHost", rt.cudaFreeHost(host))
    print("summary scenario=python_gil " +
          " ".join("%s=%d" % kv for kv in sorted(calls.items())) +
          " steps=%d mode=%s" % (steps, "healthy" if args.healthy else "pathology"), flush=True)


if __name__ == "__main__":
    main()
