"""Garbage collection, reference counts, memory staying flat, and interpreter exit without hangs."""
import gc
import os
import subprocess
import sys
import textwrap
import tracemalloc

from ringkernel import LaunchOptions, RingKernel
from rkt import BACKEND


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def traffic(k, n):
    payload = bytes(100)
    for _ in range(n):
        k.send_sync(payload)
        m = k.recv_sync(timeout=5)
        _ = m.payload, m.hlc
        k.call_sync(payload, timeout=5)


def test_refcounts_of_payloads_and_handles():
    with RingKernel.create_sync(BACKEND) as rk:
        k = rk.launch_sync("echo")
        payload = bytearray(b"x" * 50)
        before = sys.getrefcount(payload), sys.getrefcount(k), sys.getrefcount(rk.runtime)
        traffic(k, 1000)
        m = k.recv_into(payload, timeout=0) if k.try_send(b"y") and False else None
        assert m is None
        assert (sys.getrefcount(payload), sys.getrefcount(k), sys.getrefcount(rk.runtime)) == before


def test_memory_flat_under_traffic():
    with RingKernel.create_sync(BACKEND) as rk:
        k = rk.launch_sync("echo", LaunchOptions(queue_capacity=256))
        traffic(k, 20000)  # warm-up: allocator pools, caches
        gc.collect()
        tracemalloc.start()
        snap0, rss0 = tracemalloc.take_snapshot(), rss_kib()
        traffic(k, 100000)
        gc.collect()
        snap1, rss1 = tracemalloc.take_snapshot(), rss_kib()
        tracemalloc.stop()
        grown = sum(s.size_diff for s in snap1.compare_to(snap0, "filename"))
        assert grown < 64 * 1024, f"Python heap grew by {grown} bytes over 300k calls"
        assert rss1 - rss0 < 4096, f"RSS grew by {rss1 - rss0} KiB over 300k calls"


def test_runtimes_collected_without_close():
    gc.collect()
    rss0 = None
    for i in range(60):
        rk = RingKernel.create_sync(BACKEND, workers=1)
        k = rk.launch_sync("echo")
        k.send_sync(b"x")
        k.recv_sync(timeout=5)
        del rk, k  # no close(): the collector must destroy the runtime and its worker thread
        gc.collect()
        if i == 10:
            rss0, threads0 = rss_kib(), len(os.listdir("/proc/self/task"))
    assert rss_kib() - rss0 < 4096
    # Against the count after 11 runtimes, not an absolute one: the CUDA runtime keeps helper threads of
    # its own once initialised. 50 more runtimes that were not destroyed would leave 50 more threads.
    threads = len(os.listdir("/proc/self/task"))
    assert threads <= threads0 + 2, f"{threads} threads left (was {threads0}): runtimes not destroyed"


def test_exit_with_open_runtime_and_blocked_threads_does_not_hang():
    code = textwrap.dedent("""
        import asyncio, os, threading
        from ringkernel import RingKernel
        rk = RingKernel.create_sync(os.environ.get("RK_TEST_BACKEND", "cpu"))
        k = rk.launch_sync("echo")
        threading.Thread(target=lambda: k.recv_sync(), daemon=True).start()   # blocked forever
        async def main():
            asyncio.ensure_future(k.recv())   # an async waiter left pending
            await asyncio.sleep(0.05)
        asyncio.run(main())
        k2 = rk.launch_sync("echo")
        k2.send_sync(b"unread")
        print("bye")
    """)
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "bye"
