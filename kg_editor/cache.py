"""The one cache helper: a thread-safe, bounded least-recently-used mapping.

Every in-process cache of kg-editor (live editing sessions, teaching models and belief
updates, a session's per-target predictions) is an :class:`LRU`; the store stays the
truth, so dropping an entry never loses work.

Examples
--------
>>> c = LRU(2)
>>> c["a"], c["b"] = 1, 2
>>> _ = c.get("a")      # "a" is now the most recently used
>>> c["c"] = 3          # so "b" goes
>>> sorted(c.keys())
['a', 'c']
>>> c.get_or_set("d", lambda: 4), len(c)
(4, 2)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

from cachetools import LRUCache

__all__ = ["LRU"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most ``maxsize`` entries; reading one makes it the most recently used.

    Parameters
    ----------
    maxsize : int
        Entries kept; the least recently used go first.
    on_evict : callable, optional
        Called with the key of every entry dropped to make room.
    """

    def __init__(self, maxsize: int, on_evict: Callable[[K], object] | None = None):
        self.maxsize = int(maxsize)
        self._data: LRUCache[K, V] = LRUCache(maxsize=max(1, self.maxsize))
        self._lock = threading.RLock()
        self._on_evict = on_evict

    def get(self, key: K, default: V | None = None) -> V | None:
        with self._lock:
            return self._data.get(key, default)

    def __getitem__(self, key: K) -> V:
        with self._lock:
            return self._data[key]

    def __setitem__(self, key: K, value: V) -> None:
        with self._lock:
            while key not in self._data and len(self._data) >= self._data.maxsize:
                old, _ = self._data.popitem()
                if self._on_evict is not None:
                    self._on_evict(old)
            self._data[key] = value

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._data

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def __iter__(self) -> Iterator[K]:
        with self._lock:
            return iter(list(self._data.keys()))

    def keys(self) -> list[K]:
        with self._lock:
            return list(self._data.keys())

    def pop(self, key: K, default: V | None = None) -> V | None:
        with self._lock:
            return self._data.pop(key, default)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def get_or_set(self, key: K, make: Callable[[], V]) -> V:
        """The value for ``key``, made with ``make()`` (outside the lock) on a miss."""
        with self._lock:
            if key in self._data:
                return self._data[key]
        value = make()
        self[key] = value
        return value
