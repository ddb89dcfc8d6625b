// envelope_test.c: envelope parsing (golden cases), limits, emitting, tables.
// Part of socp, a SOCP v1.3 client and server.
#include "socp_test.h"

#include "socp/socp_envelope.h"
#include "socp/socp_json.h"

#include <jansson.h>

static void
s_check_printable(const char *s)
{
    for (const char *p = s; *p; p++) {
        CHECK_MSG(*p >= 0x20 && *p < 0x7f, "not printable ASCII: %s", s);
    }
}

// Decodes a hex string into a new buffer.
static char *
s_unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    char *out = socp_malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        CHECK(sscanf(hex + 2 * i, "%2x", &v) == 1);
        out[i] = (char) v;
    }
    *len = n;
    return out;
}

// Field-by-field equality of two parsed envelopes.
static void
s_check_same(const socp_envelope_t *a, const socp_envelope_t *b)
{
    CHECK_EQ(a->kind, b->kind);
    CHECK_STREQ(a->type, b->type);
    CHECK_STREQ(a->from, b->from);
    CHECK_STREQ(a->to, b->to);
    CHECK_EQ(a->ts, b->ts);
    CHECK((a->sig == NULL) == (b->sig == NULL));
    if (a->sig) {
        CHECK_STREQ(a->sig, b->sig);
    }
    CHECK(json_equal(a->payload, b->payload));
}

SOCP_TEST(envelope_golden_cases)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/vectors/envelope_cases.json", socp_test_srcdir());
    json_error_t jerr;
    json_t *cases = json_load_file(path, 0, &jerr);
    CHECK_MSG(cases != NULL, "cannot load %s: %s", path, jerr.text);
    size_t i, oks = 0, rejects = 0;
    json_t *c;
    socp_buf_t b;
    socp_buf_init(&b);
    json_array_foreach(cases, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const json_t *expect = json_object_get(c, "expect");
        const char *result = json_string_value(json_object_get(expect, "result"));
        CHECK(name && result);
        size_t len;
        char *text;
        if (json_object_get(c, "input_hex")) {
            text = s_unhex(json_string_value(json_object_get(c, "input_hex")), &len);
        } else {
            const json_t *in = json_object_get(c, "input");
            len = json_string_length(in);
            text = socp_memdup(json_string_value(in), len);
        }
        socp_envelope_t env;
        socp_envelope_error_t err;
        int rc = socp_envelope_parse(text, len, &env, &err);
        free(text);
        s_check_printable(err.detail);
        if (strcmp(result, "ok") != 0) {
            rejects++;
            CHECK_MSG(rc != 0, "%s: accepted, expected %s", name, result);
            CHECK_MSG(strcmp(socp_envelope_reason_name(err.reason), result) == 0,
                      "%s: reason %s (%s), expected %s", name,
                      socp_envelope_reason_name(err.reason), err.detail, result);
            const char *code = socp_envelope_code_name(socp_envelope_reason_code(err.reason));
            CHECK_STREQ(code, json_string_value(json_object_get(expect, "code")));
            CHECK_STREQ(socp_errname(rc), json_string_value(json_object_get(expect, "rc")));
            CHECK_MSG(err.detail[0] != '\0', "%s: empty detail", name);
            // A rejected parse leaves nothing to free.
            CHECK(env.payload == NULL && env.sig == NULL && env.type[0] == '\0');
            continue;
        }
        oks++;
        CHECK_MSG(rc == 0, "%s: rejected: %s", name, err.detail);
        CHECK_EQ(err.reason, SOCP_ENVELOPE_REASON_OK);
        const json_t *kind = json_object_get(expect, "kind");
        if (json_is_null(kind)) {
            CHECK_EQ(env.kind, SOCP_ENVELOPE_TYPE_UNKNOWN);
        } else {
            CHECK_MSG(env.kind != SOCP_ENVELOPE_TYPE_UNKNOWN, "%s: unknown kind", name);
            CHECK_STREQ(socp_envelope_type_name(env.kind), json_string_value(kind));
        }
        CHECK_STREQ(env.type, json_string_value(json_object_get(expect, "type")));
        CHECK_STREQ(env.from, json_string_value(json_object_get(expect, "from")));
        CHECK_STREQ(env.to, json_string_value(json_object_get(expect, "to")));
        CHECK_EQ(env.ts, json_integer_value(json_object_get(expect, "ts")));
        const json_t *sig = json_object_get(expect, "sig");
        if (json_is_null(sig)) {
            CHECK(env.sig == NULL);
        } else {
            CHECK_STREQ(env.sig, json_string_value(sig));
        }
        socp_buf_reset(&b);
        CHECK_OK(socp_json_canonical(env.payload, SOCP_JSON_CANON_ASCII, &b));
        const json_t *want = json_object_get(expect, "payload");
        CHECK_MSG(b.len == json_string_length(want) &&
                      memcmp(b.data, json_string_value(want), b.len) == 0,
                  "%s: payload %.*s, expected %s", name, (int) b.len, (const char *) b.data,
                  json_string_value(want));
        // Whatever parses (except the bare CTRL_CLOSE, which has empty ids)
        // emits and parses back to the same envelope.
        if (env.from[0] && env.to[0]) {
            socp_buf_reset(&b);
            CHECK_OK(socp_envelope_emit(&env, &b));
            socp_envelope_t back;
            socp_envelope_error_t back_err;
            rc = socp_envelope_parse((const char *) b.data, b.len, &back, &back_err);
            CHECK_MSG(rc == 0, "%s: emitted frame does not parse: %s", name, back_err.detail);
            s_check_same(&env, &back);
            socp_envelope_fini(&back);
        } else {
            socp_buf_reset(&b);
            CHECK_RC(socp_envelope_emit(&env, &b), SOCP_EINVAL);
        }
        socp_envelope_fini(&env);
    }
    CHECK(oks >= 60 && rejects >= 85);
    if (socp_test_verbose()) {
        printf("    %zu accepted, %zu rejected as expected\n", oks, rejects);
    }
    socp_buf_fini(&b);
    json_decref(cases);
}

// A valid envelope of exactly `size` bytes (size >= 200), padded in the payload.
static char *
s_frame_of_size(size_t size)
{
    const char *head = "{\"type\":\"FILE_CHUNK\",\"from\":\"a\",\"to\":\"b\",\"ts\":1,"
                       "\"payload\":{\"ciphertext\":\"";
    const char *tail = "\"}}";
    size_t pad = size - strlen(head) - strlen(tail);
    char *frame = socp_malloc(size);
    memcpy(frame, head, strlen(head));
    memset(frame + strlen(head), 'A', pad);
    memcpy(frame + strlen(head) + pad, tail, strlen(tail));
    return frame;
}

SOCP_TEST(envelope_accepts_1mib_and_rejects_one_byte_more)
{
    socp_envelope_t env;
    socp_envelope_error_t err;
    char *frame = s_frame_of_size(SOCP_ENVELOPE_MAX_BYTES);
    CHECK_OK(socp_envelope_parse(frame, SOCP_ENVELOPE_MAX_BYTES, &env, &err));
    CHECK_EQ(env.kind, SOCP_ENVELOPE_TYPE_FILE_CHUNK);
    // Too big to send: we never emit over 256 KiB, and out stays untouched.
    socp_buf_t b;
    socp_buf_init(&b);
    socp_buf_append(&b, "x", 1);
    CHECK_RC(socp_envelope_emit(&env, &b), SOCP_ETOOBIG);
    CHECK_EQ(b.len, 1);
    socp_buf_fini(&b);
    socp_envelope_fini(&env);
    free(frame);
    frame = s_frame_of_size(SOCP_ENVELOPE_MAX_BYTES + 1);
    CHECK_RC(socp_envelope_parse(frame, SOCP_ENVELOPE_MAX_BYTES + 1, &env, &err), SOCP_ETOOBIG);
    CHECK_EQ(err.reason, SOCP_ENVELOPE_REASON_TOO_BIG);
    CHECK_STREQ(socp_envelope_code_name(socp_envelope_reason_code(err.reason)), "UNKNOWN_TYPE");
    free(frame);
    CHECK_RC(socp_envelope_parse(NULL, 0, &env, &err), SOCP_EINVAL);
}

SOCP_TEST(envelope_emit_exact_bytes)
{
    json_t *payload =
        json_pack("{s:s,s:s,s:I}", "z", "\xc3\xa9/", "a", "x\ny", "ts", (json_int_t) 1700000000000);
    socp_envelope_t env;
    CHECK_OK(socp_envelope_init(&env, "MSG_DIRECT", "al\"ice", "bob", 1700000000001, payload));
    json_decref(payload); // the envelope holds its own reference
    CHECK_EQ(env.kind, SOCP_ENVELOPE_TYPE_MSG_DIRECT);
    socp_buf_t b;
    socp_buf_init(&b);
    CHECK_OK(socp_envelope_emit(&env, &b));
    const char *unsigned_frame =
        "{\"type\":\"MSG_DIRECT\",\"from\":\"al\\\"ice\",\"to\":\"bob\",\"ts\":1700000000001,"
        "\"payload\":{\"a\":\"x\\ny\",\"ts\":1700000000000,\"z\":\"\\u00e9/\"}}";
    CHECK_EQ(b.len, strlen(unsigned_frame));
    CHECK_MEMEQ(b.data, unsigned_frame, b.len);
    CHECK_OK(socp_envelope_set_sig(&env, "abc-_DEF"));
    socp_buf_reset(&b);
    CHECK_OK(socp_envelope_emit(&env, &b));
    CHECK_EQ(b.len, strlen(unsigned_frame) + strlen(",\"sig\":\"abc-_DEF\""));
    CHECK_MEMEQ(b.data + b.len - 18, ",\"sig\":\"abc-_DEF\"}", 18);
    // "" clears: never emitted as "sig":"".
    CHECK_OK(socp_envelope_set_sig(&env, ""));
    CHECK(env.sig == NULL);
    socp_buf_reset(&b);
    CHECK_OK(socp_envelope_emit(&env, &b));
    CHECK_EQ(b.len, strlen(unsigned_frame));
    CHECK_RC(socp_envelope_set_sig(&env, "not base64!"), SOCP_EINVAL);
    socp_buf_fini(&b);
    socp_envelope_fini(&env);
    socp_envelope_fini(&env); // idempotent
}

SOCP_TEST(envelope_init_validates_fields)
{
    socp_envelope_t env;
    CHECK_OK(socp_envelope_init(&env, "HEARTBEAT", "s1", "s2", 0, NULL));
    CHECK(json_is_object(env.payload) && json_object_size(env.payload) == 0);
    socp_envelope_fini(&env);
    CHECK_OK(socp_envelope_init(&env, "X_CUSTOM", "s1", "s2", 0, NULL));
    CHECK_EQ(env.kind, SOCP_ENVELOPE_TYPE_UNKNOWN);
    socp_envelope_fini(&env);
    json_t *arr = json_array();
    CHECK_RC(socp_envelope_init(&env, "HEARTBEAT", "s1", "s2", 0, arr), SOCP_EINVAL);
    json_decref(arr);
    CHECK_RC(socp_envelope_init(&env, "", "s1", "s2", 0, NULL), SOCP_EINVAL);
    CHECK_RC(socp_envelope_init(&env, "HEART BEAT", "s1", "s2", 0, NULL), SOCP_EINVAL);
    CHECK_RC(socp_envelope_init(&env, "HEARTBEAT", "", "s2", 0, NULL), SOCP_EINVAL);
    CHECK_RC(socp_envelope_init(&env, "HEARTBEAT", "s1", "s\n2", 0, NULL), SOCP_EINVAL);
    CHECK_RC(socp_envelope_init(&env, "HEARTBEAT", "s1", "s2", -1, NULL), SOCP_EINVAL);
    char long_id[SOCP_ENVELOPE_ID_MAX + 2];
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    CHECK_RC(socp_envelope_init(&env, "HEARTBEAT", long_id, "s2", 0, NULL), SOCP_EINVAL);
    CHECK(env.payload == NULL); // zeroed on failure
    // A hand-damaged envelope is refused by emit.
    CHECK_OK(socp_envelope_init(&env, "HEARTBEAT", "s1", "s2", 0, NULL));
    env.to[0] = '\0';
    socp_buf_t b;
    socp_buf_init(&b);
    CHECK_RC(socp_envelope_emit(&env, &b), SOCP_EINVAL);
    CHECK_EQ(b.len, 0);
    socp_buf_fini(&b);
    socp_envelope_fini(&env);
}

SOCP_TEST(envelope_emitted_frames_satisfy_python)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/frames.txt", socp_test_tmpdir());
    FILE *f = fopen(path, "wb");
    CHECK(f);
    json_t *p1 = json_pack("{s:s,s:s,s:s,s:I,s:s}", "ciphertext", "AbC-_x", "sender_pub", "k",
                           "content_sig", "s", "ts", (json_int_t) 1700000400000, "to", "bob");
    json_t *p2 =
        json_pack("{s:s,s:s,s:{s:s,s:[i,f]}}", "user_id", "\xf0\x9f\xa6\x8a u", "server_id", "s1",
                  "meta", "display_name", "Zo\xc3\xab\x7f\t", "n", 1, 2.5);
    json_t *p3 = json_object();
    struct {
        const char *type, *from, *to;
        json_t *payload;
        const char *sig;
    } frames[] = {
        {"USER_DELIVER", "s1", "bob", p1, "c2lnbmF0dXJl"},
        {"USER_ADVERTISE", "s1", "*", p2, "AAAA"},
        {"HEARTBEAT", "s1", "s2", p3, NULL},
        {"CTRL_CLOSE", "Zo\xc3\xab", "s/1", p3, ""},
    };
    socp_buf_t b;
    socp_buf_init(&b);
    for (size_t i = 0; i < SOCP_ARRAY_LEN(frames); i++) {
        socp_envelope_t env;
        CHECK_OK(socp_envelope_init(&env, frames[i].type, frames[i].from, frames[i].to,
                                    1700000000000 + (int64_t) i, frames[i].payload));
        CHECK_OK(socp_envelope_set_sig(&env, frames[i].sig));
        socp_buf_reset(&b);
        CHECK_OK(socp_envelope_emit(&env, &b));
        CHECK(memchr(b.data, '\n', b.len) == NULL);
        CHECK_EQ(fwrite(b.data, 1, b.len, f), b.len);
        fputc('\n', f);
        socp_envelope_fini(&env);
    }
    CHECK_EQ(fclose(f), 0);
    socp_buf_fini(&b);
    json_decref(p1);
    json_decref(p2);
    json_decref(p3);
    char out[256];
    const char *args[] = {path, NULL};
    int rc = socp_test_python("json_envelope_check.py", args, out, sizeof out);
    CHECK_MSG(rc == 0, "python says: %s", out);
    CHECK_STREQ(out, "4 ok\n");
    remove(path);
}

SOCP_TEST(envelope_type_and_code_tables)
{
    size_t named = 0;
    for (int t = 1; t < SOCP_ENVELOPE_TYPE_COUNT; t++) {
        const char *name = socp_envelope_type_name((socp_envelope_type_t) t);
        CHECK(name != NULL);
        CHECK_EQ(socp_envelope_type_lookup(name, strlen(name)), t);
        named++;
    }
    CHECK_EQ(named, 30); // every v1.3 type, LIST_REQUEST / LIST_RESPONSE, 7 of Impl14's
    CHECK(socp_envelope_type_name(SOCP_ENVELOPE_TYPE_UNKNOWN) == NULL);
    CHECK(socp_envelope_type_name(SOCP_ENVELOPE_TYPE_COUNT) == NULL);
    CHECK_EQ(socp_envelope_type_lookup("CMD_LIST", 8), SOCP_ENVELOPE_TYPE_LIST_REQUEST);
    CHECK_EQ(socp_envelope_type_lookup("USER_LIST_REQ", 13), SOCP_ENVELOPE_TYPE_LIST_REQUEST);
    CHECK_EQ(socp_envelope_type_lookup("MSG_PRIVATE", 11), SOCP_ENVELOPE_TYPE_MSG_DIRECT);
    CHECK_EQ(socp_envelope_type_lookup("MSG_DIRECTX", 11), SOCP_ENVELOPE_TYPE_UNKNOWN);
    CHECK_EQ(socp_envelope_type_lookup("MSG_DIRECT", 9), SOCP_ENVELOPE_TYPE_UNKNOWN);
    CHECK_EQ(socp_envelope_type_lookup(NULL, 0), SOCP_ENVELOPE_TYPE_UNKNOWN);

    static const char *const codes[] = {"USER_NOT_FOUND", "INVALID_SIG",  "BAD_KEY",
                                        "TIMEOUT",        "UNKNOWN_TYPE", "NAME_IN_USE"};
    for (size_t i = 0; i < SOCP_ARRAY_LEN(codes); i++) {
        socp_envelope_code_t code = socp_envelope_code_lookup(codes[i], strlen(codes[i]));
        CHECK(code != SOCP_ENVELOPE_CODE_NONE);
        CHECK_STREQ(socp_envelope_code_name(code), codes[i]);
    }
    CHECK_EQ(socp_envelope_code_lookup("user_not_found", 14), SOCP_ENVELOPE_CODE_NONE);
    CHECK(socp_envelope_code_name(SOCP_ENVELOPE_CODE_NONE) == NULL);

    // Every rejection maps to a standard code; the documented special cases.
    for (int r = 1; r < SOCP_ENVELOPE_REASON_COUNT; r++) {
        socp_envelope_reason_t reason = (socp_envelope_reason_t) r;
        CHECK(socp_envelope_code_name(socp_envelope_reason_code(reason)) != NULL);
        CHECK(strcmp(socp_envelope_reason_name(reason), "?") != 0);
        s_check_printable(socp_envelope_reason_text(reason));
    }
    CHECK_EQ(socp_envelope_reason_code(SOCP_ENVELOPE_REASON_OK), SOCP_ENVELOPE_CODE_NONE);
    CHECK_EQ(socp_envelope_reason_code(SOCP_ENVELOPE_REASON_TO_BAD),
             SOCP_ENVELOPE_CODE_USER_NOT_FOUND);
    CHECK_EQ(socp_envelope_reason_code(SOCP_ENVELOPE_REASON_SIG_BAD),
             SOCP_ENVELOPE_CODE_INVALID_SIG);
    CHECK_EQ(socp_envelope_reason_code(SOCP_ENVELOPE_REASON_TS_SKEW), SOCP_ENVELOPE_CODE_TIMEOUT);
    CHECK_EQ(socp_envelope_reason_code(SOCP_ENVELOPE_REASON_TYPE_BAD),
             SOCP_ENVELOPE_CODE_UNKNOWN_TYPE);
    CHECK_STREQ(socp_envelope_reason_name((socp_envelope_reason_t) 999), "?");
}

SOCP_TEST(envelope_check_ts_window)
{
    socp_envelope_t env;
    CHECK_OK(socp_envelope_init(&env, "HEARTBEAT", "s1", "s2", 1700000000000, NULL));
    socp_envelope_error_t err;
    const int64_t ten_min = 10 * 60 * 1000;
    CHECK_OK(socp_envelope_check_ts(&env, 1700000000000 + ten_min, ten_min, &err));
    CHECK_OK(socp_envelope_check_ts(&env, 1700000000000 - ten_min, ten_min, &err));
    CHECK_EQ(err.reason, SOCP_ENVELOPE_REASON_OK);
    CHECK_RC(socp_envelope_check_ts(&env, 1700000000000 + ten_min + 1, ten_min, &err),
             SOCP_ETIMEDOUT);
    CHECK_EQ(err.reason, SOCP_ENVELOPE_REASON_TS_SKEW);
    CHECK_STREQ(socp_envelope_code_name(socp_envelope_reason_code(err.reason)), "TIMEOUT");
    s_check_printable(err.detail);
    CHECK_RC(socp_envelope_check_ts(&env, 1700000000000 - ten_min - 1, ten_min, NULL),
             SOCP_ETIMEDOUT);
    CHECK_RC(socp_envelope_check_ts(&env, 0, -1, NULL), SOCP_EINVAL);
    env.ts = INT64_MAX; // no overflow at the extremes
    CHECK_RC(socp_envelope_check_ts(&env, INT64_MIN, ten_min, NULL), SOCP_ETIMEDOUT);
    CHECK_OK(socp_envelope_check_ts(&env, INT64_MAX, 0, NULL));
    socp_envelope_fini(&env);
}

// Impl14's account frames carry no from / to (or "to": "") and sometimes no
// payload: refused by default, read with SOCP_ENVELOPE_PARSE_NO_ADDR.
SOCP_TEST(envelope_parse_no_addr)
{
    const char *reg = "{\"type\":\"USER_REGISTER\",\"ts\":5,\"payload\":{\"user_id\":\"bob\"}}";
    const char *list = "{\"type\":\"LIST_REQUEST\",\"ts\":5}";
    const char *hello = "{\"type\":\"USER_HELLO\",\"from\":\"bob\",\"to\":\"\",\"ts\":5,"
                        "\"payload\":{}}";
    socp_envelope_t e;
    CHECK_RC(socp_envelope_parse(reg, strlen(reg), &e, NULL), SOCP_EPROTO);
    CHECK_RC(socp_envelope_parse(hello, strlen(hello), &e, NULL), SOCP_EPROTO);
    CHECK_OK(socp_envelope_parse_ex(reg, strlen(reg), SOCP_ENVELOPE_PARSE_NO_ADDR, &e, NULL));
    CHECK_EQ(e.kind, SOCP_ENVELOPE_TYPE_USER_REGISTER);
    CHECK_STREQ(e.from, "");
    CHECK_STREQ(e.to, "");
    CHECK_STREQ(json_string_value(json_object_get(e.payload, "user_id")), "bob");
    socp_envelope_fini(&e);
    CHECK_OK(socp_envelope_parse_ex(list, strlen(list), SOCP_ENVELOPE_PARSE_NO_ADDR, &e, NULL));
    CHECK(json_is_object(e.payload));
    socp_envelope_fini(&e);
    CHECK_OK(socp_envelope_parse_ex(hello, strlen(hello), SOCP_ENVELOPE_PARSE_NO_ADDR, &e, NULL));
    CHECK_STREQ(e.from, "bob");
    socp_envelope_fini(&e);
}
