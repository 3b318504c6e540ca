"""The outgoing frame queue of a live client: latest frame wins, messages are never dropped."""

from __future__ import annotations

import asyncio
import collections
from typing import Any

from rtrdit.serve.scheduler import Output

OUT_QUEUE = 4  # stylized frames waiting for a slow client; older ones are dropped


class DropOldest:
    """An outgoing queue holding at most `size` frames: a new frame drops the oldest one (latest
    frame wins); messages (stats, errors) are never dropped."""

    def __init__(self, size: int = OUT_QUEUE) -> None:
        self.items: collections.deque[Any] = collections.deque()
        self.size = size
        self.frames = 0
        self.dropped = 0
        self._ready = asyncio.Event()

    @staticmethod
    def _is_frame(item: Any) -> bool:
        return isinstance(item, (Output, tuple))

    def put(self, item: Any) -> None:
        if self._is_frame(item):
            if self.frames >= self.size:
                for i, old in enumerate(self.items):
                    if self._is_frame(old):
                        del self.items[i]
                        self.frames -= 1
                        self.dropped += 1
                        break
            self.frames += 1
        self.items.append(item)
        self._ready.set()

    async def get(self) -> Any:
        while not self.items:
            self._ready.clear()
            await self._ready.wait()
        item = self.items.popleft()
        if self._is_frame(item):
            self.frames -= 1
        return item


__all__ = ["OUT_QUEUE", "DropOldest"]
