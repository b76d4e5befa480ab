"""A preloaded process that forks workers on request, so that a worker costs a fork
rather than an interpreter start (writers killed hundreds of times, say).

The zygote (``python -m <package>.zygote``) imports cuzarr and numpy and then serves
frames on stdin: ``("spawn", module, function, args)`` forks a child that runs the
function and exits (0, or 1 with the traceback on stderr), answering its pid;
``("poll", pid)`` answers its wait status or None while it runs; ``("wait", pid)``
reaps it and answers its wait status. Children are never reaped unasked, so a pid
stays valid (a zombie at worst) until the parent has waited for it.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import traceback
from typing import Any

from .runner import PACKAGE, child_environment, read_frame, write_frame


def _spawn(module: str, name: str, args: tuple) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        getattr(importlib.import_module(module), name)(*args)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def _serve(request: tuple) -> Any:
    if request[0] == "spawn":
        return _spawn(*request[1:])
    pid = request[1]
    if request[0] == "poll":
        done, status = os.waitpid(pid, os.WNOHANG)
        return status if done else None
    return os.waitpid(pid, 0)[1]


def main() -> None:
    import numpy  # noqa: F401

    import cuzarr  # noqa: F401

    answers = os.dup(1)
    os.dup2(2, 1)
    requests = sys.stdin.fileno()
    while (request := read_frame(requests)) is not None:
        write_frame(answers, _serve(request))


class Zygote:
    """The parent side."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", f"{PACKAGE}.zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=child_environment(),
        )

    def _ask(self, *request: Any) -> Any:
        write_frame(self._proc.stdin.fileno(), request)
        return read_frame(self._proc.stdout.fileno())

    def spawn(self, fn: Any, *args: Any) -> int:
        return self._ask("spawn", fn.__module__, fn.__qualname__, args)

    def poll(self, pid: int) -> int | None:
        return self._ask("poll", pid)

    def wait(self, pid: int) -> int:
        return self._ask("wait", pid)

    def close(self) -> None:
        self._proc.stdin.close()
        self._proc.wait()

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    main()
