"""The shared pool's task runner: every task once, the calling thread working beside the
pool, and a failure stopping new tasks without leaving any running."""

import threading
import time

import pytest

import cuzarr
from cuzarr import concurrency


def test_run_each_runs_every_task_once_on_the_caller_and_the_pool():
    seen, runners, lock = [], set(), threading.Lock()

    def task(i):
        time.sleep(0.002)  # long enough for every worker to take some
        with lock:
            seen.append(i)
            runners.add(threading.current_thread().name)

    with cuzarr.config.set(threads=3):
        concurrency.run_each(task, list(range(40)))
    assert sorted(seen) == list(range(40))
    assert threading.current_thread().name in runners
    assert any(name.startswith("cuzarr") for name in runners)
    assert len(runners) <= 3  # the caller and two pool threads


def test_run_each_stops_after_a_failure_and_waits_for_running_tasks():
    started, running, lock = [], [0], threading.Lock()

    def task(i):
        with lock:
            started.append(i)
            running[0] += 1
        try:
            time.sleep(0.005)
            if i == 3:
                raise ValueError(f"task {i} failed")
        finally:
            with lock:
                running[0] -= 1

    with cuzarr.config.set(threads=2), pytest.raises(ValueError, match="task 3"):
        concurrency.run_each(task, list(range(100)))
    assert running[0] == 0  # nothing still running once the error is raised
    assert len(started) < 10  # no new task after the failure


def test_run_each_is_inline_with_one_thread_or_inside_the_pool():
    names = []
    with cuzarr.config.set(threads=1):
        concurrency.run_each(lambda i: names.append(threading.current_thread().name), [0, 1])
    assert set(names) == {threading.current_thread().name}

    def outer(_):  # a pool thread's own run_each stays on that thread
        inner = []
        concurrency.run_each(lambda i: inner.append(threading.current_thread().name), [0, 1, 2])
        return inner

    with cuzarr.config.set(threads=2):
        for inner in concurrency.executor().map(outer, [0, 1]):
            assert len(set(inner)) == 1 and inner[0].startswith("cuzarr")
