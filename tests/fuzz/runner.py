"""Runs fuzz cases in a child process under an address-space limit and a timeout.

A case is a module-level function and picklable arguments. The child (:mod:`.worker`)
runs cases one after another and answers each with an :class:`Outcome`; a case that
hangs gets the child killed, one that kills the child is reported as a crash, and the
next case gets a fresh child either way. Starting a child costs a fraction of a second,
so one child serves many cases.
"""

from __future__ import annotations

import os
import pickle
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cuzarr.errors import ZarrError

PACKAGE = __name__.rpartition(".")[0]
# The folder to put on the child's sys.path so that PACKAGE imports there as it does here.
IMPORT_ROOT = Path(__file__).resolve().parents[len(PACKAGE.split("."))]
CUZARR_SRC = os.sep + "cuzarr" + os.sep
FAILURE_KINDS = ("error", "memory", "hang", "crash")
# How C libraries word a failed allocation (zstd, blosc, lzma, bz2, zlib, numpy).
MEMORY_WORDS = (
    "allocation error",
    "out of memory",
    "not enough memory",
    "cannot allocate",
    "memory allocation",
    "unable to allocate",
    "memoryerror",
)
_FRAME = struct.Struct("<Q")
STARTUP_S = 60  # a cold start on a busy machine imports numpy, numcodecs, fsspec


@dataclass
class Outcome:
    """What one case (or one step of a case) did."""

    kind: str  # "ok", "zarr_error", or a failure: "error", "memory", "hang", "crash"
    error: str = ""  # the exception's class name
    mro: tuple[str, ...] = ()
    message: str = ""
    where: str = ""  # the innermost frame inside cuzarr
    raised_at: str = ""  # the innermost frame
    chain: tuple[str, ...] = ()  # "Type: message" of every cause and context
    step: str = ""  # which step of the case
    value: Any = None  # what the case function returned
    peak_mib: float = 0.0  # resident memory the case added at its peak

    @property
    def failed(self) -> bool:
        return self.kind in FAILURE_KINDS

    def is_a(self, class_name: str) -> bool:
        return class_name in self.mro

    def mentions_memory(self) -> bool:
        """Whether an allocation failure hides in the exception chain (a codec may wrap a
        failed allocation of a huge buffer into an error of its own)."""
        if any(link.startswith("MemoryError") for link in self.chain):
            return True
        text = " ".join((self.message, *self.chain)).lower()
        return any(m in text for m in MEMORY_WORDS)

    def headline(self) -> str:
        if self.kind == "ok":
            return self.message or "ok"
        return f"{self.error or self.kind}: {self.message}"[:300]


def _frame_text(frame: traceback.FrameSummary) -> str:
    path = frame.filename
    if CUZARR_SRC in path:
        path = "cuzarr" + os.sep + path.rsplit(CUZARR_SRC, 1)[1]
    else:
        path = os.path.basename(path)
    return f"{path}:{frame.lineno} in {frame.name}"


def classify(exc: BaseException, step: str = "") -> Outcome:
    """An exception -> its outcome: a ZarrError passes, MemoryError (also wrapped in a
    ZarrError) is "memory", anything else is "error"."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if CUZARR_SRC in f.filename]
    chain: list[str] = []
    link = exc.__cause__ or exc.__context__
    while link is not None and len(chain) < 8:
        chain.append(f"{type(link).__name__}: {link}"[:300])
        link = link.__cause__ or link.__context__
    if isinstance(exc, MemoryError) or any(c.startswith("MemoryError") for c in chain):
        kind = "memory"  # a ZarrError wrapping it still means the limit was hit
    elif isinstance(exc, ZarrError):
        kind = "zarr_error"
    else:
        kind = "error"
    return Outcome(
        kind=kind,
        error=type(exc).__name__,
        mro=tuple(c.__name__ for c in type(exc).__mro__),
        message=str(exc)[:500],
        where=_frame_text(ours[-1]) if ours else "",
        raised_at=_frame_text(frames[-1]) if frames else "",
        chain=tuple(chain),
        step=step,
    )


def attempt(step: str, fn: Any, *args: Any) -> Outcome:
    """Run one step of a case, turning what it raises into an outcome."""
    try:
        value = fn(*args)
    except Exception as e:
        return classify(e, step)
    return Outcome("ok", step=step, value=value)


# -- framing: an 8-byte length, then a pickle ------------------------------------------


def write_frame(fd: int, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_FRAME.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def read_frame(fd: int) -> Any:
    """The next object, or None at end of file (the other side is gone)."""
    head = _read_exactly(fd, _FRAME.size)
    if head is None:
        return None
    body = _read_exactly(fd, _FRAME.unpack(head)[0])
    return None if body is None else pickle.loads(body)


def _read_exactly(fd: int, size: int) -> bytes | None:
    parts: list[bytes] = []
    while size:
        part = os.read(fd, min(size, 1 << 20))
        if not part:
            return None
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


# -- the parent side --------------------------------------------------------------------


def child_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(IMPORT_ROOT), env.get("PYTHONPATH", "")) if p
    )
    # Few malloc arenas and BLAS threads: each arena reserves 64 MiB of address space,
    # which the address-space limit would count against the case.
    env.update(MALLOC_ARENA_MAX="2", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return env


class Runner:
    """A child process that runs cases; ``memory_mib`` is the address space a case may
    add to the child's warmed-up size, ``timeout_s`` how long one case may take."""

    def __init__(self, memory_mib: int = 1024, timeout_s: float = 10.0):
        self.memory_mib = memory_mib
        self.timeout_s = timeout_s
        self.starts = 0
        self._proc: subprocess.Popen | None = None
        self._stderr: Any = None
        self._case_start = 0  # where the current case's stderr begins

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, fn: Any, *args: Any, timeout_s: float | None = None) -> Outcome:
        proc = self._proc or self._start()
        timeout_s = timeout_s or self.timeout_s
        self._case_start = os.fstat(self._stderr.fileno()).st_size
        try:
            write_frame(proc.stdin.fileno(), (fn.__module__, fn.__qualname__, args, timeout_s))
        except BrokenPipeError:
            return self._crashed(timeout_s)
        ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
        if not ready:
            self._stop()
            return self._hung(timeout_s)
        outcome = read_frame(proc.stdout.fileno())
        return self._crashed(timeout_s) if outcome is None else outcome

    def close(self) -> None:
        if self._proc is not None:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._stop()
        self._proc = None

    def _start(self) -> subprocess.Popen:
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", f"{PACKAGE}.worker", str(self.memory_mib)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=child_environment(),
        )
        self.starts += 1
        ready, _, _ = select.select([self._proc.stdout], [], [], STARTUP_S)
        if not ready or read_frame(self._proc.stdout.fileno()) != "ready":
            self._stop()
            raise RuntimeError(f"the fuzz worker did not start: {self._stderr_tail()}")
        return self._proc

    def _stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        if self._proc is not None:
            self._proc.wait()
        self._proc = None

    def _hung(self, timeout_s: float) -> Outcome:
        where, raised_at = hang_frames(self._case_stderr())
        msg = f"no answer within {timeout_s} s"
        return Outcome("hang", message=msg, where=where, raised_at=raised_at)

    def _crashed(self, timeout_s: float | None = None) -> Outcome:
        proc = self._proc
        code = proc.wait() if proc is not None else None
        self._proc = None
        dump = self._case_stderr()
        if timeout_s is not None and "Timeout (" in dump:
            # It died after the stacks of an overdue case were dumped: dumping the stacks
            # of running threads can itself crash, so the case counts as hung.
            return self._hung(timeout_s)
        where, raised_at = hang_frames(dump.rsplit("Fatal Python error", 1)[-1])
        how = f"signal {signal.Signals(-code).name}" if code and code < 0 else f"exit {code}"
        lines = dump.strip().splitlines() or [""]
        fatal = [line for line in lines if line.startswith("Fatal Python error")]
        msg = f"the child died ({how}); last words: {(fatal or lines)[-1][:300]}"
        return Outcome("crash", message=msg, where=where, raised_at=raised_at)

    def _stderr_tail(self, size: int = 1500) -> str:
        self._stderr.seek(0)
        return self._stderr.read()[-size:].decode(errors="replace")

    def _case_stderr(self) -> str:
        """What the child wrote to stderr during the current case (the last 20 kB)."""
        self._stderr.seek(max(self._case_start, self._stderr.seek(0, os.SEEK_END) - 20000))
        return self._stderr.read().decode(errors="replace")


def hang_frames(dump: str) -> tuple[str, str]:
    """(innermost cuzarr frame, innermost frame) of a faulthandler dump: of the thread
    that was in cuzarr code (the current thread first), else of the current thread."""
    dump = dump.rsplit("Timeout (", 1)[-1]
    blocks = re.split(r"\n(?=(?:Current thread|Thread) 0x)", dump)
    blocks.sort(key=lambda b: not b.lstrip().startswith("Current thread"))
    stacks = [re.findall(r'File "([^"]+)", line (\d+) in (\S+)', b) for b in blocks]
    stacks = [frames for frames in stacks if frames]
    for frames in stacks:
        ours = [f for f in frames if CUZARR_SRC in f[0]]
        if ours:
            return _dumped(ours[0]), _dumped(frames[0])
    return ("", _dumped(stacks[0][0])) if stacks else ("", "")


def _dumped(frame: tuple[str, str, str]) -> str:
    path, line, name = frame
    return _frame_text(traceback.FrameSummary(path, int(line), name))
