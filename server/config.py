"""Settings: one frozen object built from the CLI or from ``DISPATCH_*`` variables.

``dispatch serve`` writes its settings into the environment so that every
uvicorn worker process builds the same object with ``Settings.from_env()``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

# A partition's name (server/bus/partition.py): what an operator types (an agency's short name,
# a region), kept to what reads well in a key and never holds a brace, which would end the tag.
PARTITION_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")

__all__ = ["PRIVATE_UMASK", "Settings", "key_file", "private_dir"]

# What the hub and its commands create is for their own user alone: the records (password hashes,
# complaints, callers' details), Valkey's append-only file, the keys. Set by `dispatch` at start.
PRIVATE_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """Make ``path`` (and its parents) if missing, and let only this user into it (0700): files
    inside that an older version left readable by others are then out of their reach too."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def key_file(data_dir: Path, name: str) -> str | None:
    """A key an older version kept in a file of the data dir, if there is one (the records
    store keeps keys now, seeded from these so that tokens and status codes stay valid)."""
    path = data_dir / name
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("./var")
    redis_url: str = ""  # empty: run the embedded Valkey in data_dir
    # redis_url names a Valkey Cluster (also said by a redis+cluster:// URL, or --redis-cluster)
    redis_cluster: bool = False
    # The partition of the live state this hub serves: an agency or a region of one
    # (server/bus/partition.py). Empty: the one default partition of a single agency.
    partition: str = ""
    # Commands that wait for a replica to hold them before they are acked, when the primary has
    # one: "dispatch" (every dispatch command, alarms among them, and every intake submission),
    # "alarms" (only panic, acknowledge, emergency traffic and the other alarm-lane commands) or
    # "off". A command no replica confirmed in replica_wait_ms is answered "unavailable", saying
    # it may not survive a failover and that sending it again (same id) applies it once.
    replica_wait: str = "dispatch"
    replica_wait_ms: int = 500
    # The reader's probe: written this often, it must be read back within probe_stale_s
    # or health goes red (the reader is deaf while writes succeed).
    probe_every_s: float = 1.0
    probe_stale_s: float = 5.0
    # The records store: empty for SQLite in data_dir (one host); postgresql://... for a database
    # every hub shares (DATABASE_URL). Its keys (below) are then kept in it, shared too.
    database_url: str = ""
    workers: int = 1
    secret: str = ""  # the token-signing key; empty: DISPATCH_SECRET, else kept in the records store
    status_secret: str = ""  # complaint status codes' key; empty: kept in the records store
    token_ttl_s: int = 12 * 3600  # one shift and a half
    revocation_poll_s: float = 1.0  # how often each hub looks for revoked sign-ins to close
    log_level: str = "info"
    # per connection
    queue_max_messages: int = 2000
    queue_max_bytes: int = 4 * 1024 * 1024
    max_sessions_per_user: int = 32  # one account's open sessions per hub process
    commands_per_s: float = 20.0
    commands_burst: int = 60
    subscribes_per_s: float = 1.0  # each reads a snapshot or a replay: a rate of their own
    subscribes_burst: int = 10
    catch_up_max_bytes: int = 16 * 1024 * 1024  # catch-ups queued and not yet read; more closes 4108
    heartbeat_s: float = 20.0
    hello_timeout_s: float = 5.0  # to authenticate before close 4001
    # every connection (server/realtime/admission.py, server/realtime/reception.py)
    max_head_bytes: int = 16 * 1024  # request line and headers; more is answered 431
    max_headers: int = 100
    head_timeout_s: float = 10.0  # to send a whole request head; then 408 and close
    keepalive_s: float = 5.0  # an idle kept-alive HTTP connection is closed after this
    max_connections: int = 0  # 0: the process's file limit less a reserve for Redis, SQLite and logs
    staff_reserve: int = 0  # of those, kept for connections that show a valid token (0: a tenth)
    connections_per_address: int = 128  # connections per client address that have shown no token (yet)
    forwarded_allow_ips: str = ""  # proxies whose X-Forwarded-For/-Proto are believed (comma-separated)
    # bus
    history_maxlen: int = 10_000  # events kept per topic for resume
    positions_maxlen: int = 50_000
    # Streams are trimmed to the lengths above by the archiver, once archived.
    # If it stops, they grow to this many times that before the oldest go.
    history_hard_cap_factor: int = 10
    read_batch: int = 1000
    # The archiver reads at most this often when it has caught up: records are written in
    # batches, and the live path is not interrupted for every event (Redis holds them meanwhile).
    archive_every_s: float = 0.25
    replay_max: int = 5000  # missed events replayed on resume; more than this gets a snapshot
    position_tick_s: float = 0.1  # positions are batched per tick
    radio_snapshot: int = 200  # radio entries in a snapshot
    redis_connections: int = 64  # per hub process
    allowed_origins: str = ""  # comma-separated extra origins whose pages may use the sign-in cookie
    operator_token: str = ""  # a Bearer token for /metrics and /healthz in full (Prometheus); empty: none
    operations_allow_ips: str = ""  # addresses and networks that may read /metrics and /healthz in full
    allowed_hosts: str = ""  # Host names answered (comma-separated, * for any); empty: the listening address's
    policy_file: str = ""  # empty: DATA_DIR/policy.toml if it exists, else the defaults
    # browser clients: map tiles ({z}/{x}/{y} URL; empty draws the service area on a plain canvas)
    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tile_attribution: str = "&copy; OpenStreetMap contributors"
    # places the gazetteer does not know: a Nominatim- or Pelias-style search URL with {q}; empty: none
    geocoder_url: str = ""
    static_dir: str = ""  # empty: the static/ folder beside the server package
    # intake lane (311 referrals, public complaints)
    intake_workers: int = 1  # worker processes beside the hub (0: none; run python -m server.intake elsewhere)
    intake_nice: int = 10  # their CPU priority below the hub's: intake takes what dispatch leaves
    intake_claim_idle_s: float = 30.0  # a worker's entries are taken over after it is silent this long
    intake_burst: int = 10  # public submissions per client address: a burst, then...
    intake_per_hour: float = 30.0  # ...this many an hour
    status_checks_burst: int = 10  # complaint status checks per client address (guessing codes)
    status_checks_per_hour: float = 30.0
    open311_burst: int = 200  # Open311 posts per API key: a burst, then...
    open311_per_s: float = 20.0  # ...this many a second
    api_key_cache_s: float = 5.0  # a revoked Open311 key is refused by every hub within this
    attachments_max: int = 3  # files with one complaint
    attachment_max_bytes: int = 8 * 1024 * 1024
    # durability on a machine crash (README, "Durability"): every write to disk before it is
    # acked ("always", "FULL"), or within a second / at the next checkpoint ("everysec", "NORMAL")
    valkey_fsync: str = "always"  # the embedded Valkey's appendfsync: always, everysec
    sqlite_synchronous: str = "FULL"  # SQLite's synchronous level: FULL, NORMAL
    # shutdown
    drain_s: float = 5.0

    @property
    def db_path(self) -> Path:
        return self.data_dir / "records.sqlite3"

    @property
    def records_target(self) -> Path | str:
        """Where the records store is: the PostgreSQL URL, else the SQLite file in data_dir."""
        return self.database_url or self.db_path

    @property
    def policy_path(self) -> Path:
        return Path(self.policy_file) if self.policy_file else self.data_dir / "policy.toml"

    @property
    def static_path(self) -> Path:
        return Path(self.static_dir) if self.static_dir else Path(__file__).resolve().parent.parent / "static"

    @property
    def attachments_dir(self) -> Path:
        return self.data_dir / "attachments"

    @property
    def valkey_socket(self) -> Path:
        return self.data_dir / "valkey.sock"

    def resolved(self) -> Settings:
        """With data_dir absolute and a signing secret given in the environment filled in (else
        it is read from the records store once it is open: ``server.records.keys``)."""
        data_dir = private_dir(self.data_dir.resolve())
        secret = self.secret or os.environ.get("DISPATCH_SECRET", "")
        if secret and len(secret) < 32:
            raise ValueError("the token secret (DISPATCH_SECRET) must be at least 32 characters")
        if self.valkey_fsync not in ("always", "everysec"):
            raise ValueError("DISPATCH_VALKEY_FSYNC is always or everysec")
        if self.sqlite_synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError("DISPATCH_SQLITE_SYNCHRONOUS is FULL, NORMAL or EXTRA")
        if self.replica_wait not in ("off", "alarms", "dispatch"):
            raise ValueError("DISPATCH_REPLICA_WAIT is off, alarms or dispatch")
        if self.partition and not PARTITION_NAME.match(self.partition):
            raise ValueError(
                "DISPATCH_PARTITION is 1-32 lower-case letters, digits, '-' or '_', starting with a letter or digit"
            )
        return dataclasses.replace(
            self, data_dir=data_dir, secret=secret, sqlite_synchronous=self.sqlite_synchronous.upper()
        )

    def to_env(self) -> dict[str, str]:
        out = {}
        for f in dataclasses.fields(self):
            out[f"DISPATCH_{f.name.upper()}"] = str(getattr(self, f.name))
        return out

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = dict(os.environ if env is None else env)
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(f"DISPATCH_{f.name.upper()}")
            if raw is None:
                continue
            default = f.default
            if isinstance(default, bool):
                kwargs[f.name] = raw.lower() in ("1", "true", "yes")
            elif isinstance(default, int):
                kwargs[f.name] = int(raw)
            elif isinstance(default, float):
                kwargs[f.name] = float(raw)
            elif isinstance(default, Path):
                kwargs[f.name] = Path(raw)
            else:
                kwargs[f.name] = raw
        if "redis_url" not in kwargs and env.get("REDIS_URL"):
            kwargs["redis_url"] = env["REDIS_URL"]
        if "database_url" not in kwargs and env.get("DATABASE_URL"):
            kwargs["database_url"] = env["DATABASE_URL"]
        if "forwarded_allow_ips" not in kwargs and env.get("FORWARDED_ALLOW_IPS"):
            kwargs["forwarded_allow_ips"] = env["FORWARDED_ALLOW_IPS"]
        kwargs.update(overrides)
        return cls(**kwargs)
