"""Run an iterator ahead of its consumer in a thread of its own, in order, with bounded memory.

The session runner overlaps decoding, the face mesh and the rest of the pipeline this way for
recorded video (frames.csv is byte-identical to a one-thread run, tested)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterable
from typing import TypeVar

PREFETCH_FRAMES = 4  # frames each stage thread may run ahead (bounded memory: a few images)
T = TypeVar("T")


def run_ahead(
    items: Iterable[T], name: str, on_end: Callable[[], object] | None = None
) -> Generator[T]:
    """Iterate ``items`` in a thread of its own, at most ``PREFETCH_FRAMES`` items ahead of the
    caller, in order. An exception raised by ``items`` is raised here after the items before
    it. Closing this generator stops the thread and waits for it; ``on_end`` then runs in the
    thread (to close what it was iterating, from the thread that iterated it)."""
    ahead: queue.Queue = queue.Queue(maxsize=PREFETCH_FRAMES)
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
        try:
            for item in items:
                if not put((item,)):
                    return
            put(end)
        except BaseException as exc:  # re-raised in the caller's thread, in order
            put(exc)
        finally:
            if on_end is not None:
                on_end()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while (item := ahead.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item[0]
    finally:
        done.set()
        worker.join()
