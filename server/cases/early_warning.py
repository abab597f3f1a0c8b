"""Early warning on officers: after allegations are saved on a file, each officer it names is
assessed against the thresholds (``rules/early_warning.py``); a threshold newly crossed raises a
flag for the team lead, kept in the store and announced on the ``case-warnings`` topic (theirs alone). Assessed again
each day, so that an officer falls below a threshold as old allegations leave its window (and a
new crossing raises a new flag). Flags go to the team lead only, never to a police service.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError

from protocol.events import CaseWarningRaised
from server.agency.policy import Policy
from server.bus.log import Bus
from server.bus.topics import topic_named
from server.cases.rules.early_warning import Mark, Threshold, assess, top_percentile, window_start
from server.records.oversight import OversightRecords
from server.records.store import RecordsStore

__all__ = ["EarlyWarnings", "thresholds_of"]

log = logging.getLogger("dispatch.cases.warnings")
_WARNINGS = topic_named("case-warnings")  # the team lead's alone


def thresholds_of(policy: Policy) -> list[Threshold]:
    return [Threshold(r.name, r.count, r.months, r.tier, r.type) for r in policy.complaints.early_warning.rules]


class EarlyWarnings:
    def __init__(self, store: RecordsStore, bus: Bus, policy: Policy) -> None:
        self.records = OversightRecords(store)
        self.bus = bus
        self.policy = policy
        self.thresholds = thresholds_of(policy)

    async def assess_file(self, file_number: str, now_ms: int | None = None) -> list[int]:
        """Assess every officer the file's allegations name. -> the flags raised."""
        raised: list[int] = []
        for officer in await self.records.officers_of(file_number):
            raised += await self.assess(officer, now_ms)
        return raised

    async def assess(self, officer: int, now_ms: int | None = None) -> list[int]:
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        marks = [Mark(at, f, t, tier) for at, f, t, tier in await self.records.marks(officer)]
        was = await self.records.above(officer)
        crossed, above = assess(self.thresholds, marks, now, was)
        if not crossed and above == was:
            return []
        rows = [(c.threshold.name, len(c.marks), sorted({m.file_number for m in c.marks})) for c in crossed]
        made = await self.records.record_warnings(officer, above, was, rows)
        who = await self.records.officer(officer)
        for warning_id, rule, count in made:
            await self._announce(warning_id, officer, rule, count, who[2] if who else "")
        return [m[0] for m in made]

    async def reassess_all(self, now_ms: int | None = None) -> int:
        """Every officer with a threshold standing or an allegation in the longest window (daily)."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        longest = max((t.months for t in self.thresholds), default=12)
        officers = await self.records.officers_since(window_start(now, longest))
        raised = 0
        for officer in officers:
            raised += len(await self.assess(officer, now))
        return raised

    async def top(self, service: str, now_ms: int | None = None) -> list[tuple[int, int]]:
        """The top percentile of a service by allegations in the longest window: (officer, count)."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        longest = max((t.months for t in self.thresholds), default=12)
        counts = await self.records.service_counts(service, window_start(now, longest))
        keep = top_percentile(counts, self.policy.complaints.early_warning.top_percent)
        return [(o, counts[o]) for o in keep]

    async def _announce(self, warning_id: int, officer: int, rule: str, count: int, service: str) -> None:
        if _WARNINGS is None:
            return
        event = CaseWarningRaised(
            ts=int(time.time() * 1000),
            by="early-warning",
            warning=warning_id,
            officer=officer,
            rule=rule,
            count=count,
            service=service,
        )
        try:
            await self.bus.commit(_WARNINGS, event)
        except (RedisError, OSError) as exc:
            log.warning("early warning %s: recorded, but not announced (%s)", warning_id, exc)
