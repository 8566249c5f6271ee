"""Kernel-to-kernel messaging from Python (k2k.h, topic.h): named endpoints and topic publish/subscribe.

K2KBroker wraps what the C API offers the host: naming kernels (endpoints) so handlers can resolve each
other, subscribing kernels to MQTT-style filters ('+' one level, '#' the rest), publishing to them (all or
nothing, or best effort with drop_if_full), and topic matching. Subscribers are kernels: a publication lands
in each matching kernel's K2K inbox, and its handler sees it (the built-in echo sends it back to the host,
which is how the tests observe deliveries; split_publication() parses such a payload). K2K runs on the CPU
backend; on others subscribe raises NotSupportedError.
"""
import asyncio
from dataclasses import dataclass
from typing import Dict, Optional

from ringkernel import _native

topic_match = _native.topic_match
validate_filter = _native.validate_filter
validate_topic = _native.validate_topic
split_publication = _native.split_publication


@dataclass
class K2KConfig:
    """Broker settings. publish_timeout: seconds a publish waits for every subscriber to have room (None:
    forever). drop_if_full: never wait; deliver to those with room and count the rest (PublishInfo.dropped).
    The inbox capacity of a kernel is its queue_capacity (LaunchOptions); the C API has no other knob."""

    publish_timeout: Optional[float] = 1.0
    drop_if_full: bool = False


@dataclass(frozen=True)
class PublishInfo:
    """What became of one publication: subscribers matched, delivered to, dropped (inbox full, only with
    drop_if_full), closed (terminating or stopped: skipped)."""

    matched: int
    delivered: int
    dropped: int
    closed: int


class K2KBroker:
    """Endpoints and topics of one RingKernel's default runtime (or a native Runtime)."""

    def __init__(self, ringkernel, config: Optional[K2KConfig] = None):
        self._rt = getattr(ringkernel, "runtime", ringkernel)
        if not isinstance(self._rt, _native.Runtime):
            raise TypeError("K2KBroker needs a RingKernel or a ringkernel._native.Runtime")
        self.config = config or K2KConfig()
        self._endpoints: Dict[str, object] = {}

    # ---- endpoints
    def register_endpoint(self, name: str, kernel) -> None:
        """Names a kernel; AlreadyExistsError if the name is taken."""
        self._rt.endpoint_register(name, kernel)
        self._endpoints[name] = kernel

    def resolve(self, name: str) -> int:
        """The address of the kernel named `name`; NotFoundError if none."""
        return self._rt.endpoint_resolve(name)

    def unregister_endpoint(self, name: str) -> None:
        self._rt.endpoint_unregister(name)
        self._endpoints.pop(name, None)

    @property
    def endpoints(self) -> Dict[str, object]:
        """Endpoints registered through this broker (the C API cannot list a runtime's endpoints)."""
        return dict(self._endpoints)

    # ---- topics
    def subscribe(self, kernel, topic_filter: str) -> None:
        """Subscribes a kernel to a filter; AlreadyExistsError for the same filter twice."""
        self._rt.subscribe(kernel, topic_filter)

    def unsubscribe(self, kernel, topic_filter: str) -> None:
        self._rt.unsubscribe(kernel, topic_filter)

    def publish(self, topic: str, payload=b"", type_id=None, timeout=..., drop_if_full=None) -> PublishInfo:
        """Publishes to every kernel whose filter matches `topic` (no wildcards), each exactly once."""
        t = self.config.publish_timeout if timeout is ... else timeout
        d = self.config.drop_if_full if drop_if_full is None else drop_if_full
        return PublishInfo(**self._rt.publish(topic, payload, type_id, t, d))

    async def publish_async(self, topic: str, payload=b"", type_id=None, timeout=..., drop_if_full=None):
        """publish() without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(
            None, lambda: self.publish(topic, payload, type_id, timeout, drop_if_full))

    @staticmethod
    def matches(topic_filter: str, topic: str) -> bool:
        return topic_match(topic_filter, topic)


__all__ = ["K2KBroker", "K2KConfig", "PublishInfo", "topic_match", "validate_filter", "validate_topic",
           "split_publication"]
