"""HTTP read benchmark: a full read of an array from a small local HTTP server, cuzarr
against zarr-python 3.

The server (Python's threading HTTP server on 127.0.0.1, byte ranges supported) keeps a
listen backlog of 5, like a modest real server: a client that opens many connections at
once has some of them dropped and retried by TCP a second or more later, which is what
capping the requests in flight avoids. Each read runs in a fresh process, so it opens its
connections afresh ("cold"), then reads again on those connections ("warm").

    python benchmarks/http_read_bench.py [--shape 1024,1024] [--chunks 32,32]
                                         [--rounds 2] [--max-requests 16]
                                         [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import http.server
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

SERVER_LIFETIME = 600.0  # seconds; the server stops by itself after this

# Run in a child process: time the first read (new connections) and a second one.
READER = """
import json, sys, time
import numpy as np
library, url, max_requests = sys.argv[1], sys.argv[2], int(sys.argv[3])
if library == "cuzarr":
    import cuzarr
    cuzarr.config.set(store_max_requests=max_requests)
    def read():
        return cuzarr.open_array(url, mode="r")[...]
else:
    import zarr
    def read():
        return zarr.open_array(url, mode="r")[...]
times = []
for _ in range(2):
    t0 = time.perf_counter()
    data = read()
    times.append(time.perf_counter() - t0)
print(json.dumps({"cold": times[0], "warm": times[1], "sum": int(np.asarray(data).sum())}))
"""


class RangeServer(http.server.ThreadingHTTPServer):
    request_queue_size = 5
    daemon_threads = True

    def __init__(self, root: Path, latency: float = 0.0):
        super().__init__(("127.0.0.1", 0), RangeHandler)
        self.root = root.resolve()
        self.latency = latency
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0

    def serve(self) -> None:
        """Answer requests until :meth:`shutdown`, or for SERVER_LIFETIME at most."""
        timer = threading.Timer(SERVER_LIFETIME, self.shutdown)
        timer.daemon = True
        timer.start()
        try:
            self.serve_forever(poll_interval=0.1)
        finally:
            timer.cancel()


class RangeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    timeout = 10
    server: RangeServer

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        s = self.server
        with s.lock:
            s.in_flight += 1
            s.max_in_flight = max(s.max_in_flight, s.in_flight)
        try:
            time.sleep(s.latency)
            self._answer()
        finally:
            with s.lock:
                s.in_flight -= 1

    def _answer(self) -> None:
        path = (self.server.root / self.path.lstrip("/")).resolve()
        if not path.is_relative_to(self.server.root) or not path.is_file():
            return self._reply(404, b"")
        data = path.read_bytes()
        wanted = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if wanted is None:
            return self._reply(200, data)
        first, last = wanted.groups()
        start = max(0, len(data) - int(last)) if not first else int(first)
        stop = len(data) if not first or not last else min(len(data), int(last) + 1)
        self._reply(206, data[start:stop])

    def _reply(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def write_dataset(root: Path, shape: tuple[int, ...], chunks: tuple[int, ...]) -> int:
    """The array, written with zarr-python so both libraries read the same bytes."""
    import zarr

    rng = np.random.default_rng(0)
    data = rng.integers(0, 4096, size=shape, dtype=np.uint16)
    a = zarr.create_array(root / "a.zarr", shape=shape, chunks=chunks, dtype=data.dtype)
    a[...] = data
    return int(data.sum())


def listen_overflows() -> int | None:
    """Connections the kernel dropped because a listen backlog was full (Linux only)."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return None
    rows = [line.split() for line in lines if line.startswith("TcpExt:")]
    counts = dict(zip(rows[0], rows[1])) if len(rows) == 2 else {}
    return int(counts["ListenOverflows"]) if "ListenOverflows" in counts else None


def read_once(library: str, url: str, max_requests: int, expected: int) -> dict[str, float]:
    run = subprocess.run(
        [sys.executable, "-c", READER, library, url, str(max_requests)],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    result = json.loads(run.stdout.strip().splitlines()[-1])
    if result["sum"] != expected:
        raise SystemExit(f"{library} read different values")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", default="1024,1024")
    parser.add_argument("--chunks", default="32,32")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-requests", type=int, default=16, help="cuzarr's cap")
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="time the server spends on each request"
    )
    args = parser.parse_args()
    shape = tuple(int(n) for n in args.shape.split(","))
    chunks = tuple(int(n) for n in args.chunks.split(","))
    nchunks = int(np.prod([-(-s // c) for s, c in zip(shape, chunks)]))
    with tempfile.TemporaryDirectory(prefix="cuzarr-http-bench-") as folder:
        expected = write_dataset(Path(folder), shape, chunks)
        server = RangeServer(Path(folder), args.latency_ms / 1000)
        thread = threading.Thread(target=server.serve, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.server_port}/a.zarr"
        print(
            f"{shape} uint16, chunks {chunks} ({nchunks} chunks), zstd; server backlog 5, "
            f"{args.latency_ms:g} ms per request"
        )
        print(f"cuzarr store_max_requests={args.max_requests}")
        try:
            for n in range(1, args.rounds + 1):
                times = {}
                for library in ("cuzarr", "zarr"):
                    server.max_in_flight = 0
                    dropped = listen_overflows()
                    times[library] = t = read_once(library, url, args.max_requests, expected)
                    if dropped is not None:
                        dropped = f", {listen_overflows() - dropped} connections dropped"
                    print(
                        f"round {n} {library:7s} cold {t['cold']:6.2f} s  warm {t['warm']:6.2f} s"
                        f"  (at most {server.max_in_flight} requests at once at the server"
                        f"{dropped or ''})"
                    )
                for phase in ("cold", "warm"):
                    ratio = times["zarr"][phase] / times["cuzarr"][phase]
                    print(f"round {n} {phase}: zarr-python / cuzarr = {ratio:.2f}")
        finally:
            server.shutdown()
            thread.join(timeout=5)
            server.server_close()


if __name__ == "__main__":
    main()
