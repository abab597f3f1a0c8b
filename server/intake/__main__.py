"""``python -m server.intake``: one intake worker process (``dispatch serve`` starts these itself).

Settings come from the ``DISPATCH_*`` environment like the hub's; the
process lowers its own CPU priority by ``DISPATCH_INTAKE_NICE``.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal

import uvloop
from redis.asyncio import Redis

from server.agency.policy import load_policy
from server.bus.connect import connect
from server.bus.log import Bus
from server.cases.access_requests import AccessSweep
from server.cases.clock_board import ClockBoard, ClockSweep
from server.cases.complaints import ComplaintFiler
from server.cases.workspace import Workspace
from server.config import Settings
from server.dispatch.incidents import IncidentDesk
from server.dispatch.live import Live
from server.dispatch.recovery import attach_recovery
from server.dispatch.referrals import ReferralFiler
from server.intake.lane import COMPLAINTS, REFERRALS
from server.intake.worker import Filer, IntakeWorker, Sidecar
from server.logs import configure_logging
from server.records.store import RecordsStore

__all__ = ["main", "make_worker", "run"]

log = logging.getLogger("dispatch.intake")


async def make_worker(
    settings: Settings,
    redis: Redis,
    store: RecordsStore,
    *,
    consumer: str | None = None,
    claim_idle_ms: int | None = None,
    block_ms: int = 1000,
) -> IntakeWorker:
    """A worker with the real filers, on its own Redis client and records connection."""
    policy = load_policy(settings.policy_path)
    bus = Bus(redis, settings)
    # Its referrals write dispatch state too: into an empty Redis only after the rebuild.
    await attach_recovery(bus, redis, store, policy)
    desk = IncidentDesk(Live(bus, redis, policy))
    cases = Workspace(store, bus, policy, ClockBoard(redis, policy, bus.part))
    filers: dict[str, Filer] = {
        COMPLAINTS.name: ComplaintFiler(store, policy, on_filed=cases.filed),
        REFERRALS.name: ReferralFiler(store, policy, desk),
    }
    idle = int(settings.intake_claim_idle_s * 1000) if claim_idle_ms is None else claim_idle_ms
    sweeps: list[Sidecar] = [
        ClockSweep(redis, store, policy, bus, settings.data_dir),
        AccessSweep(redis, store, policy, bus),
    ]
    return IntakeWorker(
        redis,
        store,
        filers,
        consumer=consumer,
        claim_idle_ms=idle,
        block_ms=block_ms,
        attachments=settings.attachments_dir,
        sidecars=sweeps,
        part=bus.part,
    )


async def run(settings: Settings) -> None:
    connected = connect(settings.redis_url, cluster=settings.redis_cluster, max_connections=16, blocking=False)
    redis = connected.redis
    store = RecordsStore(settings.records_target, sqlite_synchronous=settings.sqlite_synchronous)
    await store.open()
    worker = await make_worker(settings, redis, store)
    task = asyncio.create_task(worker.run(), name="intake")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)  # it finishes the entry in hand, then ends
    log.info("intake worker %s running (nice %d)", worker.consumer, os.nice(0))
    await task
    await store.close()
    await connected.close()


def _die_with_parent() -> None:
    """Started by ``dispatch serve``: stop (SIGTERM) when it dies, even by SIGKILL, so no worker is orphaned."""
    parent = os.environ.get("DISPATCH_PARENT_PID", "")
    if not parent.isdigit():
        return
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != int(parent):  # it died before we asked
        raise SystemExit(0)


def main() -> None:
    _die_with_parent()
    settings = Settings.from_env().resolved()
    configure_logging(settings.log_level)
    if settings.intake_nice:
        os.nice(settings.intake_nice)
    uvloop.run(run(settings))


if __name__ == "__main__":
    main()
