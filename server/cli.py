"""The ``dispatch`` command: serve, manage users, issue tokens."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import os
import sys
import time
import uuid
from pathlib import Path

from server.access.roles import Principal, Role
from server.access.tokens import issue_token
from server.config import PRIVATE_UMASK, Settings
from server.records.keys import with_shared_keys
from server.records.store import RecordsStore, UserExists

__all__ = ["main"]


def _data_dir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("DATA_DIR", "./var")),
        help="where the SQLite records and the embedded Valkey live (default ./var, or DATA_DIR)",
    )
    p.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="a PostgreSQL records store every hub shares, postgresql://... (default: DATABASE_URL,"
        " else SQLite in the data dir)",
    )


def _redis_url_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", ""),
        help="the hubs' Redis (default: REDIS_URL, else the embedded Valkey in the data dir)",
    )
    p.add_argument(
        "--redis-cluster",
        action="store_true",
        default=os.environ.get("DISPATCH_REDIS_CLUSTER", "").lower() in ("1", "true", "yes"),
        help="the --redis-url names a node of a Valkey Cluster (as redis+cluster:// does)",
    )
    p.add_argument(
        "--partition",
        default=os.environ.get("DISPATCH_PARTITION", ""),
        help="the hubs' partition (default: DISPATCH_PARTITION, else the default one)",
    )


def _redis_url(args: argparse.Namespace) -> str:
    return str(args.redis_url or f"unix://{args.data_dir.resolve() / 'valkey.sock'}")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dispatch", description="dispatch-hub: real-time dispatch over WebSockets")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("serve", help="run the hub")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    _data_dir_arg(s)
    s.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", ""),
        help="use this Redis/Valkey (default: REDIS_URL, else an embedded Valkey in the data dir);"
        " redis+cluster://h:p[,h:p] for a Valkey Cluster, redis+sentinel://h:p[,h:p]/name for a Sentinel's primary",
    )
    s.add_argument(
        "--redis-cluster",
        action="store_true",
        default=os.environ.get("DISPATCH_REDIS_CLUSTER", "").lower() in ("1", "true", "yes"),
        help="the --redis-url names a node of a Valkey Cluster (as redis+cluster:// does)",
    )
    s.add_argument(
        "--partition",
        default=os.environ.get("DISPATCH_PARTITION", ""),
        help="the partition of the live state this hub serves: an agency or region on a shared Valkey"
        " (default: DISPATCH_PARTITION, else the one default partition)",
    )
    s.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("DISPATCH_WORKERS", "1")),
        help="hub processes sharing the port (or DISPATCH_WORKERS)",
    )
    s.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    s.add_argument(
        "--demo",
        action="store_true",
        default=os.environ.get("DEMO", "") not in ("", "0"),
        help="also run a demo shift: simulated officers and calls (or DEMO=1; DEMO_* variables tune it, see README)",
    )

    u = sub.add_parser("user", help="manage accounts")
    usub = u.add_subparsers(dest="user_cmd", required=True)
    ua = usub.add_parser("add", help="add an account")
    ua.add_argument("name")
    ua.add_argument("--role", required=True, choices=[r.value for r in Role])
    ua.add_argument("--unit", help="the unit an officer acts for (required for officers)")
    ua.add_argument("--password", help="default: prompt, or read one line from stdin if not a terminal")
    _data_dir_arg(ua)
    ul = usub.add_parser("list", help="list accounts")
    _data_dir_arg(ul)
    for verb, what in (
        ("disable", "disable an account: its sign-ins end on every hub within seconds"),
        ("enable", "enable an account again (its old sign-ins stay ended)"),
        ("sign-out", "end every sign-in of an account, on every hub (it can sign in again)"),
        ("reset-second-factor", "remove an account's second factor (a lost phone): it sets up a new one"),
    ):
        uv = usub.add_parser(verb, help=what)
        uv.add_argument("name")
        _redis_url_arg(uv)
        _data_dir_arg(uv)

    t = sub.add_parser("token", help="issue a signed token for an account (for API and Python clients)")
    t.add_argument("name")
    t.add_argument("--ttl", type=int, default=None, help="seconds (default: the hub's token TTL)")
    _data_dir_arg(t)

    k = sub.add_parser("apikey", help="Open311 API keys for 311 systems")
    ksub = k.add_subparsers(dest="key_cmd", required=True)
    ka = ksub.add_parser("add", help="issue a key to a 311 system (printed once; only its hash is kept)")
    ka.add_argument("name", help="the 311 system, e.g. city-311-crm")
    ka.add_argument("--replace", action="store_true", help="replace the system's key (the old one stops working)")
    kl = ksub.add_parser("list", help="list keys: name, issued, last used, revoked")
    kr = ksub.add_parser(
        "revoke", help="revoke a system's key (refused on every hub within 5 s, DISPATCH_API_KEY_CACHE_S)"
    )
    kr.add_argument("name")
    for q in (ka, kl, kr):
        _data_dir_arg(q)

    n = sub.add_parser("intake", help="the intake lane's dead-letter list")
    nsub = n.add_subparsers(dest="intake_cmd", required=True)
    nl = nsub.add_parser("dead-letters", help="entries that could not be filed, and why")
    nr = nsub.add_parser("replay", help="queue a dead letter's entry again (the hub must be running)")
    nr.add_argument("id", type=int)
    _redis_url_arg(nr)
    for q in (nl, nr):
        _data_dir_arg(q)
    return p


def _ms(value: int | None) -> str:
    import datetime as dt

    return "-" if value is None else dt.datetime.fromtimestamp(value / 1000).isoformat(timespec="seconds")


async def _apikey(args: argparse.Namespace) -> int:
    import secrets

    from server.intake.open311 import api_key_hash
    from server.records.referrals import ReferralRecords

    store = await _with_store(args)
    keys = ReferralRecords(store)
    try:
        if args.key_cmd == "add":
            key = f"d311_{secrets.token_urlsafe(32)}"
            if await keys.has_api_key(args.name) and not getattr(args, "replace", False):
                print(f"{args.name!r} has a key; give --replace to issue a new one", file=sys.stderr)
                return 1
            try:
                await keys.issue_api_key(args.name, api_key_hash(key), "cli")
            except Exception as exc:
                print(f"could not add the key: {exc}", file=sys.stderr)
                return 1
            print(key)
            print(f"(issued to {args.name}; shown once, keep it in the 311 system's settings)", file=sys.stderr)
            return 0
        if args.key_cmd == "revoke":
            if not await keys.revoke_api_key(args.name, "cli"):
                print(f"no live key for {args.name!r}", file=sys.stderr)
                return 1
            print(f"revoked {args.name}")
            return 0
        for k in await keys.api_keys():
            state = f"revoked {_ms(k.revoked_at)}" if k.revoked_at else "live"
            print(f"{k.name}\tissued {_ms(k.created_at)}\tlast used {_ms(k.last_used_at)}\t{state}")
        return 0
    finally:
        await store.close()


async def _intake(args: argparse.Namespace) -> int:
    store = await _with_store(args)
    try:
        if args.intake_cmd == "dead-letters":
            rows = await store.waiting_dead_letters()
            for d in rows:
                print(f"{d.id}\t{d.stream}\t{d.ref or '-'}\t{d.attempts} tries\t{_ms(d.at)}\t{d.reason}")
            if not rows:
                print("the dead-letter list is empty", file=sys.stderr)
            await store.audit("cli", "intake.dead_letters.view", "", f"{len(rows)} shown")
            return 0
        from redis.exceptions import RedisError

        from server.bus.connect import connect
        from server.bus.partition import Partition
        from server.intake.worker import AlreadyReplayed, replay_dead_letter

        url = _redis_url(args)
        connected = connect(url, cluster=args.redis_cluster, max_connections=4, blocking=False)
        redis = connected.redis
        try:
            entry = await replay_dead_letter(redis, store, args.id, "cli", Partition(args.partition))
        except AlreadyReplayed as exc:
            print(str(exc), file=sys.stderr)
            return 1
        except (RedisError, OSError) as exc:
            print(f"cannot reach the hub's Redis at {url} ({exc}); is the hub running?", file=sys.stderr)
            return 1
        finally:
            await connected.close()
        if entry is None:
            print(f"no dead letter {args.id}", file=sys.stderr)
            return 1
        print(f"dead letter {args.id} queued again as {entry}")
        return 0
    finally:
        await store.close()


async def _with_store(args: argparse.Namespace) -> RecordsStore:
    store = RecordsStore(args.database_url or args.data_dir.resolve() / "records.sqlite3")
    await store.open()
    return store


def _read_password(given: str | None) -> str:
    if given:
        return given
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            raise SystemExit("passwords differ")
        return first
    line = sys.stdin.readline().strip()
    if not line:
        raise SystemExit("no password: give --password, or pipe one line on stdin")
    return line


async def _user_add(args: argparse.Namespace) -> int:
    password = _read_password(args.password)
    store = await _with_store(args)
    try:
        await store.add_user(args.name, Role(args.role), password, args.unit)
    except UserExists:
        print(f"user {args.name!r} exists", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    finally:
        await store.close()
    print(f"added {args.name} ({args.role}{', unit ' + args.unit if args.unit else ''})")
    return 0


async def _user_list(args: argparse.Namespace) -> int:
    store = await _with_store(args)
    try:
        for a in await store.accounts():
            state = "disabled" if a.disabled else "active"
            factor = "second factor" if a.second_factor else "password only"
            print(f"{a.name}\t{a.role.value}\t{a.unit or ''}\t{state}\t{factor}")
    finally:
        await store.close()
    return 0


async def _user_change(args: argparse.Namespace) -> int:
    """disable, enable, sign-out: in the records store, then told to every hub through Redis."""
    from redis.exceptions import RedisError

    from server.access.tokens import publish_account
    from server.bus.connect import connect
    from server.bus.partition import Partition
    from server.bus.topics import Family

    store = await _with_store(args)
    try:
        if args.user_cmd == "sign-out":
            version = await store.end_sessions(args.name, "cli")
        elif args.user_cmd == "reset-second-factor":
            version = (
                await store.end_sessions(args.name, "cli")
                if await store.remove_second_factor(args.name, "cli")
                else None
            )
        else:
            version = await store.set_disabled(args.name, args.user_cmd == "disable", "cli")
        state = await store.account_state(args.name)
    finally:
        await store.close()
    if version is None or state is None:
        print(f"no user {args.name!r}", file=sys.stderr)
        return 1
    done = {
        "disable": "disabled",
        "enable": "enabled",
        "sign-out": "signed out everywhere",
        "reset-second-factor": "has no second factor now (it sets one up at its next sign-in), and is signed out",
    }[args.user_cmd]
    url = _redis_url(args)
    connected = connect(url, cluster=args.redis_cluster, max_connections=4, blocking=False)
    redis = connected.redis
    try:
        tag = Partition(args.partition).tag(Family.AUTH)
        await publish_account(redis, args.name, version, state[1], tag)
    except (RedisError, OSError) as exc:
        print(f"{args.name} {done} in the records; no hub reached at {url} ({exc}): it applies when one starts")
        return 0
    finally:
        await connected.close()
    ended = "; its sessions end on every hub within seconds" if args.user_cmd != "enable" else ""
    print(f"{args.name} {done}{ended}")
    return 0


async def _token(args: argparse.Namespace) -> int:
    store = await _with_store(args)
    try:
        who: Principal | None = await store.get_user(args.name)
        if who is None:
            print(f"no user {args.name!r}; add one with: dispatch user add", file=sys.stderr)
            return 1
        settings = await with_shared_keys(
            Settings.from_env(data_dir=args.data_dir, database_url=args.database_url).resolved(), store
        )
        ttl = args.ttl or settings.token_ttl_s
        now = time.time()
        issued = dataclasses.replace(who, expires_at=float(int(now + ttl)), token_id=uuid.uuid4().hex)
        await store.record_session(issued, int(now * 1000), "cli", "", "dispatch token")
        await store.audit("cli", "token.issue", who.user)
    finally:
        await store.close()
    print(issue_token(settings.secret, issued, ttl, now=now))
    return 0


def main(argv: list[str] | None = None) -> int:
    os.umask(PRIVATE_UMASK)  # the records, Valkey's files and the keys are for this user alone
    args = _parser().parse_args(argv)
    if args.cmd == "serve":
        from server.runner import serve

        # Flags win; every other setting comes from DISPATCH_* variables or its default.
        serve(
            Settings.from_env(
                host=args.host,
                port=args.port,
                data_dir=args.data_dir,
                redis_url=args.redis_url,
                redis_cluster=args.redis_cluster,
                partition=args.partition,
                database_url=args.database_url,
                workers=args.workers,
                log_level=args.log_level,
            ),
            demo=args.demo,
        )
        return 0
    if args.cmd == "apikey":
        return asyncio.run(_apikey(args))
    if args.cmd == "intake":
        return asyncio.run(_intake(args))
    if args.cmd == "user":
        if args.user_cmd in ("disable", "enable", "sign-out", "reset-second-factor"):
            return asyncio.run(_user_change(args))
        return asyncio.run(_user_add(args) if args.user_cmd == "add" else _user_list(args))
    return asyncio.run(_token(args))


if __name__ == "__main__":
    raise SystemExit(main())
