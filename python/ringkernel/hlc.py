"""Hybrid logical clocks (hlc.h): HlcTimestamp (totally ordered by physical, logical, node) and HlcClock."""
from ringkernel._native import HlcClock, HlcTimestamp

__all__ = ["HlcClock", "HlcTimestamp"]
