"""Request bodies are refused at their route's cap while they arrive, not after they are read.

Against `dispatch serve`, with the hub's memory read from /proc while
bounded uploads run: chunked (no length to refuse up front) and declared.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers import HubProcess, S, rss_mb, start_hub_process, test_token

pytestmark = pytest.mark.slow

CHUNK = b"a" * 65536


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    running = start_hub_process(tmp_path_factory.mktemp("bodies"), env={"DISPATCH_INTAKE_WORKERS": "0"})
    running.wait_healthy()
    yield running
    running.stop()


def _upload(hub: HubProcess, path: str, megabytes: int, headers: str = "") -> tuple[int, bytes]:
    """POST a chunked JSON body of up to ``megabytes`` MB. -> (bytes sent before the hub stopped it, answer)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", hub.port), timeout=20 * S) as s:
        s.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{headers}"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        with contextlib.suppress(OSError):
            for _ in range(megabytes * 16):
                s.sendall(b"10000\r\n" + CHUNK + b"\r\n")
                sent += len(CHUNK)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := s.recv(65536):
                answer += chunk
    return sent, answer


def test_four_huge_anonymous_sign_ins_are_cut_and_memory_stays_flat(hub: HubProcess) -> None:
    """Four 128 MB sign-in bodies (4 KiB allowed): each is stopped early and the hub barely grows."""
    pid = hub.proc.pid
    before = rss_mb(pid)
    results: list[tuple[int, bytes]] = []
    threads = [threading.Thread(target=lambda: results.append(_upload(hub, "/api/login", 128))) for _ in range(4)]
    for t in threads:
        t.start()
    peak = before
    while any(t.is_alive() for t in threads):
        peak = max(peak, rss_mb(pid))
        time.sleep(0.02)
    assert all(sent < 32 * 1024 * 1024 for sent, _ in results), [sent for sent, _ in results]
    assert peak - before < 40, f"RSS grew {peak - before:.0f} MB"
    answered = [a for _, a in results if a]
    assert all(a.startswith(b"HTTP/1.1 413 ") for a in answered), answered


def test_a_signed_in_office_upload_is_cut_at_its_cap(hub: HubProcess) -> None:
    """The office routes stop a 64 MB body from a signed-in dispatcher at their 64 KiB cap."""
    sent, answer = _upload(hub, "/api/agencies", 64, f"Authorization: Bearer {test_token()}\r\n")
    assert sent < 32 * 1024 * 1024
    assert answer == b"" or answer.startswith(b"HTTP/1.1 413 ")


def test_a_declared_length_over_the_cap_is_refused_before_the_body(hub: HubProcess) -> None:
    """Content-Length over the cap: 413 at once, nothing of the body read."""
    with socket.create_connection(("127.0.0.1", hub.port), timeout=10 * S) as s:
        s.sendall(
            b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 268435456\r\n\r\n"
        )
        head = s.recv(65536)
    assert head.startswith(b"HTTP/1.1 413 ")


def test_a_body_that_stops_arriving_is_refused(hub: HubProcess) -> None:
    """Half a body and then silence: the route answers 408 instead of waiting for ever."""
    with socket.create_connection(("127.0.0.1", hub.port), timeout=40 * S) as s:
        s.sendall(
            b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"user": '
        )
        assert s.recv(65536).startswith(b"HTTP/1.1 408 ")


def test_json_routes_take_only_json(hub: HubProcess) -> None:
    """A form or text body to a JSON route is refused 415 (pages of other sites can send those)."""
    r = httpx.post(
        hub.http + "/api/login", content=b'{"user": "a", "password": "b"}', headers={"Content-Type": "text/plain"}
    )
    assert r.status_code == 415 and "application/json" in r.json()["error"]
    deep = b'{"narrative": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    nested = httpx.post(hub.http + "/api/complaints", content=deep, headers={"Content-Type": "application/json"})
    assert nested.status_code == 400 and "nested too deeply" in nested.json()["error"]
