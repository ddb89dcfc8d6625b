"""The interop matrix: one function per cell.

A cell starts its servers and clients (each in its own temp dir, on free
ports), runs named checks (each bounded by the cell's deadline), and stops
everything it started. A check fails with a short reason; the cell passes
only if every check passed.
"""
from __future__ import annotations

import os
import subprocess
import time
import uuid
from typing import Callable, List, Optional, Tuple

from .actors import (Client, Env, Impl14Client, Impl14Server, PeerAClient, PeerAServer,
                     Socpd, SocpClient, SocpScriptClient)
from .proc import Timeout

# Flags our programs need with a given peer (decisions.md, "Keys and crypto"):
# Our programs run with their default flags (issue #11): the client switches
# to PEM by itself for peer A (--pub-format auto), socpd speaks each peer
# server's key form, and --account sets Impl14's wire form. Set these to
# ["--pub-format", "pem"] / ["--sig-form", "bytes"] to compare.
PEM: list = []
BYTES: list = []

# Server log lines quoted in a failing check's reason.
SOCPD_ERR = r" (WARN|ERROR) "
PEER_A_ERR = r"\[(WARNING|ERROR) *\].*([Ff]ail|[Ii]nvalid|[Ee]rror|Rejected|[Rr]efus)"
IMPL14_ERR = r"Traceback|Error|failed"


class CellRun:
    """One cell's context: deadline, started programs, check results."""

    def __init__(self, env: Env, cid: str, timeout: float):
        self.env = env
        self.cid = cid
        self.deadline = time.monotonic() + timeout
        self.started: list = []
        self.checks: List[Tuple[str, bool, str]] = []
        self.setup_error: Optional[str] = None
        self.notes: List[str] = []
        self.watched: list = []        # (proc, regex): lines quoted when a check fails

    def watch(self, server, pattern: str) -> None:
        self.watched.append((server.proc, pattern))

    def left(self, cap: float) -> float:
        return max(0.5, min(cap, self.deadline - time.monotonic()))

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def start(self, factory: Callable):
        """Start a server or client; a failure here ends the cell (setup error)."""
        obj = factory()
        self.started.append(obj)
        return obj

    def check(self, label: str, fn: Callable[[], Optional[str]]) -> bool:
        if self.expired():
            self.checks.append((label, False, "cell timeout"))
            return False
        marks = [(p, rx, p.mark()) for p, rx in self.watched]
        try:
            detail = fn() or ""
            self.checks.append((label, True, detail))
            return True
        except (Timeout, RuntimeError, OSError, KeyError, ValueError) as e:
            reason = str(e).replace("\n", " ")[:300]
            for p, rx, m in marks:
                hits = p.find(rx, m)
                if hits:
                    reason += f" [{p.name}: {hits[0].strip()[-200:]}]"
            self.checks.append((label, False, reason))
            return False

    def stop_all(self) -> None:
        for obj in reversed(self.started):
            try:
                obj.stop()
            except Exception:
                pass

    def mkfile(self, size: int) -> str:
        d = self.env.dir(f"files-{self.cid}")
        path = os.path.join(d, f"probe-{self.cid}-{uuid.uuid4().hex[:6]}.bin")
        with open(path, "wb") as f:
            f.write(os.urandom(size))
        return path

    def text(self, what: str) -> str:
        return f"{what}-{self.cid}-{uuid.uuid4().hex[:6]}"


# ---------------------------------------------------------------------------
# Check building blocks
# ---------------------------------------------------------------------------
def sees(cx: CellRun, a: Client, b: Client, t: float = 30) -> None:
    cx.check(f"{a.short()} sees {b.short()}", lambda: a.knows(b, cx.left(t)))


def dm(cx: CellRun, a: Client, b: Client) -> None:
    def go():
        text = cx.text("dm")
        m = b.mark()
        a.send_dm(b, text)
        return b.expect_dm(a, text, m, cx.left(25))
    cx.check(f"dm {a.short()}>{b.short()}", go)


def public(cx: CellRun, a: Client, b: Client) -> None:
    def go():
        text = cx.text("all")
        m = b.mark()
        a.send_all(text)
        return b.expect_all(a, text, m, cx.left(25))
    cx.check(f"all {a.short()}>{b.short()}", go)


def sendfile(cx: CellRun, a: Client, b: Client, size: int = 400) -> None:
    def go():
        path = cx.mkfile(size)        # <= 446 bytes: Impl14 sends one RSA block per chunk
        m = b.mark()
        a.send_file(b, path)
        return b.expect_file(a, path, m, cx.left(40))
    cx.check(f"file {a.short()}>{b.short()}", go)


def exchange(cx: CellRun, a: Client, b: Client) -> None:
    """Presence both ways, then DM, /all and /file both ways."""
    sees(cx, a, b)
    sees(cx, b, a)
    for x, y in ((a, b), (b, a)):
        dm(cx, x, y)
    for x, y in ((a, b), (b, a)):
        public(cx, x, y)
    for x, y in ((a, b), (b, a)):
        sendfile(cx, x, y)


def socp_has_option(env: Env, opt: str) -> bool:
    out = subprocess.run([env.socp, "--help"], capture_output=True, text=True, timeout=10)
    return opt in (out.stdout + out.stderr)


IDLE_S = 6.0   # a person takes seconds to type /register; Impl14's client connects at start


def impl14_user(cx: CellRun, name: str, server) -> Impl14Client:
    c = cx.start(lambda: Impl14Client(cx.env, name, server))
    if isinstance(server, Socpd):
        # Impl14's client opens the socket at start (client.py:334) and sends
        # nothing until the user types: the server must not drop it meanwhile.
        def idle():
            try:
                c.proc.wait_for(r"\[disconnected\]|\[error\]", IDLE_S)
            except Timeout:
                return f"socket idle {IDLE_S:.0f}s kept"
            raise Timeout(f"server dropped the idle socket: {c.proc.tail(1)}")
        if not cx.check(f"idle {c.short()} kept {IDLE_S:.0f}s before /register", idle):
            c.stop()                    # go on with a fresh socket, registering at once
            c = cx.start(lambda: Impl14Client(cx.env, name + "-2", server))
            c.addr = name
    c.login()
    return c


# ---------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------
def cell1(cx: CellRun) -> None:
    """socp <-> peer A client via the peer A server."""
    srv = cx.start(lambda: PeerAServer(cx.env, "peer-a-srv"))
    cx.watch(srv, PEER_A_ERR)
    a = cx.start(lambda: PeerAClient(cx.env, "pa1", srv))
    s = cx.start(lambda: SocpClient(cx.env, "alice", srv, PEM))
    exchange(cx, s, a)


def cell2(cx: CellRun) -> None:
    """Two peer A clients via socpd (default flags)."""
    srv = cx.start(lambda: Socpd(cx.env, "socpd"))
    cx.watch(srv, SOCPD_ERR)
    a = cx.start(lambda: PeerAClient(cx.env, "pa1", srv))
    b = cx.start(lambda: PeerAClient(cx.env, "pa2", srv))
    exchange(cx, a, b)


def cell3(cx: CellRun) -> None:
    """socp <-> peer A client, both on socpd."""
    srv = cx.start(lambda: Socpd(cx.env, "socpd"))
    cx.watch(srv, SOCPD_ERR)
    a = cx.start(lambda: PeerAClient(cx.env, "pa1", srv))
    s = cx.start(lambda: SocpClient(cx.env, "alice", srv, PEM))
    exchange(cx, s, a)


def cell4(cx: CellRun) -> None:
    """socp <-> Impl14 client via the Impl14 server (needs socp --account)."""
    if not socp_has_option(cx.env, "--account"):
        cx.setup_error = ("socp has no --account NAME option: the Impl14 server only serves "
                          "users that USER_REGISTER + USER_LOGIN (ours)")
        return
    srv = cx.start(lambda: Impl14Server(cx.env, "impl14-srv"))
    cx.watch(srv, IMPL14_ERR)
    b = impl14_user(cx, "bob", srv)
    pw = "pw-" + uuid.uuid4().hex[:8]
    # The bridge does not take --account (yet): our terminal client in script mode.
    s = cx.start(lambda: SocpScriptClient(cx.env, "alice", srv, BYTES + ["--account", "alice"],
                                          extra_env={"SOCP_ACCOUNT_PASSWORD": pw}))
    exchange(cx, s, b)


def cell5a(cx: CellRun) -> None:
    """Two Impl14 clients via socpd."""
    srv = cx.start(lambda: Socpd(cx.env, "socpd"))
    cx.watch(srv, SOCPD_ERR)
    b = impl14_user(cx, "bob", srv)
    c = impl14_user(cx, "carol", srv)
    exchange(cx, b, c)


def cell5b(cx: CellRun) -> None:
    """Impl14 client <-> socp via socpd."""
    srv = cx.start(lambda: Socpd(cx.env, "socpd"))
    cx.watch(srv, SOCPD_ERR)
    b = impl14_user(cx, "bob", srv)
    s = cx.start(lambda: SocpClient(cx.env, "alice", srv, BYTES))
    exchange(cx, s, b)


def _wait_mesh(cx: CellRun, proc, pattern: str, what: str) -> None:
    try:
        proc.wait_for(pattern, cx.left(30))
    except Timeout as e:
        cx.notes.append(f"mesh: {what} not seen ({e})")


def cell6a(cx: CellRun) -> None:
    """Mesh: socpd is the introducer, the peer A server joins it."""
    ours = cx.start(lambda: Socpd(cx.env, "socpd", PEM))
    peer = cx.start(lambda: PeerAServer(cx.env, "peer-a-srv", bootstrap=[
        {"host": "127.0.0.1", "port": ours.port, "pubkey": ours.pub_pem}]))
    _wait_mesh(cx, ours.proc, r"link to server \S+ up", "socpd: link to peer A up")
    cx.watch(ours, SOCPD_ERR)
    cx.watch(peer, PEER_A_ERR)
    s = cx.start(lambda: SocpClient(cx.env, "alice", ours, PEM))
    a = cx.start(lambda: PeerAClient(cx.env, "pa1", peer))
    exchange(cx, s, a)


def cell6b(cx: CellRun) -> None:
    """Mesh: the peer A server is the introducer, socpd joins it."""
    peer = cx.start(lambda: PeerAServer(cx.env, "peer-a-srv"))
    ours = cx.start(lambda: Socpd(cx.env, "socpd", PEM,
                                  introducers=[f"127.0.0.1:{peer.port}:{peer.pub_pem}"]))
    _wait_mesh(cx, ours.proc, r"link to server \S+ up", "socpd: link to peer A up")
    cx.watch(ours, SOCPD_ERR)
    cx.watch(peer, PEER_A_ERR)
    s = cx.start(lambda: SocpClient(cx.env, "alice", ours, PEM))
    a = cx.start(lambda: PeerAClient(cx.env, "pa1", peer))
    exchange(cx, s, a)


def cell7a(cx: CellRun) -> None:
    """Mesh: socpd is the introducer, the Impl14 server joins it."""
    ours = cx.start(lambda: Socpd(cx.env, "socpd"))
    peer = cx.start(lambda: Impl14Server(cx.env, "impl14-srv", introducers=[
        {"url": ours.url, "pubkey": ours.pub_der}]))
    _wait_mesh(cx, ours.proc, r"link to server \S+ up", "socpd: link to Impl14 up")
    cx.watch(ours, SOCPD_ERR)
    cx.watch(peer, IMPL14_ERR)
    s = cx.start(lambda: SocpClient(cx.env, "alice", ours, BYTES))
    b = impl14_user(cx, "bob", peer)
    exchange(cx, s, b)


def cell7b(cx: CellRun) -> None:
    """Mesh: the Impl14 server is the introducer, socpd joins it."""
    peer = cx.start(lambda: Impl14Server(cx.env, "impl14-srv"))
    ours = cx.start(lambda: Socpd(cx.env, "socpd",
                                  introducers=[f"127.0.0.1:{peer.port}:{peer.pub_der}"]))
    _wait_mesh(cx, ours.proc, r"link to server \S+ up", "socpd: link to Impl14 up")
    cx.watch(ours, SOCPD_ERR)
    cx.watch(peer, IMPL14_ERR)
    s = cx.start(lambda: SocpClient(cx.env, "alice", ours, BYTES))
    b = impl14_user(cx, "bob", peer)
    exchange(cx, s, b)


# id, peers needed, title, function
CELLS = [
    ("1", ("peer-a",), "socp <-> peer A client via peer A server", cell1),
    ("2", ("peer-a",), "peer A client <-> peer A client via socpd", cell2),
    ("3", ("peer-a",), "socp <-> peer A client on socpd", cell3),
    ("4", ("impl14",), "socp <-> Impl14 client via Impl14 server", cell4),
    ("5a", ("impl14",), "Impl14 client <-> Impl14 client via socpd", cell5a),
    ("5b", ("impl14",), "socp <-> Impl14 client on socpd", cell5b),
    ("6a", ("peer-a",), "mesh: socp@socpd (introducer) <-> peer A client@peer A server", cell6a),
    ("6b", ("peer-a",), "mesh: socp@socpd <-> peer A client@peer A server (introducer)", cell6b),
    ("7a", ("impl14",), "mesh: socp@socpd (introducer) <-> Impl14 client@Impl14 server", cell7a),
    ("7b", ("impl14",), "mesh: socp@socpd <-> Impl14 client@Impl14 server (introducer)", cell7b),
]
