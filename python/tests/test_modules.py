"""ringkernel.hlc, .k2k, .cuda, .hybrid, .benchmark."""
import asyncio
import struct
import time

import pytest

from ringkernel import (AlreadyExistsError, ClockSkewError, HlcClock, HlcTimestamp, InvalidArgumentError,
                        LaunchOptions, NotFoundError, RingKernel, cuda)
from ringkernel import benchmark
from ringkernel.hybrid import HybridDispatcher
from ringkernel.k2k import K2KBroker, K2KConfig, split_publication, topic_match


# ---- hlc
def test_hlc_ordering_and_update():
    a, b = HlcTimestamp(10, 0, 1), HlcTimestamp(10, 1, 0)
    assert a < b and b > a and a <= a and a != b and a == HlcTimestamp(10, 0, 1)
    assert HlcTimestamp(10, 1, 1) > HlcTimestamp(10, 1, 0)
    assert sorted([b, a]) == [a, b] and len({a, HlcTimestamp(10, 0, 1)}) == 1
    assert HlcTimestamp.from_bytes(a.to_bytes()) == a and len(a.to_bytes()) == 16
    c = HlcClock(node_id=7)
    t1, t2 = c.now(), c.now()
    assert t2 > t1 and t1.node == 7 and c.node_id == 7 and c.peek() == t2
    remote = HlcTimestamp(t2.physical + 1000, 5, 9)
    t3 = c.update(remote)
    assert t3 > remote and t3 > t2
    with pytest.raises(ClockSkewError):
        c.update(HlcTimestamp(t3.physical + 10 * 10**9, 0, 9))  # 10 s ahead: beyond 500 ms
    assert c.peek() == t3  # unchanged
    with pytest.raises(TypeError):
        c.update((1, 2, 3))
    with pytest.raises(TypeError):
        a < 5  # noqa: B015


# ---- k2k
def test_k2k_endpoints_and_topics():
    with RingKernel.create_sync("cpu") as rk:
        broker = K2KBroker(rk, K2KConfig(publish_timeout=1.0))
        a = rk.launch_sync("echo")
        b = rk.launch_sync("echo")
        broker.register_endpoint("alpha", a)
        assert broker.resolve("alpha") == a.address and "alpha" in broker.endpoints
        with pytest.raises(AlreadyExistsError):
            broker.register_endpoint("alpha", b)
        broker.unregister_endpoint("alpha")
        with pytest.raises(NotFoundError):
            broker.resolve("alpha")

        broker.subscribe(a, "sensors/+/temp")
        broker.subscribe(b, "sensors/#")
        broker.subscribe(a, "sensors/#")  # a matches twice: still one delivery
        with pytest.raises(AlreadyExistsError):
            broker.subscribe(b, "sensors/#")
        with pytest.raises(InvalidArgumentError):
            broker.subscribe(a, "bad/#/filter")
        info = broker.publish("sensors/7/temp", struct.pack("<d", 21.5))
        assert (info.matched, info.delivered, info.dropped, info.closed) == (2, 2, 0, 0)
        for k in (a, b):  # echo replies to the host publication on K2H
            topic, data = split_publication(k.recv_sync(timeout=5).payload)
            assert topic == "sensors/7/temp" and struct.unpack("<d", data)[0] == 21.5
        broker.unsubscribe(a, "sensors/#")
        info = broker.publish("sensors/7/humidity", b"h")  # only b's "sensors/#" matches now
        assert info.delivered == 1
        assert split_publication(b.recv_sync(timeout=5).payload)[0] == "sensors/7/humidity"
        assert a.try_recv() is None
        assert broker.publish("other", b"").matched == 0
        broker.unsubscribe(b, "sensors/#")
        with pytest.raises(NotFoundError):
            broker.unsubscribe(b, "sensors/#")
        info = asyncio.run(broker.publish_async("sensors/1/temp", b"x"))
        assert info.delivered == 1
        with pytest.raises(InvalidArgumentError):
            broker.publish("wild/+", b"")
    assert topic_match("a/+/c", "a/b/c") and not topic_match("a/+", "a/b/c") and topic_match("#", "x/y")
    assert not K2KBroker.matches("#", "$SYS/x")
    with pytest.raises(TypeError):
        K2KBroker(object())


# ---- cuda
def test_cuda_devices_or_reason():
    st = cuda.status()
    devs = cuda.devices()
    assert isinstance(devs, list) and isinstance(devs.reason, str) and devs.reason
    if not st["available"]:
        assert devs == [] and not cuda.available()
        pytest.skip(f"no GPU: {devs.reason}")
    d = devs[0]
    assert d.name and d.memory_bytes > 0 and d.multiprocessors > 0 and d.compute_capability[0] >= 3


def test_cuda_echo_if_gpu():
    if not cuda.available():
        pytest.skip(f"no GPU: {cuda.devices().reason}")
    with RingKernel.create_sync("cuda") as rk:
        k = rk.launch_sync("echo", LaunchOptions(backend="cuda"))
        k.send_sync(b"gpu")
        assert bytes(k.recv_sync(timeout=5)) == b"gpu"


# ---- hybrid
def test_hybrid_routes_by_measured_cost():
    def cpu(work):  # cheap to start, 20 µs per item
        time.sleep(len(work) * 20e-6)
        return "cpu"

    def gpu(work):  # 5 ms to start, 1 µs per item
        time.sleep(0.005 + len(work) * 1e-6)
        return "gpu"

    h = HybridDispatcher(cpu, gpu, gpu_threshold=10**9)  # threshold never sends to the GPU by itself
    assert h.decide(10) == "cpu" and h.decide(10**6) == "cpu"
    for n in (10, 100, 1000):
        h.run_on("cpu", [0] * n)
        h.run_on("gpu", [0] * n)
    cross = h.crossover()
    assert cross is not None and 50 < cross < 1000  # 5 ms / 19 µs per item = about 263
    assert h.decide(10) == "cpu" and h.decide(2000) == "gpu"
    assert h.dispatch([0] * 5) == "cpu" and h.dispatch([0] * 3000) == "gpu"
    s = h.stats()
    assert s["cpu"]["runs"] == 4 and s["gpu"]["runs"] == 4
    cpu_only = HybridDispatcher(cpu)
    assert cpu_only.decide(10**9) == "cpu" and not cpu_only.has_gpu
    with pytest.raises(TypeError):
        HybridDispatcher(5)
    with pytest.raises(ValueError):
        cpu_only.run_on("gpu", [1])


def test_hybrid_threshold_before_measurements():
    h = HybridDispatcher(lambda w: "cpu", lambda w: "gpu", gpu_threshold=100)
    assert h.dispatch([0] * 99) == "cpu" and h.dispatch([0] * 100) == "gpu"


# ---- benchmark
def test_benchmark_run_and_compare():
    r = benchmark.run(n=2000, payload_size=64, throughput_n=20000)
    for key in ("python_latency", "c_latency"):
        d = r[key]
        assert 0 < d["min_us"] <= d["p50_us"] <= d["p99_us"] <= d["max_us"]
    for key in ("python_throughput", "c_throughput"):
        assert r[key]["msgs_per_s"] > 0
    assert set(r["overhead_ns_per_call"]) == {"roundtrip_mean", "roundtrip_p50", "pipelined"}
    assert benchmark.compare(r, r)["ok"]
    worse = {"lat": {"p50_us": 2.0, "n": 10}, "thr": {"msgs_per_s": 500.0}}
    base = {"lat": {"p50_us": 1.0, "n": 20}, "thr": {"msgs_per_s": 1000.0}}
    c = benchmark.compare(base, worse, threshold=0.10)
    assert not c["ok"] and {e["metric"] for e in c["regressions"]} == {"lat.p50_us", "thr.msgs_per_s"}
    c = benchmark.compare(worse, base, threshold=0.10)
    assert c["ok"] and len(c["improvements"]) == 2
    assert benchmark.compare(base, {"lat": {"p50_us": 1.05}}, threshold=0.10)["ok"]
