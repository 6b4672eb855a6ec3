"""Memory back to the system after large requests.

A request near the body limit allocates hundreds of MB (the body, parsed leads, feature
matrices). CPython and glibc keep freed memory in their heaps for reuse, so a worker's size
stayed at its peak after a burst (finding 3 of issue 11). `leadscore serve` starts workers with
fixed glibc thresholds (`serving.launch.MALLOC_SETTINGS`); on top of that, when the last
large request in flight has finished, `models.memory.give_back` asks glibc to return free
heap pages now.
"""

from __future__ import annotations

# Requests with a body this large are followed by `give_back` once none is in flight.
LARGE_BODY_BYTES = 1 << 20
