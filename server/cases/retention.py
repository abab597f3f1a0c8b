"""Records retention: transitory records (letter drafts never issued, working notes marked
transitory) disposed of on the schedule in the policy (``[complaints] transitory_days``), each
one logged with what it was and when it was made, never what it said. Run once a day by the
intake workers' clock sweep; two workers running it at once dispose of each record once.
"""

from __future__ import annotations

import logging
import time

from server.agency.policy import Policy
from server.records.oversight import OversightRecords
from server.records.store import RecordsStore

__all__ = ["Retention"]

log = logging.getLogger("dispatch.cases.retention")
DAY = 86_400_000


class Retention:
    def __init__(self, store: RecordsStore, policy: Policy) -> None:
        self.records = OversightRecords(store)
        self.days = policy.complaints.transitory_days

    async def run(self, now_ms: int | None = None) -> tuple[int, int]:
        """Dispose of what is due. -> (letter drafts, working notes)."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        done = await self.records.dispose_transitory(now - self.days * DAY, f"transitory, {self.days} days")
        if any(done):
            log.info("retention: disposed of %d letter drafts and %d working notes", *done)
        return done
