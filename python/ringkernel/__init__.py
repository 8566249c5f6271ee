"""RingKernel for Python: GPU-native persistent actors, through a CPython C extension over libringkernel.

    from ringkernel import RingKernel, LaunchOptions
    runtime = RingKernel.create_sync()
    kernel = runtime.launch_sync("echo", LaunchOptions())
    kernel.send_sync(b"hello from Python")
    print(bytes(kernel.recv_sync(timeout=1.0).payload))

Modules: ringkernel.core (runtime, kernels, messages), ringkernel.hlc (hybrid logical clocks),
ringkernel.k2k (endpoints, topics), ringkernel.hybrid (CPU/GPU dispatch), ringkernel.cuda (devices),
ringkernel.benchmark (latency/throughput against the C API). docs/PYTHON.md is the guide.
"""
from ringkernel._native import (  # noqa: F401  (re-exported)
    AbiMismatchError, AlreadyExistsError, BackendError, BadHandleError, ClockSkewError, CorruptDataError,
    HandlerError, InvalidArgumentError, InvalidStateError, KernelClosedError, KernelFaultError, KernelState,
    LimitError, Message, MessageSizeError, NoDeviceError, NotFoundError, NotRespondingError, NotSupportedError,
    OperationCanceledError, OutOfMemoryError, RingKernelError, RingKernelIOError, TimedOutError, ValueOverflowError,
    WouldBlockError,
)
from ringkernel.core import KernelHandle, LaunchOptions, RingKernel, type_id  # noqa: F401
from ringkernel.hlc import HlcClock, HlcTimestamp  # noqa: F401

__version__ = "0.1.0"

__all__ = [
    "RingKernel", "LaunchOptions", "KernelHandle", "KernelState", "Message", "type_id", "HlcClock",
    "HlcTimestamp", "RingKernelError", "InvalidArgumentError", "OutOfMemoryError", "WouldBlockError",
    "TimedOutError", "NotFoundError", "AlreadyExistsError", "MessageSizeError", "KernelClosedError",
    "InvalidStateError", "NoDeviceError", "NotSupportedError", "BackendError", "KernelFaultError",
    "ClockSkewError", "AbiMismatchError", "CorruptDataError", "ValueOverflowError", "LimitError",
    "BadHandleError", "HandlerError", "NotRespondingError", "RingKernelIOError", "OperationCanceledError",
]
