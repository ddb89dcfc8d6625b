"""Servers and clients of the interop matrix: ours (socpd, socp bridge) and the peers'.

Each class starts one program on 127.0.0.1 in its own temporary directory and
offers the same few verbs (send a DM, expect a DM, ...), so a cell is written
once for any pair of clients. Nothing is written into the peers' trees
(PYTHONDONTWRITEBYTECODE, configs and state in the temp directory).
"""
from __future__ import annotations

import ast
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from typing import List, Optional

from .proc import Failed, JsonRpcProc, Proc, Timeout, free_port, wait_file, wait_port

PY = "/usr/bin/python3"

AIOCONSOLE_SHIM = '''\
import asyncio, sys
async def ainput(prompt=""):
    if prompt:
        sys.stdout.write(prompt); sys.stdout.flush()
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if line == "":
        raise EOFError
    return line.rstrip("\\n")
'''

# Runs peer A's server with our host/port/storage and bootstrap file, without
# touching its tree (its bootstrap path is fixed to server/bootstrap.yaml).
PEER_A_LAUNCHER = '''\
import asyncio, sys
from pathlib import Path
from shared.log import configure_root_logging
from server.server import SOCPServer
SOCPServer._bootstrap_path = lambda self: Path(sys.argv[2])
configure_root_logging()
s = SOCPServer(storage_path=Path(".server"), host="127.0.0.1", port=int(sys.argv[1]))
asyncio.run(s.start_server())
'''


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64u_dec(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def pem_to_der(pem: bytes) -> bytes:
    body = b"".join(ln for ln in pem.splitlines() if ln and not ln.startswith(b"-----"))
    return base64.b64decode(body)


def sha256_file(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Env:
    """Paths and settings shared by a run."""

    def __init__(self, build: str, peers: Optional[str], tmp: str, logdir: str,
                 socpd_log: str = "info"):
        # Private copies: other engineers may rebuild build/cc during a run.
        bindir = os.path.join(tmp, "bin")
        os.makedirs(bindir, exist_ok=True)
        for prog in ("socp", "socpd"):
            shutil.copy2(os.path.join(build, prog), os.path.join(bindir, prog))
        self.socp = os.path.join(bindir, "socp")
        self.socpd = os.path.join(bindir, "socpd")
        self.socpd_log = socpd_log
        self.cell = "x"
        self.peer_a = os.path.join(peers, "peer-a") if peers else None
        self.impl14 = os.path.join(peers, "impl14") if peers else None
        self.tmp = tmp
        self.logdir = logdir
        self.shim = os.path.join(tmp, "shim")
        os.makedirs(self.shim, exist_ok=True)
        with open(os.path.join(self.shim, "aioconsole.py"), "w") as f:
            f.write(AIOCONSOLE_SHIM)
        with open(os.path.join(tmp, "launch_peer_a.py"), "w") as f:
            f.write(PEER_A_LAUNCHER)
        self._n = 0

    def dir(self, name: str) -> str:
        self._n += 1
        d = os.path.join(self.tmp, f"{self.cell}-{self._n:02d}-{name}")
        os.makedirs(d, exist_ok=True)
        return d

    def pyenv(self, *paths: str) -> dict:
        return {"PYTHONPATH": ":".join(paths), "PYTHONUNBUFFERED": "1",
                "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "1000", "TERM": "dumb",
                "NO_COLOR": "1"}


# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------
class Server:
    kind = "?"
    port: int
    sid: str = ""
    proc: Proc

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.stop()


class Socpd(Server):
    kind = "socpd"

    def __init__(self, env: Env, name: str, flags: List[str] = (),
                 introducers: List[str] = (), limit_s: int = 600):
        self.name = name
        d = env.dir(name)
        self.data = os.path.join(d, "data")
        self.port = free_port()
        self.flags = list(flags)

        def pub(fmt: str) -> str:
            out = subprocess.run([env.socpd, "--print-pubkey", "--data-dir", self.data,
                                  "--plain-key", "--pub-format", fmt],
                                 capture_output=True, text=True, timeout=60)
            if out.returncode != 0 or not out.stdout.strip():
                raise Timeout(f"socpd --print-pubkey failed: {out.stderr.strip()[-200:]}")
            return out.stdout.strip().splitlines()[-1].strip()

        self.pub_der = pub("der")
        self.pub_pem = pub("pem")
        argv = [env.socpd, "--port", str(self.port), "--host", "127.0.0.1",
                "--data-dir", self.data, "--plain-key", "--log-level", env.socpd_log] + self.flags
        for i in introducers:
            argv += ["--introducer", i]
        self.proc = Proc(name, argv, d, env.logdir, log_prefix=env.cell + "-", limit_s=limit_s)
        m = self.proc.wait_for(r"listening ws://\S+ id=([0-9a-f-]{36})", 30)
        self.sid = m.group(1)
        wait_port(self.port, 10, self.proc)


class PeerAServer(Server):
    kind = "peer-a"

    def __init__(self, env: Env, name: str, bootstrap: List[dict] = (), limit_s: int = 600):
        self.name = name
        d = env.dir(name)
        self.port = free_port()
        boot = os.path.join(d, "bootstrap.yaml")
        with open(boot, "w") as f:
            if not bootstrap:
                f.write("bootstrap_servers: []\n")
            else:
                f.write("bootstrap_servers:\n")
                for b in bootstrap:
                    f.write(f"  - host: {b['host']}\n    port: {b['port']}\n"
                            f"    pubkey: \"{b['pubkey']}\"\n")
        self.proc = Proc(name, [PY, os.path.join(env.tmp, "launch_peer_a.py"),
                                str(self.port), boot],
                         d, env.logdir, log_prefix=env.cell + "-", env=env.pyenv(env.peer_a), limit_s=limit_s)
        pub_path = os.path.join(d, ".server", "server_keys", "pem.pub.pem")
        wait_file(pub_path, 60, self.proc)
        wait_port(self.port, 60, self.proc)
        with open(pub_path, "rb") as f:
            pem = f.read()
        self.pub_pem = b64u(pem)          # what peer A emits and parses
        self.pub_der = b64u(pem_to_der(pem))
        with open(os.path.join(d, ".server", "server_id.json")) as f:
            self.sid = json.load(f)["server_id"]


class Impl14Server(Server):
    kind = "impl14"

    def __init__(self, env: Env, name: str, introducers: List[dict] = (), limit_s: int = 600):
        self.name = name
        d = env.dir(name)
        self.port = free_port()
        self.sid = str(uuid.uuid4())
        with open(os.path.join(d, "config.yaml"), "w") as f:
            f.write("listen_host: 127.0.0.1\n")
            if not introducers:
                f.write("introducers: []\n")
            else:
                f.write("introducers:\n")
                for i in introducers:
                    f.write(f"  - url: {i['url']}\n    pubkey: \"{i['pubkey']}\"\n")
        keyfile = os.path.join(d, "k.json")
        env_vars = env.pyenv()
        env_vars.update({"SOCP_DB": os.path.join(d, "a.db"), "SOCP_SERVER_KEYFILE": keyfile})
        self.proc = Proc(name, [PY, os.path.join(env.impl14, "server.py"),
                                "--server-id", self.sid, "--port", str(self.port)],
                         d, env.logdir, log_prefix=env.cell + "-", env=env_vars, limit_s=limit_s)
        wait_port(self.port, 60, self.proc)
        wait_file(keyfile, 10, self.proc)
        with open(keyfile) as f:
            self.pub_der = json.load(f)["pub_spki_b64u"]


# ---------------------------------------------------------------------------
# Clients: the same verbs for every implementation
# ---------------------------------------------------------------------------
class Client:
    kind = "?"
    addr = ""          # what other clients put in /tell
    label = ""
    proc: Proc

    def short(self) -> str:
        return f"{self.kind}:{self.label}"

    def stop(self) -> None:
        self.proc.stop()

    def alive_or_raise(self) -> None:
        if not self.proc.alive():
            raise Timeout(f"{self.short()} exited (rc={self.proc.p.poll()}); last: {self.proc.tail(2)}")


class SocpClient(Client):
    """Our client through its headless bridge (JSON-RPC on stdio, docs/bridge.md)."""
    kind = "socp"

    def __init__(self, env: Env, name: str, server: Server, flags: List[str] = (),
                 extra_env: Optional[dict] = None, limit_s: int = 600):
        self.label = name
        d = env.dir(f"socp-{name}")
        self.flags = list(flags)
        self.proc = JsonRpcProc(f"socp-{name}", [env.socp, "bridge", "--server", server.url,
                                                 "--data-dir", d, "--stdio", "--plain-key",
                                                 "--name", name] + self.flags,
                                d, env.logdir, log_prefix=env.cell + "-", env=extra_env, limit_s=limit_s)
        me = self.proc.rpc("whoami", timeout=60)
        self.addr = me["id"]

    def wait_link(self, timeout: float) -> None:
        self.proc.wait_note(lambda o: o["method"] == "link" and o["params"].get("up"),
                            timeout, what="link up")

    def knows(self, other: Client, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            users = self.proc.rpc("listUsers", timeout=max(1, deadline - time.monotonic()))
            for u in users or []:
                if u.get("id") == other.addr:
                    if u.get("keyRefused"):
                        raise Timeout(f"socp refused the key of {other.short()}")
                    return
            if time.monotonic() > deadline:
                raise Timeout(f"socp never listed {other.short()} ({len(users or [])} users online)")
            time.sleep(0.5)

    def send_dm(self, to: Client, text: str) -> None:
        self.proc.rpc("send", {"to": to.addr, "text": text})

    def send_all(self, text: str) -> None:
        r = self.proc.rpc("broadcast", {"text": text})
        if isinstance(r, dict) and not r.get("recipients"):
            raise Timeout(f"broadcast accepted with 0 recipients ({r})")

    def send_file(self, to: Client, path: str) -> None:
        self.proc.rpc("sendFile", {"to": to.addr, "path": path}, timeout=60)

    def mark(self) -> int:
        return self.proc.mark()

    def _errors(self, since: int) -> str:
        errs = self.proc.notes("error", since)
        return "; ".join(f"{e['params'].get('code')}: {str(e['params'].get('detail'))[:120]}"
                         for e in errs[-2:])

    def expect_msg(self, frm: Client, text: str, channel: str, since: int, timeout: float) -> str:
        try:
            n = self.proc.wait_note(lambda o: o["method"] == "message"
                                    and o["params"].get("text") == text, timeout, since,
                                    what=f"{channel} message")
        except Timeout as e:
            errs = self._errors(since)
            raise Timeout(f"{e}{' (errors: ' + errs + ')' if errs else ''}")
        p = n["params"]
        if p.get("from") != frm.addr:
            raise Timeout(f"shown as from {p.get('from')}, not {frm.addr} "
                          f"(trust={p.get('trust')}, form={p.get('form') or 'none'})")
        # `form` names the content_sig form that verified (empty: none did);
        # a plaintext public message can verify yet not count as `verified`.
        if not p.get("verified") and not p.get("form"):
            raise Timeout(f"shown but content_sig not verified (trust={p.get('trust')})")
        return f"trust={p.get('trust')} form={p.get('form')}"

    def expect_dm(self, frm: Client, text: str, since: int, timeout: float) -> str:
        return self.expect_msg(frm, text, "dm", since, timeout)

    def expect_all(self, frm: Client, text: str, since: int, timeout: float) -> str:
        return self.expect_msg(frm, text, "public", since, timeout)

    def expect_file(self, frm: Client, path: str, since: int, timeout: float) -> str:
        name = os.path.basename(path)
        try:
            n = self.proc.wait_note(lambda o: o["method"] == "file" and o["params"].get("name") == name
                                    and o["params"].get("event") in ("received", "failed"),
                                    timeout, since, what="file received")
        except Timeout as e:
            errs = self._errors(since)
            raise Timeout(f"{e}{' (errors: ' + errs + ')' if errs else ''}")
        p = n["params"]
        if p["event"] == "failed":
            raise Timeout(f"file failed: {p.get('detail')}")
        if p.get("sha256") != sha256_file(path):
            raise Timeout("received file sha256 differs")
        return "sha256 ok"


class SocpScriptClient(Client):
    """Our terminal client in script mode (stdin not a terminal; docs/client.md,
    "Output lines"). Used where the bridge lacks an option (--account)."""
    kind = "socp"

    def __init__(self, env: Env, name: str, server: Server, flags: List[str] = (),
                 extra_env: Optional[dict] = None, limit_s: int = 600):
        self.label = name
        d = env.dir(f"socp-{name}")
        self.proc = Proc(f"socp-{name}", [env.socp, "--server", server.url, "--data-dir", d,
                                          "--name", name] + list(flags),
                         d, env.logdir, log_prefix=env.cell + "-", env=extra_env, limit_s=limit_s)
        m = self.proc.wait_for(r"connected to \S+ as (\S+)", 60,
                               fail=r"^error: |wrong password")
        self.addr = m.group(1)

    def knows(self, other: Client, timeout: float) -> None:
        self.proc.wait_for(rf"\* {re.escape(other.addr)} is online", timeout)

    def mark(self) -> int:
        return self.proc.mark()

    def send_dm(self, to: Client, text: str) -> None:
        self.proc.send(f"/tell {to.addr} {text}")

    def send_all(self, text: str) -> None:
        self.proc.send(f"/all {text}")

    def send_file(self, to: Client, path: str) -> None:
        self.proc.send(f"/file {to.addr} {path}")

    def _errs(self, since: int) -> str:
        e = self.proc.find(r"^(error|warning|!!!)", since)
        return (" (" + " | ".join(x.strip()[:140] for x in e[-2:]) + ")") if e else ""

    def _expect(self, frm: Client, text: str, dest: str, since: int, timeout: float) -> str:
        try:
            m = self.proc.wait_for(rf"\] ((?:\[[A-Z ]+\] )*){re.escape(frm.addr)} -> {dest}: "
                                   rf"{re.escape(text)}$", timeout, since)
        except Timeout as e:
            shown = self.proc.find(re.escape(text), since)
            if shown:
                raise Timeout(f"shown as: {shown[0].strip()[:200]}")
            raise Timeout(f"{e}{self._errs(since)}")
        if "UNVERIFIED" in m.group(1) or "UNREADABLE" in m.group(1):
            raise Timeout(f"shown as {m.group(1).strip()}")
        return m.group(1).strip() or "verified"

    def expect_dm(self, frm: Client, text: str, since: int, timeout: float) -> str:
        return self._expect(frm, text, "you", since, timeout)

    def expect_all(self, frm: Client, text: str, since: int, timeout: float) -> str:
        return self._expect(frm, text, "all", since, timeout)

    def expect_file(self, frm: Client, path: str, since: int, timeout: float) -> str:
        name = os.path.basename(path)
        try:
            m = self.proc.wait_for(rf"received file {re.escape(name)} .*: saved as (.+)$", timeout,
                                   since, fail=rf"file {re.escape(name)} from .* FAILED")
        except Failed:
            raise
        except Timeout as e:
            raise Timeout(f"{e}{self._errs(since)}")
        got = m.group(1).strip()
        if os.path.exists(got) and sha256_file(got) != sha256_file(path):
            raise Timeout("saved file differs")
        return "sha256 ok"


class PeerAClient(Client):
    """Peer A's client (client/socp_cli.py) driven through stdin/stdout."""
    kind = "peer-a"

    def __init__(self, env: Env, name: str, server: Server, limit_s: int = 600):
        self.label = name
        self.addr = str(uuid.uuid4())
        self.dir = env.dir(f"peer-a-{name}")
        self.proc = Proc(f"peer-a-{name}",
                         [PY, "-m", "client.socp_cli", "run", "--server", server.url,
                          "--user-id", self.addr],
                         self.dir, env.logdir, log_prefix=env.cell + "-", env=env.pyenv(env.shim, env.peer_a),
                         limit_s=limit_s)
        self.proc.wait_for(r"Connected to server, uid:", 90)   # RSA keygen first

    def knows(self, other: Client, timeout: float) -> None:
        self.proc.wait_for(rf"Stored pubkey for {re.escape(other.addr[:8])}", timeout,
                           fail=rf"No pubkey in meta for {re.escape(other.addr[:8])}")

    def mark(self) -> int:
        return self.proc.mark()

    def send_dm(self, to: Client, text: str) -> None:
        self.proc.send(f"/tell {to.addr} {text}")

    def send_all(self, text: str) -> None:
        self.proc.send(f"/all {text}")

    def send_file(self, to: Client, path: str) -> None:
        self.proc.send(f"/file {to.addr} {path}")

    def _errs(self, since: int) -> str:
        e = self.proc.find(r"ERROR|Rejected|error|unknown", since)
        return (" (" + " | ".join(x.strip()[:140] for x in e[-2:]) + ")") if e else ""

    def expect_dm(self, frm: Client, text: str, since: int, timeout: float) -> str:
        try:
            self.proc.wait_for(rf"DM from {re.escape(frm.addr[:8])}\.\.\.: {re.escape(text)}",
                               timeout, since, fail=r"Rejected DM|DM handling error")
        except Failed:
            raise
        except Timeout as e:
            raise Timeout(f"{e}{self._errs(since)}")
        return "verified by peer A"

    def expect_all(self, frm: Client, text: str, since: int, timeout: float) -> str:
        try:
            self.proc.wait_for(rf"Public from {re.escape(frm.addr[:8])}\.\.\.: {re.escape(text)}",
                               timeout, since,
                               fail=r"Rejected public msg|Public msg handling error")
        except Failed:
            raise
        except Timeout as e:
            raise Timeout(f"{e}{self._errs(since)}")
        return "verified by peer A"

    def expect_file(self, frm: Client, path: str, since: int, timeout: float) -> str:
        name = os.path.basename(path)
        try:
            self.proc.wait_for(rf"Saved file {re.escape(name)} to", timeout, since,
                               fail=r"failed SHA-256|FILE_\w+ handling error|for unknown file"
                                    r"|Invalid FILE_")
        except Failed:
            raise
        except Timeout:
            self.alive_or_raise()
            raise Timeout(f"peer A client saved no {name} in {timeout:.0f}s{self._errs(since)}")
        got = os.path.join(self.dir, ".socp", "downloads", name)
        if not os.path.exists(got) or sha256_file(got) != sha256_file(path):
            raise Timeout("saved file differs")
        return "sha256 ok"


class Impl14Client(Client):
    """Impl14's client (client.py): /register, /login, /list, /tell, /all, /file."""
    kind = "impl14"

    def __init__(self, env: Env, name: str, server: Server, limit_s: int = 600):
        self.label = name.split("-")[0]
        self.addr = self.label
        self.password = "pw-" + uuid.uuid4().hex[:8]
        self.dir = env.dir(f"impl14-{name}")
        self.proc = Proc(f"impl14-{name}", [PY, os.path.join(env.impl14, "client.py"),
                                            "--url", server.url],
                         self.dir, env.logdir, log_prefix=env.cell + "-", env=env.pyenv(), limit_s=limit_s)
        self.proc.wait_for(r"SOCP client ready", 30)

    def login(self, timeout: float = 90) -> None:
        m = self.proc.mark()
        self.proc.send(f"/register {self.addr} {self.password}")
        self.proc.wait_for(r"USER_REGISTERED|\[error\]|\[disconnected\]", timeout, m)
        bad = self.proc.find(r"\[error\]|\[disconnected\]", m)
        if bad:
            raise Timeout(f"register: {bad[0].strip()[:160]}")
        m = self.proc.mark()
        self.proc.send(f"/login {self.addr} {self.password}")
        self.proc.wait_for(r"\[login\] unlocked key for", 30, m,
                           fail=r"\[error\]|\[disconnected\]|decrypt failed")

    def _dicts(self, since: int = 0):
        for ln in self.proc.find(r"^\{", since):
            try:
                d = ast.literal_eval(ln.strip())
            except Exception:
                continue
            if isinstance(d, dict):
                yield d

    def knows(self, other: Client, timeout: float) -> None:
        """Key of `other` known: USER_ADDED line, or LIST_RESPONSE with its pubkey."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.find(rf"\[user added\] {re.escape(other.addr)} is now available"):
                return
            m = self.proc.mark()
            self.proc.send("/list")
            try:
                self.proc.wait_for(r"LIST_RESPONSE|\[error\]|\[disconnected\]", 5, m)
            except Timeout:
                pass
            for d in self._dicts(m):
                if d.get("type") != "LIST_RESPONSE":
                    continue
                users = (d.get("payload") or {}).get("users", d.get("users", []))
                for u in users:
                    if isinstance(u, dict) and u.get("user_id") == other.addr and u.get("pubkey"):
                        return
            self.alive_or_raise()
            if time.monotonic() > deadline:
                last = self.proc.find(r"LIST_RESPONSE|\[error\]|\[disconnected\]")
                raise Timeout(f"Impl14 client never got a key for {other.short()}"
                              f"{'; last: ' + last[-1].strip()[:200] if last else ''}")
            time.sleep(1.0)

    def mark(self) -> int:
        return self.proc.mark()

    def _sent_ok(self, since: int) -> None:
        time.sleep(0.3)
        bad = self.proc.find(r"unknown recipient|login first|missing own pubkey|bad usage"
                             r"|no recipients|failed to encrypt|\[disconnected\]", since)
        if bad:
            raise Timeout(f"Impl14 client: {bad[0].strip()[:160]}")

    def send_dm(self, to: Client, text: str) -> None:
        m = self.proc.mark()
        self.proc.send(f"/tell {to.addr} {text}")
        self._sent_ok(m)

    def send_all(self, text: str) -> None:
        m = self.proc.mark()
        self.proc.send(f"/all {text}")
        self._sent_ok(m)

    def send_file(self, to: Client, path: str) -> None:
        m = self.proc.mark()
        self.proc.send(f"/file {to.addr} {path}")
        self._sent_ok(m)

    def _errs(self, since: int) -> str:
        e = self.proc.find(r"\[error\]|decrypt error|\[disconnected\]", since)
        return (" (" + " | ".join(x.strip()[:140] for x in e[-2:]) + ")") if e else ""

    def expect_dm(self, frm: Client, text: str, since: int, timeout: float) -> str:
        try:
            m = self.proc.wait_for(rf"\[DM from {re.escape(frm.addr)}\] {re.escape(text)}(.*)$",
                                   timeout, since)
        except Failed:
            raise
        except Timeout as e:
            raise Timeout(f"{e}{self._errs(since)}")
        if "sig ok" not in m.group(1):
            raise Timeout(f"shown with{m.group(1) or ' no sig check'} by the Impl14 client")
        return "sig ok"

    def expect_all(self, frm: Client, text: str, since: int, timeout: float) -> str:
        try:
            m = self.proc.wait_for(rf"\[public\] {re.escape(frm.addr)}: {re.escape(text)}(.*)$",
                                   timeout, since)
        except Failed:
            raise
        except Timeout as e:
            raise Timeout(f"{e}{self._errs(since)}")
        if "sig ok" not in m.group(1):
            raise Timeout(f"shown with{m.group(1)} by the Impl14 client")
        return "sig ok"

    def expect_file(self, frm: Client, path: str, since: int, timeout: float) -> str:
        """Impl14's client cannot save files: it prints the FILE_* frames it gets."""
        name = os.path.basename(path)
        deadline = time.monotonic() + timeout
        while True:
            fid = None
            end = False
            for d in self._dicts(since):
                t = str(d.get("type", ""))
                p = d.get("payload") or {}
                if t.startswith("FILE_START") and p.get("name") == name:
                    fid = p.get("file_id")
                elif t.startswith("FILE_END") and fid and p.get("file_id") == fid:
                    end = True
            if end:
                return "FILE_START..END printed (Impl14 client has no file receive)"
            self.alive_or_raise()
            if time.monotonic() > deadline:
                raise Timeout(f"no FILE_START/FILE_END for {name} at the Impl14 client"
                              f"{self._errs(since)}")
            time.sleep(0.3)
