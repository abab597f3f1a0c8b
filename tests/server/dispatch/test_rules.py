"""Pure rules: rate limit, permissions, tokens, statuses."""

from __future__ import annotations

import pytest

from server.access.permissions import may_command, may_read
from server.access.roles import Principal, Role
from server.access.tokens import AuthError, issue_token, verify_token
from server.agency.policy import load_policy
from server.dispatch.rules import incident_transition_allowed, unit_transition_allowed
from server.realtime.ratelimit import TokenBucket


def test_token_bucket_allows_burst_then_limits() -> None:
    """A burst is allowed, then commands wait for the refill rate."""
    bucket = TokenBucket(rate=10.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.1)
    assert bucket.take(0.1) == 0.0


def test_officer_acts_only_for_own_unit() -> None:
    """An officer may set status and position of its own unit only; a dispatcher of any."""
    officer = Principal("u7", Role.OFFICER, "U7")
    assert may_command(officer, "unit.status", "U7")
    assert not may_command(officer, "unit.status", "U8")
    assert not may_command(officer, "unit.position", None)
    assert not may_command(officer, "radio.append", None)
    desk = Principal("ana", Role.DISPATCHER)
    assert may_command(desk, "unit.status", "U8")
    assert not may_command(Principal("k", Role.CASE_COORDINATOR), "incident.create", None)


def test_topic_read_permissions() -> None:
    """Case roles do not see live dispatch topics; officers do not read the radio log."""
    assert may_read(Principal("ana", Role.DISPATCHER), "radio")
    assert not may_read(Principal("u7", Role.OFFICER, "U7"), "radio")
    assert not may_read(Principal("k", Role.CASE_COORDINATOR), "incidents")


def test_tokens_are_signed_and_expire() -> None:
    """A token verifies with its secret only, and not after it expires."""
    who = Principal("u7", Role.OFFICER, "U7")
    token = issue_token("s1" * 16, who, ttl_s=60)
    verified = verify_token("s1" * 16, token)
    assert (verified.user, verified.role, verified.unit) == (who.user, who.role, who.unit)
    assert verified.expires_at is not None
    with pytest.raises(AuthError):
        verify_token("s2" * 16, token)
    with pytest.raises(AuthError, match="expired"):
        verify_token("s1" * 16, issue_token("s1" * 16, who, ttl_s=60, now=0))


def test_statuses_and_transitions() -> None:
    """Unknown unit statuses are refused; a closed incident can only be reopened."""
    policy = load_policy()
    assert unit_transition_allowed(policy, "dispatched", "enroute")
    assert not unit_transition_allowed(policy, "dispatched", "teleporting")
    assert incident_transition_allowed("pending", "assigned")
    assert incident_transition_allowed("closed", "reopened")
    assert not incident_transition_allowed("closed", "onscene")
    assert not incident_transition_allowed("pending", "bogus")


def test_settings_from_environment_with_flag_overrides() -> None:
    """DISPATCH_* variables tune the hub; command-line flags override them."""
    from pathlib import Path

    from server.config import Settings

    env = {"DISPATCH_COMMANDS_PER_S": "500", "DISPATCH_PORT": "9000", "REDIS_URL": "redis://x:6379/0"}
    s = Settings.from_env(env, port=8123, data_dir=Path("/tmp/x"))
    assert s.commands_per_s == 500.0 and s.port == 8123 and s.redis_url == "redis://x:6379/0"
    assert Settings.from_env(s.to_env()) == s
