"""ringkernel.core, async API: awaitables that never block the event loop, cancellation, concurrency."""
import asyncio
import struct

import pytest

from ringkernel import KernelClosedError, LaunchOptions, RingKernel, TimedOutError
from rkt import BACKEND


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_async_lifecycle():
    async def main():
        async with await RingKernel.create(BACKEND) as rk:
            k = await rk.launch("echo", LaunchOptions())
            await k.send(b"hello")
            m = await k.recv(timeout=5)
            assert bytes(m) == b"hello"
            r = await k.call(b"req", timeout=5)
            assert bytes(r) == b"req" and r.is_reply
            await k.terminate(timeout=5)
            with pytest.raises(KernelClosedError):
                await k.send(b"x")
        assert rk.closed
    run(main())


def test_hundred_concurrent_calls():
    async def main():
        rk = await RingKernel.create(BACKEND)
        k = await rk.launch("echo", LaunchOptions(queue_capacity=64))  # fewer slots than calls
        rs = await asyncio.gather(*[k.call(struct.pack("<I", i), timeout=10) for i in range(100)])
        assert [struct.unpack("<I", bytes(r))[0] for r in rs] == list(range(100))
        assert len({r.correlation_id for r in rs}) == 100
        await rk.close_async()
    run(main())


def test_event_loop_not_blocked():
    async def main():
        rk = await RingKernel.create(BACKEND)
        k = await rk.launch("echo")
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        t = asyncio.create_task(ticker())
        with pytest.raises(TimedOutError):
            await k.recv(timeout=0.3)  # nothing was sent: waits 0.3 s in a helper thread
        t.cancel()
        assert ticks > 20  # the loop kept running meanwhile
        await rk.close_async()
    run(main())


def test_cancelled_recv_loses_nothing():
    async def main():
        rk = await RingKernel.create(BACKEND)
        k = await rk.launch("echo")
        waiter = asyncio.create_task(k.recv())
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        for i in range(50):
            await k.send(struct.pack("<I", i))
        got = [struct.unpack("<I", bytes(await k.recv(timeout=5)))[0] for _ in range(50)]
        assert sorted(got) == list(range(50))
        # A cancellation racing a delivery: many short waits, every message still arrives exactly once.
        for i in range(200):
            await k.send(struct.pack("<I", i))
        got = []
        while len(got) < 200:
            try:
                got.append(struct.unpack("<I", bytes(await asyncio.wait_for(k.recv(), 0.0005)))[0])
            except asyncio.TimeoutError:
                pass
        assert sorted(got) == list(range(200))
        await rk.close_async()
    run(main())


def test_cancelled_call_reply_dropped_and_next_call_works():
    async def main():
        rk = await RingKernel.create(BACKEND)
        k = await rk.launch("echo")
        k.pause()
        c = asyncio.create_task(k.call(b"late", timeout=None))
        await asyncio.sleep(0.05)
        c.cancel()
        with pytest.raises(asyncio.CancelledError):
            await c
        k.resume()
        r = await k.call(b"next", timeout=5)
        assert bytes(r) == b"next"
        for _ in range(100):
            if k.async_dropped == 1:
                break
            await asyncio.sleep(0.01)
        assert k.async_dropped == 1
        await rk.close_async()
    run(main())


def test_async_send_waits_for_room():
    async def main():
        rk = await RingKernel.create(BACKEND)
        k = await rk.launch("echo", LaunchOptions(queue_capacity=4))
        k.pause()
        sends = asyncio.gather(*[k.send(struct.pack("<I", i)) for i in range(40)])
        await asyncio.sleep(0.05)
        assert not sends.done()  # blocked on a full queue, in the helper thread
        k.resume()
        got = []
        while len(got) < 40:
            got.append(struct.unpack("<I", bytes(await k.recv(timeout=5)))[0])
        await sends
        assert got == list(range(40))  # order kept through the helper
        await rk.close_async()
    run(main())


def test_async_errors():
    async def main():
        rk = await RingKernel.create(BACKEND)
        k = await rk.launch("echo", LaunchOptions(slot_size=128))
        with pytest.raises(TypeError):
            await k.send(42)
        from ringkernel import MessageSizeError
        with pytest.raises(MessageSizeError):
            await k.call(b"x" * 100)
        with pytest.raises(TimedOutError):
            await k.recv(timeout=0.01)
        waiter = asyncio.create_task(k.recv())
        await asyncio.sleep(0.02)
        await rk.close_async()
        with pytest.raises(KernelClosedError):
            await waiter
    run(main())
