"""FsspecStore over HTTP against a real server on 127.0.0.1 that can misbehave: requests in
flight capped, transient failures retried, other failures as StoreErrors naming the key,
servers that ignore byte ranges."""

from __future__ import annotations

import http.server
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import cuzarr
from cuzarr.config import DEFAULTS
from cuzarr.errors import StoreError
from cuzarr.stores import FsspecStore
from cuzarr.stores.fsspec import BACKOFF_FIRST, BACKOFF_MAX, backoff_delay, is_transient

aiohttp = pytest.importorskip("aiohttp")
from fsspec.implementations.http import HTTPFileSystem  # noqa: E402  (needs aiohttp)

SERVER_LIFETIME = 60.0  # seconds; the server stops by itself after this
MAX_REQUESTS = 20_000  # and answers no more than this many requests


class FlakyServer(http.server.ThreadingHTTPServer):
    """Serves (GET, HEAD with byte ranges; PUT; DELETE) the files under ``root``, with
    switches that make it misbehave, and counts the requests it is answering at once."""

    request_queue_size = 5  # a small listen backlog, like a modest real server
    daemon_threads = True

    def __init__(self, root: Path):
        super().__init__(("127.0.0.1", 0), Handler)
        self.root = root.resolve()
        self.timeout = 0.05  # handle_request's wait, so the loop sees stop and deadline
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.requests = self.in_flight = self.max_in_flight = 0
        self.methods: list[str] = []
        self.fail_next = 0  # answer the next N requests with fail_status ...
        self.fail_status = 503
        self.drop_next = 0  # ... or close the connection without an answer ...
        self.stall_next = 0.0  # ... or sleep this long before answering the next one
        self.ignore_range = False  # answer ranged GETs with the whole file (status 200)
        self.read_only = False  # answer PUT and DELETE with 501, as http.server does
        self.delay = 0.0  # seconds spent on every request (lets requests overlap)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def serve(self) -> None:
        deadline = time.monotonic() + SERVER_LIFETIME
        while not self.stop.is_set() and time.monotonic() < deadline:
            self.handle_request()

    def take(self, name: str) -> bool:
        """Use up one of the ``name`` failures still to inject."""
        with self.lock:
            if getattr(self, name) > 0:
                setattr(self, name, getattr(self, name) - 1)
                return True
            return False

    def reset_counts(self) -> None:
        with self.lock:
            self.requests = self.max_in_flight = 0
            self.methods.clear()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients expect
    disable_nagle_algorithm = True
    timeout = 5  # an idle keep-alive connection's thread ends after this
    server: FlakyServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._handle(self._get)

    def do_HEAD(self) -> None:
        self._handle(self._get)

    def do_PUT(self) -> None:
        self._handle(self._put)

    def do_DELETE(self) -> None:
        self._handle(self._delete)

    def _handle(self, answer) -> None:
        s = self.server
        with s.lock:
            s.requests += 1
            s.methods.append(self.command)
            s.in_flight += 1
            s.max_in_flight = max(s.max_in_flight, s.in_flight)
            over = s.requests > MAX_REQUESTS
        try:
            if s.take("drop_next") or over:
                self.close_connection = True  # nothing sent: the client sees a disconnect
                return
            stall = s.stall_next
            s.stall_next = 0.0
            time.sleep(stall or s.delay)
            if s.take("fail_next"):
                self._drain()
                return self._reply(s.fail_status)
            answer()
        finally:
            with s.lock:
                s.in_flight -= 1

    def _file(self) -> Path | None:
        path = (self.server.root / self.path.split("?")[0].lstrip("/")).resolve()
        return path if path.is_relative_to(self.server.root) else None

    def _get(self) -> None:
        path = self._file()
        if path is None or not path.is_file():
            return self._reply(404)
        data = path.read_bytes()
        wanted = self.headers.get("Range")
        if not wanted or self.server.ignore_range:
            return self._reply(200, data)
        first, last = re.fullmatch(r"bytes=(\d*)-(\d*)", wanted).groups()
        if not first:
            start, stop = max(0, len(data) - int(last)), len(data)
        else:
            start, stop = int(first), min(len(data), int(last) + 1 if last else len(data))
        if start >= len(data):
            return self._reply(416)
        self._reply(206, data[start:stop])

    def _put(self) -> None:
        body = self._drain()
        path = self._file()
        if self.server.read_only:
            return self._reply(501)
        if path is None:
            return self._reply(403)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        self._reply(201)

    def _delete(self) -> None:
        path = self._file()
        if self.server.read_only:
            return self._reply(501)
        if path is None or not path.is_file():
            return self._reply(404)
        path.unlink()
        self._reply(204)

    def _drain(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status: int, data: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD" and status != 204:
            self.wfile.write(data)


class DeletingHTTPFileSystem(HTTPFileSystem):
    """fsspec's HTTP file system plus DELETE, which it does not send by itself."""

    async def _rm_file(self, path: str, **kwargs: object) -> None:
        session = await self.set_session()
        async with session.delete(self.encode_url(path)) as r:
            self._raise_not_found_for_status(r, path)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FlakyServer]:
    srv = FlakyServer(tmp_path)
    thread = threading.Thread(target=srv.serve, daemon=True)
    thread.start()
    yield srv
    srv.stop.set()
    thread.join(timeout=5)
    srv.server_close()


def _write_array(root: Path, name: str = "a.zarr", **layout) -> np.ndarray:
    data = np.arange(64 * 64, dtype="u2").reshape(64, 64)
    layout = layout or {"chunks": (8, 8)}
    a = cuzarr.create_array(root / name, shape=data.shape, dtype=data.dtype, **layout)
    a[...] = data
    return data


# -- requests in flight -----------------------------------------------------------------------


def test_reads_keep_at_most_store_max_requests_in_flight(server: FlakyServer) -> None:
    data = _write_array(server.root)  # 64 chunks
    server.delay = 0.01
    with cuzarr.config.set(store_max_requests=3):
        got = cuzarr.open_array(f"{server.url}/a.zarr", mode="r")[...]
    np.testing.assert_array_equal(got, data)
    assert 2 <= server.max_in_flight <= 3


def test_writes_and_deletes_keep_at_most_store_max_requests_in_flight(
    server: FlakyServer,
) -> None:
    store = FsspecStore(DeletingHTTPFileSystem(skip_instance_cache=True), path=server.url)
    keys = [f"w/{i}" for i in range(40)]
    server.delay = 0.01
    with cuzarr.config.set(store_max_requests=4):
        store.set_many([(k, k.encode()) for k in keys])
        assert 2 <= server.max_in_flight <= 4
        assert (server.root / "w" / "39").read_bytes() == b"w/39"
        server.reset_counts()
        store.delete_many(keys)
    assert server.methods == ["DELETE"] * 40
    assert 2 <= server.max_in_flight <= 4
    assert not list((server.root / "w").iterdir())


# -- transient failures -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [503, 500, 502, 504])
def test_5xx_answers_are_retried(server: FlakyServer, status: int) -> None:
    data = _write_array(server.root, chunks=(64, 64))
    server.fail_status, server.fail_next = status, 1
    got = cuzarr.open_array(f"{server.url}/a.zarr", mode="r")[...]
    np.testing.assert_array_equal(got, data)
    assert server.fail_next == 0


def test_dropped_connections_are_retried(server: FlakyServer) -> None:
    data = _write_array(server.root, chunks=(64, 64))
    server.drop_next = 2
    got = cuzarr.open_array(f"{server.url}/a.zarr", mode="r")[...]
    np.testing.assert_array_equal(got, data)
    assert server.drop_next == 0


def test_timeouts_are_retried(server: FlakyServer) -> None:
    _write_array(server.root, chunks=(64, 64))
    timeout = aiohttp.ClientTimeout(total=0.2)
    fs = HTTPFileSystem(skip_instance_cache=True, client_kwargs={"timeout": timeout})
    server.stall_next = 1.0  # five times the client's patience
    store = FsspecStore(fs, path=f"{server.url}/a.zarr", read_only=True)
    assert b'"zarr_format"' in store.get("zarr.json")
    assert server.requests == 2


def test_a_failure_that_persists_gives_up_naming_the_key(server: FlakyServer) -> None:
    _write_array(server.root, chunks=(64, 64))
    store = FsspecStore(f"{server.url}/a.zarr", read_only=True)
    server.fail_next = 1000
    with cuzarr.config.set(store_retries=2):
        with pytest.raises(StoreError, match=r"'c/0/0'.*a\.zarr.*503.*failed 3 times"):
            store.get("c/0/0")
    assert server.requests == 3


@pytest.mark.parametrize("status", [400, 403, 501])
def test_answers_that_will_not_change_are_not_retried(server: FlakyServer, status: int) -> None:
    _write_array(server.root, chunks=(64, 64))
    store = FsspecStore(f"{server.url}/a.zarr", read_only=True)
    server.fail_status, server.fail_next = status, 1000
    with pytest.raises(StoreError, match=rf"'zarr.json'.*{server.url}/a\.zarr.*{status}"):
        store.get("zarr.json")
    assert server.requests == 1


def test_a_missing_object_reads_as_none_without_retries(server: FlakyServer) -> None:
    store = FsspecStore(server.url, read_only=True)
    assert store.get("nothing/here") is None
    assert server.requests == 1


def test_which_failures_are_transient() -> None:
    def response(status: int) -> Exception:
        return aiohttp.ClientResponseError(None, (), status=status)  # type: ignore[arg-type]

    for status in (429, 500, 502, 503, 504):
        assert is_transient(response(status))
    for status in (400, 401, 403, 416, 501):
        assert not is_transient(response(status))
    assert is_transient(aiohttp.ServerDisconnectedError())
    assert is_transient(ConnectionResetError())
    assert is_transient(TimeoutError())
    assert not is_transient(FileNotFoundError("k"))
    assert not is_transient(ValueError("bad"))
    wrapped = OSError("request failed")
    wrapped.__cause__ = response(503)
    assert is_transient(wrapped)


def test_backoff_is_bounded() -> None:
    for retry in range(40):
        assert 0 < backoff_delay(retry) <= BACKOFF_MAX
    assert all(backoff_delay(0) <= BACKOFF_FIRST for _ in range(100))
    # the pauses of the default retries add up to a few seconds at most
    longest = sum(min(BACKOFF_MAX, BACKOFF_FIRST * 2**i) for i in range(DEFAULTS["store_retries"]))
    assert longest < 10


# -- other failures and broken servers --------------------------------------------------------


def test_a_write_the_server_refuses_is_a_store_error(server: FlakyServer) -> None:
    server.read_only = True
    url = f"{server.url}/new.zarr"
    with pytest.raises(StoreError, match=rf"cannot write 'zarr.json' to {url}.*501"):
        cuzarr.create_array(url, shape=(4,), dtype="i4")
    assert server.methods.count("PUT") == 1  # 501 is an answer, not an accident


def test_a_server_ignoring_byte_ranges_still_reads_right(server: FlakyServer) -> None:
    data = _write_array(server.root, chunks=(8, 8), shards=(32, 32))
    server.ignore_range = True
    a = cuzarr.open_array(f"{server.url}/a.zarr", mode="r")
    np.testing.assert_array_equal(a[3:13, 40:50], data[3:13, 40:50])  # shard index + chunks
    np.testing.assert_array_equal(a[...], data)
    store = FsspecStore(f"{server.url}/a.zarr", read_only=True)
    whole = (server.root / "a.zarr" / "zarr.json").read_bytes()
    assert store.get("zarr.json", cuzarr.stores.ByteRange(5, 9)) == whole[5:9]
    assert store.get("zarr.json", cuzarr.stores.ByteRange.suffix(3)) == whole[-3:]
