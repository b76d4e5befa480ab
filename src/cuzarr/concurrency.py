"""The shared thread pool that runs host codecs and store calls.

No thread is started at import. The pool is created on first use and created anew in a
child process after ``fork()`` (data-loader workers fork), because a forked child
inherits the pool object but none of its threads.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_this_thread = threading.local()  # .inline: parallel maps on this thread run inline


def _forget_pool_in_child() -> None:
    global _pool, _lock
    _pool = None
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_in_child)


@functools.cache
def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), asked once: the call costs ~10 us
    and would otherwise run on every read."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def thread_count() -> int:
    from cuzarr.config import config

    n = config.get("threads")
    return max(1, int(n) if n else usable_cores())


def executor() -> ThreadPoolExecutor:
    """The process-wide pool, sized by ``config["threads"]`` (default: the core count)."""
    global _pool, _pool_size
    wanted = thread_count()
    pool = _pool
    if pool is not None and _pool_size == wanted:
        return pool
    with _lock:
        if _pool is None or _pool_size != wanted:
            old = _pool
            _pool = ThreadPoolExecutor(max_workers=wanted, thread_name_prefix="cuzarr")
            _pool_size = wanted
            if old is not None:
                old.shutdown(wait=False)
        return _pool


# Below this much work (bytes to decode or encode), a batch runs on the calling thread:
# handing a few small chunks to the pool and waiting for them costs more (hundreds of
# microseconds on small VMs) than the work itself.
PARALLEL_MIN_BYTES = 1 << 20


def parallel_map(
    fn: Callable[..., R], *items: Sequence[Any], min_items: int = 2, work_bytes: int | None = None
) -> list[R]:
    """``list(map(fn, *items))``, on the pool when there is enough work to share.

    The items are cut into a few contiguous runs per thread, so a batch of thousands of
    small chunks costs a handful of pool tasks, not thousands; the runs go through
    :func:`run_each` (the calling thread takes some too). Runs inline for a single
    item, for less than ``PARALLEL_MIN_BYTES`` of ``work_bytes``, inside a pool thread
    (nested maps would deadlock a bounded pool) or an :func:`inline` block, and when only
    one thread is configured.
    """
    n = len(items[0])
    small = work_bytes is not None and work_bytes < PARALLEL_MIN_BYTES
    if n < min_items or small or _runs_inline():
        return list(map(fn, *items))
    threads = thread_count()
    if threads == 1:
        return list(map(fn, *items))

    parts = split_runs(range(n), min(n, threads * 4))
    results: list[list[R]] = [[] for _ in parts]

    def run(k: int) -> None:
        part = parts[k]
        results[k] = list(map(fn, *(seq[part.start : part.stop] for seq in items)))

    run_each(run, range(len(parts)))
    return [r for part in results for r in part]


def run_each(fn: Callable[[T], Any], tasks: Sequence[T]) -> None:
    """``fn(task)`` for every task, each task a pool job of its own (unlike
    :func:`parallel_map`, which groups items): for tasks already sized for the pool, so
    that the threads stay evenly busy to the end. Inline where parallel_map would be.

    The calling thread takes tasks too, beside one pool thread fewer than configured:
    it would otherwise only wait, and the first task starts without a hand-off (each
    hand-off costs tens of microseconds, as much as a small read). After a failure no
    new task starts; the first error is raised once every running task has ended.
    """
    workers = min(thread_count(), len(tasks))
    if workers < 2 or _runs_inline():
        for task in tasks:
            fn(task)
        return
    pending = iter(tasks)
    lock = threading.Lock()
    failed = threading.Event()

    def drain() -> None:
        while not failed.is_set():
            with lock:
                task = next(pending, _NO_TASK)
            if task is _NO_TASK:
                return
            try:
                fn(task)
            except BaseException:
                failed.set()
                raise

    helpers = [executor().submit(drain) for _ in range(workers - 1)]
    error: BaseException | None = None
    try:
        with inline():
            drain()
    except BaseException as e:
        error = e
    for helper in helpers:
        try:
            helper.result()
        except BaseException as e:
            error = error or e
    if error is not None:
        raise error


_NO_TASK = object()


def split_runs(items: Sequence[T], runs: int) -> list[Sequence[T]]:
    """``items`` cut into ``runs`` contiguous runs of (nearly) equal length."""
    n = len(items)
    return [items[n * i // runs : n * (i + 1) // runs] for i in range(runs)]


@contextmanager
def inline() -> Iterator[None]:
    """Within the block, parallel maps on this thread run inline: for a piece of work too
    small for the pool as a whole, whose inner calls (a store's batched read, say) cannot
    tell how small they are."""
    outer = getattr(_this_thread, "inline", False)
    _this_thread.inline = True
    try:
        yield
    finally:
        _this_thread.inline = outer


def _runs_inline() -> bool:
    """Inside a pool thread (a nested map would deadlock a bounded pool) or an
    :func:`inline` block."""
    if getattr(_this_thread, "inline", False):
        return True
    return threading.current_thread().name.startswith("cuzarr")
