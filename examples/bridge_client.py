#!/usr/bin/python3
"""bridge_client.py: a short client of `socp bridge --zmq-bind` (pyzmq + msgpack from Debian:
apt install python3-zmq python3-msgpack).

    socp bridge --server ws://127.0.0.1:8765 --data-dir ./bot --plain-key \
                --zmq-bind tcp://127.0.0.1:5555 &
    examples/bridge_client.py tcp://127.0.0.1:5555 [--send USER TEXT] [--listen SECONDS] [--json]
                              [--server-key Z85 [--client-key FILE]]

Prints whoami and the users online, optionally sends one DM, then prints the
events (messages, presence, files, errors) it receives for a while.

For a bridge started with --zmq-curve KEYFILE, give its public key (printed by
`socp bridge --zmq-curve-keygen KEYFILE`) with --server-key; the client then
uses a fresh key pair, or the one in FILE (a key file made the same way, or
any ZeroMQ certificate) when the bridge lets in listed clients only
(--zmq-curve-clients).
"""
import itertools
import json
import sys
import time

import zmq
import zmq.auth

try:
    import msgpack
except ImportError:  # JSON-only use (socp bridge --zmq-format json)
    msgpack = None


def pub_endpoint(ep):
    """The events endpoint the bridge derives from the request endpoint."""
    if ep.startswith("ipc://"):
        return ep + ".pub"
    host, port = ep.rsplit(":", 1)
    return "%s:%d" % (host, int(port) + 1)


class Bridge:
    def __init__(self, endpoint, use_json=False, server_key=None, client_key_file=None):
        self.ctx = zmq.Context.instance()
        self.req = self.ctx.socket(zmq.DEALER)
        self.sub = self.ctx.socket(zmq.SUB)
        if server_key:  # CURVE: set before connecting, on both sockets
            if client_key_file:
                public, secret = zmq.auth.load_certificate(client_key_file)
            else:
                public, secret = zmq.curve_keypair()
            for s in (self.req, self.sub):
                s.curve_serverkey = server_key.encode()
                s.curve_publickey = public
                s.curve_secretkey = secret
        self.req.setsockopt(zmq.LINGER, 0)
        self.req.connect(endpoint)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(pub_endpoint(endpoint))
        self.use_json = use_json or msgpack is None
        self.ids = itertools.count(1)

    def _enc(self, obj):
        return json.dumps(obj).encode() if self.use_json else msgpack.packb(obj)

    def _dec(self, data):
        return json.loads(data) if self.use_json else msgpack.unpackb(data, raw=False)

    def call(self, method, timeout=10.0, **params):
        """Sends one request and waits for its reply (replies carry the request id)."""
        rid = next(self.ids)
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params:
            msg["params"] = params
        self.req.send(self._enc(msg))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.req.poll(int((deadline - time.monotonic()) * 1000) + 1):
                rep = self._dec(self.req.recv())
                if rep.get("id") == rid:
                    if "error" in rep:
                        raise RuntimeError("%(code)d %(message)s" % rep["error"])
                    return rep["result"]
        raise TimeoutError(method)

    def events(self, seconds):
        """Yields (topic, params) for `seconds`."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.sub.poll(200):
                topic, payload = self.sub.recv_multipart()
                yield topic.decode(), self._dec(payload)["params"]


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    args = sys.argv[2:]

    def opt(name):
        return args[args.index(name) + 1] if name in args else None

    b = Bridge(sys.argv[1], use_json="--json" in args, server_key=opt("--server-key"),
               client_key_file=opt("--client-key"))
    me = b.call("whoami")
    print("I am %s (%s), connected: %s" % (me["name"] or "-", me["id"], me["connected"]))
    for u in b.call("listUsers"):
        print("  online: %s %s%s" % (u["name"], u["id"], "  (me)" if u["self"] else ""))
    if "--send" in args:
        i = args.index("--send")
        r = b.call("send", to=args[i + 1], text=args[i + 2])
        print("sent (durable in the outbox): %s" % r)
    listen = float(opt("--listen") or 5.0)
    for topic, ev in b.events(listen):
        if topic == "message":
            print("[%s] %s -> %s: %s%s" % (ev["channel"], ev["from"], ev["to"], ev["text"],
                                           "" if ev["verified"] else "  [UNVERIFIED]"))
        else:
            print("%s: %s" % (topic, ev))
    print("stats: %s" % b.call("stats"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
