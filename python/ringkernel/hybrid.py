"""HybridDispatcher: runs each piece of work on the CPU or the GPU, whichever its size and the costs measured
so far say is cheaper.

Both targets are callables taking the work item. The dispatcher keeps, per target, a least-squares fit of
time = fixed + per_item * size over its recent runs (the GPU usually has the larger fixed cost: a launch or a
round trip; the CPU the larger per-item cost), and picks the target with the lower predicted time. Until a
target has runs at two distinct sizes it is explored: the size threshold decides (work of at least
gpu_threshold items goes to the GPU). Without a GPU target (or with ringkernel.cuda reporting no device when
gpu is 'auto') everything runs on the CPU.
"""
import collections
import threading
import time
from typing import Callable, Optional

from ringkernel import cuda


class _CostModel:
    def __init__(self, window: int):
        self.samples = collections.deque(maxlen=window)

    def add(self, size: float, seconds: float):
        self.samples.append((size, seconds))

    def fit(self):
        """(fixed, per_item) by least squares, or None without two distinct sizes."""
        n = len(self.samples)
        if n < 2:
            return None
        sx = sum(s for s, _ in self.samples)
        sy = sum(t for _, t in self.samples)
        sxx = sum(s * s for s, _ in self.samples)
        sxy = sum(s * t for s, t in self.samples)
        den = n * sxx - sx * sx
        if den <= 1e-12 * max(1.0, sxx):
            return None
        b = (n * sxy - sx * sy) / den
        a = (sy - b * sx) / n
        return max(a, 0.0), max(b, 0.0)

    def predict(self, size: float) -> Optional[float]:
        f = self.fit()
        return None if f is None else f[0] + f[1] * size


class HybridDispatcher:
    """dispatch(work, size=None) runs `work` on 'cpu' or 'gpu' and returns the result; decide(size) says which
    it would pick. size defaults to len(work). stats() reports the runs and the fitted costs."""

    def __init__(self, cpu: Callable, gpu: Optional[Callable] = None, *, gpu_threshold: int = 4096,
                 window: int = 64, require_device: bool = False):
        if not callable(cpu) or (gpu is not None and not callable(gpu)):
            raise TypeError("cpu and gpu must be callables")
        if require_device and gpu is not None and not cuda.available():
            gpu = None  # the GPU path needs a device this machine lacks: CPU only
        self._targets = {"cpu": cpu, "gpu": gpu}
        self.gpu_threshold = gpu_threshold
        self._models = {"cpu": _CostModel(window), "gpu": _CostModel(window)}
        self._counts = {"cpu": 0, "gpu": 0}
        self._lock = threading.Lock()

    @property
    def has_gpu(self) -> bool:
        return self._targets["gpu"] is not None

    def decide(self, size: float) -> str:
        if size < 0:
            raise ValueError("size must be >= 0")
        if not self.has_gpu:
            return "cpu"
        with self._lock:
            pc, pg = self._models["cpu"].predict(size), self._models["gpu"].predict(size)
        if pc is None or pg is None:
            return "gpu" if size >= self.gpu_threshold else "cpu"
        return "gpu" if pg < pc else "cpu"

    def run_on(self, target: str, work, size=None):
        """Runs work on a given target (to seed the cost model, or to force a choice) and records the time."""
        fn = self._targets.get(target)
        if fn is None:
            raise ValueError(f"no {target!r} target")
        n = len(work) if size is None else size
        t0 = time.perf_counter()
        result = fn(work)
        dt = time.perf_counter() - t0
        with self._lock:
            self._models[target].add(float(n), dt)
            self._counts[target] += 1
        return result

    def dispatch(self, work, size=None):
        n = len(work) if size is None else size
        return self.run_on(self.decide(n), work, n)

    def crossover(self) -> Optional[float]:
        """The size above which the GPU is predicted faster, or None if the fits do not cross."""
        with self._lock:
            fc, fg = self._models["cpu"].fit(), self._models["gpu"].fit()
        if fc is None or fg is None or fc[1] <= fg[1]:
            return None
        return max(0.0, (fg[0] - fc[0]) / (fc[1] - fg[1]))

    def stats(self) -> dict:
        with self._lock:
            return {t: {"runs": self._counts[t], "fit": self._models[t].fit()} for t in ("cpu", "gpu")}


__all__ = ["HybridDispatcher"]
