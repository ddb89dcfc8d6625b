// socpd_router.c: the server's routing actor.
//
// DESIGN
//   Owns: the tables (connections by id; users by id with their location,
//   pubkey and meta; servers by id with pinned key, address and link), the
//   seen-cache (server frames), the LMDB store (socpd_store), the replay
//   memory (socpd_replay: accepted hellos and user frames), cached signed
//   USER_ADVERTISE frames (each signed once, newcomers wait for it), hellos
//   waiting for their budget, and the parsed public keys of local users and
//   servers.
//   In:  SOCPD_OPEN / SOCPD_FRAME / SOCPD_GONE / SOCPD_DIAL_FAIL / SOCPD_RATE (net),
//        SOCPD_SIGNED (crypto: a signed frame to cache).
//   Out: SOCPD_SIGN to socpd_cryptoN (frames we originate; round robin),
//        SOCPD_SEND to net (frames relayed unchanged: gossip, user frames that
//        are not re-wrapped), SOCPD_KICK, SOCPD_DIAL. Every frame with
//        destinations gets the next order number (seq); net writes in that
//        order whichever worker signed it, so a connection sees frames in the
//        order they were decided here (a broadcast and a DM cannot swap).
//   Blocking: RSA verifications (~0.1 ms each: a user content frame's sig
//   and content_sig, a server frame), LMDB commits on a user id's first
//   binding (and its last use, once a day), a replay-memory commit per user
//   frame (no fsync) and per signed hello (fsync), an fsync of it a second.
//   Timers: 250 ms sweep (identification deadline, dead links, reconnects),
//   heartbeat_ms heartbeat to every server link, 100 ms batched
//   PUBLIC_CHANNEL_ADD (joins are announced in batches: a join costs O(1)
//   signatures and O(users) frames, the USER_ADVERTISEs presence needs).
//   The server never decrypts anything.
//   Server links (joining, linking, gossip) live in socpd_router_mesh.c;
//   what a hello proves, hello budgets, replays and reserved ids in
//   socpd_router_trust.c (ADR 0015); Impl14's accounts in
//   socpd_router_account.c; shared state is in socpd_router_int.h.
//   Shutdown: TERM; the store is closed (every commit was already durable).
#include "socp/socpd_router.h"
#include "socp/socp_envelope.h"
#include "socp/socp_err.h"
#include "socp/socp_json.h"
#include "socp/socp_log.h"
#include "socp/socp_rsa.h"
#include "socp/socp_seen.h"
#include "socp/socp_sig.h"
#include "socp/socp_uuid.h"
#include "socp/socpd_map.h"
#include "socp/socpd_store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socpd_router_int.h"


// ---- helpers ------------------------------------------------------------------

s_conn_t *
socpd_router_conn(s_self_t *self, uint64_t id)
{
    return socpd_map_get_id(self->conns, id);
}

void
socpd_router_put_conn_id(socp_buf_t *ids, uint64_t id)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t) (id >> (8 * i));
    }
    socp_buf_append(ids, b, 8);
}

// The next signing worker, round robin: net restores the order (seq), so
// any worker can sign any frame and the load spreads evenly.
static int
s_next_worker(s_self_t *self)
{
    if (self->a.crypto_workers <= 1) {
        return 0;
    }
    return (int) (self->rr++ % (uint64_t) self->a.crypto_workers);
}

// Net writes frames in seq order: a number given to a frame that will never
// reach net must be voided, or every later frame would wait for it forever.
static void
s_skip(s_self_t *self, uint64_t seq)
{
    if (seq == 0) {
        return;
    }
    socp_msg_t m = socp_msg_make(SOCP_MSG_SOCPD_SEND);
    m.body.socpd_send.seq = seq;
    (void) socp_actor_send(self->ctx, "socpd_net", &m);
}

// Builds a frame from us and has it signed and sent to `ids`. Steals payload.
void
socpd_router_emit(s_self_t *self,
                  const socp_buf_t *ids,
                  const char *type,
                  const char *to,
                  int64_t ts,
                  json_t *payload,
                  bool close,
                  const char *cache)
{
    socp_envelope_t env;
    int rc = socp_envelope_init(&env, type, self->server_id, to, ts, payload);
    json_decref(payload);
    if (rc != 0) {
        socp_error("cannot build %s: %s", type, socp_strerror(rc));
        return;
    }
    socp_buf_reset(&self->buf);
    rc = socp_envelope_emit(&env, &self->buf);
    socp_envelope_fini(&env);
    if (rc != 0) {
        socp_error("cannot emit %s: %s", type, socp_strerror(rc));
        return;
    }
    if (self->buf.len > S_UNSIGNED_MAX) {
        // E.g. a ~1 MiB user frame wrapped in SERVER_DELIVER (escaped) or
        // re-wrapped in USER_DELIVER: once signed it would exceed the 1 MiB
        // frame limit every peer enforces.
        self->dropped_too_big++;
        socp_warn("%s would exceed 1 MiB once signed (%zu bytes): dropped", type, self->buf.len);
        return;
    }
    socp_msg_t m = socp_msg_make(SOCP_MSG_SOCPD_SIGN);
    m.body.socpd_sign.conns.data = ids ? ids->data : NULL;
    m.body.socpd_sign.conns.len = ids ? ids->len : 0;
    m.body.socpd_sign.text.data = self->buf.data;
    m.body.socpd_sign.text.len = self->buf.len;
    m.body.socpd_sign.close = close;
    m.body.socpd_sign.cache = cache ? cache : "";
    m.body.socpd_sign.seq = ids && ids->len ? ++self->seq : 0;
    char name[32];
    snprintf(name, sizeof name, "socpd_crypto%d", s_next_worker(self));
    rc = socp_actor_send(self->ctx, name, &m);
    if (rc != 0 && rc != SOCP_ETERM) {
        socp_error("cannot hand %s to %s: %s", type, name, socp_strerror(rc));
        s_skip(self, m.body.socpd_sign.seq);
    }
}

void
socpd_router_emit_one(s_self_t *self,
                      uint64_t conn,
                      const char *type,
                      const char *to,
                      json_t *payload,
                      bool close)
{
    socp_buf_t ids;
    socp_buf_init(&ids);
    socpd_router_put_conn_id(&ids, conn);
    socpd_router_emit(self, &ids, type, to, socp_wall_ms(), payload, close, NULL);
    socp_buf_fini(&ids);
}

// Relays bytes unchanged (they carry their origin's signature), straight to
// net; the seq keeps them in order with the frames being signed meanwhile.
void
socpd_router_relay(s_self_t *self, const socp_buf_t *ids, const void *text, size_t len)
{
    if (ids->len == 0) {
        return;
    }
    socp_msg_t m = socp_msg_make(SOCP_MSG_SOCPD_SEND);
    m.body.socpd_send.conns.data = ids->data;
    m.body.socpd_send.conns.len = ids->len;
    m.body.socpd_send.text.data = text;
    m.body.socpd_send.text.len = len;
    m.body.socpd_send.seq = ++self->seq;
    int rc = socp_actor_send(self->ctx, "socpd_net", &m);
    if (rc != 0 && rc != SOCP_ETERM) {
        socp_error("cannot relay a frame: %s", socp_strerror(rc));
        s_skip(self, m.body.socpd_send.seq);
    }
}

void
socpd_router_error(s_self_t *self,
                   s_conn_t *c,
                   socp_envelope_code_t code,
                   const char *detail,
                   bool close)
{
    const char *name = socp_envelope_code_name(code);
    json_t *p = json_pack("{s:s, s:s}", "code", name ? name : "UNKNOWN_TYPE", "detail", detail);
    const char *to = c->peer_id[0] ? c->peer_id : self->server_id;
    socpd_router_emit_one(self, c->id, "ERROR", to, p, close);
    c->closing = c->closing || close; // nothing more it sends is handled
    socp_info("conn %llu (%s): ERROR %s: %s%s", (unsigned long long) c->id,
              c->peer_id[0] ? c->peer_id : "unidentified", name ? name : "?", detail,
              close ? " (closing)" : "");
}

void
socpd_router_kick(s_self_t *self, uint64_t conn, uint16_t code, const char *reason)
{
    socp_msg_t m = socp_msg_make(SOCP_MSG_SOCPD_KICK);
    m.body.socpd_kick.conn = conn;
    m.body.socpd_kick.code = code;
    m.body.socpd_kick.reason = reason;
    (void) socp_actor_send(self->ctx, "socpd_net", &m);
}

// Connection ids of every local user (except one id) / every linked server
// (except one server id).
void
socpd_router_local_conns(s_self_t *self, const char *except_user, socp_buf_t *ids)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (socpd_map_next(self->users, &pos, &k, &v)) {
        s_user_t *u = v;
        if (u->conn && (!except_user || strcmp(u->id, except_user) != 0)) {
            socpd_router_put_conn_id(ids, u->conn);
        }
    }
}

void
socpd_router_server_conns(s_self_t *self, const char *except_server, socp_buf_t *ids)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (socpd_map_next(self->servers, &pos, &k, &v)) {
        s_server_t *s = v;
        if (s->conn && (!except_server || strcmp(s->id, except_server) != 0)) {
            socpd_router_put_conn_id(ids, s->conn);
        }
    }
}

json_t *
socpd_router_advert_payload(s_self_t *self, const s_user_t *u)
{
    json_t *meta = json_deep_copy(u->meta);
    json_object_set_new(meta, "pubkey", json_string(u->pubkey));
    return json_pack("{s:s, s:s, s:s, s:o}", "user_id", u->id, "server_id",
                     u->server_id[0] ? u->server_id : self->server_id, "pubkey", u->pubkey, "meta",
                     meta);
}

void
socpd_router_user_free(s_user_t *u)
{
    if (!u) {
        return;
    }
    free(u->pubkey);
    json_decref(u->meta);
    socp_rsa_destroy(&u->key);
    free(u->advert);
    socp_buf_fini(&u->advert_waiters);
    free(u);
}

// Sends u's signed USER_ADVERTISE to connection conn: the cached copy while
// it is fresh; otherwise conn waits for the one signature of it in flight
// (requested now if there is none). However many newcomers arrive, a user's
// advert is signed once per S_ADVERT_TTL_MS: signing one per newcomer and
// user made a burst of N hellos cost N^2/2 signatures (112,784 for 500) and
// held every delivery behind them for minutes (issue #12).
void
socpd_router_send_advert(s_self_t *self, s_user_t *u, uint64_t conn)
{
    uint64_t now = socp_now_ms();
    if (u->advert && now - u->advert_ms < S_ADVERT_TTL_MS) {
        socp_buf_t one;
        socp_buf_init(&one);
        socpd_router_put_conn_id(&one, conn);
        socpd_router_relay(self, &one, u->advert, strlen(u->advert));
        socp_buf_fini(&one);
        return;
    }
    socpd_router_put_conn_id(&u->advert_waiters, conn);
    if (!u->advert_pending || now - u->advert_pending_ms > S_SIGN_LOST_MS) {
        char cache[160];
        snprintf(cache, sizeof cache, "advert:%s", u->id);
        u->advert_pending = true;
        u->advert_pending_ms = now;
        socpd_router_emit(self, NULL, "USER_ADVERTISE", "*", socp_wall_ms(),
                          socpd_router_advert_payload(self, u), false, cache);
    }
}

// A newcomer's PUBLIC_CHANNEL_UPDATED (its acceptance into the channel):
// one signature serves every newcomer that arrived while the previous one
// was being signed (so a burst of hellos costs a few, not one each).
static void
s_request_updated(s_self_t *self)
{
    uint64_t now = socp_now_ms();
    if (self->updated_pending && now - self->updated_pending_ms <= S_SIGN_LOST_MS) {
        return; // its answer serves the waiting batch; the next one is asked then
    }
    if (self->updated_pending) {
        // Never came back (cannot happen short of a bug): its newcomers go
        // with the next one.
        socp_buf_append(&self->updated_next, self->updated_batch.data, self->updated_batch.len);
        socp_buf_reset(&self->updated_batch);
        self->updated_pending = false;
    }
    if (self->updated_next.len == 0) {
        return;
    }
    socp_buf_t t = self->updated_batch;
    self->updated_batch = self->updated_next;
    self->updated_next = t;
    socp_buf_reset(&self->updated_next);
    self->updated_pending = true;
    self->updated_pending_ms = now;
    uint64_t version = socpd_store_public_version(self->store);
    socpd_router_emit(self, NULL, "PUBLIC_CHANNEL_UPDATED", "*", socp_wall_ms(),
                      json_pack("{s:I, s:[]}", "version", (json_int_t) version, "wraps"), false,
                      "updated");
}

// ---- user connections ---------------------------------------------------------

// USER_HELLO. The standard makes its sig optional (spec section 7.1), so
// an unsigned hello is served; what a signature proves is kept: an id whose
// key was once proven (a signed hello verified, or an account login) is only
// taken again with proof (docs/adr/0012-unsigned-hellos.md). A signed hello
// proves its key only when its signed payload binds it to now, to this server
// and to this id, once (socpd_router_hello_proof, ADR 0015).
static void
s_on_user_hello(s_self_t *self, s_conn_t *c, const socp_envelope_t *env)
{
    const char *pk = json_string_value(json_object_get(env->payload, "pubkey"));
    socp_rsa_key_t *key = NULL;
    if (!pk || socp_rsa_public_import(pk, strlen(pk), &key) != 0) {
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_BAD_KEY,
                           "pubkey is missing or not an RSA-4096 key with e=65537", true);
        return;
    }
    bool proven = false;
    if (socpd_router_hello_proof(self, c, env, key, &proven) != 0) {
        socp_rsa_destroy(&key); // refused: a replay, or a sig that does not verify
        return;
    }
    if (socpd_router_reserved_id(self, env->from)) {
        socp_rsa_destroy(&key);
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_NAME_IN_USE, "this id is reserved", true);
        return;
    }
    if (socpd_map_get(self->users, env->from) || socpd_map_get(self->servers, env->from)) {
        socp_rsa_destroy(&key);
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_NAME_IN_USE,
                           "this user id is already connected", true);
        return;
    }
    if (!proven) {
        socpd_store_user_t old;
        int grc = socpd_store_user_get(self->store, env->from, &old);
        bool was_proven = grc == 0 && old.proven;
        socpd_store_user_fini(&old);
        if (was_proven || (grc != 0 && grc != SOCP_ENOTFOUND)) {
            socp_rsa_destroy(&key);
            socpd_router_error(
                self, c, was_proven ? SOCP_ENVELOPE_CODE_INVALID_SIG : SOCP_ENVELOPE_CODE_TIMEOUT,
                was_proven ? "this id proved its key with a signed USER_HELLO "
                             "before: only a fresh signed hello can take it"
                           : "server storage error, try again",
                true);
            return;
        }
    }
    json_t *meta = json_object_get(env->payload, "meta");
    meta = json_is_object(meta) ? json_deep_copy(meta) : json_object();
    c->account = false; // a standard user: its content frames need their sig
    socpd_router_user_accept(self, c, env->from, pk, key, meta, proven);
}

void
socpd_router_on_hello(s_self_t *self, s_conn_t *c, const socp_envelope_t *env)
{
    if (!socpd_router_on_account_hello(self, c, env)) {
        s_on_user_hello(self, c, env);
    }
}

// Binds `id` to `key` (presented as `pk`) and makes connection c that user's:
// the tables, the adverts both ways, the public channel. Takes key and meta.
bool
socpd_router_user_accept(s_self_t *self,
                         s_conn_t *c,
                         const char *id,
                         const char *pk,
                         socp_rsa_key_t *key,
                         json_t *meta,
                         bool proven)
{
    char *norm = NULL;
    if (socp_rsa_public_export(key, SOCP_RSA_PUB_B64_DER, &norm) != 0) {
        socp_rsa_destroy(&key);
        json_decref(meta);
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_BAD_KEY, "cannot encode the key", true);
        return false;
    }
    json_object_del(meta, "pubkey");
    char *meta_text = json_dumps(meta, JSON_COMPACT);
    int rc = socpd_store_user_bind(self->store, id, norm, pk, meta_text, proven, NULL);
    free(meta_text);
    free(norm);
    if (rc != 0) {
        json_decref(meta);
        socp_rsa_destroy(&key);
        socpd_router_error(
            self, c, rc == SOCP_EEXIST ? SOCP_ENVELOPE_CODE_BAD_KEY : SOCP_ENVELOPE_CODE_TIMEOUT,
            rc == SOCP_EEXIST ? "this user id is bound to another key"
                              : "server storage error, try again",
            true);
        return false;
    }
    s_user_t *u = socp_calloc(1, sizeof *u);
    snprintf(u->id, sizeof u->id, "%s", id);
    u->pubkey = socp_strdup(pk); // relayed byte for byte as presented
    u->meta = meta;
    u->conn = c->id;
    u->key = key;
    socpd_map_put(self->users, u->id, u);
    c->kind = S_USER;
    snprintf(c->peer_id, sizeof c->peer_id, "%s", id);
    socp_info("user %s connected (conn %llu, %s)", u->id, (unsigned long long) c->id,
              c->account ? "account login"
              : proven   ? "proven by its signed hello"
                         : "a claim: unsigned or unbound hello");
    socpd_router_tell_accounts(self, u, true);

    // The newcomer learns every user already known: each one's advert is
    // signed once and cached (socpd_router_send_advert).
    size_t pos = 0;
    const char *k;
    void *v;
    while (socpd_map_next(self->users, &pos, &k, &v)) {
        s_user_t *o = v;
        if (o != u) {
            socpd_router_send_advert(self, o, c->id);
        }
    }
    // Everybody else (local users and servers) learns the newcomer: signed
    // once, cached for the next newcomers (who wait for it meanwhile).
    socp_buf_t all;
    socp_buf_init(&all);
    socpd_router_local_conns(self, u->id, &all);
    socpd_router_server_conns(self, NULL, &all);
    char cache[160];
    snprintf(cache, sizeof cache, "advert:%s", u->id);
    u->advert_pending = true;
    u->advert_pending_ms = socp_now_ms();
    socpd_router_emit(self, &all, "USER_ADVERTISE", "*", socp_wall_ms(),
                      socpd_router_advert_payload(self, u), false, cache);
    // Public channel: the newcomer gets the channel state (its acceptance,
    // one signature for all the newcomers of a moment: s_request_updated);
    // everybody learns the membership change in a batch (s_on_flush_adds,
    // every S_ADD_BATCH_MS), one PUBLIC_CHANNEL_ADD listing every id that
    // joined meanwhile. Sending ADD + UPDATED to every local user on every
    // hello made N joins cost 2 N^2 frames.
    socpd_router_put_conn_id(&self->updated_next, c->id);
    s_request_updated(self);
    json_array_append_new(self->pending_adds, json_string(u->id));
    socp_buf_fini(&all);
    return true;
}

// Sends the batched PUBLIC_CHANNEL_ADD to every local user.
static int
s_on_flush_adds(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    (void) ctx;
    (void) timer_id;
    s_self_t *self = arg;
    size_t n = json_array_size(self->pending_adds);
    if (n == 0) {
        return 0;
    }
    uint64_t version = socpd_store_public_version(self->store);
    socp_buf_t all;
    socp_buf_init(&all);
    socpd_router_local_conns(self, NULL, &all);
    json_t *adds = self->pending_adds;
    self->pending_adds = json_array();
    if (all.len == 0) {
        json_decref(adds); // nobody local to tell
        socp_buf_fini(&all);
        return 0;
    }
    socpd_router_emit(self, &all, "PUBLIC_CHANNEL_ADD", "*", socp_wall_ms(),
                      json_pack("{s:o, s:I}", "add", adds, "if_version",
                                (json_int_t) (version >= n ? version - n : 0)),
                      false, NULL);
    socp_buf_fini(&all);
    return 0;
}

static json_t *
s_list_payload(s_self_t *self)
{
    // Sorted by user_id.
    size_t n = socpd_map_size(self->users), k = 0, pos = 0;
    s_user_t **list = socp_calloc(n ? n : 1, sizeof *list);
    const char *key;
    void *v;
    while (k < n && socpd_map_next(self->users, &pos, &key, &v)) {
        list[k++] = v;
    }
    for (size_t i = 1; i < k; i++) { // insertion sort: lists are small
        for (size_t j = i; j > 0 && strcmp(list[j - 1]->id, list[j]->id) > 0; j--) {
            s_user_t *t = list[j];
            list[j] = list[j - 1];
            list[j - 1] = t;
        }
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < k; i++) {
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:O}", "user_id", list[i]->id, "server_id",
                           list[i]->server_id[0] ? list[i]->server_id : self->server_id, "pubkey",
                           list[i]->pubkey, "meta", list[i]->meta));
    }
    free(list);
    return json_pack("{s:o}", "users", arr);
}

// Builds the payload delivered to a user for a DM: the original fields plus
// sender, payload.ts and payload.to (decisions.md, "Signatures").
json_t *
socpd_router_deliver_payload(const json_t *orig, const char *sender, const char *to, int64_t ts)
{
    json_t *p = json_object();
    const char *keys[] = {"ciphertext", "sender_pub", "content_sig"};
    for (size_t i = 0; i < SOCP_ARRAY_LEN(keys); i++) {
        json_t *v = json_object_get(orig, keys[i]);
        if (v) {
            json_object_set(p, keys[i], v);
        }
    }
    json_object_set_new(p, "sender", json_string(sender));
    json_object_set_new(p, "to", json_string(to));
    json_object_set_new(p, "ts", json_integer(ts));
    return p;
}

// Some linked server other than `except` (NULL if none).
static s_server_t *
s_any_link(s_self_t *self, const char *except)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (socpd_map_next(self->servers, &pos, &k, &v)) {
        s_server_t *s = v;
        if (s->conn && strcmp(s->id, except) != 0) {
            return s;
        }
    }
    return NULL;
}

// Routes a user content frame (MSG_DIRECT, MSG_PUBLIC_CHANNEL to a user,
// FILE_*) towards `to`. `text` is the original frame (user-signed).
static void
s_route_to_user(s_self_t *self,
                s_conn_t *src,
                const socp_envelope_t *env,
                const char *text,
                size_t len)
{
    s_user_t *r = socpd_map_get(self->users, env->to);
    if (!r) {
        if (src) {
            char d[200];
            snprintf(d, sizeof d, "no user %.128s is connected", env->to);
            socpd_router_error(self, src, SOCP_ENVELOPE_CODE_USER_NOT_FOUND, d, false);
        }
        return;
    }
    socp_buf_t ids;
    socp_buf_init(&ids);
    if (r->conn) {
        socpd_router_put_conn_id(&ids, r->conn);
        s_conn_t *rc = socpd_router_conn(self, r->conn);
        bool account = rc && rc->account;
        if (env->kind == SOCP_ENVELOPE_TYPE_MSG_DIRECT ||
            (account && env->kind == SOCP_ENVELOPE_TYPE_MSG_PUBLIC_CHANNEL)) {
            // An Impl14 client reads DER keys only, and a public message
            // with `sender` in its payload.
            json_t *p = socpd_router_deliver_payload(env->payload, env->from, env->to, env->ts);
            if (account) {
                json_t *d = socpd_router_account_deliver(p);
                json_decref(p);
                p = d;
            }
            socpd_router_emit(self, &ids,
                              env->kind == SOCP_ENVELOPE_TYPE_MSG_DIRECT ? "USER_DELIVER"
                                                                         : "MSG_PUBLIC_CHANNEL",
                              r->id, env->ts, p, false, NULL);
        } else {
            socpd_router_relay(self, &ids, text, len); // user-signed, verifiable end to end
        }
        self->delivered++;
    } else {
        s_server_t *s = socpd_map_get(self->servers, r->server_id);
        s_server_t *via = s && s->conn ? s : NULL;
        if (s && !via) {
            // No direct link to the hosting server (yet: links form a moment
            // after a join, or one is being re-dialled): hand it to any linked
            // server; a server forwards a frame for a user it does not host to
            // that user's server, unchanged (one extra hop, no loop).
            via = s_any_link(self, s->id);
        }
        if (s && via) {
            socpd_router_put_conn_id(&ids, via->conn);
            if (env->kind == SOCP_ENVELOPE_TYPE_MSG_DIRECT) {
                json_t *p = socpd_router_deliver_payload(env->payload, env->from, env->to, env->ts);
                json_object_set_new(p, "user_id", json_string(r->id));
                socpd_router_emit(self, &ids, "SERVER_DELIVER", s->id, env->ts, p, false, NULL);
            } else if (via->raw_relay) {
                socpd_router_relay(self, &ids, text, len); // the user's own frame (peer A's form)
            } else {
                socpd_router_emit(self, &ids, env->type, s->id, socp_wall_ms(),
                                  socpd_router_forward_payload(env, r->id, text, len), false, NULL);
            }
            self->delivered++;
        } else if (src) {
            socpd_router_error(self, src, SOCP_ENVELOPE_CODE_USER_NOT_FOUND,
                               "the recipient's server is unreachable", false);
        }
    }
    socp_buf_fini(&ids);
}

// A public-channel frame addressed to the channel: every local member but
// the sender, and one copy per linked server (not back to where it came from).
static void
s_route_public(s_self_t *self,
               const socp_envelope_t *env,
               const char *text,
               size_t len,
               const char *from_server)
{
    socp_buf_t ids;
    socp_buf_init(&ids);
    socpd_router_local_conns(self, env->from, &ids);
    socpd_router_server_conns(self, from_server, &ids);
    socpd_router_relay(self, &ids, text, len);
    socp_buf_fini(&ids);
}

static void
s_on_user_frame(s_self_t *self,
                s_conn_t *c,
                const socp_envelope_t *env,
                const char *text,
                size_t len)
{
    s_user_t *u = socpd_map_get(self->users, c->peer_id);
    if (!u) {
        return;
    }
    if (strcmp(env->from, c->peer_id) != 0 && env->kind != SOCP_ENVELOPE_TYPE_CTRL_CLOSE) {
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_INVALID_SIG,
                           "\"from\" is not the id of this connection's user", false);
        return;
    }
    switch (env->kind) {
        case SOCP_ENVELOPE_TYPE_HEARTBEAT:
        case SOCP_ENVELOPE_TYPE_ACK:
            return;
        case SOCP_ENVELOPE_TYPE_CTRL_CLOSE:
            socpd_router_kick(self, c->id, 1000, "");
            return;
        case SOCP_ENVELOPE_TYPE_LIST_REQUEST:
            socpd_router_emit_one(
                self, c->id, "LIST_RESPONSE", u->id,
                c->account ? socpd_router_account_list(self) : s_list_payload(self), false);
            return;
        case SOCP_ENVELOPE_TYPE_MSG_DIRECT:
        case SOCP_ENVELOPE_TYPE_MSG_PUBLIC_CHANNEL:
        case SOCP_ENVELOPE_TYPE_FILE_START:
        case SOCP_ENVELOPE_TYPE_FILE_CHUNK:
        case SOCP_ENVELOPE_TYPE_FILE_END:
            break;
        case SOCP_ENVELOPE_TYPE_UNKNOWN: {
            char d[120];
            snprintf(d, sizeof d, "unknown message type %.64s", env->type);
            socpd_router_error(self, c, SOCP_ENVELOPE_CODE_UNKNOWN_TYPE, d, false);
            return;
        }
        default: {
            char d[120];
            snprintf(d, sizeof d, "%.64s is not accepted from a user connection", env->type);
            socpd_router_error(self, c, SOCP_ENVELOPE_CODE_UNKNOWN_TYPE, d, false);
            return;
        }
    }
    // Content frames: signed by the user, fresh, not seen before.
    if (!env->sig) {
        // An account session was authenticated by its password (Impl14's
        // clients never sign their frames).
        if (self->a.require_user_sig && !c->account) {
            socpd_router_error(self, c, SOCP_ENVELOPE_CODE_INVALID_SIG, "frame is not signed",
                               false);
            return;
        }
    } else if (socp_sig_verify_payload(u->key, env->payload, env->sig, NULL) != 0) {
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_INVALID_SIG,
                           "sig does not verify under the user's key", false);
        return;
    }
    if (!socpd_router_frame_fresh(self, c, u, env)) {
        return; // stale, replayed or re-addressed (ADR 0015): answered
    }
    if (env->kind == SOCP_ENVELOPE_TYPE_MSG_PUBLIC_CHANNEL &&
        (strcmp(env->to, "public") == 0 || strcmp(env->to, "*") == 0 ||
         !socpd_map_get(self->users, env->to))) {
        s_route_public(self, env, text, len, NULL);
        return;
    }
    s_route_to_user(self, c, env, text, len);
}

// A frame from an Impl14 client, logged in by password: its MSG_DIRECT and
// FILE_* name the recipient in payload.to and carry no envelope from / to /
// sig. The envelope is completed from the session and re-serialised, so what
// is relayed is a well-formed frame from this user.
static void
s_on_account_frame(s_self_t *self, s_conn_t *c, socp_envelope_t *env)
{
    const char *pto = json_string_value(json_object_get(env->payload, "to"));
    const char *sender = json_string_value(json_object_get(env->payload, "sender"));
    if ((env->from[0] && strcmp(env->from, c->peer_id) != 0) ||
        (sender && strcmp(sender, c->peer_id) != 0)) {
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_INVALID_SIG,
                           "\"from\" is not the id of this connection's user", false);
        return;
    }
    snprintf(env->from, sizeof env->from, "%s", c->peer_id);
    if (!env->to[0] && pto) {
        snprintf(env->to, sizeof env->to, "%.*s", (int) SOCP_ENVELOPE_ID_MAX, pto);
    }
    if (!env->to[0]) {
        snprintf(env->to, sizeof env->to, "%s", self->server_id);
    }
    if (env->kind == SOCP_ENVELOPE_TYPE_USER_LOGIN || env->kind == SOCP_ENVELOPE_TYPE_USER_HELLO) {
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_NAME_IN_USE, "already logged in", false);
        return;
    }
    socp_buf_reset(&self->buf);
    if (socp_envelope_emit(env, &self->buf) != 0) {
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_UNKNOWN_TYPE, "malformed frame", false);
        return;
    }
    char *text = socp_malloc(self->buf.len + 1);
    memcpy(text, self->buf.data, self->buf.len);
    text[self->buf.len] = '\0';
    s_on_user_frame(self, c, env, text, self->buf.len);
    free(text);
}

// ---- bus events -------------------------------------------------------------------

static void
s_on_open(s_self_t *self, const socp_msg_socpd_open_t *m)
{
    s_conn_t *c = socp_calloc(1, sizeof *c);
    c->id = m->conn;
    c->opened_ms = socp_now_ms();
    c->last_rx_ms = c->opened_ms;
    c->outbound = m->outbound;
    socpd_router_addr_key(m->peer, c->addr);
    snprintf(c->link, sizeof c->link, "%s", m->link ? m->link : "");
    socpd_map_put_id(self->conns, c->id, c);
    if (!m->outbound) {
        return;
    }
    const char *peer_key = NULL;
    size_t idx = (size_t) strtoul(c->link + 6, NULL, 10);
    s_server_t *s =
        strncmp(c->link, "srv:", 4) == 0 ? socpd_map_get(self->servers, c->link + 4) : NULL;
    if (strncmp(c->link, "intro:", 6) == 0 && idx < self->a.n_introducers) {
        peer_key = self->a.introducers[idx].pubkey;
    } else if (s) {
        peer_key = s->pubkey;
    }
    json_t *hello = json_pack("{s:s, s:i, s:s}", "host", self->a.host, "port", (int) self->a.port,
                              "pubkey", socpd_router_our_key(self, peer_key));
    if (strncmp(c->link, "intro:", 6) == 0) {
        char to[300];
        snprintf(to, sizeof to, "%s:%u",
                 idx < self->a.n_introducers ? self->a.introducers[idx].host : "?",
                 idx < self->a.n_introducers ? (unsigned) self->a.introducers[idx].port : 0u);
        c->kind = S_JOINING;
        socpd_router_emit_one(self, c->id, "SERVER_HELLO_JOIN", to, hello, false);
    } else if (strncmp(c->link, "srv:", 4) == 0) {
        if (!s) {
            json_decref(hello);
            socpd_router_kick(self, c->id, 1000, "");
            return;
        }
        // The link is up once the far side accepted it: its first frame
        // that verifies under the pinned key (socpd answers a HELLO_LINK
        // with a HEARTBEAT at once; others send gossip or a heartbeat).
        c->kind = S_LINKING;
        snprintf(c->peer_id, sizeof c->peer_id, "%s", s->id);
        if (s->link_by_join) {
            // Impl14 takes a server only by a join; its welcome (signed by
            // the pinned key) then accepts the link.
            char to[300];
            snprintf(to, sizeof to, "%s:%u", s->host, (unsigned) s->port);
            socpd_router_emit_one(self, c->id, "SERVER_HELLO_JOIN", to, hello, false);
        } else {
            socpd_router_emit_one(self, c->id, "SERVER_HELLO_LINK", s->id, hello, false);
        }
    } else {
        json_decref(hello);
    }
}

static void
s_on_gone(s_self_t *self, uint64_t id, const char *reason)
{
    s_conn_t *c = socpd_map_get_id(self->conns, id);
    if (!c) {
        return;
    }
    if (c->hello_queued) {
        socpd_router_hello_gone(self, c);
    }
    (void) socpd_map_remove_id(self->conns, id);
    if (c->kind == S_USER) {
        s_user_t *u = socpd_map_get(self->users, c->peer_id);
        if (u && u->conn == c->id) {
            socpd_map_remove(self->users, u->id);
            socp_info("user %s disconnected (%s)", u->id, reason ? reason : "");
            socp_buf_t ids;
            socp_buf_init(&ids);
            socpd_router_local_conns(self, NULL, &ids);
            socpd_router_server_conns(self, NULL, &ids);
            socpd_router_emit(
                self, &ids, "USER_REMOVE", "*", socp_wall_ms(),
                json_pack("{s:s, s:s}", "user_id", u->id, "server_id", self->server_id), false,
                NULL);
            socp_buf_fini(&ids);
            socpd_router_tell_accounts(self, u, false);
            socpd_router_user_free(u);
        }
    } else if (c->kind == S_SERVER) {
        s_server_t *s = socpd_map_get(self->servers, c->peer_id);
        if (s && s->conn == c->id) {
            s->conn = 0;
            uint64_t up_ms = socp_now_ms() - s->up_at_ms;
            socp_warn("link to server %s lost after %llu ms (%s)", s->id,
                      (unsigned long long) up_ms, reason ? reason : "");
            if (up_ms >= S_LINK_STABLE_MS) {
                s->backoff_ms = S_BACKOFF_MIN_MS; // a flapping link keeps backing off
            }
            socpd_router_server_unlink_users(self, s->id);
            socpd_router_schedule_retry(self, s);
        }
    } else if (c->kind == S_LINKING) {
        s_server_t *s = socpd_map_get(self->servers, c->peer_id);
        if (s && !s->conn && c->outbound) {
            // Not accepted: the next attempt uses the other hello (a
            // SERVER_HELLO_LINK, or a SERVER_HELLO_JOIN, which is all Impl14
            // takes from a server), still with backoff.
            s->link_by_join = !s->link_by_join;
            socp_warn("server %s closed our link before accepting it (%s); next with %s", s->id,
                      reason ? reason : "",
                      s->link_by_join ? "SERVER_HELLO_JOIN" : "SERVER_HELLO_LINK");
            socpd_router_schedule_retry(self, s);
        }
    } else if (c->kind == S_JOINING && !self->joined) {
        socpd_router_join_backoff(self);
    }
    free(c);
}

static void
s_on_dial_fail(s_self_t *self, const char *link, const char *reason)
{
    if (strncmp(link, "intro:", 6) == 0) {
        socp_warn("introducer %s unreachable (%s)", link + 6, reason);
        if (!self->joined) {
            if (self->intro_next % self->a.n_introducers == 0) {
                socpd_router_join_backoff(self); // tried them all: wait for the next round
            } else {
                socpd_router_join_next(self);
            }
        }
    } else if (strncmp(link, "srv:", 4) == 0) {
        s_server_t *s = socpd_map_get(self->servers, link + 4);
        if (s) {
            socp_debug("dial to server %s failed (%s)", s->id, reason);
            socpd_router_schedule_retry(self, s);
        }
    }
}

void
socpd_router_on_frame(s_self_t *self, uint64_t id, const char *text, size_t len)
{
    s_conn_t *c = socpd_router_conn(self, id);
    if (!c || c->closing) {
        return; // gone, or refused and being closed
    }
    if (c->hello_queued) {
        socpd_router_hello_backlog(self, c, text, len); // handled after its hello
        return;
    }
    if (c->kind != S_SERVER && c->kind != S_LINKING && c->kind != S_JOINING) {
        c->last_rx_ms = socp_now_ms(); // server links: only verified frames count
    }
    socp_envelope_t env;
    socp_envelope_error_t err;
    // Impl14's clients leave from / to / payload out of their frames.
    unsigned flags = c->kind == S_PENDING || c->account ? SOCP_ENVELOPE_PARSE_NO_ADDR : 0;
    int rc = socp_envelope_parse_ex(text, len, flags, &env, &err);
    if (rc != 0) {
        if (c->kind == S_SERVER || c->kind == S_JOINING || c->kind == S_LINKING) {
            self->dropped_bad_server_sig++;
            socp_warn("malformed frame from server %s: %s", c->peer_id, err.detail);
            return;
        }
        socpd_router_error(self, c, socp_envelope_reason_code(err.reason), err.detail,
                           c->kind == S_PENDING);
        return;
    }
    switch (c->kind) {
        case S_PENDING:
            if (env.kind == SOCP_ENVELOPE_TYPE_USER_REGISTER) {
                socpd_router_on_register(self, c, &env);
            } else if (env.kind == SOCP_ENVELOPE_TYPE_USER_LOGIN) {
                socpd_router_on_login(self, c, &env);
            } else if ((env.kind == SOCP_ENVELOPE_TYPE_USER_HELLO ||
                        env.kind == SOCP_ENVELOPE_TYPE_SERVER_HELLO_JOIN ||
                        env.kind == SOCP_ENVELOPE_TYPE_SERVER_HELLO_LINK) &&
                       !env.from[0]) {
                socpd_router_error(self, c, SOCP_ENVELOPE_CODE_UNKNOWN_TYPE, "\"from\" is missing",
                                   true);
            } else if (env.kind == SOCP_ENVELOPE_TYPE_USER_HELLO) {
                if (socpd_router_hello_admit(self, c, text, len)) {
                    socpd_router_hello_serve(self, c, &env); // else it waits its turn
                }
            } else if (env.kind == SOCP_ENVELOPE_TYPE_SERVER_HELLO_JOIN ||
                       env.kind == SOCP_ENVELOPE_TYPE_SERVER_HELLO_LINK) {
                socpd_router_on_server_hello(self, c, &env);
            } else {
                socpd_router_error(self, c, SOCP_ENVELOPE_CODE_UNKNOWN_TYPE,
                                   c->account ? "log in first (USER_LOGIN)"
                                              : "the first frame must be USER_HELLO, "
                                                "SERVER_HELLO_JOIN or SERVER_HELLO_LINK",
                                   !c->account);
            }
            break;
        case S_USER:
            if (c->account) {
                s_on_account_frame(self, c, &env);
            } else {
                s_on_user_frame(self, c, &env, text, len);
            }
            break;
        case S_SERVER:
        case S_JOINING:
        case S_LINKING:
            if (env.kind == SOCP_ENVELOPE_TYPE_MSG_PUBLIC_CHANNEL ||
                env.kind == SOCP_ENVELOPE_TYPE_FILE_START ||
                env.kind == SOCP_ENVELOPE_TYPE_FILE_CHUNK ||
                env.kind == SOCP_ENVELOPE_TYPE_FILE_END) {
                socpd_router_on_server_user_frame(self, c, &env, text, len);
            } else {
                socpd_router_on_server_frame(self, c, &env, text, len);
            }
            break;
    }
    socp_envelope_fini(&env);
}

static int
s_on_msg(socp_actor_ctx_t *ctx, socp_msg_t *msg, void *arg)
{
    (void) ctx;
    s_self_t *self = arg;
    switch (msg->type) {
        case SOCP_MSG_SOCPD_OPEN:
            s_on_open(self, &msg->body.socpd_open);
            break;
        case SOCP_MSG_SOCPD_FRAME:
            socpd_router_on_frame(self, msg->body.socpd_frame.conn,
                                  (const char *) msg->body.socpd_frame.text.data,
                                  msg->body.socpd_frame.text.len);
            break;
        case SOCP_MSG_SOCPD_GONE:
            s_on_gone(self, msg->body.socpd_gone.conn, msg->body.socpd_gone.reason);
            break;
        case SOCP_MSG_SOCPD_DIAL_FAIL:
            s_on_dial_fail(self, msg->body.socpd_dial_fail.link, msg->body.socpd_dial_fail.reason);
            break;
        case SOCP_MSG_SOCPD_RATE: {
            // One ERROR per window (net sends at most one SOCPD_RATE per
            // second per connection). TIMEOUT is the closest standard code:
            // the client should slow down and retry (docs/socpd.md).
            s_conn_t *c = socpd_router_conn(self, msg->body.socpd_rate.conn);
            if (c && c->kind == S_USER) {
                socpd_router_error(self, c, SOCP_ENVELOPE_CODE_TIMEOUT,
                                   msg->body.socpd_rate.dropped
                                       ? "rate limit: frames are being dropped, slow down"
                                       : "rate limit: slow down (your frames are being delayed)",
                                   false);
            }
            break;
        }
        case SOCP_MSG_SOCPD_SIGNED: {
            const char *key = msg->body.socpd_signed.cache;
            const void *text = msg->body.socpd_signed.text.data;
            size_t len = msg->body.socpd_signed.text.len;
            if (strncmp(key, "advert:", 7) == 0) {
                // A user's advert, signed once: cached, and sent to whoever
                // waited for it (socpd_router_send_advert).
                s_user_t *u = socpd_map_get(self->users, key + 7);
                if (u) {
                    free(u->advert);
                    u->advert = socp_malloc(len + 1);
                    memcpy(u->advert, text, len);
                    u->advert[len] = '\0';
                    u->advert_ms = socp_now_ms();
                    u->advert_pending = false;
                    socpd_router_relay(self, &u->advert_waiters, text, len);
                    socp_buf_reset(&u->advert_waiters);
                }
            } else if (strcmp(key, "updated") == 0) {
                // The newcomers' PUBLIC_CHANNEL_UPDATED; the next batch, if any.
                socpd_router_relay(self, &self->updated_batch, text, len);
                socp_buf_reset(&self->updated_batch);
                self->updated_pending = false;
                s_request_updated(self);
            }
            break;
        }
        default:
            break;
    }
    return 0;
}

static int
s_on_sweep(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    (void) ctx;
    (void) timer_id;
    s_self_t *self = arg;
    uint64_t now = socp_now_ms();
    size_t pos = 0;
    const char *k;
    void *v;
    // A person at an Impl14 prompt connects, then types /register or /login:
    // a silent socket is given idle_hello_ms while few wait, the short
    // hello_timeout_ms once many do (so a flood of silent sockets is shed).
    size_t waiting = 0;
    while (socpd_map_next(self->conns, &pos, &k, &v)) {
        const s_conn_t *c = v;
        waiting += c->kind == S_PENDING && !c->outbound;
    }
    uint64_t idle = waiting > S_IDLE_WAITING_MAX ? (uint64_t) self->a.hello_timeout_ms
                                                 : (uint64_t) self->a.idle_hello_ms;
    pos = 0;
    while (socpd_map_next(self->conns, &pos, &k, &v)) {
        s_conn_t *c = v;
        // An account socket may sit between /register and /login: 5 minutes.
        uint64_t deadline = c->account && waiting <= S_IDLE_WAITING_MAX ? S_ACCOUNT_IDLE_MS : idle;
        if (c->kind == S_PENDING && !c->outbound && now - c->opened_ms > deadline &&
            !c->peer_id[0] && !c->hello_queued && !c->closing) {
            c->peer_id[0] = '\0';
            c->opened_ms = now + 3600 * 1000; // answer once
            socpd_router_error(self, c, SOCP_ENVELOPE_CODE_TIMEOUT,
                               "no USER_HELLO, SERVER_HELLO_JOIN or SERVER_HELLO_LINK in time",
                               true);
        } else if ((c->kind == S_SERVER || c->kind == S_LINKING || c->kind == S_JOINING) &&
                   now - c->last_rx_ms > (uint64_t) self->a.dead_ms) {
            socp_warn("%s server %s silent for %d ms: closing",
                      c->kind == S_SERVER ? "link to" : "unanswered hello to",
                      c->peer_id[0] ? c->peer_id : c->link, self->a.dead_ms);
            c->last_rx_ms = now; // kick once
            socpd_router_kick(self, c->id, 1001, "link dead");
        }
    }
    pos = 0;
    while (socpd_map_next(self->servers, &pos, &k, &v)) {
        s_server_t *s = v;
        if (!s->conn && !s->dialing && s->retry_at_ms && now >= s->retry_at_ms) {
            s->retry_at_ms = 0;
            socpd_router_dial_server(self, s);
        }
    }
    if (!self->joined && self->join_retry_at && now >= self->join_retry_at) {
        socpd_router_join_next(self);
    }
    s_request_updated(self); // only does something if a request was lost
    socpd_router_trust_sweep(self);
    return 0;
}

static int
s_on_heartbeat(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    (void) ctx;
    (void) timer_id;
    s_self_t *self = arg;
    socp_buf_t ids;
    socp_buf_init(&ids);
    socpd_router_server_conns(self, NULL, &ids);
    if (ids.len) {
        socpd_router_emit(self, &ids, "HEARTBEAT", "*", socp_wall_ms(), json_object(), false, NULL);
    }
    socp_buf_fini(&ids);
    return 0;
}

int
socpd_router_actor(socp_actor_ctx_t *ctx, void *args)
{
    s_self_t self;
    memset(&self, 0, sizeof self);
    self.ctx = ctx;
    self.a = *(const socpd_router_args_t *) args;
    snprintf(self.server_id, sizeof self.server_id, "%s", self.a.server_id);
    socp_log_set_thread_name(socp_actor_name(ctx));
    int rc = socpd_store_open(self.a.data_dir, 0, &self.store);
    if (rc != 0) {
        return rc;
    }
    rc = socpd_replay_open(self.a.data_dir, 0, &self.replay_floor_ms, &self.replay);
    if (rc != 0) {
        socpd_store_close(&self.store);
        return rc;
    }
    if (self.a.hello_window_ms <= 0) {
        self.a.hello_window_ms = 120000;
    }
    // The seen-cache stops loops and replays of server frames (user frames
    // and hellos have the replay memory). A replay is only refused while its
    // entry lives: a frame first seen at ts - skew is still within the ts
    // window at ts + skew, so entries must live 2 x skew (and at least the
    // profile's 5 minutes).
    int64_t ttl_ms = 2 * (int64_t) self.a.max_skew_ms;
    if (ttl_ms < SOCP_SEEN_TTL_DEFAULT_MS) {
        ttl_ms = SOCP_SEEN_TTL_DEFAULT_MS;
    }
    self.seen = socp_seen_new(S_SEEN_CAPACITY, ttl_ms);
    self.conns = socpd_map_new();
    self.users = socpd_map_new();
    self.servers = socpd_map_new();
    self.logins = socpd_map_new();
    self.addrs = socpd_map_new();
    socp_buf_init(&self.updated_batch);
    socp_buf_init(&self.updated_next);
    socp_buf_init(&self.buf);
    self.pending_adds = json_array();
    self.join_backoff = S_BACKOFF_MIN_MS;
    self.joined = self.a.n_introducers == 0;
    // Pin the introducers' keys under a provisional id until they welcome us.
    if (socp_actor_timer_add(ctx, 250, 250, s_on_sweep, &self) <= 0 ||
        socp_actor_timer_add(ctx, (uint64_t) self.a.heartbeat_ms, (uint64_t) self.a.heartbeat_ms,
                             s_on_heartbeat, &self) <= 0 ||
        socp_actor_timer_add(ctx, S_ADD_BATCH_MS, S_ADD_BATCH_MS, s_on_flush_adds, &self) <= 0) {
        rc = SOCP_EINIT;
    }
    if (rc == 0) {
        socp_actor_ready(ctx, 0);
        socpd_router_join_next(&self);
        rc = socp_actor_run(ctx, s_on_msg, &self);
    }
    socp_info("router: %llu delivered, %llu replays dropped, %llu bad server frames dropped, "
              "%llu frames too big once wrapped; hellos: %llu waited for a token, %llu refused "
              "(busy), %llu refused as replays; %llu unused ids forgotten",
              (unsigned long long) self.delivered, (unsigned long long) self.dropped_replay,
              (unsigned long long) self.dropped_bad_server_sig,
              (unsigned long long) self.dropped_too_big, (unsigned long long) self.hellos_delayed,
              (unsigned long long) self.hellos_refused, (unsigned long long) self.replays_refused,
              (unsigned long long) self.bindings_expired);
    socpd_router_trust_fini(&self);
    size_t pos = 0;
    const char *k;
    void *v;
    while (socpd_map_next(self.users, &pos, &k, &v)) {
        socpd_router_user_free(v);
    }
    pos = 0;
    while (socpd_map_next(self.servers, &pos, &k, &v)) {
        s_server_t *s = v;
        free(s->pubkey);
        socp_rsa_destroy(&s->key);
        free(s);
    }
    pos = 0;
    while (socpd_map_next(self.conns, &pos, &k, &v)) {
        free(v);
    }
    socpd_map_destroy(&self.conns);
    socpd_map_destroy(&self.users);
    socpd_map_destroy(&self.servers);
    pos = 0;
    while (socpd_map_next(self.logins, &pos, &k, &v)) {
        free(v);
    }
    socpd_map_destroy(&self.logins);
    socp_seen_destroy(&self.seen);
    json_decref(self.pending_adds);
    socp_buf_fini(&self.buf);
    socpd_store_close(&self.store);
    return rc;
}
