"""Attacks on the hub's sockets, against `dispatch serve`: huge and endless heads, idle floods.

Each attack is bounded (a fixed number of sockets and bytes) and the hub's
memory or open descriptors are read from /proc while it runs. Floods come
from other loopback addresses (127.0.0.2 and up), so that the tests can
also show who still gets in from elsewhere.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.sync.client import connect

from tests.helpers import HubProcess, S, open_fds, poll_until, rss_mb, start_hub_process, test_token

pytestmark = pytest.mark.slow

PER_ADDRESS = 40
PROBATION = 32  # server.realtime.admission's default probation_per_address
HEAD_TIMEOUT_S = 4.0 * S


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    env = {
        "DISPATCH_HEAD_TIMEOUT_S": str(HEAD_TIMEOUT_S),
        "DISPATCH_KEEPALIVE_S": "0.5",
        "DISPATCH_CONNECTIONS_PER_ADDRESS": str(PER_ADDRESS),
        "DISPATCH_MAX_CONNECTIONS": "300",
        "DISPATCH_STAFF_RESERVE": "60",
        "DISPATCH_INTAKE_WORKERS": "0",
    }
    running = start_hub_process(tmp_path_factory.mktemp("reception"), env=env)
    running.wait_healthy()
    yield running
    running.stop()


def _sock(hub: HubProcess, source: str = "127.0.0.1") -> socket.socket:
    s = socket.create_connection(("127.0.0.1", hub.port), timeout=10 * S, source_address=(source, 0))
    return s


def _answer(s: socket.socket) -> bytes:
    """What the hub sent before it closed (b"" if it reset the connection); a socket the hub
    leaves open raises TimeoutError."""
    got = b""
    with contextlib.suppress(ConnectionError):
        while chunk := s.recv(65536):
            got += chunk
    return got


@contextlib.contextmanager
def _idle_flood(hub: HubProcess, sources: list[str], per_source: int) -> Iterator[list[socket.socket]]:
    """Sockets that connect and send nothing, from each source address; closed afterwards."""
    socks = []
    try:
        for source in sources:
            for _ in range(per_source):
                with contextlib.suppress(OSError):
                    socks.append(_sock(hub, source))
        yield socks
    finally:
        for s in socks:
            s.close()


def _settled(hub: HubProcess) -> None:
    """Wait until the last test's sockets are gone from the hub (its descriptors are back to a few)."""
    poll_until(lambda: open_fds(hub.proc.pid) < 80, 15, "the hub's sockets closed")


def test_a_huge_request_head_is_cut_and_memory_stays_flat(hub: HubProcess) -> None:
    """Four anonymous requests each trying to send a 64 MB header are cut early; the hub barely grows."""
    _settled(hub)
    pid = hub.proc.pid
    before = rss_mb(pid)
    sent: list[int] = []
    chunk = b"a" * 65536

    def attack() -> None:
        n = 0
        s = _sock(hub)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
            for _ in range(1024):  # 64 MB at most
                s.sendall(chunk)
                n += len(chunk)
        except OSError:
            pass
        finally:
            sent.append(n)
            s.close()

    threads = [threading.Thread(target=attack) for _ in range(4)]
    for t in threads:
        t.start()
    peak = before
    while any(t.is_alive() for t in threads):
        peak = max(peak, rss_mb(pid))
        time.sleep(0.02)
    assert all(n < 32 * 1024 * 1024 for n in sent), f"the hub kept reading: {sent}"
    assert peak - before < 40, f"RSS grew {peak - before:.0f} MB under the attack"
    assert httpx.get(hub.http + "/healthz").status_code == 200


def test_a_head_over_the_bound_is_answered_431(hub: HubProcess) -> None:
    """A 20 KiB header, or 150 header lines, get 431 and a closed connection; a normal head is served."""
    for head in (b"X-Big: " + b"a" * 20_000 + b"\r\n", b"".join(b"X-N%d: 1\r\n" % i for i in range(150))):
        with _sock(hub) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + head + b"\r\n")
            assert _answer(s).startswith(b"HTTP/1.1 431 ")
    assert httpx.get(hub.http + "/healthz", headers={"X-Fine": "a" * 4000}).status_code == 200


def test_a_head_sent_a_byte_at_a_time_is_cut_at_the_deadline(hub: HubProcess) -> None:
    """Slow headers: the hub answers 408 and closes once the head deadline passes, however slow the trickle."""
    s = _sock(hub)  # closed below
    line = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
    answer = None
    for i in range(len(line)):  # a byte every 0.1 s: 25 s for the whole head, far past the deadline
        try:
            s.sendall(line[i : i + 1])
            s.settimeout(0.1)
            answer = s.recv(1024)
            break  # the hub spoke (or closed: b"")
        except TimeoutError:
            continue
        except OSError:
            answer = b""
            break
    s.close()
    assert answer is not None, "the slow head was read to the end"
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408 ")


def test_an_idle_kept_alive_connection_is_closed(hub: HubProcess) -> None:
    """After a response, a connection that sends nothing more is closed (DISPATCH_KEEPALIVE_S)."""
    with _sock(hub) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert _answer(s).startswith(b"HTTP/1.1 200 ")  # and then the hub closed it


def test_one_address_cannot_hold_the_hubs_sockets(hub: HubProcess) -> None:
    """1,000 idle sockets from one address: the hub holds only its share, health and dispatch carry on."""
    _settled(hub)
    pid = hub.proc.pid
    base = open_fds(pid)
    with _idle_flood(hub, ["127.0.0.2"], 1000):
        held = open_fds(pid) - base
        # (a few more for refused sockets whose close is still under way)
        assert held <= PER_ADDRESS + PROBATION + 8, f"{held} sockets held for one address"
        assert httpx.get(hub.http + "/healthz").status_code == 200
        with connect(
            hub.url.replace("127.0.0.1", "localhost"),
            additional_headers={"Authorization": f"Bearer {test_token()}"},
            subprotocols=["dispatch.v1.json"],  # type: ignore[list-item]
        ) as ws:
            assert '"welcome"' in str(ws.recv(timeout=10 * S))
    assert "connection refused (address) from 127.0.0.2" in hub.log()


def test_a_flood_from_many_addresses_leaves_room_for_signed_in_staff(hub: HubProcess) -> None:
    """At the global cap for anonymous sockets, a request without a token is refused 503 and one
    with a dispatcher's token is served: the staff reserve."""
    _settled(hub)
    sources = [f"127.0.0.{i}" for i in range(10, 17)]  # 7 x 40 = 280 > the 240 anonymous sockets allowed
    with _idle_flood(hub, sources, PER_ADDRESS):
        anonymous = httpx.get(hub.http + "/healthz")
        assert anonymous.status_code == 503 and anonymous.headers["retry-after"] == "5"
        staff = httpx.get(hub.http + "/api/me", headers={"Authorization": f"Bearer {test_token()}"})
        assert staff.status_code == 200 and staff.json()["user"] == "ana"
    assert "connection refused (busy)" in hub.log()
