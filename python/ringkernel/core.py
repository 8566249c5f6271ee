"""The runtime and kernels: RingKernel, LaunchOptions, KernelHandle, Message.

RingKernel holds one native runtime per backend it uses (the default one, chosen at create time, and any
other a LaunchOptions(backend=...) asks for, created on first use). KernelHandle is the C type
ringkernel._native.Kernel plus the async methods; its sync methods are C functions with nothing in between.
Every method that may wait exists twice: `x_sync(...)` blocks the calling thread (GIL released), `await x(...)`
never blocks the event loop.
"""
import asyncio
import atexit
import threading
import weakref
from dataclasses import dataclass
from typing import Optional

from ringkernel import _native
from ringkernel._async import _Pump, _Sender

Message = _native.Message
KernelState = _native.KernelState


def type_id(name: str) -> int:
    """The stable 64-bit id of a message type name (RK_TYPE_ID in C, FNV-1a)."""
    return _native.type_id(name)


@dataclass
class LaunchOptions:
    """How to launch a kernel (rk_launch_opts). 0 means the library default.

    backend: None/'auto' (the runtime's default backend) or 'cpu', 'cuda', 'vulkan'.
    queue_capacity: slots per queue, a power of two (default 1024).
    slot_size: bytes per slot incl. the 64-byte envelope, a power of two >= 64 (default 256: payloads
        up to 192 bytes).
    multi_producer: any thread may send at once, and call() may run concurrently (CPU, Vulkan).
    low_latency: the GPU low-latency queue encoding (CUDA; ignored by the CPU backend).
    """

    backend: Optional[str] = None
    queue_capacity: int = 0
    slot_size: int = 0
    state_size: int = 0
    instances: int = 0
    multi_producer: bool = False
    low_latency: bool = False
    grid_sync: bool = False
    block_size: int = 0
    grid_size: int = 0


class KernelHandle(_native.Kernel):
    """A running kernel. Sync methods (C): send_sync, try_send, recv_sync, try_recv, recv_into, call_sync,
    terminate_sync, pause, resume, stats; properties state, name, address, payload_max. Async: send, recv,
    call, terminate."""

    def _helpers(self):
        h = self.__dict__.get("_rk_helpers")
        if h is None:
            h = self.__dict__.setdefault("_rk_helpers", (_Sender(self), _Pump(self)))
        return h

    @property
    def async_dropped(self) -> int:
        """Replies of async calls that arrived after their call was cancelled or timed out."""
        return self._helpers()[1].dropped

    async def send(self, payload, type_id=None, timeout=None, correlation_id=0, request=False) -> None:
        """Sends one message without blocking the event loop (see send_sync)."""
        sender = self._helpers()[0]
        if not sender.busy and self.try_send(payload, type_id, correlation_id=correlation_id, request=request):
            return
        cf = sender.submit((payload, type_id, timeout), {"correlation_id": correlation_id, "request": request})
        await asyncio.wrap_future(cf)

    async def recv(self, timeout=None) -> Message:
        """Receives one message without blocking the event loop. Cancelling it never loses a message."""
        msg = self.try_recv()
        if msg is not None:
            return msg
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._helpers()[1].add_waiter(loop, fut)
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise _native.TimedOutError(f"recv: kernel '{self.name}' did not reply within {timeout} s") from None

    async def call(self, payload, type_id=None, timeout=None) -> Message:
        """Request/reply without blocking the event loop; many calls may be in flight at once on any kernel
        (their replies are matched by correlation id). HandlerError if the handler failed."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        corr = _native.correlation_next()
        pump = self._helpers()[1]
        pump.add_call(corr, loop, fut)
        try:
            await self.send(payload, type_id, correlation_id=corr, request=True)
            msg = await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise _native.TimedOutError(f"call: kernel '{self.name}' did not reply within {timeout} s") from None
        finally:
            pump.forget_call(corr)
        if msg.flags & _native.FLAG_ERROR:
            code = int.from_bytes(bytes(msg.payload[:4]), "little", signed=True) if len(msg) >= 4 else 0
            name, desc = _native.strerror(code)
            raise _native.HandlerError(f"call: the handler of kernel '{self.name}' failed with {name} ({desc})")
        return msg

    async def terminate(self, timeout=1.0) -> None:
        """terminate_sync without blocking the event loop."""
        await asyncio.get_running_loop().run_in_executor(None, self.terminate_sync, timeout)


_native._set_kernel_class(KernelHandle)

_live = weakref.WeakSet()
_live_lock = threading.Lock()


class RingKernel:
    """The entry point: a runtime on the best (or a chosen) backend, kernels launched on it.

    RingKernel.create_sync(backend='auto', workers=0, node_id=0, device=0) or `await RingKernel.create(...)`.
    Closed by close()/`await close_async()`, by `with`/`async with`, when collected, and at interpreter exit.
    """

    def __init__(self, backend="auto", *, workers=0, node_id=0, device=0):
        self._opts = {"workers": workers, "node_id": node_id, "device": device}
        self._default = _native.Runtime(backend, **self._opts)
        self._runtimes = {self._default.backend: self._default}
        self._lock = threading.Lock()
        with _live_lock:
            _live.add(self)

    @classmethod
    def create_sync(cls, backend="auto", **kw) -> "RingKernel":
        """Creates a runtime (blocking; a GPU backend takes a moment to start)."""
        return cls(backend, **kw)

    @classmethod
    async def create(cls, backend="auto", **kw) -> "RingKernel":
        """Creates a runtime without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, lambda: cls(backend, **kw))

    @property
    def backend(self) -> str:
        """The default backend ('cpu', 'cuda', 'vulkan')."""
        return self._default.backend

    @property
    def runtime(self):
        """The default native runtime (ringkernel._native.Runtime): endpoints, topics, hlc_now."""
        return self._default

    @property
    def closed(self) -> bool:
        return self._default.closed

    def _runtime_for(self, backend):
        if backend in (None, "auto"):
            return self._default
        if not isinstance(backend, str):
            raise TypeError(f"LaunchOptions.backend must be a str or None, not {type(backend).__name__}")
        with self._lock:
            rt = self._runtimes.get(backend.lower())
            if rt is None:
                if self._default.closed:
                    raise _native.KernelClosedError("launch: the runtime is closed")
                rt = _native.Runtime(backend, **self._opts)
                self._runtimes[rt.backend] = rt
            return rt

    def launch_sync(self, name: str, options: Optional[LaunchOptions] = None) -> KernelHandle:
        """Launches the actor registered as `name` ('echo', 'counter', or your own) as a kernel."""
        if not isinstance(name, str):
            raise TypeError(f"launch_sync: name must be a str, not {type(name).__name__}")
        if options is not None and not isinstance(options, LaunchOptions):
            raise TypeError(f"launch_sync: options must be LaunchOptions, not {type(options).__name__}")
        rt = self._runtime_for(options.backend if options else None)
        return rt.launch_sync(name, options)

    async def launch(self, name: str, options: Optional[LaunchOptions] = None) -> KernelHandle:
        """launch_sync without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, self.launch_sync, name, options)

    def hlc_now(self):
        """Ticks the default runtime's host HLC (the clock every send stamps)."""
        return self._default.hlc_now()

    def close(self) -> None:
        """Terminates every kernel and destroys the runtimes. Idempotent."""
        with self._lock:
            rts = list(self._runtimes.values())
        err = None
        for rt in rts:
            try:
                rt.close()
            except _native.RingKernelError as e:
                err = err or e
        if err:
            raise err

    async def close_async(self) -> None:
        """close() without blocking the event loop."""
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close_async()

    def __repr__(self):
        return f"<RingKernel backend={self.backend!r}{' closed' if self.closed else ''}>"


@atexit.register
def _close_all():
    """At interpreter exit: close whatever is still open, so no worker thread outlives Python."""
    with _live_lock:
        live = list(_live)
    for rk in live:
        try:
            rk.close()
        except Exception:  # noqa: BLE001 - nobody left to tell
            pass


__all__ = ["RingKernel", "LaunchOptions", "KernelHandle", "KernelState", "Message", "type_id"]
