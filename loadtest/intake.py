"""The complaint flood: public submissions to the hub's complaint door at a steady rate.

A small HTTP/1.1 client on keep-alive connections (the generator must cost
little), in a process of its own. Each submission has its own submission id,
so each must be filed exactly once.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

__all__ = ["complaint_body", "flood_process"]

_WORDS = (
    "the officer stopped me outside the station and would not say why I was being held there for over an hour "
    "while my children waited in the car and nobody gave me a badge number when I asked politely"
).split()


def complaint_body(n: int, run: str) -> bytes:
    """A realistic complaint (a narrative of about 1,500 characters)."""
    narrative = " ".join(_WORDS[(n + i) % len(_WORDS)] for i in range(260))
    return json.dumps(
        {
            "submission_id": f"load-{run}-{n:09d}",
            "kind": "complaint",
            "police_service": "Edmonton Police Service",
            "officers": [{"name": "Cst. Example", "badge": str(1000 + n % 9000)}],
            "occurred_on": "2026-11-01",
            "occurred_time": "around 9 pm",
            "location": "Jasper Ave and 101 St",
            "narrative": narrative,
            "desired_outcome": "An apology and an explanation.",
            "name": f"Person {n}",
            "email": f"person{n}@example.org",
            "contact_by": "email",
            "safe_times": "weekday evenings",
            "consent_share": True,
        }
    ).encode()


async def _post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, body: bytes
) -> tuple[int, bytes]:
    writer.write(
        b"POST /api/complaints HTTP/1.1\r\nHost: " + host.encode() + b"\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: keep-alive\r\n\r\n" + body
    )
    await writer.drain()
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return status, await reader.readexactly(length)


def flood_process(port: int, windows: list[tuple[float, float]], rate: float, conns: int, run: str, out: Any) -> None:
    """Submit complaints at ``rate`` per second during each (start, stop) window; report what was accepted.

    The submitters would be on other machines: here the process runs at a lower CPU
    priority (nice 10), so that the flood's own cost lands on neither the hub nor the boards."""
    import os

    os.nice(10)

    async def main() -> dict[str, Any]:
        results = [await window(start, stop) for start, stop in windows]
        flat: dict[str, Any] = {"kind": "flood", "sent": 0, "statuses": {}, "accepted": [], "errors": 0}
        for r in results:
            flat["sent"] += r["sent"]
            flat["errors"] += r["errors"]
            flat["accepted"] += r["accepted"]
            for k, v in r["statuses"].items():
                flat["statuses"][k] = flat["statuses"].get(k, 0) + v
        flat["rate_achieved"] = round(sum(r["rate_achieved"] for r in results) / len(results), 1)
        flat["late_over_1s"] = sum(r["late_over_1s"] for r in results)
        flat["first_errors"] = [e for r in results for e in r["first_errors"]][:5]
        return flat

    numbers = iter(range(10**9))

    async def window(start_at: float, stop_at: float) -> dict[str, Any]:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        begin = time.time()
        first = next(numbers)
        counter = iter(range(10**9))
        accepted: list[str] = []
        statuses: dict[int, int] = {}
        late = 0
        errors: list[str] = []

        async def connection() -> None:
            nonlocal late
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                while True:
                    i = next(counter)
                    n = first + i
                    due = begin + i / rate
                    if due >= stop_at:
                        return
                    next(numbers)
                    wait = due - time.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    elif wait < -1.0:
                        late += 1
                    try:
                        status, body = await _post(reader, writer, f"127.0.0.1:{port}", complaint_body(n, run))
                    except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
                        errors.append(f"{type(exc).__name__}: {exc}")
                        writer.close()
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                        continue
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == 201:
                        accepted.append(json.loads(body)["file_number"])
            finally:
                writer.close()

        await asyncio.gather(*(connection() for _ in range(conns)))
        elapsed = max(0.001, min(time.time(), stop_at) - begin)
        return {
            "kind": "flood",
            "sent": sum(statuses.values()),
            "statuses": {str(k): v for k, v in statuses.items()},
            "accepted": accepted,
            "rate_achieved": round(sum(statuses.values()) / elapsed, 1),
            "late_over_1s": late,
            "errors": len(errors),
            "first_errors": errors[:5],
        }

    out.put(asyncio.run(main()))
