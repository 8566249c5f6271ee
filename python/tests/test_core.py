"""ringkernel.core, synchronous API: runtime, kernels, messages, errors."""
import signal
import struct
import threading
import time

import numpy as np
import pytest

import ringkernel
from ringkernel import (HandlerError, InvalidArgumentError, KernelClosedError, KernelState, LaunchOptions,
                        MessageSizeError, NotFoundError, RingKernel, RingKernelError, TimedOutError, type_id)
from ringkernel import _native


def test_seed_quick_start():
    runtime = RingKernel.create_sync()
    kernel = runtime.launch_sync("echo", LaunchOptions())
    kernel.send_sync(b"hello from Python")
    assert bytes(kernel.recv_sync(timeout=5).payload) == b"hello from Python"
    runtime.close()


@pytest.mark.parametrize("make", [
    lambda b: b, bytearray, memoryview,
    lambda b: np.frombuffer(b, dtype=np.uint8).copy(),
])
def test_send_any_buffer(echo, make):
    data = bytes(range(100))
    echo.send_sync(make(data))
    m = echo.recv_sync(timeout=5)
    assert isinstance(m.payload, memoryview) and m.payload.readonly
    assert m.payload == data and bytes(m) == data and len(m) == 100 and m.payload_len == 100


def test_numpy_roundtrip_no_extra_copy(echo):
    a = np.arange(24, dtype=np.float64)
    echo.send_sync(a)
    m = echo.recv_sync(timeout=5)
    b = np.frombuffer(m.payload, dtype=np.float64)  # a view on the Message's buffer
    assert np.array_equal(a, b) and not b.flags.writeable


def test_message_fields(rk, echo):
    before = rk.hlc_now()
    echo.send_sync(b"x", type_id="greeting", correlation_id=42)
    m = echo.recv_sync(timeout=5)
    assert m.type_id == type_id("greeting") == _native.type_id("greeting")
    assert m.correlation_id == 42
    assert m.source == echo.address and m.dest == 0
    assert m.hlc > before and m.seq >= 1
    echo.send_sync(b"y", type_id=7)
    assert echo.recv_sync(timeout=5).type_id == 7
    echo.send_sync(b"z")
    assert echo.recv_sync(timeout=5).type_id == _native.DEFAULT_TYPE_ID


def test_try_send_try_recv(echo):
    assert echo.try_recv() is None
    assert echo.try_send(b"abc") is True
    deadline = time.monotonic() + 5  # a GPU backend's kernel may still be starting
    while (m := echo.try_recv()) is None and time.monotonic() < deadline:
        pass
    assert m is not None and bytes(m) == b"abc"


def test_try_send_full_queue(rk):
    k = rk.launch_sync("echo", LaunchOptions(queue_capacity=4))
    k.pause()
    deadline = time.monotonic() + 5  # a GPU kernel sees the pause a little later: wait until it stopped taking
    while k.state != KernelState.PAUSED and time.monotonic() < deadline:
        time.sleep(0.001)
    sent = 0
    while k.try_send(b"p"):
        sent += 1
        assert sent <= 64
    assert sent >= 4  # the kernel may have taken a batch before it paused
    with pytest.raises(TimedOutError) as ei:
        k.send_sync(b"p", timeout=0.05)
    assert isinstance(ei.value, TimeoutError)
    k.resume()
    got = 0
    while got < sent:
        k.recv_sync(timeout=5)
        got += 1


def test_recv_into(echo):
    buf = bytearray(64)
    echo.send_sync(b"12345")
    m = echo.recv_into(buf, timeout=5)
    assert bytes(buf[:5]) == b"12345" and m.payload == b"12345"
    arr = np.zeros(16, dtype=np.uint8)
    echo.send_sync(bytes(range(16)))
    echo.recv_into(arr, timeout=5)
    assert arr.tolist() == list(range(16))
    echo.send_sync(b"x" * 32)
    with pytest.raises(MessageSizeError):
        echo.recv_into(bytearray(8), timeout=5)
    with pytest.raises(TypeError):
        echo.recv_into(b"read-only", timeout=5)


def test_call_sync_echo_and_counter(rk, echo):
    r = echo.call_sync(b"ping", timeout=5)
    assert bytes(r) == b"ping" and r.is_reply and r.correlation_id != 0
    c = rk.launch_sync("counter", LaunchOptions())
    for v in (5, 7, -2):
        r = c.call_sync(struct.pack("<q", v), type_id=_native.COUNTER_ADD, timeout=5)
    assert struct.unpack("<Qq", bytes(r)) == (3, 10)
    r = c.call_sync(b"", type_id=_native.COUNTER_GET, timeout=5)
    assert struct.unpack("<Qq", bytes(r)) == (3, 10)
    with pytest.raises(HandlerError) as ei:
        c.call_sync(b"bad", type_id="unknown", timeout=5)
    assert ei.value.code == _native.HandlerError.code and "RK_EINVAL" in str(ei.value)


def test_stats_state_pause_resume(echo):
    assert echo.state in (KernelState.INITIALIZING, KernelState.RUNNING)  # a GPU kernel may still be starting
    echo.send_sync(b"a")
    echo.recv_sync(timeout=5)
    assert echo.state == KernelState.RUNNING
    s = echo.stats()
    assert s["sent"] == 1 and s["received"] == 1 and s["name"] == "echo" and s["state"] == KernelState.RUNNING
    echo.pause()
    for _ in range(1000):
        if echo.state == KernelState.PAUSED:
            break
        threading.Event().wait(0.001)
    assert echo.state == KernelState.PAUSED
    echo.resume()
    echo.terminate_sync(timeout=5)
    assert echo.state == KernelState.STOPPED
    assert echo.stats()["msgs_in"] == 1


def test_wrong_types(rk, echo):
    with pytest.raises(TypeError):
        echo.send_sync(12345)
    with pytest.raises(TypeError):
        echo.send_sync("str is not a buffer")
    with pytest.raises(TypeError):
        echo.send_sync(b"x", type_id=1.5)
    with pytest.raises(TypeError):
        echo.send_sync(b"x", timeout="soon")
    with pytest.raises(ValueError):
        echo.send_sync(b"x", timeout=-1)
    with pytest.raises(TypeError):
        echo.send_sync(b"x", bogus=1)
    with pytest.raises(TypeError):
        echo.send_sync()
    with pytest.raises(TypeError):
        echo.recv_sync(timeout=[1])
    with pytest.raises(TypeError):
        rk.launch_sync(5)
    with pytest.raises(TypeError):
        rk.launch_sync("echo", {"slot_size": 64})
    with pytest.raises(TypeError):
        rk.launch_sync("echo", LaunchOptions(slot_size="big"))
    with pytest.raises(TypeError):
        ringkernel.KernelHandle()


def test_bad_values(rk):
    with pytest.raises(InvalidArgumentError) as ei:
        rk.launch_sync("echo", LaunchOptions(slot_size=100))
    assert isinstance(ei.value, ValueError) and ei.value.code == -1 and ei.value.name == "RK_EINVAL"
    assert "power of two" in ei.value.detail
    with pytest.raises(NotFoundError):
        rk.launch_sync("no-such-actor")
    with pytest.raises(InvalidArgumentError):
        RingKernel.create_sync("quantum")


def test_oversized_payload(rk):
    k = rk.launch_sync("echo", LaunchOptions(slot_size=128))
    assert k.payload_max == 64
    k.send_sync(b"x" * 64)
    assert len(k.recv_sync(timeout=5)) == 64
    with pytest.raises(MessageSizeError) as ei:
        k.send_sync(b"x" * 65)
    assert isinstance(ei.value, RingKernelError) and ei.value.code == -7
    with pytest.raises(MessageSizeError):
        k.call_sync(np.zeros(100, dtype=np.uint8))


def test_closed_kernel_and_runtime(rk, echo):
    echo.send_sync(b"last")
    echo.terminate_sync(timeout=5)
    with pytest.raises(KernelClosedError):
        echo.send_sync(b"x")
    with pytest.raises(KernelClosedError):
        echo.terminate_sync()
    assert bytes(echo.recv_sync(timeout=5)) == b"last"  # replies stay receivable
    with pytest.raises(KernelClosedError):
        echo.recv_sync(timeout=1)
    other = rk.launch_sync("echo")
    rk.close()
    rk.close()  # idempotent
    assert rk.closed
    for call in (lambda: other.send_sync(b"x"), lambda: other.recv_sync(timeout=0), other.stats,
                 lambda: other.call_sync(b"x"), lambda: rk.launch_sync("echo"), rk.hlc_now):
        with pytest.raises(KernelClosedError):
            call()


def test_recv_timeout(echo):
    with pytest.raises(TimedOutError):
        echo.recv_sync(timeout=0.03)
    with pytest.raises(_native.WouldBlockError):
        echo.recv_sync(timeout=0)


def test_close_wakes_blocked_recv(rk, echo):
    errs = []

    def blocked():
        try:
            echo.recv_sync()  # forever, until close
        except RingKernelError as e:
            errs.append(e)

    t = threading.Thread(target=blocked)
    t.start()
    threading.Event().wait(0.1)
    rk.close()
    t.join(5)
    assert not t.is_alive() and isinstance(errs[0], KernelClosedError)


def paused_echo(rk):
    k = rk.launch_sync("echo")
    k.send_sync(b"warm")
    k.recv_sync(timeout=5)  # running
    k.pause()
    for _ in range(1000):
        if k.state == KernelState.PAUSED:
            return k
        threading.Event().wait(0.001)
    raise AssertionError("the kernel did not pause")


def test_close_ends_blocked_call(rk):
    k = paused_echo(rk)  # nothing answers until close() terminates it, which drains the request
    out = []

    def blocked():
        try:
            out.append(bytes(k.call_sync(b"late answer")))  # no timeout
        except RingKernelError as e:
            out.append(e)

    t = threading.Thread(target=blocked)
    t.start()
    threading.Event().wait(0.1)
    t0 = time.monotonic()
    rk.close()
    t.join(5)
    assert not t.is_alive() and time.monotonic() - t0 < 2
    assert out[0] == b"late answer" or isinstance(out[0], KernelClosedError), out


class Interrupted(Exception):
    pass


def test_call_sync_interrupted_by_signal(rk):
    """A signal handler that raises ends a call_sync waiting forever (as Ctrl-C's KeyboardInterrupt does)."""
    k = paused_echo(rk)

    def on_alarm(signum, frame):
        raise Interrupted()

    old = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        t0 = time.monotonic()
        with pytest.raises(Interrupted):
            k.call_sync(b"never answered")
        assert time.monotonic() - t0 < 1.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    k.resume()
    r = k.call_sync(b"after", timeout=5)  # the interrupted call's late reply is dropped, not returned here
    assert bytes(r) == b"after"
    assert k.stats()["dropped"] == 1


def test_multi_producer_threads(rk):
    k = rk.launch_sync("echo", LaunchOptions(multi_producer=True, queue_capacity=4096))
    assert k.multi_producer
    per, nthreads = 2000, 4
    got = []

    def caller(t):
        for i in range(per):
            r = k.call_sync(struct.pack("<II", t, i), timeout=10)
            got.append(struct.unpack("<II", bytes(r)))

    ts = [threading.Thread(target=caller, args=(t,)) for t in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(got) == [(t, i) for t in range(nthreads) for i in range(per)]


def test_single_producer_threads_are_serialised(rk):
    k = rk.launch_sync("echo", LaunchOptions(queue_capacity=1024))
    n, nthreads = 5000, 4

    def sender(t):
        for i in range(n):
            k.send_sync(struct.pack("<II", t, i), timeout=10)

    received = []

    def receiver():
        for _ in range(n * nthreads):
            received.append(struct.unpack("<II", bytes(k.recv_sync(timeout=10))))

    r = threading.Thread(target=receiver)
    r.start()
    ts = [threading.Thread(target=sender, args=(t,)) for t in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    r.join()
    assert len(received) == n * nthreads
    for t in range(nthreads):  # each sender's messages in its order
        assert [i for (s, i) in received if s == t] == list(range(n))


def test_million_messages_nothing_lost(rk):
    k = rk.launch_sync("echo", LaunchOptions(queue_capacity=4096, slot_size=128))
    n, window = 1_000_000, 2048
    pack, unpack = struct.Struct("<Q").pack, struct.Struct("<Q").unpack
    send, recv = k.send_sync, k.recv_sync
    sent = expect = 0
    while expect < n:
        end = min(n, sent + window)
        while sent < end:
            send(pack(sent))
            sent += 1
        while expect < sent:
            (v,) = unpack(recv(timeout=10).payload)
            assert v == expect
            expect += 1
    s = k.stats()
    assert s["sent"] == n and s["received"] == n and s["dropped"] == 0


def test_every_error_code_has_a_class():
    for code in range(-1, -24, -1):
        name, _ = _native.strerror(code)
        exc_cls = _native.RingKernelError
        found = [c for c in vars(ringkernel).values()
                 if isinstance(c, type) and issubclass(c, exc_cls) and getattr(c, "code", None) == code]
        assert len(found) == 1, name
