#!/usr/bin/python3
"""Interop matrix: our socp/socpd against two other SOCP v1.3 implementations.

    SOCP_PEERS_DIR=/tmp/peers /usr/bin/python3 scripts/interop.py [--markdown] [--cells 1,6a]
    make interop SOCP_PEERS_DIR=/tmp/peers

SOCP_PEERS_DIR holds the unpacked, patched peers as peer-a/ and impl14/
(docs/interop.md says how to prepare them). Nothing is written there: every
server and client runs on 127.0.0.1 on a free port in its own temp dir, under
`timeout`, and is stopped (by PID) at the end or on Ctrl-C.

Prints one row per cell (PASS/FAIL/SKIP and a short reason; failing checks
indented below) and ends with `interop: N cells pass, M fail, K skipped`.
Exit status: 2 when SOCP_PEERS_DIR is unset or not a directory, 1 when a cell
failed, else 0 (a missing peer prints a PEER MISSING row and skips its cells).
"""
from __future__ import annotations

import argparse
import datetime
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True        # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from interop.actors import Env  # noqa: E402
from interop.cells import CELLS, CellRun  # noqa: E402
from interop.proc import Timeout, stop_all  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER_DIRS = {"peer-a": "peer-a", "impl14": "impl14"}
PEER_FILES = {"peer-a": "server/server.py", "impl14": "server.py"}


def _on_signal(signum, _frame):
    stop_all()
    print(f"\ninterop: interrupted (signal {signum}); everything started was stopped",
          flush=True)
    os._exit(130)


def run_cell(env: Env, cid: str, fn, timeout: float) -> CellRun:
    env.cell = cid
    cx = CellRun(env, cid, timeout)
    try:
        fn(cx)
    except (Timeout, RuntimeError, OSError, KeyError, ValueError) as e:
        cx.setup_error = "setup: " + str(e).replace("\n", " ")[:300]
    finally:
        cx.stop_all()
    return cx


def verdict(cx: CellRun):
    if cx.setup_error:
        return "FAIL", cx.setup_error
    bad = [c for c in cx.checks if not c[1]]
    if not cx.checks:
        return "FAIL", "no checks ran"
    if bad:
        return "FAIL", f"{len(bad)}/{len(cx.checks)} checks fail; first: {bad[0][0]}: {bad[0][2]}"
    return "PASS", f"{len(cx.checks)} checks"


COLS = ["sees", "dm", "all", "file"]   # exchange() checks; others go to the "other" column


def markdown(rows) -> str:
    """Results table for docs/interop.md: -> is first-named client to second-named."""
    head = ["cell", "what", "result"]
    for c in COLS:
        head += [f"{c} →", f"{c} ←"]
    head += ["other", "failures (check: reason)"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for cid, title, status, reason, checks in rows:
        seen: dict = {}
        marks = {}
        fails = []
        other = []
        for label, ok, detail in checks:
            kind = label.split(" ", 1)[0] if " sees " not in label else "sees"
            if kind not in COLS:
                other.append("ok" if ok else "**FAIL**")
                if not ok:
                    fails.append(f"{label}: {detail[:220]}")
                continue
            n = seen.get(kind, 0)
            seen[kind] = n + 1
            marks[(kind, n)] = "ok" if ok else "**FAIL**"
            if not ok:
                arrow = "→" if n == 0 else "←"
                fails.append(f"{kind} {arrow}: {detail[:220]}")
        cells = [marks.get((c, i), "–") for c in COLS for i in (0, 1)]
        cells.append(" ".join(other) or "–")
        if not checks:
            fails = [reason]
        res = "**FAIL**" if status == "FAIL" else status
        text = "<br>".join(fails).replace("|", "/")
        out.append("| " + " | ".join([cid, title, res] + cells + [text]) + " |")
    return "\n".join(out)


def git_head(path: str) -> str:
    try:
        return subprocess.run(["git", "-C", path, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=5).stdout.strip()
    except Exception:
        return "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "cc"),
                    help="directory with socp and socpd (default build/cc)")
    ap.add_argument("--cells", default="", help="comma-separated cell ids (default: all)")
    ap.add_argument("--cell-timeout", type=float, default=150.0, help="seconds per cell")
    ap.add_argument("--markdown", action="store_true",
                    help="also print the results as a markdown table (docs/interop.md)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    ap.add_argument("--socpd-log", default="info", help="socpd --log-level (default info)")
    args = ap.parse_args()

    peers = os.environ.get("SOCP_PEERS_DIR", "")
    if not peers or not os.path.isdir(peers):
        print("interop: SOCP_PEERS_DIR is unset or not a directory; it must hold the "
              "unpacked, patched peers as peer-a/ and impl14/ (see docs/interop.md)",
              file=sys.stderr)
        return 2
    peers = os.path.abspath(peers)
    for prog in ("socp", "socpd"):
        if not os.access(os.path.join(args.build, prog), os.X_OK):
            print(f"interop: {args.build}/{prog} not built (run make)", file=sys.stderr)
            return 2

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    present = {p: os.path.isfile(os.path.join(peers, d, PEER_FILES[p]))
               for p, d in PEER_DIRS.items()}
    want = [c.strip() for c in args.cells.split(",") if c.strip()]
    tmp = tempfile.mkdtemp(prefix="socp-interop-")
    logdir = os.path.join(tmp, "logs")
    os.makedirs(logdir)
    env = Env(args.build, peers, tmp, logdir, args.socpd_log)

    print(f"interop: {datetime.date.today()}  socp {git_head(ROOT)}  peers in {peers}  "
          f"logs in {logdir}", flush=True)
    for p, ok in present.items():
        if not ok:
            print(f"PEER MISSING  {p:7s} {os.path.join(peers, PEER_DIRS[p])} "
                  f"(no {PEER_FILES[p]}): its cells are skipped", flush=True)

    rows = []
    npass = nfail = nskip = 0
    try:
        for cid, needs, title, fn in CELLS:
            if want and cid not in want:
                continue
            missing = [n for n in needs if not present[n]]
            if missing:
                rows.append((cid, title, "SKIP", f"PEER MISSING: {', '.join(missing)}", []))
                nskip += 1
                print(f"{cid:3s} SKIP  {title}: PEER MISSING {', '.join(missing)}", flush=True)
                continue
            t0 = time.monotonic()
            cx = run_cell(env, cid, fn, args.cell_timeout)
            status, reason = verdict(cx)
            npass += status == "PASS"
            nfail += status == "FAIL"
            rows.append((cid, title, status, reason, cx.checks))
            print(f"{cid:3s} {status}  {title} ({time.monotonic() - t0:.0f}s): {reason}",
                  flush=True)
            for label, ok, detail in cx.checks:
                print(f"      {'ok  ' if ok else 'FAIL'} {label}{': ' + detail if detail else ''}",
                      flush=True)
            for n in cx.notes:
                print(f"      note {n}", flush=True)
    finally:
        stop_all()

    if args.markdown:
        print()
        print(markdown(rows))
    print(f"interop: {npass} cells pass, {nfail} fail, {nskip} skipped", flush=True)
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"interop: kept {tmp}")
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
