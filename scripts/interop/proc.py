"""Processes for the interop harness: start under `timeout`, read output, stop by PID.

Every process is started in its own session (process group) under
`timeout -k 5 SECONDS`, its output is read by a thread into a list of lines
(and copied to a log file), and every wait is a poll with a deadline.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from typing import Callable, List, Optional

# Every process the harness started (stopped at exit and on Ctrl-C).
_ALL: List["Proc"] = []
_ALL_LOCK = threading.RLock()


class Timeout(Exception):
    """A wait passed its deadline."""


class Failed(Timeout):
    """A wait saw a line that means it will not succeed."""


class Proc:
    """One child process: stdin pipe, stdout lines (stderr merged or to a file)."""

    def __init__(self, name: str, argv: List[str], cwd: str, logdir: str,
                 env: Optional[dict] = None, limit_s: int = 600,
                 stderr_separate: bool = False, log_prefix: str = ""):
        self.name = name
        self.log_path = os.path.join(logdir, f"{log_prefix}{name}.log")
        self._log = open(self.log_path, "ab")
        self._err = None
        if stderr_separate:
            self.err_path = os.path.join(logdir, f"{log_prefix}{name}.stderr.log")
            self._err = open(self.err_path, "ab")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self.argv = argv
        self.lines: List[str] = []
        self._cond = threading.Condition()
        self._log.write(("$ " + " ".join(argv) + "\n").encode())
        self._log.flush()
        self.p = subprocess.Popen(
            ["timeout", "-k", "5", str(limit_s)] + argv,
            cwd=cwd, env=full_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._err if stderr_separate else subprocess.STDOUT,
            start_new_session=True)
        with _ALL_LOCK:
            _ALL.append(self)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for raw in iter(self.p.stdout.readline, b""):
            self._log.write(raw)
            self._log.flush()
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    # ---- input -----------------------------------------------------------
    def send(self, line: str) -> None:
        if not self.alive():
            raise RuntimeError(f"{self.name} has exited (rc={self.p.poll()})")
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()

    # ---- output ----------------------------------------------------------
    def alive(self) -> bool:
        return self.p.poll() is None

    def mark(self) -> int:
        """Index of the next line: pass it to wait_for(since=...)."""
        with self._cond:
            return len(self.lines)

    def wait_for(self, pattern: str, timeout: float, since: int = 0,
                 fail: Optional[str] = None) -> re.Match:
        """First line at or after `since` matching `pattern` (regex search).

        Raises Timeout at the deadline, or at once if a line matches `fail`
        or the process exits without a match."""
        rx = re.compile(pattern)
        frx = re.compile(fail) if fail else None
        deadline = time.monotonic() + timeout
        i = since
        with self._cond:
            while True:
                while i < len(self.lines):
                    line = self.lines[i]
                    i += 1
                    m = rx.search(line)
                    if m:
                        return m
                    if frx and frx.search(line):
                        raise Failed(f"{self.name}: {line.strip().lstrip(':').strip()[:200]}")
                left = deadline - time.monotonic()
                if self.p.poll() is not None and i >= len(self.lines):
                    raise Timeout(f"{self.name} exited (rc={self.p.poll()}) "
                                  f"before /{pattern}/; last: {self.tail(1)}")
                if left <= 0:
                    raise Timeout(f"no /{pattern}/ from {self.name} in {timeout:.0f}s")
                self._cond.wait(min(left, 0.2))

    def find(self, pattern: str, since: int = 0) -> List[str]:
        rx = re.compile(pattern)
        with self._cond:
            return [ln for ln in self.lines[since:] if rx.search(ln)]

    def tail(self, n: int = 3) -> str:
        with self._cond:
            return " | ".join(ln.strip()[:160] for ln in self.lines[-n:] if ln.strip())

    # ---- stop ------------------------------------------------------------
    def stop(self, grace: float = 3.0) -> None:
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + grace
            while self.p.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.p.poll() is None:
                try:
                    os.killpg(self.p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    self.p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        for f in (self.p.stdin, self._log, self._err):
            try:
                if f:
                    f.close()
            except Exception:
                pass
        with _ALL_LOCK:
            if self in _ALL:
                _ALL.remove(self)


def stop_all() -> None:
    with _ALL_LOCK:
        procs = list(_ALL)
    for p in reversed(procs):
        p.stop(grace=1.5)


class JsonRpcProc(Proc):
    """A process speaking JSON-RPC 2.0 on stdio, one object per line (socp bridge)."""

    def __init__(self, *a, **kw):
        kw.setdefault("stderr_separate", True)
        super().__init__(*a, **kw)
        self._next_id = 1

    def _objs(self, since: int):
        with self._cond:
            lines = self.lines[since:]
        for ln in lines:
            try:
                yield json.loads(ln)
            except ValueError:
                continue

    def rpc(self, method: str, params: Optional[dict] = None, timeout: float = 30.0):
        rid = self._next_id
        self._next_id += 1
        mark = self.mark()
        req = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            req["params"] = params
        self.send(json.dumps(req))
        deadline = time.monotonic() + timeout
        idx = mark
        while True:
            with self._cond:
                new = self.lines[idx:]
                idx = len(self.lines)
            for ln in new:
                try:
                    o = json.loads(ln)
                except ValueError:
                    continue
                if o.get("id") == rid:
                    if "error" in o:
                        raise RuntimeError(f"{method}: {o['error'].get('message')} "
                                           f"({o['error'].get('code')})")
                    return o.get("result")
            if not self.alive():
                raise Timeout(f"{self.name} exited (rc={self.p.poll()}) during {method}")
            if time.monotonic() > deadline:
                raise Timeout(f"no reply to {method} from {self.name} in {timeout:.0f}s")
            with self._cond:
                if len(self.lines) == idx:
                    self._cond.wait(0.2)

    def wait_note(self, pred: Callable[[dict], bool], timeout: float, since: int = 0,
                  what: str = "notification") -> dict:
        deadline = time.monotonic() + timeout
        idx = since
        while True:
            with self._cond:
                new = self.lines[idx:]
                idx = len(self.lines)
            for ln in new:
                try:
                    o = json.loads(ln)
                except ValueError:
                    continue
                if "method" in o and "id" not in o and pred(o):
                    return o
            if not self.alive():
                raise Timeout(f"{self.name} exited (rc={self.p.poll()}) before {what}")
            if time.monotonic() > deadline:
                raise Timeout(f"no {what} at {self.name} in {timeout:.0f}s")
            with self._cond:
                if len(self.lines) == idx:
                    self._cond.wait(0.2)

    def notes(self, method: str, since: int = 0) -> List[dict]:
        return [o for o in self._objs(since) if o.get("method") == method and "id" not in o]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float, proc: Optional[Proc] = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            pass
        if proc is not None and not proc.alive():
            raise Timeout(f"{proc.name} exited (rc={proc.p.poll()}) before listening on "
                          f"{port}; last: {proc.tail(2)}")
        if time.monotonic() > deadline:
            raise Timeout(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f}s")
        time.sleep(0.1)


def wait_file(path: str, timeout: float, proc: Optional[Proc] = None) -> None:
    deadline = time.monotonic() + timeout
    while not (os.path.exists(path) and os.path.getsize(path) > 0):
        if proc is not None and not proc.alive():
            raise Timeout(f"{proc.name} exited before writing {os.path.basename(path)}")
        if time.monotonic() > deadline:
            raise Timeout(f"{path} not written after {timeout:.0f}s")
        time.sleep(0.1)
