// fuzz_envelope.c: libFuzzer target: envelope parser, strict JSON parser, canonical JSON.
// Part of socp, a SOCP v1.3 client and server.
//
// The input is one WebSocket text message. Properties checked (abort on
// violation, so libFuzzer reports it):
//   - socp_envelope_parse never crashes; its result, reason and detail agree
//     (0 <=> REASON_OK; a rejection leaves the envelope zeroed, maps to a
//     standard wire code and has a printable detail);
//   - whatever parses canonicalises in all four forms; the ASCII form is pure
//     ASCII and a fixed point (parse it back, canonicalise again: same bytes);
//   - emit then parse gives the same envelope, and the frame has no newline;
//   - the seen-cache flags the second sighting of a parsed frame;
//   - socp_json_parse accepts exactly what jansson's parser accepts (within
//     the depth limit), with equal values, and agrees with the canonicaliser;
//   - text that is valid UTF-8 splits into pieces that reassemble exactly.
#include "socp/socp_envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socp/socp_err.h"
#include "socp/socp_json.h"
#include "socp/socp_seen.h"
#include "socp/socp_text.h"

#include "fuzz_require.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// Canonical ASCII form of v is ASCII and a fixed point.
static void
s_check_canonical(const json_t *v)
{
    static const unsigned forms[] = {SOCP_JSON_CANON_ASCII, SOCP_JSON_CANON_UTF8,
                                     SOCP_JSON_CANON_SPACED,
                                     SOCP_JSON_CANON_UTF8 | SOCP_JSON_CANON_SPACED};
    socp_buf_t b;
    socp_buf_init(&b);
    for (size_t i = 1; i < sizeof forms / sizeof forms[0]; i++) {
        S_REQUIRE(socp_json_canonical(v, forms[i], &b) == 0);
        socp_buf_reset(&b);
    }
    S_REQUIRE(socp_json_canonical(v, SOCP_JSON_CANON_ASCII, &b) == 0);
    for (size_t i = 0; i < b.len; i++) {
        S_REQUIRE(b.data[i] >= 0x20 && b.data[i] < 0x7f);
    }
    json_t *again = NULL;
    S_REQUIRE(socp_json_parse((const char *) b.data, b.len, SOCP_JSON_MAX_DEPTH, &again) == 0);
    socp_buf_t twice;
    socp_buf_init(&twice);
    S_REQUIRE(socp_json_canonical(again, SOCP_JSON_CANON_ASCII, &twice) == 0);
    S_REQUIRE(twice.len == b.len && memcmp(twice.data, b.data, b.len) == 0);
    S_REQUIRE(json_equal(again, v)); // reals included: repr round-trips exactly
    socp_buf_fini(&twice);
    json_decref(again);
    socp_buf_fini(&b);
}

static void
s_check_envelope(const uint8_t *data, size_t size)
{
    socp_envelope_t env;
    socp_envelope_error_t err;
    int rc = socp_envelope_parse((const char *) data, size, &env, &err);
    for (const char *p = err.detail; *p; p++) {
        S_REQUIRE(*p >= 0x20 && *p < 0x7f);
    }
    if (rc != 0) {
        S_REQUIRE(rc == SOCP_EPROTO || rc == SOCP_ETOOBIG);
        S_REQUIRE(err.reason != SOCP_ENVELOPE_REASON_OK && err.detail[0] != '\0');
        S_REQUIRE(socp_envelope_code_name(socp_envelope_reason_code(err.reason)) != NULL);
        S_REQUIRE(env.payload == NULL && env.sig == NULL);
        return;
    }
    S_REQUIRE(err.reason == SOCP_ENVELOPE_REASON_OK);
    S_REQUIRE(json_is_object(env.payload) && env.ts >= 0 && env.type[0] != '\0');
    S_REQUIRE(env.sig == NULL || env.sig[0] != '\0');
    s_check_canonical(env.payload);

    if (env.from[0] && env.to[0]) {
        socp_buf_t frame;
        socp_buf_init(&frame);
        rc = socp_envelope_emit(&env, &frame);
        S_REQUIRE(rc == 0 || rc == SOCP_ETOOBIG);
        if (rc == 0) {
            S_REQUIRE(memchr(frame.data, '\n', frame.len) == NULL);
            socp_envelope_t back;
            S_REQUIRE(socp_envelope_parse((const char *) frame.data, frame.len, &back, NULL) == 0);
            S_REQUIRE(back.kind == env.kind && back.ts == env.ts);
            S_REQUIRE(strcmp(back.type, env.type) == 0 && strcmp(back.from, env.from) == 0 &&
                      strcmp(back.to, env.to) == 0);
            S_REQUIRE((back.sig == NULL) == (env.sig == NULL));
            S_REQUIRE(!env.sig || strcmp(back.sig, env.sig) == 0);
            S_REQUIRE(json_equal(back.payload, env.payload));
            socp_envelope_fini(&back);
        }
        socp_buf_fini(&frame);
    }

    socp_seen_t *seen = socp_seen_new(4, SOCP_SEEN_TTL_DEFAULT_MS);
    S_REQUIRE(socp_seen_check_envelope(seen, &env, 0) == 0);
    S_REQUIRE(socp_seen_check_envelope(seen, &env, 1) == SOCP_EREPLAY);
    socp_seen_destroy(&seen);
    socp_envelope_fini(&env);
}

static void
s_check_json(const uint8_t *data, size_t size)
{
    json_t *v = NULL;
    socp_json_error_t why;
    char detail[96];
    int rc = socp_json_parse_ex((const char *) data, size, 64, &v, &why, detail, sizeof detail);
    S_REQUIRE((rc == 0) == (why == SOCP_JSON_ERROR_NONE));
    S_REQUIRE((rc == 0) == (v != NULL));
    // Differential: jansson's own parser is the oracle for what is JSON. Our
    // extra rules: the depth limit (64 vs jansson's 2048), and raw NUL bytes,
    // which we always reject while jansson swallows one that directly follows
    // a number at the end of the input (json_loadb("2\0", 2) returns 2).
    json_t *oracle =
        json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (why != SOCP_JSON_ERROR_DEPTH && !memchr(data, '\0', size)) {
        S_REQUIRE((oracle != NULL) == (rc == 0));
        S_REQUIRE(!oracle || json_equal(oracle, v));
    }
    json_decref(oracle);
    if (rc == 0) {
        s_check_canonical(v);
        json_decref(v);
    } else {
        S_REQUIRE(rc == SOCP_EPROTO || rc == SOCP_ETOOBIG);
    }
}

static void
s_check_text(const uint8_t *data, size_t size)
{
    if (!socp_text_utf8_valid(data, size)) {
        socp_text_pieces_t p;
        S_REQUIRE(socp_text_split(data, size, SOCP_TEXT_PIECE_MAX, &p) == SOCP_EPROTO);
        return;
    }
    size_t max = 4 + (size % 13);
    socp_text_pieces_t p;
    S_REQUIRE(socp_text_split(data, size, max, &p) == 0);
    size_t offset = 0;
    for (size_t i = 0; i < p.count; i++) {
        S_REQUIRE(p.items[i].offset == offset && p.items[i].len > 0 && p.items[i].len <= max);
        S_REQUIRE(socp_text_utf8_valid(data + offset, p.items[i].len));
        offset += p.items[i].len;
    }
    S_REQUIRE(offset == size);
    socp_text_pieces_fini(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_check_envelope(data, size);
    s_check_json(data, size);
    s_check_text(data, size);
    return 0;
}
