"""fake_impl14_server.py: a stand-in for Impl14's server (its account
protocol and user-side routing) for the client's --account tests
(tests/socp_account_test.c). Standard library plus pyca/cryptography; the
WebSocket side is fake_socp_server.Conn.

What it does, as Impl14's server.py does (NOTES.md (c), (d), (e)):
  USER_HELLO      remembers `from` and payload.pubkey; answers USER_HELLO_ACK
  USER_REGISTER   user_id, pubkey, privkey_store, pake_password all required
                  (else ERROR BAD_KEY); a known name: ERROR NAME_IN_USE; else
                  USER_REGISTERED {user_id} (registering does not log in)
  USER_LOGIN      unknown name: ERROR USER_NOT_FOUND; HELLO from another name
                  or with another key: ERROR BAD_KEY; the password checked
                  against pake_password with Scrypt (ERROR BAD_KEY "password
                  invalid"); else USER_LOGGED_IN {user_id, privkey_store},
                  USER_ADDED for every remote user, PUBLIC_CHANNEL_SNAPSHOT
  LIST_REQUEST    LIST_RESPONSE {users: every account and remote user}
  MSG_DIRECT      routed on payload.to / payload.sender: USER_DELIVER to a
                  logged-in user; payload.to or .sender missing: the
                  connection is dropped (Impl14's KeyError)
  FILE_*          routed on payload.to: FILE_*_DELIVER
  anything else   ERROR UNKNOWN_TYPE
Replies go "to" the hello's user id, or "" before the socket logged in, and
carry a (never checked) sig. State lives as long as the process, across
connections, so several client runs meet the same accounts.

It prints "listening PORT", then reads one command per line on stdin and
answers "ok CMD RESULT" (or "fail CMD reason"):

  seed NAME PUBFILE STOREFILE PAKEFILE   an account made elsewhere (Impl14's own
                                         client): the files hold its pubkey
                                         (b64url DER), privkey_store, pake_password
  store NAME OUTFILE                     writes the account's privkey_store
  pubkey NAME                            "ok pubkey KEY" (b64url DER)
  online NAME                            "ok online 0|1": logged in now
  count NAME TYPE                        frames of TYPE the logged-in NAME sent
  last NAME TYPE                         the last such frame, as one line of JSON
  logins / registers                     how many succeeded so far
  added NAME PUBFILE [unlisted]          USER_ADDED {NAME, key} to every logged-in
                                         user, as for a user of another server;
                                         unlisted: left out of LIST_RESPONSE, so
                                         only USER_ADDED tells of it
  removed NAME                           USER_REMOVED {NAME} to every logged-in user
  refuse                                 from now on every login is refused as a wrong
                                         password (the password changed elsewhere)
  drop NAME                              closes the connection of logged-in NAME
"""
import base64
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_socp_server import Conn  # noqa: E402

from cryptography.exceptions import InvalidKey  # noqa: E402
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt  # noqa: E402

SERVER_ID = "server-1"


def b64u(data):
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_password(password, stored):
    try:
        salt, key = stored.split(".")
        Scrypt(salt=unb64u(salt), length=32, n=2**14, r=8, p=1).verify(
            password.encode("utf-8"), unb64u(key)
        )
        return True
    except (InvalidKey, ValueError, TypeError):
        return False


def now_ms():
    return int(time.time() * 1000)


class Server:
    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.lock = threading.RLock()
        self.accounts = {}  # name -> {pubkey, privkey_store, pake_password}
        self.remote = {}  # name -> pubkey, users "of another server"
        self.unlisted = set()  # remote users LIST_RESPONSE leaves out
        self.online = {}  # name -> Conn
        self.sent = {}  # name -> [frames it sent while logged in]
        self.nlogins = 0
        self.nregisters = 0
        self.refuse = False
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            sock, _ = self.lsock.accept()
            threading.Thread(target=self.serve, args=(sock,), daemon=True).start()

    def serve(self, sock):
        conn = Conn(sock)
        conn.hello_id = None
        conn.hello_pub = None
        conn.user = None
        try:
            conn.handshake()
        except (EOFError, OSError):
            sock.close()
            return
        conn.on_frame = self.on_frame
        conn.reader()
        with self.lock:
            if conn.user and self.online.get(conn.user) is conn:
                del self.online[conn.user]
        try:
            sock.close()
        except OSError:
            pass

    def send(self, conn, to, typ, payload):
        frame = {"type": typ, "from": SERVER_ID, "to": to, "ts": now_ms(), "payload": payload,
                 "sig": b64u(os.urandom(64))}
        try:
            conn.send_text(json.dumps(frame))
        except OSError:
            pass

    def error(self, conn, to, code, detail):
        self.send(conn, to, "ERROR", {"code": code, "detail": detail})

    def on_frame(self, conn, f):
        if not isinstance(f, dict):
            return
        with self.lock:
            self.handle(conn, f)

    def handle(self, conn, f):
        typ = f.get("type")
        p = f.get("payload", {})
        if conn.user:
            self.sent.setdefault(conn.user, []).append(f)
        if typ == "USER_HELLO":
            conn.hello_id = f.get("from") or p.get("user_id")
            conn.hello_pub = p.get("pubkey")
            self.send(conn, conn.hello_id or "", "USER_HELLO_ACK", {"status": "ok"})
        elif typ == "USER_REGISTER":
            uid = p.get("user_id")
            fields = [uid, p.get("pubkey"), p.get("privkey_store"), p.get("pake_password")]
            if not all(fields):
                self.error(conn, uid or "", "BAD_KEY",
                           "registration requires user_id/pubkey/privkey_store/pake_password")
            elif uid in self.accounts:
                self.error(conn, uid, "NAME_IN_USE", "user already exists")
            else:
                self.accounts[uid] = {"pubkey": fields[1], "privkey_store": fields[2],
                                      "pake_password": fields[3]}
                self.nregisters += 1
                self.send(conn, uid, "USER_REGISTERED", {"user_id": uid})
        elif typ == "USER_LOGIN":
            uid, pw = p.get("user_id"), p.get("password") or ""
            rec = self.accounts.get(uid) if uid else None
            if not rec:
                self.error(conn, uid or "", "USER_NOT_FOUND", "unknown user")
            elif conn.hello_id and conn.hello_id != uid:
                self.error(conn, uid, "BAD_KEY", "HELLO user mismatch")
            elif conn.hello_pub and conn.hello_pub != rec["pubkey"]:
                self.error(conn, uid, "BAD_KEY", "HELLO pubkey mismatch")
            elif self.refuse or not verify_password(pw, rec["pake_password"]):
                self.error(conn, uid, "BAD_KEY", "password invalid")
            else:
                self.online[uid] = conn
                conn.user = uid
                self.nlogins += 1
                self.send(conn, uid, "USER_LOGGED_IN",
                          {"user_id": uid, "privkey_store": rec["privkey_store"]})
                for name, pub in self.remote.items():
                    self.send(conn, "", "USER_ADDED",
                              {"user_id": name, "pubkey": pub, "online_local": False})
                self.send(conn, uid, "PUBLIC_CHANNEL_SNAPSHOT",
                          {"version": self.nlogins, "members": sorted(self.online)})
        elif typ == "LIST_REQUEST":
            users = [{"user_id": n, "pubkey": a["pubkey"], "online_local": n in self.online}
                     for n, a in self.accounts.items()]
            users += [{"user_id": n, "pubkey": k, "online_local": False}
                      for n, k in self.remote.items() if n not in self.unlisted]
            self.send(conn, conn.user or "", "LIST_RESPONSE", {"users": users})
        elif typ == "MSG_DIRECT":
            try:
                to, sender = p["to"], p["sender"]
                payload = {"ciphertext": p["ciphertext"], "sender": sender,
                           "sender_pub": p["sender_pub"], "content_sig": p["content_sig"],
                           "ts": f.get("ts") or now_ms()}
            except (KeyError, TypeError):
                conn.sock.shutdown(socket.SHUT_RDWR)  # Impl14's handler dies on a KeyError
                return
            if to in self.online:
                self.send(self.online[to], to, "USER_DELIVER", payload)
            elif to not in self.remote and sender in self.online:
                self.error(self.online[sender], sender, "USER_NOT_FOUND", to)
        elif typ in ("FILE_START", "FILE_CHUNK", "FILE_END"):
            to = p.get("to")
            if to in self.online:
                self.send(self.online[to], to, typ + "_DELIVER", p)
            elif to not in self.remote:
                self.error(conn, conn.user or "", "USER_NOT_FOUND", "unknown user %s" % to)
        else:
            self.error(conn, conn.user or "", "UNKNOWN_TYPE", typ or "")

    def cmd(self, words):
        c = words[0]
        with self.lock:
            if c == "seed":
                read = lambda path: open(path).read().strip()  # noqa: E731
                self.accounts[words[1]] = {"pubkey": read(words[2]),
                                           "privkey_store": read(words[3]),
                                           "pake_password": read(words[4])}
                return ""
            if c == "store":
                with open(words[2], "w") as out:
                    out.write(self.accounts[words[1]]["privkey_store"])
                return ""
            if c == "pubkey":
                return self.accounts[words[1]]["pubkey"]
            if c == "online":
                return "1" if words[1] in self.online else "0"
            if c == "count":
                return str(sum(1 for f in self.sent.get(words[1], []) if f.get("type") == words[2]))
            if c == "last":
                frames = [f for f in self.sent.get(words[1], []) if f.get("type") == words[2]]
                return json.dumps(frames[-1]) if frames else "none"
            if c == "logins":
                return str(self.nlogins)
            if c == "registers":
                return str(self.nregisters)
            if c == "added":
                pub = open(words[2]).read().strip()
                self.remote[words[1]] = pub
                if words[3:] == ["unlisted"]:
                    self.unlisted.add(words[1])
                for conn in self.online.values():
                    self.send(conn, "", "USER_ADDED",
                              {"user_id": words[1], "pubkey": pub, "online_local": False})
                return ""
            if c == "refuse":
                self.refuse = True
                return ""
            if c == "drop":
                conn = self.online.pop(words[1])
                conn.sock.shutdown(socket.SHUT_RDWR)
                return ""
            if c == "removed":
                self.remote.pop(words[1], None)
                for conn in self.online.values():
                    self.send(conn, "", "USER_REMOVED", {"user_id": words[1]})
                return ""
        raise ValueError("unknown command " + c)


def main():
    srv = Server()
    print("listening", srv.lsock.getsockname()[1], flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            print("ok", words[0], srv.cmd(words), flush=True)
        except Exception as e:  # report, keep serving
            print("fail", words[0], repr(e), flush=True)


if __name__ == "__main__":
    main()
