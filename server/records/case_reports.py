"""What the case reports read, in the store: files past their decision target on a day, and the
rows the trend and caseload reports count (files, allegations, milestones, clocks, referrals).
Counting and percentiles are ``server/cases/reports.py``'s; the SQL is here.
"""

from __future__ import annotations

from typing import Any

import msgspec

from server.records.store import RecordsStore

__all__ = ["AllegationFact", "CaseReportRecords", "ClockFact", "DelayFact", "FileFact", "ReferralFact"]


class DelayFact(msgspec.Struct):
    file_number: str
    police_service: str
    received_at: int
    due_at: int  # the decision target (before any extension)
    extended_to: int | None
    stage: str
    route: str
    reason: str
    expected: str
    doing: str
    personal: list[str]  # the names, addresses and numbers on the file: never in a published report


class FileFact(msgspec.Struct):
    file_number: str
    received_at: int
    kind: str
    channel: str
    police_service: str
    level: int | None
    stage: str
    route: str
    assignee: str | None


class AllegationFact(msgspec.Struct):
    received_at: int
    police_service: str
    type: str
    tier: int
    finding: str


class ClockFact(msgspec.Struct):
    clock: str
    due_at: int
    met_at: int | None
    stopped: str
    paused: bool


class ReferralFact(msgspec.Struct):
    file_number: str
    body: str
    level: int | None
    sent_at: int
    outcome: str
    outcome_at: int | None
    notified_at: int | None


class CaseReportRecords:
    def __init__(self, store: RecordsStore) -> None:
        self.store = store

    async def past_target(self, clock: str, end_of_day_ms: int) -> list[DelayFact]:
        """Files whose ``clock`` (the decision target) had passed by the end of that day and was
        not met by then: neither met before it, nor stopped (referred out, ended), nor waiting on
        the complainant; files received by then."""
        rows = await self.store._rows(
            "SELECT c.file_number, c.police_service, c.received_at, COALESCE(k.original_due, k.due_at),"
            " CASE WHEN k.original_due IS NOT NULL THEN k.due_at END, c.stage, c.route, k.delay_reason,"
            " k.delay_expected, k.delay_action, c.name, c.email, c.phone, c.mailing_address"
            " FROM complaint_clocks k JOIN complaints c ON c.file_number = k.file_number"
            " WHERE k.clock = ? AND c.received_at <= ? AND COALESCE(k.original_due, k.due_at) < ?"
            " AND (k.met_at IS NULL OR k.met_at > ?) AND k.stopped = '' AND k.paused_at IS NULL"
            " ORDER BY c.received_at, c.file_number",
            (clock, end_of_day_ms, end_of_day_ms, end_of_day_ms),
        )
        names = await self._officer_names([str(r[0]) for r in rows])
        out = []
        for r in rows:
            values: list[Any] = [*r[:10], [str(x) for x in r[10:] if x] + names.get(str(r[0]), [])]
            out.append(DelayFact(*values))
        return out

    async def _officer_names(self, files: list[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for start in range(0, len(files), 500):
            part = files[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = await self.store._rows(
                "SELECT a.file_number, o.name, o.badge FROM case_allegations a"
                f" JOIN case_officers o ON o.id = a.officer WHERE a.file_number IN ({marks})"
                f" UNION ALL SELECT file_number, name, badge FROM complaint_officers WHERE file_number IN ({marks})",
                (*part, *part),
            )
            for f, name, badge in rows:
                out.setdefault(str(f), []).extend(x for x in (name, badge) if x)
        return out

    async def files(self, since_ms: int, until_ms: int) -> list[FileFact]:
        rows = await self.store._rows(
            "SELECT file_number, received_at, kind, channel, police_service, level, stage, route, assignee"
            " FROM complaints WHERE received_at >= ? AND received_at < ? ORDER BY received_at",
            (since_ms, until_ms),
        )
        return [FileFact(*r) for r in rows]

    async def allegations(self, since_ms: int, until_ms: int) -> list[AllegationFact]:
        rows = await self.store._rows(
            "SELECT c.received_at, c.police_service, a.type, a.tier, a.finding FROM case_allegations a"
            " JOIN complaints c ON c.file_number = a.file_number WHERE c.received_at >= ? AND c.received_at < ?",
            (since_ms, until_ms),
        )
        return [AllegationFact(*r) for r in rows]

    async def milestones(self, since_ms: int, until_ms: int, acts: tuple[str, ...]) -> list[tuple[str, int, int]]:
        """(act, the file's receipt, the first time the act was made on it) for files received then."""
        marks = ",".join("?" * len(acts))
        rows = await self.store._rows(
            "SELECT t.act, c.received_at, MIN(t.at) FROM case_timeline t JOIN complaints c"
            " ON c.file_number = t.file_number WHERE c.received_at >= ? AND c.received_at < ?"
            f" AND t.act IN ({marks}) GROUP BY t.file_number, t.act, c.received_at",
            (since_ms, until_ms, *acts),
        )
        return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]

    async def clocks(self, since_ms: int, until_ms: int) -> list[ClockFact]:
        rows = await self.store._rows(
            "SELECT k.clock, k.due_at, k.met_at, k.stopped, k.paused_at IS NOT NULL FROM complaint_clocks k"
            " JOIN complaints c ON c.file_number = k.file_number WHERE c.received_at >= ? AND c.received_at < ?",
            (since_ms, until_ms),
        )
        return [ClockFact(str(r[0]), int(r[1]), r[2], str(r[3]), bool(r[4])) for r in rows]

    async def referrals(self, since_ms: int, until_ms: int) -> list[ReferralFact]:
        """Referrals out whose outcome was reported back in the period."""
        rows = await self.store._rows(
            "SELECT file_number, body, level, sent_at, outcome, outcome_at, notified_at FROM case_referrals"
            " WHERE outcome <> '' AND outcome_at >= ? AND outcome_at < ? ORDER BY outcome_at",
            (since_ms, until_ms),
        )
        return [ReferralFact(*r) for r in rows]
