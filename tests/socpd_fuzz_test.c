// socpd_fuzz_test.c: a fuzzer that drives a real socpd over real sockets.
//
// It starts socpd (from the same build dir: under the ASan test run that is
// an ASan+UBSan socpd), keeps up to S_SLOTS connections open, and sends
// mutated versions of a corpus of real, signed frames (USER_HELLO,
// MSG_DIRECT, LIST_REQUEST, MSG_PUBLIC_CHANNEL, FILE_*, HEARTBEAT,
// CTRL_CLOSE, SERVER_HELLO_JOIN/LINK, USER_ADVERTISE/REMOVE, SERVER_DELIVER,
// SERVER_ANNOUNCE): byte flips, truncation, splices, duplicate keys, huge
// numbers, deep nesting, wrong types, bad UTF-8 and escapes, oversized
// frames; and at the WebSocket level random opcodes, RSV bits, length forms,
// missing masks, fragments, control frames over 125 bytes, bad close codes,
// and HTTP upgrade garbage; connections end at random points (clean close,
// abrupt close, RST, in the middle of a frame).
//
// After every batch a well-formed user must still get a LIST_RESPONSE; at the
// end socpd must stop on SIGTERM with exit status 0 (an ASan or UBSan finding
// aborts it instead). The short case runs ~4 s; `SOCPD_FUZZ_SECONDS=N` makes
// it run N seconds (scripts/fuzz.sh does that for `make fuzz`), and
// `SOCPD_FUZZ_SEED` replays a run (the seed is printed on failure).
#include "socpd_test.h"
#include "socp/socp_sig.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_SLOTS     12
#define S_NUSERS    6
#define S_CHECKER   "c0c0c0c0-0000-4000-8000-00000000c0c0"
#define S_FAKE_SRV  "f0f0f0f0-0000-4000-8000-00000000f0f0"
#define S_FRAME_MAX (1100u * 1024u)

typedef struct {
    uint64_t s;
} s_rng_t;

static uint64_t
s_rand(s_rng_t *r)
{
    // xorshift64*
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}

static size_t
s_below(s_rng_t *r, size_t n)
{
    return n ? (size_t) (s_rand(r) % n) : 0;
}

static bool
s_chance(s_rng_t *r, unsigned percent)
{
    return s_below(r, 100) < percent;
}

// ---- corpus -------------------------------------------------------------------

typedef struct {
    char *text;
    size_t len;
} s_frame_t;

typedef struct {
    s_frame_t *v;
    size_t n, cap;
} s_corpus_t;

static void
s_corpus_add(s_corpus_t *c, const char *text, size_t len)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 32;
        c->v = realloc(c->v, c->cap * sizeof *c->v);
        CHECK(c->v);
    }
    c->v[c->n].text = malloc(len + 1);
    CHECK(c->v[c->n].text);
    memcpy(c->v[c->n].text, text, len);
    c->v[c->n].text[len] = '\0';
    c->v[c->n].len = len;
    c->n++;
}

static void
s_corpus_free(s_corpus_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].text);
    }
    free(c->v);
    memset(c, 0, sizeof *c);
}

// Builds a signed (or unsigned) frame and adds it. Steals payload.
static void
s_build(s_corpus_t *c,
        socp_rsa_key_t *key,
        const char *type,
        const char *from,
        const char *to,
        int64_t ts,
        json_t *payload)
{
    socp_envelope_t env;
    CHECK_OK(socp_envelope_init(&env, type, from, to, ts, payload));
    json_decref(payload);
    if (key) {
        char *sig = NULL;
        CHECK_OK(socp_sig_sign_payload(key, SOCP_RSA_SALT_32, env.payload, &sig));
        CHECK_OK(socp_envelope_set_sig(&env, sig));
        free(sig);
    }
    socp_buf_t b;
    socp_buf_init(&b);
    CHECK_OK(socp_envelope_emit(&env, &b));
    s_corpus_add(c, (const char *) b.data, b.len);
    socp_buf_fini(&b);
    socp_envelope_fini(&env);
}

static void
s_user_id(char out[40], size_t i)
{
    snprintf(out, 40, "0000000%zu-fuzz-4000-8000-0000000000%02zu", i % 10, i);
    // Keep the UUID shape valid: replace "fuzz" by hex.
    memcpy(out + 9, "f022", 4);
}

typedef struct {
    s_corpus_t hello;  // USER_HELLO per pool user
    s_corpus_t user;   // frames a user sends after the hello
    s_corpus_t server; // frames from the fake server (after SERVER_HELLO_JOIN)
    s_corpus_t join;   // SERVER_HELLO_JOIN / SERVER_HELLO_LINK
} s_corpora_t;

static void
s_corpora_build(s_corpora_t *k, const char *server_id, uint16_t port)
{
    memset(k, 0, sizeof *k);
    sd_client_t u;
    memset(&u, 0, sizeof u);
    u.key = sd_fixture_key("rsa4096_4p_b.pem");
    CHECK_OK(socp_rsa_public_export(u.key, SOCP_RSA_PUB_B64_DER, &u.pub));
    socp_rsa_key_t *srv = sd_fixture_key("rsa4096_2p_b.pem");
    char *srv_pub = NULL;
    CHECK_OK(socp_rsa_public_export(srv, SOCP_RSA_PUB_B64_DER, &srv_pub));
    int64_t now = socp_wall_ms();
    char ids[S_NUSERS][40];
    for (size_t i = 0; i < S_NUSERS; i++) {
        s_user_id(ids[i], i);
        s_build(&k->hello, u.key, "USER_HELLO", ids[i], server_id, now,
                json_pack("{s:s, s:s, s:s, s:{s:s}}", "client", "fuzz", "pubkey", u.pub,
                          "enc_pubkey", u.pub, "meta", "display_name", ids[i]));
    }
    for (size_t i = 0; i < 3; i++) {
        const char *from = ids[i];
        const char *to = ids[(i + 1) % S_NUSERS];
        snprintf(u.id, sizeof u.id, "%.40s", from);
        int64_t ts = now + (int64_t) i;
        s_build(&k->user, u.key, "MSG_DIRECT", from, to, ts, sd_dm_payload(&u, to, ts, "Y2lwaGVy"));
        s_build(&k->user, u.key, "LIST_REQUEST", from, server_id, ts, json_object());
        s_build(&k->user, u.key, "MSG_PUBLIC_CHANNEL", from, "public", ts,
                json_pack("{s:s, s:s}", "ciphertext", "cHVi", "group", "public"));
        s_build(&k->user, u.key, "FILE_START", from, to, ts,
                json_pack("{s:s, s:s, s:i, s:s, s:s}", "file_id", "f1", "name", "a.txt", "size", 2,
                          "sha256", "00", "mode", "dm"));
        s_build(&k->user, u.key, "FILE_CHUNK", from, to, ts + 1,
                json_pack("{s:s, s:i, s:s}", "file_id", "f1", "index", 0, "ciphertext", "eA"));
        s_build(&k->user, u.key, "FILE_END", from, to, ts + 2, json_pack("{s:s}", "file_id", "f1"));
        s_build(&k->user, NULL, "HEARTBEAT", from, server_id, ts, json_object());
        s_build(&k->user, u.key, "ACK", from, server_id, ts, json_pack("{s:s}", "msg_ref", "x"));
        s_build(&k->user, u.key, "SOMETHING_ELSE", from, to, ts, json_object());
        s_build(&k->user, u.key, "SERVER_DELIVER", from, to, ts,
                json_pack("{s:s, s:s}", "user_id", to, "ciphertext", "eA"));
    }
    s_build(&k->user, u.key, "CTRL_CLOSE", ids[0], server_id, now, json_object());
    char hostport[64];
    snprintf(hostport, sizeof hostport, "127.0.0.1:%u", (unsigned) port);
    s_build(&k->join, srv, "SERVER_HELLO_JOIN", S_FAKE_SRV, hostport, now,
            json_pack("{s:s, s:i, s:s}", "host", "127.0.0.1", "port", 1, "pubkey", srv_pub));
    s_build(&k->join, srv, "SERVER_HELLO_LINK", S_FAKE_SRV, server_id, now,
            json_pack("{s:s, s:i, s:s}", "host", "127.0.0.1", "port", 1, "pubkey", srv_pub));
    const char *remote = "7e7e7e7e-0000-4000-8000-000000007e7e";
    s_build(&k->server, srv, "USER_ADVERTISE", S_FAKE_SRV, "*", now,
            json_pack("{s:s, s:s, s:s, s:{s:s}}", "user_id", remote, "server_id", S_FAKE_SRV,
                      "pubkey", u.pub, "meta", "display_name", "remote"));
    s_build(&k->server, srv, "USER_REMOVE", S_FAKE_SRV, "*", now + 1,
            json_pack("{s:s, s:s}", "user_id", remote, "server_id", S_FAKE_SRV));
    snprintf(u.id, sizeof u.id, "%.40s", remote);
    json_t *dp = sd_dm_payload(&u, ids[0], now, "ZnJvbS1yZW1vdGU");
    json_object_set_new(dp, "user_id", json_string(ids[0]));
    json_object_set_new(dp, "sender", json_string(remote));
    json_object_set_new(dp, "ts", json_integer(now));
    s_build(&k->server, srv, "SERVER_DELIVER", S_FAKE_SRV, server_id, now, dp);
    s_build(&k->server, srv, "SERVER_DELIVER", S_FAKE_SRV, server_id, now + 1,
            json_pack("{s:s, s:s, s:s}", "user_id", ids[1], "kind", "FILE_END", "frame",
                      k->user.v[5].text));
    s_build(&k->server, srv, "SERVER_ANNOUNCE", "a0a0a0a0-0000-4000-8000-00000000a0a0", "*", now,
            json_pack("{s:s, s:i, s:s}", "host", "127.0.0.1", "port", 1, "pubkey", srv_pub));
    s_build(&k->server, srv, "HEARTBEAT", S_FAKE_SRV, "*", now, json_object());
    s_build(&k->server, srv, "SERVER_WELCOME", S_FAKE_SRV, server_id, now,
            json_pack("{s:s, s:[], s:[]}", "assigned_id", S_FAKE_SRV, "servers", "clients"));
    s_corpus_add(&k->server, k->user.v[2].text, k->user.v[2].len); // MSG_PUBLIC_CHANNEL relayed
    free(srv_pub);
    socp_rsa_destroy(&srv);
    socp_rsa_destroy(&u.key);
    free(u.pub);
}

static void
s_corpora_free(s_corpora_t *k)
{
    s_corpus_free(&k->hello);
    s_corpus_free(&k->user);
    s_corpus_free(&k->server);
    s_corpus_free(&k->join);
}

// ---- mutations ------------------------------------------------------------------

typedef struct {
    char *d;
    size_t len, cap;
} s_text_t;

static void
s_text_reserve(s_text_t *t, size_t n)
{
    if (n + 1 > t->cap) {
        t->cap = (n + 1) * 2;
        t->d = realloc(t->d, t->cap);
        CHECK(t->d);
    }
}

static void
s_text_set(s_text_t *t, const char *s, size_t n)
{
    s_text_reserve(t, n);
    memcpy(t->d, s, n);
    t->len = n;
}

static void
s_text_splice(s_text_t *t, size_t at, size_t del, const char *ins, size_t n)
{
    if (at > t->len) {
        at = t->len;
    }
    if (del > t->len - at) {
        del = t->len - at;
    }
    if (t->len - del + n > S_FRAME_MAX) {
        return;
    }
    s_text_reserve(t, t->len - del + n);
    memmove(t->d + at + n, t->d + at + del, t->len - at - del);
    memcpy(t->d + at, ins, n);
    t->len = t->len - del + n;
}

static const char *const s_tokens[] = {"{",
                                       "}",
                                       "[",
                                       "]",
                                       "\"",
                                       ",",
                                       ":",
                                       "\\",
                                       "\\u0000",
                                       "\\ud800",
                                       "\\udc00\\ud800",
                                       "\\u",
                                       "\xff",
                                       "\xc0\x80",
                                       "\xed\xa0\x80",
                                       "\xf4\x90\x80\x80",
                                       "\x00",
                                       " ",
                                       "\t\r\n",
                                       "null",
                                       "true",
                                       "false",
                                       "-0",
                                       "0e",
                                       "1e999999",
                                       "-1e-999999",
                                       "99999999999999999999999999",
                                       "-9223372036854775809",
                                       "9223372036854775807",
                                       "18446744073709551616",
                                       "0.1",
                                       "1.0",
                                       "-",
                                       "\"type\":",
                                       "\"from\":",
                                       "\"to\":",
                                       "\"ts\":",
                                       "\"payload\":",
                                       "\"sig\":",
                                       "\"pubkey\":",
                                       "\"user_id\":",
                                       "\"ciphertext\":",
                                       "\"frame\":",
                                       "\"port\":",
                                       "\"host\":",
                                       "\"*\"",
                                       "\"public\"",
                                       "\"USER_HELLO\"",
                                       "\"SERVER_HELLO_JOIN\"",
                                       "\"SERVER_DELIVER\"",
                                       "\"LIST_REQUEST\"",
                                       "\"" S_FAKE_SRV "\"",
                                       "\"" S_CHECKER "\""};

static const char *const s_values[] = {"null",
                                       "true",
                                       "0",
                                       "-1",
                                       "1e308",
                                       "1e999",
                                       "-9223372036854775808",
                                       "99999999999999999999999",
                                       "1.5",
                                       "\"\"",
                                       "\"x\"",
                                       "[]",
                                       "{}",
                                       "[1,2,3]",
                                       "{\"a\":{}}",
                                       "\"\\u0000\"",
                                       "\"\\ud800\"",
                                       "\"" S_CHECKER "\"",
                                       "\"" S_FAKE_SRV "\"",
                                       "\"*\"",
                                       "\"public\"",
                                       "65535",
                                       "65536",
                                       "\"127.0.0.1\""};

static const char *const s_keys[] = {
    "type",   "from",    "to",          "ts",     "payload",    "sig",
    "pubkey", "user_id", "server_id",   "meta",   "ciphertext", "frame",
    "host",   "port",    "content_sig", "sender", "assigned_id"};

// Appends depth levels of nesting around a value: [[[...0...]]] or {"a":{...}}.
static void
s_nest(s_text_t *out, s_rng_t *r, size_t depth)
{
    bool obj = s_chance(r, 50);
    out->len = 0;
    size_t per = obj ? 5 : 1;
    s_text_reserve(out, depth * per * 2 + 2);
    for (size_t i = 0; i < depth; i++) {
        memcpy(out->d + out->len, obj ? "{\"a\":" : "[", per);
        out->len += per;
    }
    out->d[out->len++] = '0';
    for (size_t i = 0; i < depth; i++) {
        out->d[out->len++] = obj ? '}' : ']';
    }
}

// Finds the position after the n-th occurrence of `":` (a value start).
static bool
s_value_at(const s_text_t *t, s_rng_t *r, size_t *start, size_t *end)
{
    size_t count = 0;
    for (size_t i = 0; i + 1 < t->len; i++) {
        if (t->d[i] == '"' && t->d[i + 1] == ':') {
            count++;
        }
    }
    if (!count) {
        return false;
    }
    size_t want = s_below(r, count), seen = 0;
    for (size_t i = 0; i + 1 < t->len; i++) {
        if (t->d[i] == '"' && t->d[i + 1] == ':') {
            if (seen++ == want) {
                *start = i + 2;
                // End: the next ',' or '}' outside a string (approximate).
                bool in_str = false;
                int depth = 0;
                size_t j = *start;
                for (; j < t->len; j++) {
                    char ch = t->d[j];
                    if (in_str) {
                        if (ch == '\\') {
                            j++;
                        } else if (ch == '"') {
                            in_str = false;
                        }
                    } else if (ch == '"') {
                        in_str = true;
                    } else if (ch == '{' || ch == '[') {
                        depth++;
                    } else if (ch == '}' || ch == ']') {
                        if (depth == 0) {
                            break;
                        }
                        depth--;
                    } else if (ch == ',' && depth == 0) {
                        break;
                    }
                }
                *end = j;
                return true;
            }
        }
    }
    return false;
}

static void
s_mutate(s_text_t *t, s_rng_t *r, const s_corpora_t *k)
{
    size_t rounds = 1 + s_below(r, 3);
    s_text_t tmp = {0};
    for (size_t n = 0; n < rounds; n++) {
        switch (s_below(r, 12)) {
            case 0: // flip bytes
                for (size_t i = 0, m = 1 + s_below(r, 4); i < m && t->len; i++) {
                    t->d[s_below(r, t->len)] ^= (char) (1u << s_below(r, 8));
                }
                break;
            case 1: // truncate
                t->len = s_below(r, t->len + 1);
                break;
            case 2: { // insert a token
                const char *tok = s_tokens[s_below(r, SOCP_ARRAY_LEN(s_tokens))];
                size_t tl = strlen(tok) ? strlen(tok) : 1; // "\x00" is one NUL
                s_text_splice(t, s_below(r, t->len + 1), 0, tok, tl);
                break;
            }
            case 3: { // duplicate key right after the first '{'
                const char *key = s_keys[s_below(r, SOCP_ARRAY_LEN(s_keys))];
                const char *val = s_values[s_below(r, SOCP_ARRAY_LEN(s_values))];
                char ins[256];
                int l = snprintf(ins, sizeof ins, "\"%s\":%s,", key, val);
                const char *brace = memchr(t->d, '{', t->len);
                size_t at = brace ? (size_t) (brace - t->d) + 1 : 0;
                s_text_splice(t, at, 0, ins, (size_t) l);
                break;
            }
            case 4: { // replace a value by one of another type
                size_t a, b;
                if (s_value_at(t, r, &a, &b)) {
                    const char *val = s_values[s_below(r, SOCP_ARRAY_LEN(s_values))];
                    s_text_splice(t, a, b - a, val, strlen(val));
                }
                break;
            }
            case 5: { // replace a value by deep nesting
                size_t a, b;
                if (s_value_at(t, r, &a, &b)) {
                    size_t depth =
                        s_chance(r, 70) ? 10 + s_below(r, 200) : 1000 + s_below(r, 100000);
                    s_nest(&tmp, r, depth);
                    s_text_splice(t, a, b - a, tmp.d, tmp.len);
                }
                break;
            }
            case 6: { // huge string or number in a value
                size_t a, b;
                if (s_value_at(t, r, &a, &b)) {
                    size_t len =
                        s_chance(r, 80) ? 1 + s_below(r, 5000) : 60000 + s_below(r, 1100000);
                    bool num = s_chance(r, 40);
                    s_text_reserve(&tmp, len + 2);
                    tmp.len = 0;
                    if (!num) {
                        tmp.d[tmp.len++] = '"';
                    }
                    memset(tmp.d + tmp.len, num ? '9' : 'A', len);
                    tmp.len += len;
                    if (!num) {
                        tmp.d[tmp.len++] = '"';
                    }
                    s_text_splice(t, a, b - a, tmp.d, tmp.len);
                }
                break;
            }
            case 7: { // splice with another corpus frame
                const s_corpus_t *c = s_chance(r, 50) ? &k->user : &k->server;
                const s_frame_t *o = &c->v[s_below(r, c->n)];
                size_t cut = s_below(r, t->len + 1), from = s_below(r, o->len + 1);
                t->len = cut;
                s_text_splice(t, cut, 0, o->text + from, o->len - from);
                break;
            }
            case 8: // repeat a slice
                if (t->len) {
                    size_t a = s_below(r, t->len), l = 1 + s_below(r, t->len - a);
                    s_text_set(&tmp, t->d + a, l);
                    s_text_splice(t, s_below(r, t->len + 1), 0, tmp.d, tmp.len);
                }
                break;
            case 9: // delete a slice
                if (t->len) {
                    size_t a = s_below(r, t->len);
                    s_text_splice(t, a, 1 + s_below(r, t->len - a), "", 0);
                }
                break;
            case 10: // random bytes
                for (size_t i = 0, m = 1 + s_below(r, 16); i < m; i++) {
                    char ch = (char) s_rand(r);
                    s_text_splice(t, s_below(r, t->len + 1), 0, &ch, 1);
                }
                break;
            default: // unchanged (valid frames reach the deep paths)
                break;
        }
    }
    free(tmp.d);
}

// ---- WebSocket framing by hand ------------------------------------------------------

typedef struct {
    uint8_t *d;
    size_t len, cap;
} s_bytes_t;

static void
s_bytes_add(s_bytes_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->d = realloc(b->d, b->cap);
        CHECK(b->d);
    }
    memcpy(b->d + b->len, p, n);
    b->len += n;
}

// Appends one frame. form: 0 minimal length, 1 forced 16-bit, 2 forced 64-bit,
// 3 declared length differs from the payload sent.
static void
s_ws_frame(s_bytes_t *b,
           s_rng_t *r,
           uint8_t opcode,
           bool fin,
           uint8_t rsv,
           bool mask,
           int form,
           const void *payload,
           size_t len)
{
    uint8_t h[14];
    size_t hl = 0;
    h[hl++] = (uint8_t) ((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f));
    uint64_t declared = len;
    if (form == 3) {
        declared = s_chance(r, 50) ? s_rand(r) : len + s_below(r, 64);
        if (s_chance(r, 30)) {
            declared &= 0x7fffffffffffffffULL;
        }
        form = declared < 126 ? 0 : declared < 65536 ? 1 : 2;
    }
    uint8_t mbit = mask ? 0x80 : 0;
    if (form == 0 && declared < 126) {
        h[hl++] = (uint8_t) (mbit | declared);
    } else if (form <= 1 && declared < 65536) {
        h[hl++] = mbit | 126;
        h[hl++] = (uint8_t) (declared >> 8);
        h[hl++] = (uint8_t) declared;
    } else {
        h[hl++] = mbit | 127;
        for (int i = 7; i >= 0; i--) {
            h[hl++] = (uint8_t) (declared >> (8 * i));
        }
    }
    uint8_t key[4] = {0};
    if (mask) {
        uint64_t k = s_rand(r);
        memcpy(key, &k, 4);
        memcpy(h + hl, key, 4);
        hl += 4;
    }
    s_bytes_add(b, h, hl);
    size_t at = b->len;
    s_bytes_add(b, payload, len);
    if (mask) {
        for (size_t i = 0; i < len; i++) {
            b->d[at + i] ^= key[i & 3];
        }
    }
}

// A well-formed masked text frame.
static void
s_ws_text(s_bytes_t *b, s_rng_t *r, const char *text, size_t len)
{
    s_ws_frame(b, r, 1, true, 0, true, 0, text, len);
}

// Random WebSocket-level chaos around a payload.
static void
s_ws_chaos(s_bytes_t *b, s_rng_t *r, const char *text, size_t len)
{
    switch (s_below(r, 10)) {
        case 0: { // random opcode, rsv, mask, length form
            s_ws_frame(b, r, (uint8_t) s_below(r, 16), s_chance(r, 70), (uint8_t) s_below(r, 8),
                       s_chance(r, 80), (int) s_below(r, 4), text, len);
            break;
        }
        case 1: { // fragmented text, sometimes with a control frame in between
            size_t cut = s_below(r, len + 1);
            s_ws_frame(b, r, 1, false, 0, true, 0, text, cut);
            if (s_chance(r, 50)) {
                s_ws_frame(b, r, (uint8_t) (8 + s_below(r, 3)), true, 0, true, 0, "pp", 2);
            }
            if (s_chance(r, 20)) {
                s_ws_frame(b, r, 1, true, 0, true, 0, text, len); // new message mid-fragment
            }
            s_ws_frame(b, r, 0, s_chance(r, 80), 0, true, 0, text + cut, len - cut);
            break;
        }
        case 2: // continuation without a start
            s_ws_frame(b, r, 0, true, 0, true, 0, text, len);
            break;
        case 3: { // control frame over 125 bytes, or fragmented control frame
            uint8_t op = (uint8_t) (8 + s_below(r, 3));
            s_ws_frame(b, r, op, s_chance(r, 50), 0, true, s_chance(r, 50) ? 1 : 0, text,
                       len > 300 ? 300 : len);
            break;
        }
        case 4: { // close with a random code and reason (possibly bad UTF-8 / 1 byte)
            uint8_t p[40];
            size_t pl = s_below(r, sizeof p);
            for (size_t i = 0; i < pl; i++) {
                p[i] = (uint8_t) s_rand(r);
            }
            s_ws_frame(b, r, 8, true, 0, true, 0, p, pl);
            break;
        }
        case 5: // unmasked client frame
            s_ws_frame(b, r, 1, true, 0, false, 0, text, len);
            break;
        case 6: { // binary, ping, pong
            s_ws_frame(b, r, (uint8_t) (s_chance(r, 50) ? 2 : 9 + s_below(r, 2)), true, 0, true, 0,
                       text, len > 125 ? 125 : len);
            break;
        }
        case 7: { // text with invalid UTF-8 inside
            s_bytes_t t = {0};
            s_bytes_add(&t, text, len);
            if (t.len) {
                t.d[s_below(r, t.len)] = (uint8_t) (0x80 + s_below(r, 0x80));
            }
            s_ws_frame(b, r, 1, true, 0, true, 0, t.d, t.len);
            free(t.d);
            break;
        }
        case 8: { // raw random bytes
            for (size_t i = 0, m = 1 + s_below(r, 64); i < m; i++) {
                uint8_t ch = (uint8_t) s_rand(r);
                s_bytes_add(b, &ch, 1);
            }
            break;
        }
        default: // lying length
            s_ws_frame(b, r, 1, true, 0, true, 3, text, len);
            break;
    }
}

// ---- connections ----------------------------------------------------------------------

typedef enum { S_M_USER, S_M_SERVER, S_M_RAW, S_M_WS, S_M_HTTP } s_mode_t;

typedef struct {
    int fd; // -1: empty
    s_mode_t mode;
} s_slot_t;

typedef struct {
    s_rng_t rng;
    uint16_t port;
    s_corpora_t k;
    s_slot_t slots[S_SLOTS];
    sd_client_t checker;
    uint64_t conns, frames, bytes, checks;
} s_fuzz_t;

static socp_tcp_conn_t *s_checker_conn; // the health-check user, read while we wait

static void
s_checker_read(void)
{
    if (!s_checker_conn) {
        return;
    }
    // Keep reading so the checker is never dropped as a slow reader (it may
    // be sent ~1 MiB frames: fuzzed SERVER_DELIVERs can name it).
    if (socp_tcp_conn_pump(s_checker_conn, 0) != 0) {
        return; // closed: the next check reports it
    }
    socp_ws_msg_t m;
    while (socp_tcp_conn_next(s_checker_conn, &m) == 0) {
    }
}

static void
s_drain(int fd)
{
    char buf[16384];
    for (int i = 0; i < 64; i++) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) {
            return;
        }
    }
}

// Writes everything (draining input meanwhile) or gives up: false when the
// connection is unusable (closed by the server, or stuck for 2 s).
static bool
s_write_all(int fd, const uint8_t *p, size_t n)
{
    uint64_t deadline = socp_now_ms() + 2000;
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(fd, p + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            off += (size_t) w;
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            if (socp_now_ms() > deadline) {
                return false;
            }
            struct pollfd pf = {.fd = fd, .events = POLLOUT | POLLIN};
            (void) poll(&pf, 1, 50);
            s_drain(fd);
            s_checker_read();
            continue;
        }
        return false;
    }
    return true;
}

static void
s_slot_close(s_fuzz_t *f, s_slot_t *s)
{
    if (s->fd < 0) {
        return;
    }
    switch (s_below(&f->rng, 4)) {
        case 0: { // RST
            struct linger l = {.l_onoff = 1, .l_linger = 0};
            (void) setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            break;
        }
        case 1: { // polite close frame
            s_bytes_t b = {0};
            s_ws_frame(&b, &f->rng, 8, true, 0, true, 0, "\x03\xe8", 2);
            (void) s_write_all(s->fd, b.d, b.len);
            free(b.d);
            break;
        }
        case 2: // half close
            (void) shutdown(s->fd, SHUT_WR);
            s_drain(s->fd);
            break;
        default:
            break;
    }
    close(s->fd);
    s->fd = -1;
}

static const char s_upgrade[] = "GET / HTTP/1.1\r\n"
                                "Host: 127.0.0.1\r\n"
                                "Upgrade: websocket\r\n"
                                "Connection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                "Sec-WebSocket-Version: 13\r\n"
                                "\r\n";

// Opens a slot: mostly a completed WebSocket handshake; sometimes a raw TCP
// connection that sends a mutated HTTP upgrade.
static void
s_slot_open(s_fuzz_t *f, s_slot_t *s)
{
    s_rng_t *r = &f->rng;
    size_t pick = s_below(r, 100);
    s->mode = pick < 45   ? S_M_USER
              : pick < 60 ? S_M_SERVER
              : pick < 75 ? S_M_RAW
              : pick < 92 ? S_M_WS
                          : S_M_HTTP;
    f->conns++;
    if (s->mode == S_M_HTTP) {
        int fd = -1;
        if (socp_tcp_connect("127.0.0.1", f->port, &fd) != 0) {
            return;
        }
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        if (poll(&pf, 1, 2000) != 1) {
            close(fd);
            return;
        }
        s_text_t t = {0};
        s_text_set(&t, s_upgrade, sizeof s_upgrade - 1);
        for (size_t i = 0, m = 1 + s_below(r, 4); i < m; i++) {
            switch (s_below(r, 5)) {
                case 0:
                    t.d[s_below(r, t.len)] = (char) s_rand(r);
                    break;
                case 1:
                    t.len = s_below(r, t.len + 1);
                    break;
                case 2: { // a long header line
                    const char *h = s_chance(r, 50) ? "X-Long: " : "Sec-WebSocket-Key: ";
                    size_t n = s_below(r, 20000), hl = strlen(h);
                    char *line = malloc(hl + n + 2);
                    CHECK(line);
                    memcpy(line, h, hl);
                    memset(line + hl, 'k', n);
                    memcpy(line + hl + n, "\r\n", 2);
                    s_text_splice(&t, t.len < 16 ? t.len : 16, 0, line, hl + n + 2);
                    free(line);
                    break;
                }
                case 3:
                    s_text_splice(&t, s_below(r, t.len + 1), 0, "\r\n\r\n", 4);
                    break;
                default:
                    s_text_splice(&t, s_below(r, t.len + 1), 0, "\0\xff", 2);
                    break;
            }
        }
        bool ok = s_write_all(fd, (const uint8_t *) t.d, t.len);
        free(t.d);
        s->fd = fd;
        if (!ok) {
            s_slot_close(f, s);
        }
        return;
    }
    socp_tcp_conn_t *conn = NULL;
    if (socp_tcp_ws_connect("127.0.0.1", f->port, NULL, 5000, &conn) != 0) {
        return;
    }
    // Take the socket over from the session: from now on bytes are ours.
    int fd = dup(socp_tcp_conn_fd(conn));
    socp_tcp_conn_destroy(&conn);
    CHECK(fd >= 0);
    s->fd = fd;
    s_bytes_t b = {0};
    if (s->mode == S_M_USER) {
        const s_frame_t *h = &f->k.hello.v[s_below(r, f->k.hello.n)];
        s_ws_text(&b, r, h->text, h->len);
    } else if (s->mode == S_M_SERVER) {
        const s_frame_t *h = &f->k.join.v[s_chance(r, 85) ? 0 : 1];
        s_ws_text(&b, r, h->text, h->len);
    }
    if (b.len && !s_write_all(fd, b.d, b.len)) {
        s_slot_close(f, s);
    }
    free(b.d);
}

// Sends a burst of mutated frames on a slot; may end the connection mid-frame.
static void
s_slot_burst(s_fuzz_t *f, s_slot_t *s)
{
    s_rng_t *r = &f->rng;
    if (s->mode == S_M_HTTP) {
        s_drain(s->fd);
        s_slot_close(f, s);
        return;
    }
    s_text_t t = {0};
    s_bytes_t b = {0};
    size_t n = 1 + s_below(r, 8);
    for (size_t i = 0; i < n; i++) {
        const s_corpus_t *c = s->mode == S_M_SERVER ? &f->k.server
                              : s->mode == S_M_RAW && s_chance(r, 30)
                                  ? (s_chance(r, 50) ? &f->k.hello : &f->k.join)
                                  : &f->k.user;
        const s_frame_t *src = &c->v[s_below(r, c->n)];
        s_text_set(&t, src->text, src->len);
        if (s_chance(r, 85)) {
            s_mutate(&t, r, &f->k);
        }
        if (s->mode == S_M_WS || s_chance(r, 5)) {
            s_ws_chaos(&b, r, t.d, t.len);
        } else {
            s_ws_text(&b, r, t.d, t.len);
        }
        f->frames++;
    }
    bool cut = s_chance(r, 8);
    size_t len = cut ? s_below(r, b.len + 1) : b.len;
    f->bytes += len;
    bool ok = s_write_all(s->fd, b.d, len);
    free(b.d);
    free(t.d);
    s_drain(s->fd);
    if (!ok || cut || s_chance(r, 15)) {
        s_slot_close(f, s);
    }
}

static void
s_check(s_fuzz_t *f, const char *server_id, uint64_t seed)
{
    f->checks++;
    sd_send(&f->checker, "LIST_REQUEST", server_id, socp_wall_ms(), json_object(), true);
    socp_envelope_t e;
    int rc = sd_recv(&f->checker, "LIST_RESPONSE", 10000, &e);
    CHECK_MSG(rc == 0, "socpd %s after %llu connections (seed %llu)",
              rc == SOCP_ECLOSED ? "closed the health-check connection" : "stopped answering",
              (unsigned long long) f->conns, (unsigned long long) seed);
    CHECK(json_is_array(json_object_get(e.payload, "users")));
    socp_envelope_fini(&e);
}

SOCP_TEST_T(socpd_fuzz_socket, 90)
{
    const char *env = getenv("SOCPD_FUZZ_SECONDS");
    long secs = env ? strtol(env, NULL, 10) : 4;
    if (secs <= 0) {
        secs = 4;
    }
    if (secs > 30) {
        alarm((unsigned) secs + 120); // the long run (make fuzz) extends the case's deadline
    }
    const char *senv = getenv("SOCPD_FUZZ_SEED");
    uint64_t seed = senv ? strtoull(senv, NULL, 10) : (socp_now_ms() ^ ((uint64_t) getpid() << 32));
    if (!seed) {
        seed = 1;
    }
    const char *extra[] = {
        "--hello-timeout-ms", "800", "--rate-limit", "400", "--log-level", "error", NULL};
    sd_server_t srv;
    sd_server_start(&srv, "s", "rsa4096_4p_a.pem", extra);
    static s_fuzz_t f;
    memset(&f, 0, sizeof f);
    f.rng.s = seed;
    f.port = srv.port;
    for (size_t i = 0; i < S_SLOTS; i++) {
        f.slots[i].fd = -1;
    }
    s_corpora_build(&f.k, srv.id, srv.port);
    sd_client_hello(&f.checker, srv.port, S_CHECKER, "rsa4096_2p_a.pem");
    s_checker_conn = f.checker.conn;
    socp_envelope_t e;
    CHECK_OK(sd_recv(&f.checker, "PUBLIC_CHANNEL_UPDATED", 10000, &e));
    socp_envelope_fini(&e);

    uint64_t start = socp_now_ms(), end = start + (uint64_t) secs * 1000, next_check = start + 500;
    while (socp_now_ms() < end) {
        s_slot_t *s = &f.slots[s_below(&f.rng, S_SLOTS)];
        if (s->fd < 0) {
            s_slot_open(&f, s);
        }
        if (s->fd >= 0) {
            s_slot_burst(&f, s);
        }
        s_checker_read();
        if (socp_now_ms() >= next_check) {
            s_check(&f, srv.id, seed);
            next_check = socp_now_ms() + 500;
        }
    }
    for (size_t i = 0; i < S_SLOTS; i++) {
        s_slot_close(&f, &f.slots[i]);
    }
    s_check(&f, srv.id, seed);
    fprintf(stderr,
            "  socket fuzz: seed %llu, %llu connections, %llu frames, %llu KiB in %ld s, "
            "%llu health checks\n",
            (unsigned long long) seed, (unsigned long long) f.conns, (unsigned long long) f.frames,
            (unsigned long long) (f.bytes / 1024), secs, (unsigned long long) f.checks);
    s_checker_conn = NULL;
    sd_client_close(&f.checker);
    s_corpora_free(&f.k);
    sd_server_stop(&srv); // exit status 0: no sanitizer finding, clean shutdown
}
