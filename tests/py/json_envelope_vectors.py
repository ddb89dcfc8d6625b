#!/usr/bin/python3
# json_envelope_vectors.py: writes tests/vectors/envelope_cases.json, the golden
# cases for socp_envelope_parse (our profile, docs/protocol.md "Envelope").
#
#   json_envelope_vectors.py OUT.json
#
# Each case: {"name", "input" | "input_hex", "expect"}. "expect" is either
#   {"result": "ok", "kind": canonical type name or null (unknown type),
#    "type", "from", "to", "ts", "sig" (null when unsigned),
#    "payload": canonical JSON of the payload (json.dumps sort_keys, compact)}
# or
#   {"result": REASON, "code": wire error code, "rc": "SOCP_EPROTO"|"SOCP_ETOOBIG"}
# The expected outcomes are written here by hand, from the profile; only the
# canonical payload text comes from Python's json module.
import json
import sys

CASES = []

U1 = "4f1c2a9e-8d3b-4c7a-9e21-5b6d7f8a9c0d"
U2 = "0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b"
S1 = "7d3e2f1a-0b9c-4d8e-a7f6-5e4d3c2b1a09"
CT = "AbCd-_09xyz"   # short stand-ins keep the file small ...
SIG = "Zz0_-9aBQRS"
LONG_CT = "AbCd-_09" * 85 + "xyz"  # ... and real sizes: 683 base64url characters
LONG_SIG = "Zz0_-9aB" * 85 + "QRS"

REASON_CODE = {
    "TOO_BIG": "UNKNOWN_TYPE", "NUL_BYTE": "UNKNOWN_TYPE", "BAD_UTF8": "UNKNOWN_TYPE",
    "TOO_DEEP": "UNKNOWN_TYPE", "BAD_JSON": "UNKNOWN_TYPE", "DUPLICATE_KEY": "UNKNOWN_TYPE",
    "TRAILING_DATA": "UNKNOWN_TYPE", "BAD_NUMBER": "UNKNOWN_TYPE", "NOT_OBJECT": "UNKNOWN_TYPE",
    "TYPE_MISSING": "UNKNOWN_TYPE", "TYPE_BAD": "UNKNOWN_TYPE", "FROM_MISSING": "UNKNOWN_TYPE",
    "FROM_BAD": "UNKNOWN_TYPE", "TO_MISSING": "UNKNOWN_TYPE", "TO_BAD": "USER_NOT_FOUND",
    "TS_MISSING": "UNKNOWN_TYPE", "TS_BAD": "UNKNOWN_TYPE", "PAYLOAD_MISSING": "UNKNOWN_TYPE",
    "PAYLOAD_BAD": "UNKNOWN_TYPE", "SIG_BAD": "INVALID_SIG",
}


def canon(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def env(type_="MSG_DIRECT", frm=U1, to=U2, ts=1700000400000, payload=None, sig=SIG, **extra):
    """An envelope dict; pass a field as ... (Ellipsis) to leave it out."""
    d = {}
    for k, v in (("type", type_), ("from", frm), ("to", to), ("ts", ts),
                 ("payload", {"ciphertext": CT} if payload is None else payload), ("sig", sig)):
        if v is not ...:
            d[k] = v
    d.update(extra)
    return d


def ok(name, text, kind, type_, frm, to, ts, sig):
    payload = json.loads(text).get("payload", {})
    CASES.append({"name": name, "input": text, "expect": {
        "result": "ok", "kind": kind, "type": type_, "from": frm, "to": to, "ts": ts,
        "sig": sig, "payload": canon(payload)}})


def ok_env(name, d, kind, **over):
    """A well-formed envelope given as a dict; expected fields taken from it."""
    text = json.dumps(d, separators=(",", ":"))
    exp = {"type": d.get("type"), "frm": d.get("from", ""), "to": d.get("to", ""),
           "ts": d.get("ts", 0), "sig": d.get("sig") or None}
    exp.update(over)
    ok(name, text, kind, exp["type"], exp["frm"], exp["to"], exp["ts"], exp["sig"])


def bad(name, data, reason, rc="SOCP_EPROTO"):
    c = {"name": name}
    if isinstance(data, bytes):
        c["input_hex"] = data.hex()
    elif isinstance(data, dict):
        c["input"] = json.dumps(data, separators=(",", ":"))
    else:
        c["input"] = data
    c["expect"] = {"result": reason, "code": REASON_CODE[reason], "rc": rc}
    CASES.append(c)


def nest(depth):
    """A payload whose innermost object sits at envelope depth `depth`."""
    p = {}
    for _ in range(depth - 2):
        p = {"n": p}
    return p


def build():
    # ---- the standard's own examples (SOCP v1.3 section 13), as printed
    hello = ('{\n  "type":"USER_HELLO",\n  "from":"user_id",\n  "to":"server_id",\n'
             '  "ts":1700000003000,\n  "payload":{\n    "client":"cli-v1",\n'
             '    "pubkey":"<b64url RSA-4096 pub>",\n    "enc_pubkey":"<b64url RSA-4096 pub>"\n'
             '  },\n  "sig":""\n}')
    ok("spec_user_hello", hello, "USER_HELLO", "USER_HELLO", "user_id", "server_id",
       1700000003000, None)
    ok_env("spec_msg_direct_real_sizes",
           env(payload={"ciphertext": LONG_CT, "content_sig": LONG_CT,
                        "sender_pub": LONG_CT + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEfGhIjKlM"},
               sig=LONG_SIG), "MSG_DIRECT")
    ok_env("spec_server_deliver", env("SERVER_DELIVER", S1, U2, 1700000300000,
                                      {"user_id": U2, "ciphertext": CT, "sender": "Bob",
                                       "sender_pub": CT, "content_sig": CT}), "SERVER_DELIVER")
    ok_env("spec_user_deliver_extra_ts_to", env("USER_DELIVER", S1, U2, 1700000400100,
                                                {"ciphertext": CT, "sender": U1, "sender_pub": CT,
                                                 "content_sig": CT, "ts": 1700000400000, "to": U2}),
           "USER_DELIVER")
    ok_env("spec_hello_join_host_port", env("SERVER_HELLO_JOIN", S1, "192.0.1.2:12345", 1700000000000,
                                            {"host": "A.B.C.D", "port": 12345, "pubkey": "k"}, ""),
           "SERVER_HELLO_JOIN")
    ok_env("spec_user_advertise_broadcast", env("USER_ADVERTISE", S1, "*", 1700000100000,
                                                {"user_id": U1, "server_id": S1,
                                                 "meta": {"display_name": "Zo\u00eb", "pubkey": CT}}),
           "USER_ADVERTISE")
    ok_env("spec_public_channel_add_ts0", env("PUBLIC_CHANNEL_ADD", S1, "*", 0,
                                              {"add": [U1], "if_version": 1}), "PUBLIC_CHANNEL_ADD")
    ok_env("spec_heartbeat_empty_payload", env("HEARTBEAT", S1, U2, 1700000002000, {}), "HEARTBEAT")
    ok_env("spec_error", env("ERROR", S1, U1, 1700000900000,
                             {"code": "USER_NOT_FOUND", "detail": "Bob not registered"}), "ERROR")
    ok("ctrl_close_bare", '{"type":"CTRL_CLOSE"}', "CTRL_CLOSE", "CTRL_CLOSE", "", "", 0, None)
    ok_env("ctrl_close_full", env("CTRL_CLOSE", U1, S1, 5, {}, ...), "CTRL_CLOSE")

    # ---- every known type parses to its kind
    for t in ["USER_HELLO", "SERVER_HELLO_JOIN", "SERVER_WELCOME", "SERVER_ANNOUNCE",
              "SERVER_HELLO_LINK", "USER_ADVERTISE", "USER_REMOVE", "SERVER_DELIVER", "HEARTBEAT",
              "MSG_DIRECT", "USER_DELIVER", "MSG_PUBLIC_CHANNEL", "PUBLIC_CHANNEL_ADD",
              "PUBLIC_CHANNEL_UPDATED", "PUBLIC_CHANNEL_KEY_SHARE", "FILE_START", "FILE_CHUNK",
              "FILE_END", "ACK", "ERROR", "CTRL_CLOSE", "LIST_REQUEST", "LIST_RESPONSE"]:
        ok_env("type_" + t.lower(), env(t, payload={}), t)
    for alias, kind in [("CMD_LIST", "LIST_REQUEST"), ("USER_LIST_REQ", "LIST_REQUEST"),
                        ("USER_LIST", "LIST_RESPONSE"), ("MSG_PRIVATE", "MSG_DIRECT")]:
        ok_env("alias_" + alias.lower(), env(alias, payload={}), kind)
    ok_env("unknown_type_parses", env("PEER_HELLO_JOIN", payload={}), None)
    ok_env("type_case_sensitive", env("msg_direct", payload={}), None)
    ok_env("type_64_chars", env("T" * 64, payload={}), None)

    # ---- leniency from the profile
    ok_env("ts_digit_string", env(ts="1700000000000"), "MSG_DIRECT", ts=1700000000000)
    ok_env("ts_digit_string_leading_zero", env(ts="007"), "MSG_DIRECT", ts=7)
    ok_env("ts_max_int64_string", env(ts="9223372036854775807"), "MSG_DIRECT", ts=2**63 - 1)
    ok_env("ts_max_int64", env(ts=2**63 - 1), "MSG_DIRECT")
    ok("ts_integral_real", canon(env(ts=0)).replace('"ts":0', '"ts":1700000000000.0'),
       "MSG_DIRECT", "MSG_DIRECT", U1, U2, 1700000000000, SIG)
    ok("ts_exponent_real", canon(env(ts=0)).replace('"ts":0', '"ts":1.7e12'),
       "MSG_DIRECT", "MSG_DIRECT", U1, U2, 1700000000000, SIG)
    ok_env("sig_missing", env(sig=...), "MSG_DIRECT")
    ok_env("sig_empty", env(sig=""), "MSG_DIRECT")
    ok_env("sig_null", env(sig=None), "MSG_DIRECT")
    ok_env("sig_standard_base64_padded", env(sig="ab+/cd=="), "MSG_DIRECT")
    ok_env("unknown_top_level_keys", env(alg="PS256", extra={"x": [1]}), "MSG_DIRECT")
    ok_env("unknown_payload_keys", env(payload={"ciphertext": CT, "iv": "x", "tag": "y"}),
           "MSG_DIRECT")
    base = canon(env())
    ok("trailing_newline", base + "\n", "MSG_DIRECT", "MSG_DIRECT", U1, U2, 1700000400000, SIG)
    ok("trailing_whitespace_mix", base + " \r\n\t \n", "MSG_DIRECT", "MSG_DIRECT", U1, U2,
       1700000400000, SIG)
    ok("leading_whitespace", "\n  " + base, "MSG_DIRECT", "MSG_DIRECT", U1, U2, 1700000400000, SIG)
    ok("pretty_printed", json.dumps(env(), indent=2), "MSG_DIRECT", "MSG_DIRECT", U1, U2,
       1700000400000, SIG)
    ok_env("free_string_ids", env(frm="alice", to="srv-a"), "MSG_DIRECT")
    ok_env("id_128_bytes", env(frm="a" * 128, to="b" * 128), "MSG_DIRECT")
    ok_env("id_unicode", env(frm="Zo\u00eb \U0001f98a", to="\u65e5\u672c"), "MSG_DIRECT")
    ok_env("id_escaped_in_json", env(frm="a/b\"c\\d"), "MSG_DIRECT")
    ok_env("payload_unicode_and_escapes",
           env(payload={"text": "caf\u00e9 \U0001f600 \u2028 \x7f \n\t\"\\/", "z": [1, {"b": None, "a": True}]}),
           "MSG_DIRECT")
    ok_env("depth_32_ok", env(payload=nest(32)), "MSG_DIRECT")
    ok_env("payload_with_real", env(payload={"x": 0.5, "y": -0.0, "z": 1e16}), "MSG_DIRECT")

    # ---- malformed frames
    bad("empty_frame", "", "BAD_JSON")
    bad("whitespace_only", " \n", "BAD_JSON")
    bad("not_json", "hello", "BAD_JSON")
    bad("truncated", base[:-10], "BAD_JSON")
    bad("single_quotes", "{'type':'HEARTBEAT'}", "BAD_JSON")
    bad("trailing_comma_object", base[:-1] + ",}", "BAD_JSON")
    bad("lone_surrogate_escape", base.replace('"sig":"', '"x":"\\ud800","sig":"'), "BAD_JSON")
    bad("not_object_array", "[" + base + "]", "NOT_OBJECT")
    bad("not_object_string", '"MSG_DIRECT"', "NOT_OBJECT")
    bad("not_object_number", "1700000000000", "NOT_OBJECT")
    bad("not_object_null", "null", "NOT_OBJECT")
    bad("trailing_garbage", base + "x", "TRAILING_DATA")
    bad("two_objects", base + base, "TRAILING_DATA")
    bad("two_objects_newline", base + "\n" + base + "\n", "TRAILING_DATA")
    bad("extra_close_brace", base + "}", "TRAILING_DATA")
    bad("duplicate_type", base[:-1] + ',"type":"HEARTBEAT"}', "DUPLICATE_KEY")
    bad("duplicate_sig", base[:-1] + ',"sig":""}', "DUPLICATE_KEY")
    bad("duplicate_in_payload", base.replace('"payload":{', '"payload":{"a":1,"a":2,'),
        "DUPLICATE_KEY")
    bad("nul_raw_in_string", base.replace("MSG_DIRECT", "MSG\x00DIRECT").encode(), "NUL_BYTE")
    bad("nul_raw_after_object", base.encode() + b"\x00", "NUL_BYTE")
    bad("nul_escaped_in_string", base.replace('"ciphertext":"', '"ciphertext":"\\u0000'), "NUL_BYTE")
    bad("nul_escaped_in_key", base.replace('"ciphertext":"', '"cipher\\u0000text":"'), "NUL_BYTE")
    bad("utf8_lone_ff", base.encode().replace(b'"ciphertext":"', b'"ciphertext":"\xff'), "BAD_UTF8")
    bad("utf8_overlong_slash", base.encode().replace(b'"ciphertext":"', b'"ciphertext":"\xc0\xaf'),
        "BAD_UTF8")
    bad("utf8_encoded_surrogate", base.encode().replace(b'"ciphertext":"', b'"ciphertext":"\xed\xa0\x80'),
        "BAD_UTF8")
    bad("utf8_truncated_sequence", base.encode().replace(b'"ciphertext":"', b'"ciphertext":"\xe2\x82'),
        "BAD_UTF8")
    bad("utf8_above_10ffff", base.encode().replace(b'"ciphertext":"', b'"ciphertext":"\xf4\x90\x80\x80'),
        "BAD_UTF8")
    bad("utf8_latin1_outside_string", base.encode() + b" \xe9", "BAD_UTF8")
    bad("depth_33", env(payload=nest(33)), "TOO_DEEP", "SOCP_ETOOBIG")
    bad("depth_bomb", "[" * 5000, "TOO_DEEP", "SOCP_ETOOBIG")
    bad("integer_overflow", base.replace('"ts":1700000400000', '"ts":99999999999999999999'),
        "BAD_NUMBER")
    bad("real_overflow", base.replace('"ts":1700000400000', '"ts":1e400'), "BAD_NUMBER")

    # ---- missing and mistyped fields (checked in the order type, from, to, ts, payload, sig)
    bad("type_missing", env(type_=...), "TYPE_MISSING")
    bad("everything_missing", "{}", "TYPE_MISSING")
    bad("type_and_from_missing", env(type_=..., frm=...), "TYPE_MISSING")
    bad("type_number", env(type_=5), "TYPE_BAD")
    bad("type_null", env(type_=None), "TYPE_BAD")
    bad("type_empty", env(type_=""), "TYPE_BAD")
    bad("type_65_chars", env(type_="T" * 65), "TYPE_BAD")
    bad("type_with_space", env(type_="MSG DIRECT"), "TYPE_BAD")
    bad("type_with_newline", env(type_="MSG_DIRECT\n"), "TYPE_BAD")
    bad("type_non_ascii", env(type_="MSG_D\u00cfRECT"), "TYPE_BAD")
    bad("from_missing", env(frm=...), "FROM_MISSING")
    bad("from_number", env(frm=12), "FROM_BAD")
    bad("from_empty", env(frm=""), "FROM_BAD")
    bad("from_129_bytes", env(frm="a" * 129), "FROM_BAD")
    bad("from_128_bytes_multibyte_overflow", env(frm="a" * 127 + "\u00e9"), "FROM_BAD")
    bad("from_control_char", env(frm="ali\x01ce"), "FROM_BAD")
    bad("from_del", env(frm="alice\x7f"), "FROM_BAD")
    bad("from_c1_control", env(frm="alice\u0085"), "FROM_BAD")
    bad("from_bidi_override", env(frm="alice\u202egnp.exe"), "FROM_BAD")
    bad("from_line_separator", env(frm="ali\u2028ce"), "FROM_BAD")
    bad("from_object", env(frm={"id": U1}), "FROM_BAD")
    bad("ctrl_close_bad_from", env("CTRL_CLOSE", frm=5, to=..., ts=..., payload=..., sig=...),
        "FROM_BAD")
    bad("to_missing", env(to=...), "TO_MISSING")
    bad("to_number", env(to=7), "TO_BAD")
    bad("to_empty", env(to=""), "TO_BAD")
    bad("to_129_bytes", env(to="b" * 129), "TO_BAD")
    bad("to_newline", env(to="bob\n"), "TO_BAD")
    bad("to_array", env(to=[U2]), "TO_BAD")
    bad("ts_missing", env(ts=...), "TS_MISSING")
    bad("ts_negative", env(ts=-1), "TS_BAD")
    bad("ts_string_negative", env(ts="-5"), "TS_BAD")
    bad("ts_string_empty", env(ts=""), "TS_BAD")
    bad("ts_string_letters", env(ts="12a"), "TS_BAD")
    bad("ts_string_decimal", env(ts="1.5"), "TS_BAD")
    bad("ts_string_space", env(ts=" 15"), "TS_BAD")
    bad("ts_string_plus", env(ts="+15"), "TS_BAD")
    bad("ts_string_20_digits", env(ts="10000000000000000000"), "TS_BAD")
    bad("ts_string_above_int64", env(ts="9223372036854775808"), "TS_BAD")
    bad("ts_fractional", env(ts=1.5), "TS_BAD")
    bad("ts_negative_real", env(ts=-1.0), "TS_BAD")
    bad("ts_real_too_big", env(ts=1e30), "TS_BAD")
    bad("ts_bool", env(ts=True), "TS_BAD")
    bad("ts_null", env(ts=None), "TS_BAD")
    bad("ts_object", env(ts={}), "TS_BAD")
    bad("payload_missing", env(payload=...), "PAYLOAD_MISSING")
    bad("payload_array", env(payload=[]), "PAYLOAD_BAD")
    bad("payload_string", env(payload="{}"), "PAYLOAD_BAD")
    bad("payload_null", env() | {"payload": None}, "PAYLOAD_BAD")
    bad("payload_number", env(payload=5), "PAYLOAD_BAD")
    bad("sig_number", env(sig=5), "SIG_BAD")
    bad("sig_bool", env(sig=False), "SIG_BAD")
    bad("sig_with_space", env(sig="abc def"), "SIG_BAD")
    bad("sig_bad_char", env(sig="abc!"), "SIG_BAD")
    bad("sig_padding_inside", env(sig="ab=c"), "SIG_BAD")
    bad("sig_three_pads", env(sig="a==="), "SIG_BAD")
    bad("sig_4097_chars", env(sig="A" * 4097), "SIG_BAD")
    bad("sig_object", env(sig={"alg": "PS256"}), "SIG_BAD")


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: json_envelope_vectors.py OUT.json\n")
        return 2
    build()
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    with open(sys.argv[1], "w", encoding="ascii") as f:
        json.dump(CASES, f, indent=1, ensure_ascii=True)
        f.write("\n")
    print(len(CASES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
