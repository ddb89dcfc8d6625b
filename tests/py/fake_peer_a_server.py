"""fake_peer_a_server.py: a stand-in for peer A's server, its user side, for
`socp bench` (tests/sbench_test.c). Standard library only; the WebSocket
side is fake_socp_server.Conn.

What it does, as peer A's server/server.py and core/MessageHandlers.py do
(NOTES.md (c), (d)):
  every frame   type, from, to, ts and payload required; ts a JSON integer;
                from a lowercase UUIDv4; sig base64url without padding, and
                required on every type but USER_HELLO: else ERROR BAD_KEY /
                INVALID_SIG, the frame dropped
  USER_HELLO    payload client, pubkey and enc_pubkey required (else ERROR
                BAD_KEY); an id online already: ERROR NAME_IN_USE; then
                PUBLIC_CHANNEL_UPDATED to every user, one USER_ADVERTISE per
                known user to the new one, and the new one's to every user
  MSG_DIRECT    from must be the hello's id, to a UUIDv4; ciphertext,
                sender_pub and content_sig required; USER_DELIVER {ciphertext,
                sender, sender_pub, content_sig} with the sender's ts, no
                payload.ts; a user not online: ERROR USER_NOT_FOUND
  anything else ERROR UNKNOWN_TYPE "Unknown message type: T" (LIST_REQUEST,
                HEARTBEAT)
Frames it sends carry a (never checked) sig.

It prints "listening PORT", then reads one command per line on stdin and
answers "ok CMD RESULT":
  delivered     how many USER_DELIVER it sent
  errors        how many ERROR it sent
"""
import base64
import json
import os
import re
import socket
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_socp_server import Conn  # noqa: E402

SERVER_ID = str(uuid.uuid4())
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


class Server:
    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.lock = threading.RLock()
        self.online = {}  # user id -> (Conn, pubkey)
        self.delivered = 0
        self.errors = 0
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            sock, _ = self.lsock.accept()
            threading.Thread(target=self.serve, args=(sock,), daemon=True).start()

    def serve(self, sock):
        conn = Conn(sock)
        conn.user = None
        try:
            conn.handshake()
        except (EOFError, OSError):
            sock.close()
            return
        conn.on_frame = self.on_frame
        conn.reader()
        with self.lock:
            if conn.user and self.online.get(conn.user, (None,))[0] is conn:
                del self.online[conn.user]
        sock.close()

    def send(self, conn, typ, to, payload, ts=None):
        frame = {"type": typ, "from": SERVER_ID, "to": to, "ts": ts or int(time.time() * 1000),
                 "payload": payload,
                 "sig": base64.urlsafe_b64encode(os.urandom(64)).decode().rstrip("=")}
        try:
            conn.send_text(json.dumps(frame))
        except OSError:
            pass

    def error(self, conn, code, detail):
        self.errors += 1
        self.send(conn, "ERROR", conn.user or SERVER_ID, {"code": code, "detail": detail})

    def on_frame(self, conn, f):
        with self.lock:
            self.handle(conn, f)

    def advertise(self, conn, uid, pub):
        self.send(conn, "USER_ADVERTISE", conn.user,
                  {"user_id": uid, "server_id": "local", "meta": {"pubkey": pub}})

    def handle(self, conn, f):
        if not isinstance(f, dict) or any(k not in f for k in ("type", "from", "to", "ts", "payload")):
            return self.error(conn, "BAD_KEY", "missing envelope fields")
        typ, frm, p, sig = f["type"], f["from"], f["payload"], f.get("sig")
        if type(f["ts"]) is not int or not isinstance(frm, str) or not UUID4.match(frm):
            return self.error(conn, "BAD_KEY", "invalid envelope")
        if (sig is None and typ != "USER_HELLO") or (sig is not None and not B64URL.match(str(sig))):
            return self.error(conn, "INVALID_SIG", "invalid or missing sig")
        if typ == "USER_HELLO":
            if any(k not in p for k in ("client", "pubkey", "enc_pubkey")):
                return self.error(conn, "BAD_KEY", "Missing required fields")
            if frm in self.online:
                return self.error(conn, "NAME_IN_USE", "User %s already connected" % frm)
            conn.user = frm
            self.online[frm] = (conn, p["pubkey"])
            wraps = [{"member_id": u, "wrapped_key": k} for u, (_, k) in self.online.items()]
            for c, _ in self.online.values():
                self.send(c, "PUBLIC_CHANNEL_UPDATED", "*", {"version": 1, "wraps": wraps})
            for u, (_, k) in self.online.items():
                if u != frm:
                    self.advertise(conn, u, k)
            for c, _ in self.online.values():
                self.advertise(c, frm, p["pubkey"])
        elif typ == "MSG_DIRECT":
            if frm != conn.user:
                return self.error(conn, "INVALID_SIG", "sender mismatch")
            if not UUID4.match(str(f["to"])) or any(
                    k not in p for k in ("ciphertext", "sender_pub", "content_sig")):
                return self.error(conn, "BAD_KEY", "Missing required fields")
            if f["to"] not in self.online:
                return self.error(conn, "USER_NOT_FOUND", "Recipient %s not connected" % f["to"])
            self.delivered += 1
            self.send(self.online[f["to"]][0], "USER_DELIVER", f["to"],
                      {"ciphertext": p["ciphertext"], "sender": frm, "sender_pub": p["sender_pub"],
                       "content_sig": p["content_sig"]}, ts=f["ts"])
        else:
            self.error(conn, "UNKNOWN_TYPE", "Unknown message type: %s" % typ)


def main():
    srv = Server()
    print("listening", srv.lsock.getsockname()[1], flush=True)
    for line in sys.stdin:
        words = line.split()
        if words and words[0] in ("delivered", "errors"):
            with srv.lock:
                print("ok", words[0], getattr(srv, words[0]), flush=True)
        elif words:
            print("fail", words[0], "unknown command", flush=True)


if __name__ == "__main__":
    main()
