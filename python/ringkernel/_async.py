"""Async machinery of KernelHandle: helper threads that wait inside the C library (GIL released) and resolve
asyncio futures through loop.call_soon_threadsafe, so awaiting never blocks the event loop.

- _Sender: one daemon thread per kernel for sends that found the queue full; sends keep their order (while
  it has work, every new send goes through it too).
- _Pump: one daemon thread per kernel that receives while async recv() or call() wait, hands replies to
  calls by correlation id and other messages to recv() waiters in order.

Cancellation: a send cancelled before it started is never sent, one already in the library completes (it
is in the queue, as with a C caller); a received message whose recv() was cancelled goes back to the kernel
(KernelHandle._stash) and the next recv returns it, so cancelling never loses a message; the reply of a
cancelled call is dropped and counted (KernelHandle.async_dropped), like rk_call's late replies.
Threads are daemons and every wait inside the library is sliced (20 ms), so neither interpreter exit nor
RingKernel.close() waits for them.
"""
import collections
import concurrent.futures
import threading

from ringkernel import _native

_SLICE = 0.05  # seconds the pump waits per recv before it looks whether anyone still waits


class _Sender:
    def __init__(self, kernel):
        self._kernel = kernel
        self._jobs = collections.deque()
        self._cv = threading.Condition()
        self._thread = None

    @property
    def busy(self):
        return bool(self._jobs)

    def submit(self, args, kwargs):
        cf = concurrent.futures.Future()
        with self._cv:
            self._jobs.append((cf, args, kwargs))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ringkernel-send", daemon=True)
                self._thread.start()
            self._cv.notify()
        return cf

    def _run(self):
        while True:
            with self._cv:
                if not self._jobs:
                    self._thread = None
                    return
                cf, args, kwargs = self._jobs[0]
            if cf.set_running_or_notify_cancel():
                try:
                    self._kernel.send_sync(*args, **kwargs)
                except BaseException as e:  # noqa: BLE001 - handed to the awaiting task
                    cf.set_exception(e)
                else:
                    cf.set_result(None)
            with self._cv:
                self._jobs.popleft()


class _Pump:
    def __init__(self, kernel):
        self._kernel = kernel
        self._lock = threading.Lock()
        self._calls = {}  # correlation id -> (loop, future)
        self._waiters = collections.deque()  # (loop, future) of recv()
        self._thread = None
        self.dropped = 0

    def _ensure(self):
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ringkernel-recv", daemon=True)
            self._thread.start()

    def add_call(self, corr, loop, fut):
        with self._lock:
            self._calls[corr] = (loop, fut)
            self._ensure()

    def forget_call(self, corr):
        with self._lock:
            self._calls.pop(corr, None)

    def add_waiter(self, loop, fut):
        with self._lock:
            self._waiters.append((loop, fut))
            self._ensure()

    def _run(self):
        k = self._kernel
        while True:
            with self._lock:
                self._waiters = collections.deque(w for w in self._waiters if not w[1].done())
                if not self._calls and not self._waiters:
                    self._thread = None
                    return
            try:
                msg = k.recv_sync(timeout=_SLICE)
            except _native.TimedOutError:
                continue
            except BaseException as e:  # noqa: BLE001 - the kernel closed or failed: tell every waiter
                self._fail_all(e)
                return
            self._dispatch(msg)

    def _dispatch(self, msg):
        with self._lock:
            entry = None
            if msg.correlation_id and msg.flags & _native.FLAG_REPLY:
                entry = self._calls.pop(msg.correlation_id, None)
                if entry is None and not self._waiters:
                    self.dropped += 1  # the reply of a call that was cancelled or timed out
                    return
            if entry is None and self._waiters:
                loop, fut = self._waiters.popleft()
                loop.call_soon_threadsafe(_deliver, fut, msg, self._kernel)
                return
        if entry is not None:
            loop, fut = entry
            loop.call_soon_threadsafe(_resolve, fut, msg)
        else:
            self._kernel._stash(msg)  # nobody waits any more: the next recv gets it

    def _fail_all(self, exc):
        with self._lock:
            entries = list(self._calls.values()) + list(self._waiters)
            self._calls.clear()
            self._waiters.clear()
            self._thread = None
        for loop, fut in entries:
            try:
                loop.call_soon_threadsafe(_reject, fut, exc)
            except RuntimeError:  # the loop is closed
                pass


def _deliver(fut, msg, kernel):
    if fut.done():  # cancelled meanwhile: keep the message for the next recv
        kernel._stash(msg)
    else:
        fut.set_result(msg)


def _resolve(fut, msg):
    if not fut.done():
        fut.set_result(msg)


def _reject(fut, exc):
    if not fut.done():
        fut.set_exception(exc)
