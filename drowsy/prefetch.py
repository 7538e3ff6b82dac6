"""Run an iterator ahead of its consumer in a thread of its own, in order, with bounded memory.

The session runner overlaps decoding, the face mesh and the rest of the pipeline this way for
recorded video (frames.csv is byte-identical to a one-thread run, tested). Items cross in
chunks of ``CHUNK``: every hand-over wakes the other thread and passes it the GIL, and with one
item at a time the three stages did that about 60 times a frame-second each beside the mesh."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterable
from typing import TypeVar

CHUNK = 4  # items handed over at once
QUEUE_CHUNKS = 1  # chunks waiting between the threads
# the most items a stage has made beyond what its consumer took: one chunk queued, one being
# filled (blocked on the full queue), one the consumer is working through
AHEAD_MAX = CHUNK * (QUEUE_CHUNKS + 2)
T = TypeVar("T")


def run_ahead(
    items: Iterable[T], name: str, on_end: Callable[[], object] | None = None
) -> Generator[T]:
    """Iterate ``items`` in a thread of its own, at most :data:`AHEAD_MAX` items ahead of the
    caller, in order. An exception raised by ``items`` is raised here after the items before
    it. Closing this generator stops the thread and waits for it; ``on_end`` then runs in the
    thread (to close what it was iterating, from the thread that iterated it)."""
    ahead: queue.Queue = queue.Queue(maxsize=QUEUE_CHUNKS)
    done = threading.Event()
    end = object()

    def put(item: object) -> bool:
        while not done.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        chunk: list = []
        try:
            for item in items:
                chunk.append(item)
                if len(chunk) == CHUNK:
                    if not put(chunk):
                        return
                    chunk = []
            if put(chunk):
                put(end)
        except BaseException as exc:  # re-raised in the caller's thread, after its items
            if put(chunk):
                put(exc)
        finally:
            if on_end is not None:
                on_end()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while (got := ahead.get()) is not end:
            if isinstance(got, BaseException):
                raise got
            yield from got
    finally:
        done.set()
        worker.join()
