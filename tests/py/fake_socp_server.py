"""fake_socp_server.py: a scripted SOCP v1.3 server for the client's interop
and bad-input tests (tests/socp_interop_test.c). Standard library plus
pyca/cryptography only; the WebSocket server side is written by hand.

It listens on 127.0.0.1 (kernel-chosen port), prints "listening PORT", then
reads one command per line on stdin and answers "ok CMD ..." (or
"fail CMD reason") on stdout when the command is done:

  hello                       accept the next connection, do the WebSocket
                              handshake, wait for USER_HELLO ("ok hello ID")
  user NAME KEYPEM [ID]       define a fake remote user NAME (id ID, else a
                              uuid v4) whose private key is the PEM file KEYPEM
  advertise NAME FORM         USER_ADVERTISE for NAME, key as FORM:
                              der (b64url DER SPKI), pem64 (b64url(PEM)),
                              pem (raw PEM text, in payload.pubkey only)
  rekey NAME KEYPEM           NAME keeps its id but gets another key
  dm NAME FORM SALT WORD      USER_DELIVER from NAME to the client: text
                              WORD, content_sig FORM string|bytes, PSS salt
                              max|32, payload.ts != envelope ts
  badsig NAME WORD            a USER_DELIVER whose content_sig is damaged
  badchunk NAME               a FILE_CHUNK whose file_id is not a UUID (the
                              client refuses it after the edge, in crypto)
  garbage                     text frames that are not envelopes, a binary
                              frame, an envelope missing fields
  deep                        JSON nested 5000 levels deep
  badutf8                     a text frame that is not UTF-8
  file NAME FILENAME          FILE_START (name FILENAME) + FILE_CHUNK + FILE_END
  file_start NAME FILENAME    FILE_START for a 1000-byte file and its first chunk, then
                              nothing more (a transfer that stalls)
  big                         one 2 MiB text frame
  list NAME...                LIST_RESPONSE with these users (what answers the
                              client's LIST_REQUEST; the fake sends none unasked)
  count_to NAME               "ok count_to N": frames the client sent to NAME
  rcvbuf BYTES                a small receive buffer for the next connection
                              (before it is made), so not reading pushes back
  pause / resume              stop / go on reading the client's frames (the
                              server sends a frame every 0.5 s meanwhile, so
                              the client does not take it for dead)
  mute                        stop reading and answering (pings too), send
                              nothing: the link looks dead to the client
  key_form                    "ok key_form der|pem64": the form of the key in
                              the last USER_HELLO
  count_type TYPE             "ok count_type N": frames of TYPE the client sent
                              on the current connection
  closed                      "ok closed 1" once the client closed the current
                              connection, else "ok closed 0"
  answer TYPE HOW             answer each TYPE frame the client sends from now
                              on: unknown_a (ERROR UNKNOWN_TYPE to the client,
                              detail as peer A words it), unknown_b (ERROR
                              UNKNOWN_TYPE "to": "", detail TYPE, as Impl14),
                              list_empty_to (LIST_RESPONSE "to": "" with every
                              user defined, keys DER, and one user of another
                              server with "pubkey": ""), none (stop answering)
  error TO CODE DETAIL...     ERROR {code, detail}; TO: me (the client) or
                              empty ("to": "")
  dm_to NAME TO WORD          USER_DELIVER from NAME (no payload.to) whose
                              envelope "to" is TO: me, empty, or a user's name
  public NAME HOW TEXT...     MSG_PUBLIC_CHANNEL from NAME to "*" as peer A's
                              client sends /all: ciphertext = base64url of the
                              text, content_sig (string form) over it; HOW: ok,
                              badsig, std (padded standard base64), blob512
                              (TEXT repeated to 512 bytes), ctrl (TEXT + BEL),
                              viaserver (from the server's id, NAME in
                              payload.sender: Impl14's server), as:OTHER (from
                              OTHER, a user, whose payload.sender names NAME)
  sender_pub_form NAME        "ok sender_pub_form der|pem64|none": sender_pub of
                              the last frame the client sent to NAME
  sig_form NAME               "ok sig_form string|bytes|bad|none": the form the
                              content_sig of the client's last MSG_DIRECT or
                              MSG_PUBLIC_CHANNEL to NAME verifies in
  again                       the last "dm" once more: the same payload
                              (ciphertext, signatures, payload.ts) in a fresh
                              envelope, as a server relays a replay its own
                              cache missed (on any connection, also a new one)
"""
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text):
    text = text.replace("+", "-").replace("/", "_").rstrip("=")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def pss(salt):
    n = padding.PSS.MAX_LENGTH if salt == "max" else 32
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=n)


OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.lock = threading.Lock()
        self.frames = []  # parsed JSON objects the client sent
        self.closed = False
        self.reading = threading.Event()  # cleared by "pause"
        self.reading.set()
        self.on_frame = None  # called with each parsed frame

    def recv_exact(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def handshake(self):
        while b"\r\n\r\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise EOFError
            self.buf += data
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        key = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                key = value.strip()
        accept = base64.b64encode(hashlib.sha1(key + GUID.encode()).digest())
        self.sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )

    def read_frame(self):
        b0, b1 = self.recv_exact(2)
        op, n = b0 & 0x0F, b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self.recv_exact(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self.recv_exact(8))[0]
        mask = self.recv_exact(4) if b1 & 0x80 else b"\0\0\0\0"
        raw = self.recv_exact(n)
        key = (mask * (n // 4 + 1))[:n]
        data = (int.from_bytes(raw, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
        return op, data

    def send_raw(self, op, data):
        n = len(data)
        if n < 126:
            head = struct.pack(">BB", 0x80 | op, n)
        elif n < 65536:
            head = struct.pack(">BBH", 0x80 | op, 126, n)
        else:
            head = struct.pack(">BBQ", 0x80 | op, 127, n)
        with self.lock:
            self.sock.sendall(head + data)

    def send_text(self, text):
        self.send_raw(1, text.encode() if isinstance(text, str) else text)

    def reader(self):
        try:
            while True:
                self.reading.wait()
                op, data = self.read_frame()
                if op == 9:
                    self.send_raw(10, data)
                elif op == 8:
                    break
                elif op == 1:
                    try:
                        frame = json.loads(data)
                    except ValueError:
                        continue
                    self.frames.append(frame)
                    if self.on_frame:
                        self.on_frame(self, frame)
        except (EOFError, OSError):
            pass
        self.closed = True


class Server:
    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4)
        self.id = str(uuid.uuid4())
        self.conn = None
        self.client_id = None
        self.client_pub = None
        self.users = {}  # name -> (id, private key)
        self.answers = {}  # frame type -> how to answer it
        self.key_form = None
        self.last_deliver = None  # payload of the last "dm", for "again"
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, "..", "fixtures", "rsa4096_2p_a.pem"), "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), None)

    def envelope(self, type_, frm, to, payload, ts=None):
        env = {
            "type": type_,
            "from": frm,
            "to": to,
            "ts": ts if ts is not None else int(time.time() * 1000),
            "payload": payload,
        }
        env["sig"] = b64url(self.key.sign(canonical(payload).encode(), pss("max"), hashes.SHA256()))
        return json.dumps(env)

    def send(self, type_, frm, to, payload, ts=None):
        self.conn.send_text(self.envelope(type_, frm, to, payload, ts))

    def pub_text(self, key, form):
        pub = key.public_key()
        pem = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return {"der": b64url(der), "pem64": b64url(pem), "pem": pem.decode()}[form]

    def deliver(self, name, word, form, salt, damage=False):
        uid, key = self.users[name]
        ts = int(time.time() * 1000) - 3000  # original send time
        ct_raw = self.client_pub.encrypt(word.encode(), OAEP)
        ct = b64url(ct_raw)
        tail = (uid + self.client_id + str(ts)).encode()
        pre = ct_raw + tail if form == "bytes" else ct.encode() + tail
        sig = bytearray(key.sign(pre, pss(salt), hashes.SHA256()))
        if damage:
            sig[10] ^= 0x40
        payload = {
            "ciphertext": ct,
            "sender": uid,
            "sender_pub": self.pub_text(key, "pem64"),
            "content_sig": b64url(bytes(sig)),
            "ts": ts,
            "to": self.client_id,
        }
        # A fresh envelope ts (the server's forwarding time), original in payload.ts.
        self.send("USER_DELIVER", self.id, self.client_id, payload, ts + 5000)
        self.last_deliver = payload

    def answer(self, conn, frame):
        if not isinstance(frame, dict):
            return
        type_ = frame.get("type")
        how = self.answers.get(type_)
        if how == "unknown_a":
            words = "Unknown message type: " if type_ == "LIST_REQUEST" else "Message type "
            detail = words + type_ + ("" if type_ == "LIST_REQUEST" else " not yet implemented")
            payload = {"code": "UNKNOWN_TYPE", "detail": detail}
            conn.send_text(self.envelope("ERROR", self.id, self.client_id, payload))
        elif how == "unknown_b":
            payload = {"code": "UNKNOWN_TYPE", "detail": type_}
            conn.send_text(self.envelope("ERROR", self.id, "", payload))
        elif how == "list_empty_to":
            users = []
            for name, (uid, key) in self.users.items():
                users.append(
                    {"user_id": uid, "pubkey": self.pub_text(key, "der"), "meta": {"display_name": name}, "online_local": True}
                )
            # A user of another server, listed without a key (as Impl14 does).
            users.append({"user_id": str(uuid.uuid4()), "pubkey": "", "online_local": False})
            conn.send_text(self.envelope("LIST_RESPONSE", self.id, "", {"users": users}))

    def to_id(self, word):
        if word == "me":
            return self.client_id
        if word == "empty":
            return ""
        return self.users[word][0]

    def public(self, name, how, text):
        uid, key = self.users[name]
        ts = int(time.time() * 1000)
        data = text.encode()
        if how == "blob512":
            data = (data * (512 // len(data) + 1))[:512]
        elif how == "ctrl":
            data += b"\x07"
        if how == "std":
            ct = base64.b64encode(data).decode()
        else:
            ct = b64url(data)
        sig = bytearray(key.sign((ct + uid + str(ts)).encode(), pss("max"), hashes.SHA256()))
        if how == "badsig":
            sig[10] ^= 0x40
        payload = {"ciphertext": ct, "sender_pub": self.pub_text(key, "pem64"), "content_sig": b64url(bytes(sig))}
        frm = uid
        if how == "viaserver":
            frm = self.id
            payload["sender"] = uid
        elif how.startswith("as:"):
            frm = self.users[how[3:]][0]
            payload["sender"] = uid
        self.send("MSG_PUBLIC_CHANNEL", frm, "*", payload, ts)

    def dm_to(self, name, to, word):
        uid, key = self.users[name]
        ts = int(time.time() * 1000)
        ct = b64url(self.client_pub.encrypt(word.encode(), OAEP))
        sig = key.sign((ct + uid + self.client_id + str(ts)).encode(), pss("max"), hashes.SHA256())
        payload = {"ciphertext": ct, "sender": uid, "sender_pub": self.pub_text(key, "der"), "content_sig": b64url(sig)}
        self.send("USER_DELIVER", self.id, self.to_id(to), payload, ts)

    def sig_form(self, name):
        uid, _ = self.users[name]
        types = ("MSG_DIRECT", "MSG_PUBLIC_CHANNEL")
        sent = [f for f in list(self.conn.frames) if isinstance(f, dict) and f.get("to") == uid and f.get("type") in types]
        if not sent:
            return "none"
        env = sent[-1]
        p = env["payload"]
        ct = p["ciphertext"]
        to = (uid if env["type"] == "MSG_DIRECT" else "").encode()
        tail = env["from"].encode() + to + str(env["ts"]).encode()
        sig = unb64(p["content_sig"])
        for form, pre in (("string", ct.encode() + tail), ("bytes", unb64(ct) + tail)):
            try:
                self.client_pub.verify(sig, pre, pss("max"), hashes.SHA256())
                return form
            except Exception:
                pass
        return "bad"

    def keepalive(self, conn):
        while not conn.reading.is_set() and not conn.closed:
            try:
                conn.send_raw(9, b"paused")  # a ping: the client answers later
            except OSError:
                return
            time.sleep(0.5)

    def cmd(self, words):
        c = words[0]
        if c == "hello":
            sock, _ = self.lsock.accept()
            self.conn = Conn(sock)
            self.conn.handshake()
            while True:
                op, data = self.conn.read_frame()
                if op != 1:
                    continue
                env = json.loads(data)
                if env.get("type") == "USER_HELLO":
                    break
            self.client_id = env["from"]
            raw = unb64(env["payload"]["pubkey"])
            if raw.startswith(b"-----BEGIN"):
                self.key_form = "pem64"
                self.client_pub = serialization.load_pem_public_key(raw)
            else:
                self.key_form = "der"
                self.client_pub = serialization.load_der_public_key(raw)
            self.conn.on_frame = self.answer
            threading.Thread(target=self.conn.reader, daemon=True).start()
            return self.client_id
        if c == "user":
            with open(words[2], "rb") as f:
                key = serialization.load_pem_private_key(f.read(), None)
            self.users[words[1]] = (words[3] if len(words) > 3 else str(uuid.uuid4()), key)
            return self.users[words[1]][0]
        if c == "rekey":
            with open(words[2], "rb") as f:
                key = serialization.load_pem_private_key(f.read(), None)
            self.users[words[1]] = (self.users[words[1]][0], key)
            return ""
        if c == "advertise":
            uid, key = self.users[words[1]]
            pub = self.pub_text(key, words[2])
            meta = {"display_name": words[1]}
            payload = {"user_id": uid, "server_id": self.id, "meta": meta}
            if words[2] == "pem":
                payload["pubkey"] = pub
            else:
                meta["pubkey"] = pub
            self.send("USER_ADVERTISE", self.id, "*", payload)
            return ""
        if c == "dm":
            self.deliver(words[1], words[4], words[2], words[3])
            return ""
        if c == "list":
            users = []
            for name in words[1:]:
                uid, key = self.users[name]
                meta = {"display_name": name, "pubkey": self.pub_text(key, "der")}
                users.append({"user_id": uid, "server_id": self.id, "meta": meta})
            self.send("LIST_RESPONSE", self.id, self.client_id, {"users": users})
            return ""
        if c == "badsig":
            self.deliver(words[1], words[2], "string", "max", damage=True)
            return ""
        if c == "badchunk":
            uid, _ = self.users[words[1]]
            chunk = {"file_id": "not-a-uuid", "index": 0, "ciphertext": b64url(b"x" * 512)}
            self.send("FILE_CHUNK", uid, self.client_id, chunk)
            return ""
        if c == "garbage":
            self.conn.send_text("this is not json")
            self.conn.send_raw(2, b"\x00\x01binary")
            self.conn.send_text('{"type":"USER_DELIVER","from":')
            self.conn.send_text('{"type":"USER_DELIVER","payload":{}}')
            return ""
        if c == "deep":  # nesting far past any sane depth
            self.conn.send_text('{"type":"USER_DELIVER","payload":' + "[" * 5000 + "]" * 5000 + "}")
            return ""
        if c == "badutf8":  # a text frame that is not UTF-8 (RFC 6455: fail with 1007)
            self.conn.send_raw(1, b'{"type":"\xff\xfe"}')
            return ""
        if c == "file":
            uid, _ = self.users[words[1]]
            fid = str(uuid.uuid4())
            body = b"root:x:0:0::/root:/bin/sh\n"
            start = {
                "file_id": fid,
                "name": words[2],
                "size": len(body),
                "sha256": hashlib.sha256(body).hexdigest(),
                "mode": "dm",
            }
            chunk = {"file_id": fid, "index": 0, "ciphertext": b64url(self.client_pub.encrypt(body, OAEP))}
            self.send("FILE_START", uid, self.client_id, start)
            self.send("FILE_CHUNK", uid, self.client_id, chunk)
            self.send("FILE_END", uid, self.client_id, {"file_id": fid})
            return ""
        if c == "file_start":
            uid, _ = self.users[words[1]]
            fid = str(uuid.uuid4())
            body = b"s" * 1000
            start = {"file_id": fid, "name": words[2], "size": len(body),
                     "sha256": hashlib.sha256(body).hexdigest(), "mode": "dm"}
            chunk = {"file_id": fid, "index": 0, "ciphertext": b64url(self.client_pub.encrypt(body[:400], OAEP))}
            self.send("FILE_START", uid, self.client_id, start)
            self.send("FILE_CHUNK", uid, self.client_id, chunk)
            return fid
        if c == "big":
            try:
                self.conn.send_text("x" * (2 * 1024 * 1024))
            except OSError:
                pass  # the client closed the connection mid-frame: expected
            return ""
        if c == "rcvbuf":
            self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(words[1]))
            return ""
        if c == "pause":
            self.conn.reading.clear()
            threading.Thread(target=self.keepalive, args=(self.conn,), daemon=True).start()
            return ""
        if c == "resume":
            self.conn.reading.set()
            return ""
        if c == "mute":
            self.conn.reading.clear()
            return ""
        if c == "key_form":
            return self.key_form
        if c == "count_type":
            return str(sum(1 for f in list(self.conn.frames) if isinstance(f, dict) and f.get("type") == words[1]))
        if c == "closed":
            return "1" if self.conn.closed else "0"
        if c == "answer":
            self.answers[words[1]] = words[2]
            return ""
        if c == "error":
            payload = {"code": words[2], "detail": " ".join(words[3:])}
            self.send("ERROR", self.id, self.to_id(words[1]), payload)
            return ""
        if c == "dm_to":
            self.dm_to(words[1], words[2], words[3])
            return ""
        if c == "public":
            self.public(words[1], words[2], " ".join(words[3:]))
            return ""
        if c == "sender_pub_form":
            uid, _ = self.users[words[1]]
            sent = [f for f in list(self.conn.frames) if isinstance(f, dict) and f.get("to") == uid]
            if not sent:
                return "none"
            pub = unb64(sent[-1]["payload"]["sender_pub"])
            return "pem64" if pub.startswith(b"-----BEGIN") else "der"
        if c == "sig_form":
            return self.sig_form(words[1])
        if c == "again":
            self.send("USER_DELIVER", self.id, self.client_id, dict(self.last_deliver))
            return ""
        if c == "count_to":
            uid, _ = self.users[words[1]]
            return str(sum(1 for f in list(self.conn.frames) if isinstance(f, dict) and f.get("to") == uid))
        raise ValueError("unknown command " + c)


def main():
    srv = Server()
    print("listening", srv.lsock.getsockname()[1], flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            out = srv.cmd(words)
            print("ok", words[0], out, flush=True)
        except Exception as e:  # report, keep serving
            print("fail", words[0], repr(e), flush=True)


if __name__ == "__main__":
    main()
