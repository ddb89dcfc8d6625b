// socpd_router_trust.c: the router's trust checks (docs/adr/0015-replay-proof-hellos.md):
// what a signed USER_HELLO proves, hello budgets per address and in all, the
// replay memory for hellos and user frames, reserved ids, the expiry of
// bindings nobody uses. Part of the router actor: shared state is in
// socpd_router_int.h.
//
// Hello budget: a USER_HELLO costs a key import, a signature check, maybe a
// synchronous database commit and an advert to and from every user, so
// hellos are served from token buckets, one per address (IPv6: per /64) and
// one for all, and with at most S_HELLO_WORK_US of the router's time per
// S_HELLO_TICK_MS: the router's inbox is one queue, and a burst of hellos
// served as they came held every frame behind them (issue #12: 500 hellos,
// ~7 s without a delivery even with each advert signed once). A hello that
// cannot be served at once waits here, a cheap copy (S_HELLO_QUEUE_ADDR per
// address, S_HELLO_QUEUE_MAX and S_HELLO_QUEUE_BYTES in all, S_HELLO_WAIT_MS
// at most; what its connection sends meanwhile waits with it), and is served
// in arrival order on the timer; past those bounds it is refused with ERROR
// TIMEOUT and the connection closed. Frames of users already connected never
// wait here.
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "socp/socp_err.h"
#include "socp/socp_log.h"
#include "socp/socp_sig.h"
#include "socpd_router_int.h"

// ---- reserved ids ---------------------------------------------------------------

// Length of a whitespace or invisible character at s (0 if none): ASCII
// space, NBSP, the U+2000 block spaces and zero-width characters, narrow and
// medium spaces, word joiner, ideographic space, BOM.
static size_t
s_space_at(const unsigned char *s, size_t n)
{
    if (n >= 1 && s[0] == ' ') {
        return 1;
    }
    if (n >= 2 && s[0] == 0xc2 && s[1] == 0xa0) {
        return 2; // U+00A0
    }
    if (n >= 3 && s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80) {
        return 3; // U+1680
    }
    if (n >= 3 && s[0] == 0xe2 && s[1] == 0x80 && (s[2] <= 0x8f || s[2] == 0xaf)) {
        return 3; // U+2000..U+200F, U+202F
    }
    if (n >= 3 && s[0] == 0xe2 && s[1] == 0x81 && (s[2] == 0x9f || s[2] == 0xa0)) {
        return 3; // U+205F, U+2060
    }
    if (n >= 3 && s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80) {
        return 3; // U+3000
    }
    if (n >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf) {
        return 3; // U+FEFF
    }
    return 0;
}

// True when the character ending at s[n-1] is one of s_space_at's; *len its length.
static bool
s_space_before(const unsigned char *s, size_t n, size_t *len)
{
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        if (s_space_at(s + n - k, k) == k) {
            *len = k;
            return true;
        }
    }
    return false;
}

// `id` without leading and trailing whitespace equals `name`, ignoring ASCII case.
static bool
s_names(const char *id, const char *name)
{
    const unsigned char *p = (const unsigned char *) id;
    size_t n = strlen(id), k;
    while (n && (k = s_space_at(p, n)) != 0) {
        p += k;
        n -= k;
    }
    while (n && s_space_before(p, n, &k)) {
        n -= k;
    }
    size_t m = strlen(name);
    if (n != m) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char a = p[i], b = (unsigned char) name[i];
        a = (unsigned char) (a >= 'A' && a <= 'Z' ? a - 'A' + 'a' : a);
        b = (unsigned char) (b >= 'A' && b <= 'Z' ? b - 'A' + 'a' : b);
        if (a != b) {
            return false;
        }
    }
    return true;
}

// Ids that name a channel, the broadcast address or a server, never a user:
// compared without case and surrounding whitespace, so "PUBLIC" and " public"
// cannot pass for "public" on a screen.
bool
socpd_router_reserved_id(s_self_t *self, const char *id)
{
    static const char *const names[] = {"public", "*", "system", "server"};
    for (size_t i = 0; i < SOCP_ARRAY_LEN(names); i++) {
        if (s_names(id, names[i])) {
            return true;
        }
    }
    if (s_names(id, self->server_id)) {
        return true;
    }
    size_t pos = 0;
    const char *k;
    void *v;
    while (socpd_map_next(self->servers, &pos, &k, &v)) {
        if (s_names(id, ((const s_server_t *) v)->id)) {
            return true;
        }
    }
    return false;
}

// ---- hello budget -----------------------------------------------------------------

// "ip:port" -> "ip"; "[v6]:port" -> "[its /64 prefix]".
void
socpd_router_addr_key(const char *peer, char out[SOCP_TCP_ADDR_MAX])
{
    snprintf(out, SOCP_TCP_ADDR_MAX, "%s", peer ? peer : "?");
    if (out[0] == '[') {
        char *end = strchr(out, ']');
        if (!end) {
            return;
        }
        *end = '\0';
        unsigned char a[16];
        char text[INET6_ADDRSTRLEN];
        if (inet_pton(AF_INET6, out + 1, a) == 1) {
            memset(a + 8, 0, 8);
            if (inet_ntop(AF_INET6, a, text, sizeof text)) {
                snprintf(out, SOCP_TCP_ADDR_MAX, "[%s]/64", text);
                return;
            }
        }
        *end = ']';
        return;
    }
    char *colon = strrchr(out, ':');
    if (colon) {
        *colon = '\0';
    }
}

// Refills a bucket; its tokens now.
static double
s_refill(s_bucket_t *b, double rate, double burst, uint64_t now)
{
    if (b->at_ms == 0) {
        b->tokens = burst;
    } else if (now > b->at_ms) {
        b->tokens += (double) (now - b->at_ms) * rate / 1000.0;
    }
    b->tokens = b->tokens > burst ? burst : b->tokens;
    b->at_ms = now;
    return b->tokens;
}

static s_addr_t *
s_addr(s_self_t *self, const char *key)
{
    s_addr_t *a = socpd_map_get(self->addrs, key);
    if (!a) {
        a = socp_calloc(1, sizeof *a);
        socpd_map_put(self->addrs, key, a);
    }
    return a;
}

// True (and a token taken from each bucket) when c's address and the
// server both have one.
static bool
s_take(s_self_t *self, s_conn_t *c, uint64_t now)
{
    bool per_addr = self->a.hello_rate > 0;
    bool global = self->a.hello_rate_global > 0;
    s_addr_t *a = per_addr ? s_addr(self, c->addr) : NULL;
    if (per_addr && s_refill(&a->bucket, self->a.hello_rate, self->a.hello_burst, now) < 1.0) {
        return false;
    }
    if (global && s_refill(&self->hello_global, self->a.hello_rate_global,
                           self->a.hello_burst_global, now) < 1.0) {
        return false;
    }
    if (a) {
        a->bucket.tokens -= 1.0;
    }
    if (global) {
        self->hello_global.tokens -= 1.0;
    }
    return true;
}

static int s_on_hello_timer(socp_actor_ctx_t *ctx, int timer_id, void *arg);

static void
s_arm(s_self_t *self)
{
    if (self->hello_timer <= 0 && self->hq_len > 0) {
        self->hello_timer =
            socp_actor_timer_add(self->ctx, S_HELLO_TICK_MS, 0, s_on_hello_timer, self);
    }
}

static uint64_t
s_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t) t.tv_sec * 1000000u + (uint64_t) t.tv_nsec / 1000u;
}

// True while the current tick has router time left for hellos.
static bool
s_work_left(s_self_t *self, uint64_t now)
{
    if (now - self->hello_tick_ms >= S_HELLO_TICK_MS) {
        self->hello_tick_ms = now;
        self->hello_spent_us = 0;
    }
    return self->hello_spent_us < S_HELLO_WORK_US;
}

void
socpd_router_hello_serve(s_self_t *self, s_conn_t *c, const socp_envelope_t *env)
{
    uint64_t t0 = s_us();
    socpd_router_on_hello(self, c, env);
    self->hello_spent_us += s_us() - t0;
}

// Removes entry i of the queue (its buffers freed).
static void
s_unqueue(s_self_t *self, size_t i)
{
    s_hello_wait_t *w = &self->hq[i];
    s_conn_t *c = socpd_router_conn(self, w->conn);
    if (c) {
        c->hello_queued = false;
        s_addr_t *a = socpd_map_get(self->addrs, c->addr);
        if (a && a->queued) {
            a->queued--;
        }
    }
    size_t bytes = w->text.len + w->backlog.len;
    self->hq_bytes -= bytes <= self->hq_bytes ? bytes : self->hq_bytes;
    socp_buf_fini(&w->text);
    socp_buf_fini(&w->backlog);
    memmove(&self->hq[i], &self->hq[i + 1], (self->hq_len - i - 1) * sizeof *self->hq);
    self->hq_len--;
}

static size_t
s_find(const s_self_t *self, uint64_t conn)
{
    for (size_t i = 0; i < self->hq_len; i++) {
        if (self->hq[i].conn == conn) {
            return i;
        }
    }
    return SIZE_MAX;
}

bool
socpd_router_hello_admit(s_self_t *self, s_conn_t *c, const char *text, size_t len)
{
    uint64_t now = socp_now_ms();
    if (self->hq_len == 0 && s_work_left(self, now) && s_take(self, c, now)) {
        return true; // nobody waits: served now (a queue would be served first)
    }
    s_addr_t *a = s_addr(self, c->addr);
    if (self->hq_len >= S_HELLO_QUEUE_MAX || a->queued >= S_HELLO_QUEUE_ADDR ||
        self->hq_bytes + len > S_HELLO_QUEUE_BYTES) {
        self->hellos_refused++;
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_TIMEOUT,
                           "too many USER_HELLOs right now: try again later", true);
        return false;
    }
    if (!self->hq) {
        self->hq = socp_calloc(S_HELLO_QUEUE_MAX, sizeof *self->hq);
    }
    s_hello_wait_t *w = &self->hq[self->hq_len++];
    memset(w, 0, sizeof *w);
    w->conn = c->id;
    w->at_ms = now;
    socp_buf_init(&w->text);
    socp_buf_init(&w->backlog);
    socp_buf_append(&w->text, text, len);
    self->hq_bytes += len;
    a->queued++;
    c->hello_queued = true;
    self->hellos_delayed++;
    s_arm(self);
    return false;
}

void
socpd_router_hello_backlog(s_self_t *self, s_conn_t *c, const char *text, size_t len)
{
    size_t i = s_find(self, c->id);
    if (i == SIZE_MAX) {
        c->hello_queued = false;
        return;
    }
    s_hello_wait_t *w = &self->hq[i];
    if (w->backlog.len + len + 4 > S_HELLO_BACKLOG ||
        self->hq_bytes + len + 4 > S_HELLO_QUEUE_BYTES) {
        s_unqueue(self, i);
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_TIMEOUT,
                           "too much sent before the USER_HELLO was served", true);
        return;
    }
    uint8_t n[4] = {(uint8_t) len, (uint8_t) (len >> 8), (uint8_t) (len >> 16),
                    (uint8_t) (len >> 24)};
    socp_buf_append(&w->backlog, n, 4);
    socp_buf_append(&w->backlog, text, len);
    self->hq_bytes += len + 4;
}

void
socpd_router_hello_gone(s_self_t *self, s_conn_t *c)
{
    size_t i = s_find(self, c->id);
    if (i != SIZE_MAX) {
        s_unqueue(self, i);
    }
}

// Serves waiting hellos whose address and the server have a token, oldest
// first; refuses those that waited too long.
static int
s_on_hello_timer(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    (void) ctx;
    (void) timer_id;
    s_self_t *self = arg;
    self->hello_timer = 0;
    uint64_t now = socp_now_ms();
    for (size_t i = 0; i < self->hq_len && s_work_left(self, now);) {
        s_hello_wait_t *w = &self->hq[i];
        s_conn_t *c = socpd_router_conn(self, w->conn);
        if (!c) {
            s_unqueue(self, i);
            continue;
        }
        if (now - w->at_ms > S_HELLO_WAIT_MS) {
            s_unqueue(self, i);
            self->hellos_refused++;
            socpd_router_error(self, c, SOCP_ENVELOPE_CODE_TIMEOUT,
                               "too many USER_HELLOs right now: try again later", true);
            continue;
        }
        if (!s_take(self, c, now)) {
            i++;
            continue;
        }
        // Taken out of the queue first: serving it may send more frames.
        socp_buf_t text = w->text, backlog = w->backlog;
        self->hq_bytes -= text.len + backlog.len;
        socp_buf_init(&w->text);
        socp_buf_init(&w->backlog);
        s_unqueue(self, i);
        socp_envelope_t env;
        socp_envelope_error_t err;
        if (socp_envelope_parse_ex((const char *) text.data, text.len, SOCP_ENVELOPE_PARSE_NO_ADDR,
                                   &env, &err) == 0) {
            socpd_router_hello_serve(self, c, &env);
            socp_envelope_fini(&env);
        }
        // What the connection sent after its hello (a user's frames, or an
        // account's USER_LOGIN), in order.
        uint64_t id = c->id;
        for (size_t off = 0; off + 4 <= backlog.len;) {
            const uint8_t *p = backlog.data + off;
            size_t n =
                (size_t) p[0] | (size_t) p[1] << 8 | (size_t) p[2] << 16 | (size_t) p[3] << 24;
            if (!socpd_router_conn(self, id) || off + 4 + n > backlog.len) {
                break; // gone: the rest goes nowhere (a refused one ignores it)
            }
            socpd_router_on_frame(self, id, (const char *) p + 4, n);
            off += 4 + n;
        }
        socp_buf_fini(&text);
        socp_buf_fini(&backlog);
        // i stays: the entry was removed
    }
    s_arm(self);
    return 0;
}

// ---- what a signed hello proves ---------------------------------------------------

// Sends INVALID_SIG and closes; -1 for the caller to return.
static int
s_refuse(s_self_t *self, s_conn_t *c, const char *detail)
{
    socpd_router_error(self, c, SOCP_ENVELOPE_CODE_INVALID_SIG, detail, true);
    return -1;
}

// A hello proves possession of its key only when its signed payload binds it
// to now (payload.ts within hello_window_ms), to this server (payload.server_id,
// when given) and to this user id (payload.user_id, when given), and its
// payload was never accepted before. A hello signed without a ts (an older
// client) is a claim: served like an unsigned one. A signed binding that does
// not hold is refused: it is a replay, or a clock far off.
int
socpd_router_hello_proof(s_self_t *self,
                         s_conn_t *c,
                         const socp_envelope_t *env,
                         socp_rsa_key_t *key,
                         bool *proven)
{
    *proven = false;
    if (!env->sig) {
        return 0;
    }
    if (socp_sig_verify_payload(key, env->payload, env->sig, NULL) != 0) {
        return s_refuse(self, c, "USER_HELLO sig does not verify under the presented key");
    }
    json_t *jts = json_object_get(env->payload, "ts");
    json_t *jsid = json_object_get(env->payload, "server_id");
    json_t *juid = json_object_get(env->payload, "user_id");
    if (!jts) {
        socp_debug("conn %llu: signed USER_HELLO without payload.ts: taken as a claim",
                   (unsigned long long) c->id);
        return 0;
    }
    if (!json_is_integer(jts) || (jsid && !json_is_string(jsid)) ||
        (juid && !json_is_string(juid))) {
        return s_refuse(self, c,
                        "USER_HELLO payload: ts must be an integer, server_id and "
                        "user_id strings");
    }
    if (jsid && strcmp(json_string_value(jsid), self->server_id) != 0) {
        self->replays_refused++;
        return s_refuse(self, c, "this USER_HELLO is signed for another server");
    }
    if (juid && strcmp(json_string_value(juid), env->from) != 0) {
        self->replays_refused++;
        return s_refuse(self, c, "this USER_HELLO is signed for another user id");
    }
    int64_t ts = (int64_t) json_integer_value(jts);
    int64_t now = socp_wall_ms();
    int64_t off = ts > now ? ts - now : now - ts;
    if (off > self->a.hello_window_ms || ts < self->replay_floor_ms) {
        char d[160];
        snprintf(d, sizeof d,
                 "the USER_HELLO's signed ts is %lld s from the server's clock (at most %lld s): "
                 "replayed, or a clock far off",
                 (long long) (off / 1000), (long long) (self->a.hello_window_ms / 1000));
        self->replays_refused++;
        return s_refuse(self, c, d);
    }
    uint8_t digest[SOCPD_REPLAY_KEY_BYTES];
    int rc = socpd_replay_key("socp-hello", env->payload, NULL, NULL, NULL, 0, digest);
    if (rc == 0) {
        rc = socpd_replay_check_and_add(
            self->replay, digest, ts + self->a.hello_window_ms + S_REPLAY_MARGIN_MS, now, true);
    }
    if (rc == SOCP_EREPLAY) {
        self->replays_refused++;
        return s_refuse(self, c, "this signed USER_HELLO was used before: replayed");
    }
    if (rc != 0) {
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_TIMEOUT, "server storage error, try again",
                           true);
        return -1;
    }
    *proven = true;
    return 0;
}

// ---- user content frames ----------------------------------------------------------

// A user content frame whose sig (if any) verified: fresh, and never seen.
// MSG_DIRECT and MSG_PUBLIC_CHANNEL carry a content_sig over from, (to,) ts:
// verified here under the user's key, it makes the envelope's addressing and
// ts as authentic as the payload, so a replay with another ts or `to` fails
// it, and the payload's memory may end with its ts window. A frame whose ts
// no signature covers (FILE_*, a public message without content_sig) is
// remembered for two windows from first sight. Either way the memory is keyed
// by the signed payload, not the envelope (ADR 0015).
bool
socpd_router_frame_fresh(s_self_t *self, s_conn_t *c, const s_user_t *u, const socp_envelope_t *env)
{
    int64_t now = socp_wall_ms();
    if (socp_envelope_check_ts(env, now, self->a.max_skew_ms, NULL) != 0) {
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_TIMEOUT,
                           "ts is too far from the server's clock", false);
        return false;
    }
    bool ts_signed = false;
    if (env->sig && (env->kind == SOCP_ENVELOPE_TYPE_MSG_DIRECT ||
                     env->kind == SOCP_ENVELOPE_TYPE_MSG_PUBLIC_CHANNEL)) {
        const char *ct = json_string_value(json_object_get(env->payload, "ciphertext"));
        const char *cs = json_string_value(json_object_get(env->payload, "content_sig"));
        bool dm = env->kind == SOCP_ENVELOPE_TYPE_MSG_DIRECT;
        if (ct && cs) {
            socp_sig_content_t content = {
                .ciphertext = ct, .from = env->from, .to = dm ? env->to : NULL, .ts = env->ts};
            if (socp_sig_verify_content(u->key, &content, cs, NULL) != 0) {
                self->replays_refused++;
                socpd_router_error(self, c, SOCP_ENVELOPE_CODE_INVALID_SIG,
                                   dm ? "content_sig does not cover this frame's from, to and ts"
                                      : "content_sig does not cover this frame's from and ts",
                                   false);
                return false;
            }
            ts_signed = true;
        } else if (dm) {
            socpd_router_error(self, c, SOCP_ENVELOPE_CODE_INVALID_SIG,
                               "MSG_DIRECT needs ciphertext and content_sig", false);
            return false;
        }
    }
    if (env->sig && ts_signed && env->ts < self->replay_floor_ms) {
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_INVALID_SIG,
                           "signed before the server lost its replay memory: send it again", false);
        return false;
    }
    uint8_t digest[SOCPD_REPLAY_KEY_BYTES];
    int rc = env->sig ? socpd_replay_key("socp-frame", env->payload, NULL, NULL, NULL, 0, digest)
                      : socpd_replay_key("socp-unsigned", env->payload, env->type, env->from,
                                         env->to, env->ts, digest);
    int64_t until = ts_signed ? env->ts + self->a.max_skew_ms : now + 2 * self->a.max_skew_ms;
    if (rc == 0) {
        rc = socpd_replay_check_and_add(self->replay, digest, until + S_REPLAY_MARGIN_MS, now,
                                        false);
    }
    if (rc == SOCP_EREPLAY) {
        self->dropped_replay++;
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_INVALID_SIG, "replayed frame (already seen)",
                           false);
        return false;
    }
    if (rc != 0) {
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_TIMEOUT,
                           "server storage error (replay memory), try again", false);
        return false;
    }
    return true;
}

// ---- periodic work ----------------------------------------------------------------

// From the router's 250 ms sweep: expired replay records, a sync of the
// replay memory every second, idle hello budgets, and the expiry of unused
// unproven bindings (a pass an hour, in steps).
void
socpd_router_trust_sweep(s_self_t *self)
{
    int64_t wall = socp_wall_ms();
    uint64_t now = socp_now_ms();
    (void) socpd_replay_sweep(self->replay, wall, S_REPLAY_SWEEP_MAX);
    if (++self->sweeps % 4 == 0 && socpd_replay_sync(self->replay) != 0) {
        socp_warn("replay memory: sync failed");
    }
    if (socpd_map_size(self->addrs) > S_ADDRS_MAX / 2) {
        // Forget addresses with a full bucket and nothing waiting.
        char(*idle)[SOCP_TCP_ADDR_MAX] = socp_calloc(socpd_map_size(self->addrs), sizeof *idle);
        size_t n = 0, pos = 0;
        const char *k;
        void *v;
        while (socpd_map_next(self->addrs, &pos, &k, &v)) {
            s_addr_t *a = v;
            if (a->queued == 0 && s_refill(&a->bucket, self->a.hello_rate, self->a.hello_burst,
                                           now) >= self->a.hello_burst) {
                snprintf(idle[n++], SOCP_TCP_ADDR_MAX, "%s", k);
            }
        }
        for (size_t i = 0; i < n; i++) {
            free(socpd_map_remove(self->addrs, idle[i]));
        }
        free(idle);
    }
    if (self->a.unproven_ttl_days <= 0) {
        return;
    }
    if (!self->expire_running && now >= self->expire_next_ms) {
        self->expire_running = true;
        self->expire_cursor[0] = '\0';
        self->expire_next_ms = now + S_EXPIRE_EVERY_MS;
    }
    if (self->expire_running) {
        size_t removed = 0;
        bool done = false;
        int64_t before = wall - (int64_t) self->a.unproven_ttl_days * 24 * 3600 * 1000;
        if (socpd_store_expire_unproven(self->store, before, S_EXPIRE_SCAN_MAX, self->expire_cursor,
                                        &removed, &done) != 0) {
            socp_warn("bindings expiry: storage error (tried again in an hour)");
            done = true;
        }
        if (removed) {
            self->bindings_expired += removed;
            socp_info("forgot %zu unproven user id(s) unused for %d days", removed,
                      self->a.unproven_ttl_days);
        }
        self->expire_running = !done;
    }
}

void
socpd_router_trust_fini(s_self_t *self)
{
    while (self->hq_len) {
        s_unqueue(self, self->hq_len - 1);
    }
    free(self->hq);
    self->hq = NULL;
    size_t pos = 0;
    const char *k;
    void *v;
    while (socpd_map_next(self->addrs, &pos, &k, &v)) {
        free(v);
    }
    socpd_map_destroy(&self->addrs);
    socp_buf_fini(&self->updated_batch);
    socp_buf_fini(&self->updated_next);
    socpd_replay_close(&self->replay);
}
