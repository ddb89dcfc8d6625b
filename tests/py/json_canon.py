#!/usr/bin/python3
# json_canon.py: reference outputs for socp_json_canonical, from Python's json.
#
#   json_canon.py vectors OUT.json        the fixed corpus (tests/vectors/json_canonical.json)
#   json_canon.py live SEED COUNT OUT.json random values, powers of two, random doubles
#
# Each case is {"name", "input", "ascii", "utf8", "spaced", "utf8_spaced"}:
# "input" is a JSON text of the value (keys in insertion order, not sorted,
# sometimes indented, sometimes \u-escaped); the other four are what
#   json.dumps(v, sort_keys=True, separators=(",", ":"))                      ascii
#   json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)  utf8
#   json.dumps(v, sort_keys=True, separators=(", ", ": "))                    spaced
#   json.dumps(v, sort_keys=True, separators=(", ", ": "), ensure_ascii=False) utf8_spaced
# write. The output file itself is ASCII JSON. Values stay inside what
# socp_json_parse accepts: no U+0000, no lone surrogates, integers in int64,
# finite floats.
import json
import math
import random
import struct
import sys


def expected(v):
    return {
        "ascii": json.dumps(v, sort_keys=True, separators=(",", ":")),
        "utf8": json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        "spaced": json.dumps(v, sort_keys=True, separators=(", ", ": ")),
        "utf8_spaced": json.dumps(v, sort_keys=True, separators=(", ", ": "), ensure_ascii=False),
    }


def case(name, v, i):
    # Vary the input form: raw UTF-8 or \u escapes, compact or indented.
    text = json.dumps(v, ensure_ascii=(i % 2 == 0), indent=(1 if i % 3 == 0 else None))
    c = {"name": name, "input": text}
    c.update(expected(v))
    return c


ALL_CONTROLS = "".join(chr(c) for c in range(1, 0x20))
B64 = "AbCd-_09" * 85 + "xyz"  # 683 characters like an RSA-4096 block


def corpus():
    return [
        ("int_zero", 0),
        ("int_negative", -1),
        ("int_max", 2**63 - 1),
        ("int_min", -(2**63)),
        ("int_ts", 1700000400000),
        ("true", True),
        ("false", False),
        ("null", None),
        ("empty_string", ""),
        ("empty_object", {}),
        ("empty_array", []),
        ("nested_empty", {"a": {}, "b": [], "c": [[]], "d": [{}]}),
        ("short_escapes", "quote\" backslash\\ nl\n cr\r tab\t bs\b ff\f"),
        ("all_controls", ALL_CONTROLS),
        *[("control_%02x" % c, chr(c)) for c in range(1, 0x20)],
        ("del", "a\x7fb"),
        ("slash_not_escaped", "a/b</script>"),
        ("printable_ascii", "".join(chr(c) for c in range(0x20, 0x7F))),
        ("latin1", "caf\u00e9 \u00df \u00ff \u0080 \u009f"),
        ("cjk", "\u65e5\u672c\u8a9e"),
        ("line_separators", "\u2028\u2029"),
        ("bom_and_ffff", "\ufeff\uffff\ufffd"),
        ("astral", "\U00010000 \U0001f600 \U0010ffff"),
        ("emoji_family", "\U0001f468\u200d\U0001f469\u200d\U0001f467"),
        ("object_unsorted", {"b": 1, "a": 2, "A": 3, "aa": 4, "": 5, "_": 6}),
        ("object_prefix_keys", {"abc": 1, "a": 2, "ab": 3}),
        # U+FF61 vs U+1F600: code point order puts U+FF61 first; UTF-16 order
        # (JavaScript, RFC 8785) puts the emoji first.
        ("keys_bmp_high_vs_astral", {"\U0001f600": 1, "\uff61": 2}),
        # "\u00e9" escaped starts with a backslash (0x5c) < "z", but the code
        # point U+00E9 > "z": sort by code point, not by escaped text.
        ("keys_escaped_vs_raw", {"\u00e9": 1, "z": 2, "\\": 3, "~": 4, "\x7f": 5}),
        ("keys_with_escapes", {"a\nb": 1, 'a"b': 2, "a\\b": 3, "a\tb": 4, "a/b": 5}),
        ("keys_unicode_mix", {"\u65e5": 1, "\u00e9t\u00e9": 2, "\U00010348": 3, "e": 4, "\u0100": 5}),
        ("nested_sort", {"z": {"y": [3, {"b": 1, "a": 2}], "x": None}, "a": [{"d": 4, "c": 3}]}),
        ("array_order_kept", [3, 1, 2, "b", "a"]),
        ("mixed_array", [1, -2, True, False, None, "s", [], {}, 0.5]),
        ("deep_20", {"k": [[[[[[[[[{"a": [[[[[[[[1]]]]]]]]}]]]]]]]]]}),
        ("float_one", 1.0),
        ("float_negative_zero", -0.0),
        ("float_tenth", 0.1),
        ("float_1e16", 1e16),
        ("float_1e15", 1e15),
        ("float_1e-4", 0.0001),
        ("float_1e-5", 0.00001),
        ("float_small", 1.5e-7),
        ("float_denormal_min", 5e-324),
        ("float_max", 1.7976931348623157e308),
        ("float_misc", [2.5, 100.0, 123456.789, -3.14159, 1e22, 1e21, 9007199254740993.0, 0.3]),
        ("float_2p53", 2.0**53),
        ("float_2m1074", 2.0**-1074),
        ("msg_direct_payload", {
            "ciphertext": B64, "sender_pub": B64 + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEfGhIjKlM",
            "content_sig": B64,
        }),
        ("user_advertise_payload", {
            "user_id": "4f1c2a9e-8d3b-4c7a-9e21-5b6d7f8a9c0d",
            "server_id": "0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b",
            "meta": {"display_name": "Zo\u00eb \U0001f98a", "pubkey": B64, "extras": {"z": 1, "a": [2]}},
        }),
        ("server_welcome_payload", {
            "assigned_id": "0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b",
            "servers": [{"server_id": "s2", "host": "10.0.0.2", "port": 8765, "pubkey": "k"}],
            "clients": [{"user_id": "s2", "host": "10.0.0.2", "port": 8765, "pubkey": "k"}],
        }),
        ("error_payload", {"code": "USER_NOT_FOUND", "detail": "Bob not registered"}),
        ("file_start_payload", {"file_id": "f", "name": "r\u00e9port.pdf", "size": 1234567,
                                "sha256": "ab" * 32, "mode": "dm"}),
    ]


def random_string(rng, max_len=12):
    out = []
    for _ in range(rng.randint(0, max_len)):
        r = rng.random()
        if r < 0.45:
            out.append(chr(rng.randint(0x20, 0x7E)))
        elif r < 0.55:
            out.append(chr(rng.randint(1, 0x1F)))
        elif r < 0.58:
            out.append("\x7f")
        elif r < 0.68:
            out.append(chr(rng.randint(0x80, 0x7FF)))
        elif r < 0.85:
            cp = rng.randint(0x800, 0xFFFF)
            while 0xD800 <= cp <= 0xDFFF:
                cp = rng.randint(0x800, 0xFFFF)
            out.append(chr(cp))
        else:
            out.append(chr(rng.randint(0x10000, 0x10FFFF)))
    return "".join(out)


def random_double(rng):
    while True:
        (v,) = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))
        if math.isfinite(v):
            return v


def random_value(rng, depth=0):
    r = rng.random()
    if depth >= 5 or r < 0.45:
        k = rng.random()
        if k < 0.25:
            return rng.choice([rng.randint(-(2**63), 2**63 - 1), rng.randint(-1000, 1000),
                               2**63 - 1, -(2**63), 0])
        if k < 0.4:
            return rng.choice([random_double(rng), rng.uniform(-1e6, 1e6), round(rng.random(), 3)])
        if k < 0.5:
            return rng.choice([True, False, None])
        return random_string(rng)
    if r < 0.7:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    obj = {}
    for _ in range(rng.randint(0, 6)):
        obj[random_string(rng, 6)] = random_value(rng, depth + 1)
    return obj


def live(seed, count):
    rng = random.Random(seed)
    cases = [case("random_%d" % i, random_value(rng), i) for i in range(count)]
    # Every power of two (Python repr's trickiest cases), 64 per case.
    powers = [2.0**e for e in range(-1074, 1024)]
    for i in range(0, len(powers), 64):
        cases.append(case("pow2_%d" % i, powers[i:i + 64], i))
        cases.append(case("negpow2_%d" % i, [-p for p in powers[i:i + 64]], i + 1))
    for i in range(count // 4):
        cases.append(case("doubles_%d" % i, [random_double(rng) for _ in range(32)], i))
    return cases


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "vectors":
        cases = [case(name, v, i) for i, (name, v) in enumerate(corpus())]
        out = sys.argv[2]
    elif len(sys.argv) == 5 and sys.argv[1] == "live":
        cases = live(int(sys.argv[2]), int(sys.argv[3]))
        out = sys.argv[4]
    else:
        sys.stderr.write(__doc__ if __doc__ else "usage: json_canon.py vectors OUT | live SEED COUNT OUT\n")
        return 2
    with open(out, "w", encoding="ascii") as f:
        json.dump(cases, f, indent=1, ensure_ascii=True)
        f.write("\n")
    print(len(cases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
