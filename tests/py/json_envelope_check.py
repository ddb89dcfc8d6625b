#!/usr/bin/python3
# json_envelope_check.py: checks frames emitted by socp_envelope_emit the way a
# Python peer would see them.
#
#   json_envelope_check.py FRAMES.txt
#
# FRAMES.txt holds one frame per line (our frames never contain a raw newline:
# JSON escapes it). For each frame: it must parse with json.loads; have
# exactly the keys type/from/to/ts/payload and optionally sig, in that order;
# ts must be an int; sig, when present, a non-empty string; and the payload
# must appear in the frame byte for byte as
# json.dumps(payload, sort_keys=True, separators=(",", ":")) -- so a peer that
# verifies over the canonical payload and one that slices the raw text agree.
# Prints "N ok" and exits 0, or prints the first problem and exits 1.
import json
import sys


def check(line):
    obj = json.loads(line)
    keys = list(obj.keys())
    if keys not in (["type", "from", "to", "ts", "payload"],
                    ["type", "from", "to", "ts", "payload", "sig"]):
        return "unexpected keys/order %r" % keys
    if type(obj["ts"]) is not int:
        return "ts is %s, not int" % type(obj["ts"]).__name__
    if "sig" in obj and (not isinstance(obj["sig"], str) or obj["sig"] == ""):
        return "bad sig %r" % obj.get("sig")
    canon = json.dumps(obj["payload"], sort_keys=True, separators=(",", ":"))
    if ('"payload":' + canon) not in line:
        return "payload is not in canonical form"
    if line != line.strip():
        return "leading/trailing whitespace"
    return None


def main():
    with open(sys.argv[1], "rb") as f:
        data = f.read().decode("utf-8")
    lines = [l for l in data.split("\n") if l]
    for i, line in enumerate(lines):
        problem = check(line)
        if problem:
            print("frame %d: %s" % (i, problem))
            return 1
    print("%d ok" % len(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
