"""Second factors: TOTP codes taken once per step, recovery codes once each, and the sign-in that asks."""

from __future__ import annotations

import time

import httpx
import pyotp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from protocol.codes import CloseCode
from server.access.roles import Role
from server.access.second_factor import STEP_S, code_hash, matching_step, new_recovery_codes, new_secret
from tests.helpers import RunningHub


def test_a_code_is_good_for_its_step_and_one_either_side_once() -> None:
    """Clock drift of one step is forgiven; a step already used, or two steps off, is not."""
    secret, now = new_secret(), 1_800_000_000.0
    totp = pyotp.TOTP(secret, interval=STEP_S)
    step = int(now // STEP_S)
    assert matching_step(secret, totp.at(now), now, 0) == step
    assert matching_step(secret, totp.at(now - STEP_S), now, 0) == step - 1
    assert matching_step(secret, totp.at(now + STEP_S), now, 0) == step + 1
    assert matching_step(secret, totp.at(now - 2 * STEP_S), now, 0) is None
    assert matching_step(secret, totp.at(now), now, step) is None  # used already
    assert matching_step(secret, "12345", now, 0) is None and matching_step(secret, "abcdef", now, 0) is None


def test_recovery_codes_are_distinct_and_hashed_as_typed_loosely() -> None:
    codes = new_recovery_codes()
    assert len(set(codes)) == 10 and all(len(c) == 14 for c in codes)
    assert code_hash("ana", codes[0]) == code_hash("ana", codes[0].upper().replace("-", " "))
    assert code_hash("ana", codes[0]) != code_hash("bo", codes[0])


async def _post(http: httpx.AsyncClient, path: str, body: dict[str, str], token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return await http.post(path, json=body, headers=headers)


def _code(secret: str, offset: int = 0) -> str:
    return pyotp.TOTP(secret, interval=STEP_S).at(time.time() + offset * STEP_S)


async def test_a_team_lead_must_enrol_before_signing_in_anywhere(hub: RunningHub) -> None:
    """A role that needs a second factor gets, after its password, a token good only for enrolling:
    no API, no WebSocket. Confirming a code turns it into a full sign-in with recovery codes."""
    await hub.ctx.store.add_user("tl", Role.TEAM_LEAD, "pw-tl-1")
    async with httpx.AsyncClient(base_url=hub.http) as http:
        first = await _post(http, "/api/login", {"user": "tl", "password": "pw-tl-1"})
        assert first.status_code == 200 and first.json()["scope"] == "enrol" and first.json()["next"] == "/account/"
        enrol = first.json()["token"]
        assert (
            await http.get("/api/intake/dead-letters", headers={"Authorization": f"Bearer {enrol}"})
        ).status_code == 401
        with pytest.raises(ConnectionClosed) as closed:
            async with connect(hub.url, additional_headers={"Authorization": f"Bearer {enrol}"}) as ws:
                await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == CloseCode.UNAUTHENTICATED
        started = (await _post(http, "/api/account/second-factor", {}, enrol)).json()
        assert started["uri"].startswith("otpauth://totp/") and started["qr"].startswith("data:image/svg+xml")
        wrong = await _post(http, "/api/account/second-factor/confirm", {"code": "000000"}, enrol)
        assert wrong.status_code == 422
        done = await _post(http, "/api/account/second-factor/confirm", {"code": _code(started["secret"])}, enrol)
        assert done.status_code == 200 and len(done.json()["recovery_codes"]) == 10
        full = done.json()["token"]
        assert (
            await http.get("/api/intake/dead-letters", headers={"Authorization": f"Bearer {full}"})
        ).status_code == 200
        assert (await http.get("/api/account", headers={"Authorization": f"Bearer {enrol}"})).status_code == 401


async def test_signing_in_with_a_second_factor_takes_a_code_once(hub: RunningHub) -> None:
    """Password, then a code: a wrong code and a replayed code are refused, a recovery code works once."""
    await hub.ctx.store.add_user("cc", Role.CASE_COORDINATOR, "pw-cc-1")
    async with httpx.AsyncClient(base_url=hub.http) as http:
        enrol = (await _post(http, "/api/login", {"user": "cc", "password": "pw-cc-1"})).json()["token"]
        secret = (await _post(http, "/api/account/second-factor", {}, enrol)).json()["secret"]
        done = await _post(http, "/api/account/second-factor/confirm", {"code": _code(secret, -1)}, enrol)
        recovery = done.json()["recovery_codes"]

        async def challenge() -> str:
            step = await _post(http, "/api/login", {"user": "cc", "password": "pw-cc-1"})
            assert step.json()["second_factor"] == "required" and "token" not in step.json()
            assert "set-cookie" not in step.headers
            return str(step.json()["challenge"])

        ch = await challenge()
        assert (await _post(http, "/api/login/second-factor", {"challenge": ch, "code": "123456"})).status_code == 401
        code = _code(secret)
        ok = await _post(http, "/api/login/second-factor", {"challenge": ch, "code": code})
        assert (
            ok.status_code == 200
            and ok.json()["role"] == "case_coordinator"
            and "dispatch_token=" in ok.headers["set-cookie"]
        )
        again = await _post(http, "/api/login/second-factor", {"challenge": await challenge(), "code": code})
        assert again.status_code == 401  # the same step twice
        by_recovery = await _post(
            http, "/api/login/second-factor", {"challenge": await challenge(), "code": recovery[0]}
        )
        assert by_recovery.status_code == 200
        reused = await _post(http, "/api/login/second-factor", {"challenge": await challenge(), "code": recovery[0]})
        assert reused.status_code == 401
        # A challenge is not a token.
        assert (await http.get("/api/account", headers={"Authorization": f"Bearer {ch}"})).status_code == 401


async def test_codes_are_limited_per_account(hub: RunningHub) -> None:
    """Six-digit codes cannot be guessed: after five tries the account's next code waits."""
    await hub.ctx.store.add_user("gx", Role.DISPATCHER, "pw-gx-1")
    async with httpx.AsyncClient(base_url=hub.http) as http:
        token = (await _post(http, "/api/login", {"user": "gx", "password": "pw-gx-1"})).json()["token"]
        secret = (await _post(http, "/api/account/second-factor", {}, token)).json()["secret"]
        await _post(http, "/api/account/second-factor/confirm", {"code": _code(secret, -1)}, token)
        ch = (await _post(http, "/api/login", {"user": "gx", "password": "pw-gx-1"})).json()["challenge"]
        codes = [
            (await _post(http, "/api/login/second-factor", {"challenge": ch, "code": f"{n:06d}"})).status_code
            for n in range(7)
        ]
        assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]


async def test_an_optional_second_factor_can_be_turned_off_a_required_one_cannot(hub: RunningHub) -> None:
    """A dispatcher may remove theirs with a current code; an admin may not (only replace it)."""
    await hub.ctx.store.add_user("dp", Role.DISPATCHER, "pw-dp-1")
    await hub.ctx.store.add_user("ad", Role.ADMIN, "pw-ad-1")
    async with httpx.AsyncClient(base_url=hub.http) as http:
        for name in ("dp", "ad"):
            token = (await _post(http, "/api/login", {"user": name, "password": f"pw-{name}-1"})).json()["token"]
            secret = (await _post(http, "/api/account/second-factor", {}, token)).json()["secret"]
            done = await _post(http, "/api/account/second-factor/confirm", {"code": _code(secret, -1)}, token)
            token = done.json().get("token", token)
            removed = await _post(http, "/api/account/second-factor/remove", {"code": _code(secret)}, token)
            assert removed.status_code == (200 if name == "dp" else 409)
    factors = {n: await hub.ctx.store.second_factor(n) for n in ("dp", "ad")}
    assert factors["dp"] is not None and factors["dp"][0] is None
    assert factors["ad"] is not None and factors["ad"][0] is not None
