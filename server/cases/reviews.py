"""Reviews of files: the compliance review of a file a police service concluded (opened when
its outcome is recorded, what the file already shows filled in), and each month's file audit
(a sample drawn by ``rules/reviews.sample``), with findings that trend by kind.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

from server.agency.policy import Policy
from server.cases.rules import reviews as rules
from server.cases.rules.stages import Refused
from server.cases.timing import DECISION, policy_for
from server.records.cases import CaseRecords
from server.records.oversight import OversightRecords, ReviewRow
from server.records.store import RecordsStore

__all__ = ["DAY", "Reviews"]

DAY = 86_400_000


class Reviews:
    def __init__(self, store: RecordsStore, policy: Policy) -> None:
        self.records = OversightRecords(store)
        self.cases = CaseRecords(store)
        self.policy = policy

    async def after_outcome(self, file_number: str, referral_id: int) -> int | None:
        """A police service reported a referral concluded: a compliance review to do, with what
        the file shows already answered (whether it was within the time, the complainant told)."""
        f = await self.cases.file(file_number)
        if f is None:
            return None
        r = next((x for x in f.referrals if x.id == referral_id), None)
        if r is None or not r.outcome:
            return None
        prefill: dict[str, str] = {}
        if r.outcome_at is not None:
            limit = policy_for(self.policy, DECISION).days * DAY
            prefill["timeline_met"] = "yes" if r.outcome_at - r.sent_at <= limit else "no"
        return await self.records.open_review(file_number, "compliance", f"referral-{referral_id}", prefill)

    async def draw(self, period: str) -> list[int]:
        """The month's audit sample (``YYYY-MM``): files that ended in it, drawn once (a month
        already drawn draws nothing more)."""
        try:
            first = dt.date.fromisoformat(period + "-01")
        except ValueError:
            raise Refused(f"{period} is not a month (YYYY-MM).") from None
        zone = ZoneInfo(self.policy.complaints.timezone)
        after = (first + dt.timedelta(days=32)).replace(day=1)
        since = int(dt.datetime.combine(first, dt.time(), zone).timestamp() * 1000)
        until = int(dt.datetime.combine(after, dt.time(), zone).timestamp() * 1000)
        if await self.records.reviews("audit", period, limit=1):
            return []  # drawn once: files that change later do not bring new ones in
        pool = await self.records.files_ended_between(since, until)
        made = []
        for file_number in rules.sample(pool, period, self.policy.complaints.audit_sample):
            got = await self.records.open_review(file_number, "audit", period, {})
            if got is not None:
                made.append(got)
        return made

    async def save(
        self, review_id: int, by: str, answers: dict[str, str], findings: list[str], notes: str, done: bool
    ) -> ReviewRow:
        found = await self.records.review(review_id)
        if found is None:
            raise LookupError(review_id)
        if found.done_at is not None:
            raise Refused("This review is done: it is kept as it was recorded.")
        items = {i.key for i in rules.checklist_for(found.kind)}
        bad = [k for k, v in answers.items() if k not in items or v not in rules.ANSWERS]
        if bad:
            raise Refused(f"Not on this checklist, or not yes / no / n/a: {', '.join(sorted(bad))}.")
        merged = {**found.checklist, **answers}
        if found.kind == "audit":
            known = set(rules.AUDIT_FINDINGS.values()) | {"other"}
            odd = [x for x in findings if x not in known]
            if odd:
                raise Refused(f"Findings are named from the list: {', '.join(sorted(known))}.")
            findings = sorted(set(findings) | {rules.AUDIT_FINDINGS[k] for k, v in merged.items() if v == "no"})
        else:
            findings = sorted(
                set(findings) | {f"missed: {k.replace('_', ' ')}" for k, v in merged.items() if v == "no"}
            )
        if done:
            gaps = rules.complete(found.kind, merged)
            if gaps:
                raise Refused(f"Answer every item before marking the review done: {', '.join(gaps)}.")
        await self.records.save_review(review_id, by, merged, findings, notes, done)
        saved = await self.records.review(review_id)
        assert saved is not None
        return saved

    async def trends(self, kind: str) -> tuple[list[str], dict[str, Counter[str]]]:
        """Findings by kind per period (audits: per month; compliance: per police service)."""
        by: dict[str, Counter[str]] = defaultdict(Counter)
        for r in await self.records.reviews(kind, limit=100_000):
            if r.done_at is None:
                continue
            key = r.period if kind == "audit" else r.police_service
            by[key]["reviewed"] += 1
            for finding in r.findings:
                by[key][finding] += 1
        return sorted(by), by

    @staticmethod
    def month_of(now_ms: int | None = None) -> str:
        at = dt.datetime.fromtimestamp((now_ms or time.time() * 1000) / 1000, dt.UTC)
        return at.strftime("%Y-%m")
