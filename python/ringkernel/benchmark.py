"""Latency and throughput of echo round trips from Python, next to the same traffic driven by the C API in
the same process (ringkernel._native.c_echo: rk_send/rk_recv in a C loop), so the figures show what the
Python layer adds per call.

Every function returns a plain dict. compare(baseline, current, threshold) flags the metrics that got worse
by more than threshold (a fraction): *_ns / *_us are lower-is-better, *_per_s higher-is-better.
"""
import array
import contextlib
import struct
import time
from typing import Optional

from ringkernel import _native
from ringkernel.core import LaunchOptions, RingKernel


def _percentiles(samples_ns) -> dict:
    s = sorted(samples_ns)
    n = len(s)

    def pct(p):
        return s[min(n - 1, int(p / 100.0 * n))] / 1000.0

    return {"min_us": s[0] / 1000.0, "p50_us": pct(50), "p90_us": pct(90), "p99_us": pct(99),
            "p999_us": pct(99.9), "max_us": s[-1] / 1000.0, "mean_us": sum(s) / n / 1000.0}


def _kernel(rk, payload_size, queue_capacity=4096):
    slot = 64
    while slot - 64 < payload_size:
        slot *= 2
    return rk.launch_sync("echo", LaunchOptions(queue_capacity=queue_capacity, slot_size=max(slot, 128)))


@contextlib.contextmanager
def _use(kernel, backend, payload_size, queue_capacity=4096):
    """The caller's kernel, or an echo kernel on a runtime of its own, closed afterwards."""
    if kernel is not None:
        yield kernel
        return
    with RingKernel.create_sync(backend) as rk:
        yield _kernel(rk, payload_size, queue_capacity)


def latency(n: int = 20000, payload_size: int = 64, backend: str = "cpu", warmup: int = 1000,
            kernel=None) -> dict:
    """n sequential round trips (send_sync, recv_sync) from Python: percentiles of each, in µs."""
    if payload_size < 8:
        raise ValueError("payload_size must be >= 8 (a counter is checked in every reply)")
    with _use(kernel, backend, payload_size) as kernel:
        buf = bytearray(payload_size)
        send, recv, clock = kernel.send_sync, kernel.recv_sync, time.perf_counter_ns
        for i in range(warmup):
            send(buf)
            recv(timeout=5)
        samples = array.array("Q", bytes(8 * n))
        for i in range(n):
            struct.pack_into("<Q", buf, 0, i)
            t0 = clock()
            send(buf)
            m = recv(timeout=5)
            samples[i] = clock() - t0
            if struct.unpack_from("<Q", m.payload)[0] != i:
                raise _native.CorruptDataError(f"latency: reply {i} did not carry the payload sent")
        r = {"mode": "python", "n": n, "payload": payload_size, "backend": kernel.runtime.backend}
        r.update(_percentiles(samples))
        return r


def throughput(n: int = 200000, payload_size: int = 64, window: int = 1024, backend: str = "cpu",
               kernel=None) -> dict:
    """n messages pipelined from Python (up to `window` in flight): messages per second, and the mean time
    per round trip and per call (send_sync + recv_sync = 2 calls)."""
    with _use(kernel, backend, payload_size, max(4096, window)) as kernel:
        buf = bytearray(payload_size)
        pack, unpack = struct.Struct("<Q").pack_into, struct.Struct("<Q").unpack_from
        send, recv = kernel.send_sync, kernel.recv_sync
        sent = got = 0
        t0 = time.perf_counter_ns()
        while got < n:
            end = min(n, sent + window)
            while sent < end:
                pack(buf, 0, sent)
                send(buf)
                sent += 1
            while got < sent:
                if unpack(recv(timeout=5).payload)[0] != got:
                    raise _native.CorruptDataError(f"throughput: reply {got} out of order or lost")
                got += 1
        dt = time.perf_counter_ns() - t0
        return {"mode": "python", "n": n, "payload": payload_size, "window": window,
                "backend": kernel.runtime.backend, "msgs_per_s": n / (dt / 1e9), "ns_per_msg": dt / n,
                "ns_per_call": dt / n / 2}


def c_latency(n: int = 20000, payload_size: int = 64, backend: str = "cpu", warmup: int = 1000,
              kernel=None) -> dict:
    """The same round trips driven by rk_send/rk_recv in C (no Python in the loop)."""
    with _use(kernel, backend, payload_size) as kernel:
        _native.c_echo(kernel, warmup, payload_size)
        res = _native.c_echo(kernel, n, payload_size, samples=True)
        r = {"mode": "c", "n": n, "payload": payload_size, "backend": kernel.runtime.backend}
        r.update(_percentiles(array.array("Q", res["samples"])))
        return r


def c_throughput(n: int = 200000, payload_size: int = 64, window: int = 1024, backend: str = "cpu",
                 kernel=None) -> dict:
    with _use(kernel, backend, payload_size, max(4096, window)) as kernel:
        res = _native.c_echo(kernel, n, payload_size, window=window)
        dt = res["total_ns"]
        return {"mode": "c", "n": n, "payload": payload_size, "window": window, "backend": kernel.runtime.backend,
                "msgs_per_s": n / (dt / 1e9), "ns_per_msg": dt / n, "ns_per_call": dt / n / 2}


def run(n: int = 20000, payload_size: int = 64, backend: str = "cpu", throughput_n: Optional[int] = None) -> dict:
    """Python and C, latency and throughput, on one kernel, alternating so that both see the same machine
    state. overhead_ns_per_call: what each sync Python call (send_sync or recv_sync) adds to the C figure:
    from the mean round trip (latency) and from the pipelined time per message (throughput)."""
    tn = throughput_n or 10 * n
    with RingKernel.create_sync(backend) as rk:
        k = _kernel(rk, payload_size)
        c_lat = c_latency(n, payload_size, kernel=k)
        py_lat = latency(n, payload_size, kernel=k)
        c_thr = c_throughput(tn, payload_size, kernel=k)
        py_thr = throughput(tn, payload_size, kernel=k)
    return {
        "backend": py_lat["backend"], "payload": payload_size,
        "python_latency": py_lat, "c_latency": c_lat, "python_throughput": py_thr, "c_throughput": c_thr,
        "overhead_ns_per_call": {
            "roundtrip_mean": (py_lat["mean_us"] - c_lat["mean_us"]) * 1000.0 / 2,
            "roundtrip_p50": (py_lat["p50_us"] - c_lat["p50_us"]) * 1000.0 / 2,
            "pipelined": py_thr["ns_per_call"] - c_thr["ns_per_call"],
        },
    }


def _flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = float(v)
    return out


def _lower_is_better(key: str) -> Optional[bool]:
    leaf = key.rsplit(".", 1)[-1]
    if leaf.endswith("_per_s"):
        return False
    if leaf.endswith(("_us", "_ns")) or leaf.startswith("ns_per_") or key.startswith("overhead_ns_per_call"):
        return True
    return None  # a parameter (n, payload): not a metric


def compare(baseline: dict, current: dict, threshold: float = 0.10) -> dict:
    """Compares two result dicts (from run(), latency(), ...), metric by metric. A metric regressed when it
    is worse than the baseline by more than `threshold` (0.10 = 10 %). Returns {'regressions': [...],
    'improvements': [...], 'ok': bool}; each entry is {'metric', 'baseline', 'current', 'change'} with
    change the relative change in the metric's bad direction (positive = worse)."""
    if threshold < 0:
        raise ValueError("threshold must be >= 0")
    b, c = _flatten(baseline), _flatten(current)
    regressions, improvements = [], []
    for key in sorted(b.keys() & c.keys()):
        lower = _lower_is_better(key)
        if lower is None or b[key] == 0:
            continue
        change = (c[key] - b[key]) / abs(b[key])
        if not lower:
            change = -change
        entry = {"metric": key, "baseline": b[key], "current": c[key], "change": change}
        if change > threshold:
            regressions.append(entry)
        elif change < -threshold:
            improvements.append(entry)
    return {"regressions": regressions, "improvements": improvements, "ok": not regressions}


__all__ = ["latency", "throughput", "c_latency", "c_throughput", "run", "compare"]
