// socpd_router_mesh.c: the router's server links: joining through an
// introducer (SERVER_HELLO_JOIN, SERVER_WELCOME), linking to every other
// server (SERVER_HELLO_LINK), heartbeats and dead links with backoff,
// presence gossip (USER_ADVERTISE / USER_REMOVE) and SERVER_DELIVER.
// Part of socp, a SOCP v1.3 client and server. The rest of the router:
// socpd_router.c; shared state: socpd_router_int.h.
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socp/socp_err.h"
#include "socp/socp_json.h"
#include "socp/socp_log.h"
#include "socp/socp_sig.h"
#include "socp/socp_uuid.h"
#include "socpd_router_int.h"

// ---- server links ---------------------------------------------------------------

// A key in any accepted encoding, as base64url DER (what comparisons use).
int
socpd_router_der_key(const char *text, char **out)
{
    *out = NULL;
    socp_rsa_key_t *key = NULL;
    int rc = socp_rsa_public_import(text, strlen(text), &key);
    if (rc == 0) {
        rc = socp_rsa_public_export(key, SOCP_RSA_PUB_B64_DER, out);
    }
    socp_rsa_destroy(&key);
    return rc;
}

static s_server_t *
s_server_add(s_self_t *self, const char *id, const char *host, uint16_t port, const char *pubkey)
{
    socp_rsa_key_t *key = NULL;
    if (!pubkey || socp_rsa_public_import(pubkey, strlen(pubkey), &key) != 0) {
        return NULL;
    }
    s_server_t *s = socpd_map_get(self->servers, id);
    if (s) {
        if (!socp_rsa_public_equal(s->key, key)) {
            socp_warn("server %s presented a key different from the pinned one: ignored", id);
            socp_rsa_destroy(&key);
            return NULL;
        }
        socp_rsa_destroy(&key);
    } else {
        if (socpd_map_size(self->servers) >= S_SERVERS_MAX) {
            socp_warn("server %.64s not added: %d servers known already", id, S_SERVERS_MAX);
            socp_rsa_destroy(&key);
            return NULL;
        }
        s = socp_calloc(1, sizeof *s);
        snprintf(s->id, sizeof s->id, "%s", id);
        s->pubkey = socp_strdup(pubkey);
        s->key = key;
        s->backoff_ms = S_BACKOFF_MIN_MS;
        socpd_map_put(self->servers, s->id, s);
    }
    if (host && host[0]) {
        snprintf(s->host, sizeof s->host, "%s", host);
        s->port = port;
    }
    return s;
}

// Our key in the form a peer server reads: with --pub-format auto, PEM to a
// server whose own key we know as PEM text (peer A parses PEM only), DER to
// the others (Impl14 parses DER only).
const char *
socpd_router_our_key(const s_self_t *self, const char *peer_key)
{
    if (self->a.pub_format == SOCPD_PUB_PEM || (self->a.pub_format == SOCPD_PUB_AUTO && peer_key &&
                                                (strncmp(peer_key, "LS0tLS1CRUdJT", 13) == 0 ||
                                                 strncmp(peer_key, "-----BEGIN", 10) == 0))) {
        return self->a.pubkey_pem;
    }
    return self->a.pubkey;
}

// True when some known server lives at host:port already.
static bool
s_address_taken(s_self_t *self, const char *host, uint16_t port)
{
    size_t pos = 0;
    const char *k;
    void *v;
    while (socpd_map_next(self->servers, &pos, &k, &v)) {
        const s_server_t *s = v;
        if (s->port == port && strcmp(s->host, host) == 0) {
            return true;
        }
    }
    return false;
}

// A link to server s is up on connection c: re-advertise our users to it.
void
socpd_router_link_up(s_self_t *self, s_server_t *s, s_conn_t *c)
{
    if (s->conn && s->conn != c->id) {
        // Two links: keep the one dialled by the lower id, close the other.
        s_conn_t *old = socpd_router_conn(self, s->conn);
        bool new_by_lower =
            c->outbound ? strcmp(self->server_id, s->id) < 0 : strcmp(s->id, self->server_id) < 0;
        if (old && !new_by_lower) {
            socpd_router_kick(self, c->id, 1000, "duplicate link");
            c->kind = S_PENDING;
            c->peer_id[0] = '\0';
            return;
        }
        if (old) {
            old->kind = S_PENDING; // its GONE must not unlink the server
            socpd_router_kick(self, old->id, 1000, "duplicate link");
        }
    }
    s->conn = c->id;
    s->dialing = false;
    s->retry_at_ms = 0;
    s->up_at_ms = socp_now_ms();
    c->kind = S_SERVER;
    snprintf(c->peer_id, sizeof c->peer_id, "%s", s->id);
    socp_msg_t trust = socp_msg_make(SOCP_MSG_SOCPD_TRUST); // no user rate limit on a link
    trust.body.socpd_trust.conn = c->id;
    (void) socp_actor_send(self->ctx, "socpd_net", &trust);
    socp_info("link to server %s up (conn %llu, %s)", s->id, (unsigned long long) c->id,
              c->outbound ? "outbound" : "inbound");
    size_t pos = 0;
    const char *k;
    void *v;
    while (socpd_map_next(self->users, &pos, &k, &v)) {
        s_user_t *u = v;
        if (u->conn) {
            socpd_router_send_advert(self, u, c->id); // cached, or signed once
        }
    }
}

// The servers we know, us first (our key in the form `peer_key` suggests).
static json_t *
s_server_list(s_self_t *self, const char *except, const char *peer_key)
{
    json_t *servers = json_array();
    json_array_append_new(servers, json_pack("{s:s, s:s, s:i, s:s}", "server_id", self->server_id,
                                             "host", self->a.host, "port", (int) self->a.port,
                                             "pubkey", socpd_router_our_key(self, peer_key)));
    size_t pos = 0;
    const char *k;
    void *v;
    while (socpd_map_next(self->servers, &pos, &k, &v)) {
        s_server_t *s = v;
        if ((except && strcmp(s->id, except) == 0) || !s->host[0]) {
            continue;
        }
        json_array_append_new(servers,
                              json_pack("{s:s, s:s, s:i, s:s}", "server_id", s->id, "host", s->host,
                                        "port", (int) s->port, "pubkey", s->pubkey));
    }
    return servers;
}

void
socpd_router_on_server_hello(s_self_t *self, s_conn_t *c, const socp_envelope_t *env)
{
    const char *host = json_string_value(json_object_get(env->payload, "host"));
    json_int_t port = json_integer_value(json_object_get(env->payload, "port"));
    const char *pk = json_string_value(json_object_get(env->payload, "pubkey"));
    if (port < 0 || port > 65535) {
        port = 0;
    }
    if (env->kind == SOCP_ENVELOPE_TYPE_SERVER_HELLO_LINK) {
        // Only servers whose key we pinned (configuration, welcome list or a
        // relayed announce) may link. A signed hello must verify under that
        // key and brings the link up at once. An unsigned one (the standard
        // allows it; peer A sends it) proves nothing: the link waits for the
        // first frame that verifies under the pinned key, so a stranger
        // using a known server's id can neither displace its link nor move
        // its address (docs/adr/0013-unsigned-server-frames.md).
        s_server_t *s = socpd_map_get(self->servers, env->from);
        if (!s ||
            (env->sig && socp_sig_verify_payload(s->key, env->payload, env->sig, NULL) != 0)) {
            self->dropped_bad_server_sig++;
            socp_warn("SERVER_HELLO_LINK from %.64s refused: %s", env->from,
                      s ? "does not verify under the pinned key" : "unknown server id");
            socpd_router_error(self, c, SOCP_ENVELOPE_CODE_INVALID_SIG,
                               s ? "SERVER_HELLO_LINK does not verify under the pinned key"
                                 : "unknown server id",
                               true);
            return;
        }
        if (!env->sig) {
            // raw_relay is set once a verified frame proves the link
            // (socpd_router_on_server_frame).
            c->kind = S_LINKING;
            snprintf(c->peer_id, sizeof c->peer_id, "%s", s->id);
            socp_info("unsigned SERVER_HELLO_LINK from %s: the link is up at its first signed "
                      "frame",
                      s->id);
        } else {
            if (host && port) {
                snprintf(s->host, sizeof s->host, "%s", host);
                s->port = (uint16_t) port;
            }
            s->raw_relay = false;
            socpd_router_link_up(self, s, c);
        }
        if (s->conn == c->id || c->kind == S_LINKING) {
            // Tells the dialler at once that its hello was taken (and gives
            // it a signed frame to check our key with).
            socpd_router_emit_one(self, c->id, "HEARTBEAT", s->id, json_object(), false);
        }
        return;
    }
    // SERVER_HELLO_JOIN: we act as introducer.
    socp_rsa_key_t *key = NULL;
    if (!pk || socp_rsa_public_import(pk, strlen(pk), &key) != 0) {
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_BAD_KEY, "pubkey is not an RSA-4096 key",
                           true);
        return;
    }
    // A signed join proves possession of the key the newcomer asks us to
    // pin; an unsigned one (the standard allows it for bootstrap) does not,
    // so it cannot take over a server that is linked now, and whatever it
    // pins is only used to verify what that server signs later.
    bool ok = !env->sig || socp_sig_verify_payload(key, env->payload, env->sig, NULL) == 0;
    socp_rsa_destroy(&key);
    if (!ok) {
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_INVALID_SIG,
                           "SERVER_HELLO_JOIN sig does not verify", true);
        return;
    }
    char assigned[SOCP_ENVELOPE_ID_MAX + 1];
    snprintf(assigned, sizeof assigned, "%s", env->from);
    s_server_t *known = socpd_map_get(self->servers, assigned);
    bool same_key = false;
    if (known) {
        socp_rsa_key_t *k2 = NULL;
        if (socp_rsa_public_import(pk, strlen(pk), &k2) == 0) {
            same_key = socp_rsa_public_equal(k2, known->key);
        }
        socp_rsa_destroy(&k2);
    }
    if (known && same_key && known->conn && !env->sig) {
        socp_warn("unsigned SERVER_HELLO_JOIN for linked server %.64s: refused", assigned);
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_INVALID_SIG,
                           "this server is linked; only a signed join can replace its link", true);
        return;
    }
    // An unsigned join never takes a known server's entry (its link, its
    // address): anybody has its public key. It gets an id of its own.
    if (strcmp(assigned, self->server_id) == 0 || socpd_map_get(self->users, assigned) ||
        (known && (!same_key || !env->sig))) {
        socp_uuid_generate(assigned); // id taken: assign a fresh one
    }
    s_server_t *s = s_server_add(self, assigned, host, (uint16_t) port, pk);
    if (s) {
        s->raw_relay = !env->sig;
    }
    if (!s) {
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_BAD_KEY, "cannot register this server",
                           true);
        return;
    }
    json_t *servers = s_server_list(self, s->id, pk);
    json_t *clients = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(servers, i, e)
    {
        json_t *m = json_deep_copy(e);
        json_object_set(m, "user_id", json_object_get(e, "server_id"));
        json_array_append_new(clients, m);
    }
    socpd_router_emit_one(
        self, c->id, "SERVER_WELCOME", s->id,
        json_pack("{s:s, s:o, s:o}", "assigned_id", s->id, "servers", servers, "clients", clients),
        false);
    socp_info("server %s joined through us (%s:%d)", s->id, host ? host : "?", (int) port);
    socpd_router_link_up(self, s, c);
}

void
socpd_router_join_next(s_self_t *self)
{
    if (self->a.n_introducers == 0) {
        return;
    }
    const socpd_peer_addr_t *in = &self->a.introducers[self->intro_next % self->a.n_introducers];
    char link[64];
    snprintf(link, sizeof link, "intro:%zu", self->intro_next % self->a.n_introducers);
    self->intro_next++;
    socp_msg_t m = socp_msg_make(SOCP_MSG_SOCPD_DIAL);
    m.body.socpd_dial.host = in->host;
    m.body.socpd_dial.port = in->port;
    m.body.socpd_dial.link = link;
    (void) socp_actor_send(self->ctx, "socpd_net", &m);
    self->join_retry_at = 0;
}

void
socpd_router_dial_server(s_self_t *self, s_server_t *s)
{
    if (!s->host[0] || !s->port || s->conn || s->dialing) {
        return;
    }
    char link[160];
    snprintf(link, sizeof link, "srv:%s", s->id);
    socp_msg_t m = socp_msg_make(SOCP_MSG_SOCPD_DIAL);
    m.body.socpd_dial.host = s->host;
    m.body.socpd_dial.port = s->port;
    m.body.socpd_dial.link = link;
    s->dialing = true;
    (void) socp_actor_send(self->ctx, "socpd_net", &m);
}

// Exponential backoff with jitter: the next attempt in [b, 1.5 b), then
// b doubles up to S_BACKOFF_MAX_MS. Returns the delay.
static uint64_t
s_backoff(uint64_t *backoff_ms)
{
    uint64_t delay = *backoff_ms + randombytes_uniform((uint32_t) (*backoff_ms / 2 + 1));
    *backoff_ms = *backoff_ms * 2 > S_BACKOFF_MAX_MS ? S_BACKOFF_MAX_MS : *backoff_ms * 2;
    return delay;
}

void
socpd_router_schedule_retry(s_self_t *self, s_server_t *s)
{
    (void) self;
    s->dialing = false;
    uint64_t delay = s_backoff(&s->backoff_ms);
    s->retry_at_ms = socp_now_ms() + delay;
    socp_debug("server %s: next dial in %llu ms", s->id, (unsigned long long) delay);
}

void
socpd_router_join_backoff(s_self_t *self)
{
    uint64_t delay = s_backoff(&self->join_backoff);
    self->join_retry_at = socp_now_ms() + delay;
    socp_info("joining the mesh: next attempt in %llu ms", (unsigned long long) delay);
}

static void
s_on_welcome(s_self_t *self, s_conn_t *c, const socp_envelope_t *env)
{
    size_t idx = (size_t) strtoul(c->link + 6, NULL, 10);
    if (idx >= self->a.n_introducers) {
        return;
    }
    const socpd_peer_addr_t *in = &self->a.introducers[idx];
    // Signed: it must verify under the key configured for this introducer.
    // Unsigned (peer A's servers): taken on this connection only, the one we
    // dialled to a configured introducer; its id is pinned to the configured
    // key, so everything it sends later must verify under that key
    // (docs/adr/0013-unsigned-server-frames.md says what this trusts).
    s_server_t *s = socp_uuid_is_peer_id(env->from, strlen(env->from))
                        ? s_server_add(self, env->from, in->host, in->port, in->pubkey)
                        : NULL;
    if (!s || (env->sig && socp_sig_verify_payload(s->key, env->payload, env->sig, NULL) != 0)) {
        self->dropped_bad_server_sig++;
        socp_warn("SERVER_WELCOME from %.64s (introducer %s:%u): %s: dropped", env->from, in->host,
                  (unsigned) in->port,
                  s ? "does not verify under the configured key" : "bad or clashing server id");
        socpd_router_kick(self, c->id, 1000, "bad welcome");
        return;
    }
    s->raw_relay = !env->sig;
    if (!env->sig) {
        socp_info("unsigned SERVER_WELCOME from introducer %s (%s:%u): accepted on the "
                  "connection we dialled",
                  s->id, in->host, (unsigned) in->port);
    }
    const char *assigned = json_string_value(json_object_get(env->payload, "assigned_id"));
    if (assigned && socp_uuid_is_peer_id(assigned, strlen(assigned)) &&
        strcmp(assigned, self->server_id) != 0) {
        socp_warn("introducer assigned us id %s (was %s)", assigned, self->server_id);
        snprintf(self->server_id, sizeof self->server_id, "%s", assigned);
        if (socpd_store_meta_put(self->store, "server_id", self->server_id) != 0) {
            socp_error("cannot persist the assigned server id");
        }
    }
    self->joined = true;
    socp_info("joined the mesh through introducer %s", s->id);
    socpd_router_link_up(self, s, c);
    // Announce ourselves (the introducer relays it), then link to everyone.
    socpd_router_emit_one(self, c->id, "SERVER_ANNOUNCE", "*",
                          json_pack("{s:s, s:i, s:s}", "host", self->a.host, "port",
                                    (int) self->a.port, "pubkey",
                                    socpd_router_our_key(self, in->pubkey)),
                          false);
    json_t *list = json_object_get(env->payload, "servers");
    if (!json_is_array(list)) {
        list = json_object_get(env->payload, "clients");
    }
    size_t i;
    json_t *e;
    if (json_array_size(list) > S_WELCOME_MAX) {
        socp_warn("SERVER_WELCOME from %s lists %zu servers: only the first %d are used", s->id,
                  json_array_size(list), S_WELCOME_MAX);
    }
    size_t shared_address = 0;
    json_array_foreach(list, i, e)
    {
        if (i >= S_WELCOME_MAX) {
            break;
        }
        const char *sid = json_string_value(json_object_get(e, "server_id"));
        if (!sid) {
            sid = json_string_value(json_object_get(e, "user_id"));
        }
        const char *h = json_string_value(json_object_get(e, "host"));
        json_int_t p = json_integer_value(json_object_get(e, "port"));
        const char *pk = json_string_value(json_object_get(e, "pubkey"));
        if (!sid || !socp_uuid_is_peer_id(sid, strlen(sid)) || strcmp(sid, self->server_id) == 0 ||
            strcmp(sid, s->id) == 0 || p <= 0 || p > 65535 || !h || !h[0]) {
            continue;
        }
        // Our own address or the introducer's under another id: a loop or
        // a lie; never dialled.
        if ((p == self->a.port && strcmp(h, self->a.host) == 0) ||
            (p == in->port && strcmp(h, in->host) == 0)) {
            socp_warn("SERVER_WELCOME from %s lists %.64s at %.64s:%d, our or the introducer's "
                      "address: ignored",
                      s->id, sid, h, (int) p);
            continue;
        }
        if (!socpd_map_get(self->servers, sid) && s_address_taken(self, h, (uint16_t) p)) {
            shared_address++; // one dial per address, whatever ids a list puts there
            continue;
        }
        s_server_t *o = s_server_add(self, sid, h, (uint16_t) p, pk);
        if (o) {
            socpd_router_dial_server(self, o);
        }
    }
    if (shared_address) {
        socp_warn("SERVER_WELCOME from %s: %zu servers listed at an address another server has: "
                  "ignored",
                  s->id, shared_address);
    }
}

// Verifies a frame from a server link under the key pinned for its `from`.
static s_server_t *
s_verify_server(s_self_t *self, const socp_envelope_t *env)
{
    s_server_t *s = socpd_map_get(self->servers, env->from);
    if (!s || !env->sig || socp_sig_verify_payload(s->key, env->payload, env->sig, NULL) != 0) {
        self->dropped_bad_server_sig++;
        socp_warn("%s from %s: %s: dropped (%llu so far)", env->type, env->from,
                  !s          ? "unknown server"
                  : !env->sig ? "unsigned"
                              : "bad signature",
                  (unsigned long long) self->dropped_bad_server_sig);
        return NULL;
    }
    return s;
}

static void s_deliver_inner(s_self_t *self,
                            const s_server_t *link,
                            const socp_envelope_t *env,
                            socp_envelope_type_t kind,
                            const char *frame,
                            s_user_t *u);

// Peer A's way of sending a file to another server: a SERVER_DELIVER whose
// `from` is the sending user, whose payload is that user's whole frame plus
// `user_id`, signed by the relaying server. Accepted on that server's link
// only, under its key; the user's frame inside must still verify under the
// user's key before it reaches the recipient.
static void
s_on_wrapped_user_frame(s_self_t *self, const s_server_t *link, const socp_envelope_t *env)
{
    const char *uid = json_string_value(json_object_get(env->payload, "user_id"));
    s_user_t *u = uid ? socpd_map_get(self->users, uid) : NULL;
    const char *tname = json_string_value(json_object_get(env->payload, "type"));
    socp_envelope_type_t kind =
        tname ? socp_envelope_type_lookup(tname, strlen(tname)) : SOCP_ENVELOPE_TYPE_UNKNOWN;
    if (!env->sig || socp_sig_verify_payload(link->key, env->payload, env->sig, NULL) != 0) {
        self->dropped_bad_server_sig++;
        socp_warn("SERVER_DELIVER from user %.64s via %s: not signed by %s: dropped", env->from,
                  link->id, link->id);
        return;
    }
    if (!u || !u->conn ||
        (kind != SOCP_ENVELOPE_TYPE_FILE_START && kind != SOCP_ENVELOPE_TYPE_FILE_CHUNK &&
         kind != SOCP_ENVELOPE_TYPE_FILE_END && kind != SOCP_ENVELOPE_TYPE_MSG_PUBLIC_CHANNEL)) {
        socp_debug("SERVER_DELIVER from user %.64s via %s: not for a local user: dropped",
                   env->from, link->id);
        return;
    }
    json_t *inner = json_deep_copy(env->payload);
    json_object_del(inner, "user_id");
    char *text = json_dumps(inner, JSON_COMPACT);
    json_decref(inner);
    if (text) {
        s_deliver_inner(self, link, env, kind, text, u);
    }
    free(text);
}

void
socpd_router_on_server_frame(s_self_t *self,
                             s_conn_t *c,
                             const socp_envelope_t *env,
                             const char *text,
                             size_t len)
{
    s_server_t *link = socpd_map_get(self->servers, c->peer_id);
    if (env->kind == SOCP_ENVELOPE_TYPE_SERVER_WELCOME && c->kind == S_JOINING) {
        s_on_welcome(self, c, env);
        return;
    }
    if (env->kind == SOCP_ENVELOPE_TYPE_SERVER_DELIVER && link && c->kind == S_SERVER &&
        !socpd_map_get(self->servers, env->from) && json_object_get(env->payload, "type")) {
        s_on_wrapped_user_frame(self, link, env);
        return;
    }
    if (env->kind == SOCP_ENVELOPE_TYPE_SERVER_ANNOUNCE) {
        // Trusted because a pinned server relays it (so only on an
        // established server link); self-signed by the newcomer.
        if (c->kind != S_SERVER || !link) {
            self->dropped_bad_server_sig++;
            socp_warn("SERVER_ANNOUNCE on a connection that is not a server link: dropped");
            return;
        }
        const char *pk = json_string_value(json_object_get(env->payload, "pubkey"));
        const char *h = json_string_value(json_object_get(env->payload, "host"));
        json_int_t p = json_integer_value(json_object_get(env->payload, "port"));
        if (strcmp(env->from, self->server_id) == 0 || !pk) {
            return;
        }
        if (!env->sig) {
            // Unsigned (peer A): only a server announcing itself over its own
            // link, with the key pinned for it, is heard; it teaches nothing
            // new and is not relayed (nobody else could check it).
            s_server_t *own = socpd_map_get(self->servers, env->from);
            socp_rsa_key_t *k2 = NULL;
            bool same = own && own == link && socp_rsa_public_import(pk, strlen(pk), &k2) == 0 &&
                        socp_rsa_public_equal(k2, own->key);
            socp_rsa_destroy(&k2);
            if (!same) {
                self->dropped_bad_server_sig++;
                socp_warn("unsigned SERVER_ANNOUNCE for %.64s via %s: dropped", env->from,
                          link->id);
            }
            return;
        }
        socp_rsa_key_t *key = NULL;
        bool ok = socp_rsa_public_import(pk, strlen(pk), &key) == 0 &&
                  socp_sig_verify_payload(key, env->payload, env->sig, NULL) == 0;
        socp_rsa_destroy(&key);
        if (!ok) {
            self->dropped_bad_server_sig++;
            return;
        }
        if (socp_seen_check_envelope(self->seen, env, (int64_t) socp_now_ms()) == SOCP_EREPLAY) {
            return;
        }
        if (s_server_add(self, env->from, h, (uint16_t) (p > 0 && p < 65536 ? p : 0), pk)) {
            socp_info("server %s announced (%s:%d)", env->from, h ? h : "?", (int) p);
        }
        socp_buf_t ids;
        socp_buf_init(&ids);
        socpd_router_server_conns(self, link ? link->id : NULL, &ids);
        socpd_router_relay(self, &ids, text, len);
        socp_buf_fini(&ids);
        return;
    }
    s_server_t *from = s_verify_server(self, env);
    if (!from) {
        return;
    }
    if (c->kind == S_LINKING) {
        if (from != link) {
            return; // only the server we dialled can accept the link
        }
        if (env->kind == SOCP_ENVELOPE_TYPE_ERROR) {
            // E.g. Impl14 answering a SERVER_HELLO_LINK: it took us for a user.
            const char *detail = json_string_value(json_object_get(env->payload, "detail"));
            socp_warn("server %s refused our hello: %.120s", link->id, detail ? detail : "?");
            socpd_router_kick(self, c->id, 1000, "hello refused");
            return;
        }
        if (!c->outbound) {
            link->raw_relay = true; // it linked with an unsigned hello (peer A)
        }
        socpd_router_link_up(self, link, c);
    }
    c->last_rx_ms = socp_now_ms(); // only verified frames keep a server link alive
    switch (env->kind) {
        case SOCP_ENVELOPE_TYPE_HEARTBEAT:
            return;
        case SOCP_ENVELOPE_TYPE_USER_ADVERTISE:
        case SOCP_ENVELOPE_TYPE_USER_REMOVE: {
            bool seen =
                socp_seen_check_envelope(self->seen, env, (int64_t) socp_now_ms()) == SOCP_EREPLAY;
            const char *uid = json_string_value(json_object_get(env->payload, "user_id"));
            const char *sid = json_string_value(json_object_get(env->payload, "server_id"));
            if (!uid || !sid || !socp_uuid_is_peer_id(uid, strlen(uid)) ||
                !socp_uuid_is_peer_id(sid, strlen(sid))) {
                return;
            }
            s_user_t *u = socpd_map_get(self->users, uid);
            // The seen-cache stops gossip loops. One duplicate is still
            // applied: a USER_ADVERTISE its hosting server sends over its own
            // link for a user we do not have there. That is the re-advertising
            // after a link came back (the hosting server re-sends its cached,
            // already signed advert, which we saw before the link died and we
            // removed the user). It is applied and shown to local users, never
            // relayed again (the other servers did not lose it).
            bool reapply = seen && env->kind == SOCP_ENVELOPE_TYPE_USER_ADVERTISE && link &&
                           strcmp(env->from, link->id) == 0 && strcmp(sid, env->from) == 0 &&
                           (!u || (!u->conn && strcmp(u->server_id, sid) != 0));
            if (seen && !reapply) {
                return;
            }
            if (env->kind == SOCP_ENVELOPE_TYPE_USER_ADVERTISE) {
                if (u && u->conn) {
                    return; // our own local user wins; never overwritten remotely
                }
                const char *pk = json_string_value(json_object_get(env->payload, "pubkey"));
                json_t *meta = json_object_get(env->payload, "meta");
                if (!pk && json_is_object(meta)) {
                    pk = json_string_value(json_object_get(meta, "pubkey"));
                }
                if (!pk || strlen(pk) > SOCP_RSA_IMPORT_MAX ||
                    socpd_router_reserved_id(self, uid)) {
                    return;
                }
                // Only the hosting server may advertise its users (relays
                // forward its signed frame unchanged, so from == server_id),
                // and a user id keeps the key it is known by: here, or bound
                // to a user of this server in the database.
                if (strcmp(sid, env->from) != 0) {
                    socp_warn("USER_ADVERTISE for %.64s by %.64s, not its server %.64s: ignored",
                              uid, env->from, sid);
                    return;
                }
                // Compared as keys (a user may present DER or PEM), relayed
                // as presented.
                char *norm = NULL;
                if (socpd_router_der_key(pk, &norm) != 0) {
                    return;
                }
                char *bound = NULL;
                char *known = NULL;
                bool clash =
                    (u && u->pubkey &&
                     (socpd_router_der_key(u->pubkey, &known) != 0 || strcmp(known, norm) != 0)) ||
                    (socpd_store_user_key(self->store, uid, &bound) == 0 && bound &&
                     strcmp(bound, norm) != 0);
                free(bound);
                free(known);
                free(norm);
                if (clash) {
                    socp_warn("USER_ADVERTISE for %.64s from server %.64s with a different key: "
                              "refused",
                              uid, env->from);
                    return;
                }
                if (!u) {
                    u = socp_calloc(1, sizeof *u);
                    snprintf(u->id, sizeof u->id, "%s", uid);
                    socpd_map_put(self->users, u->id, u);
                }
                snprintf(u->server_id, sizeof u->server_id, "%s", sid);
                free(u->pubkey);
                u->pubkey = socp_strdup(pk);
                // Its hosting server's signed advert is what newcomers here
                // get while it is fresh (socpd_router_send_advert).
                free(u->advert);
                u->advert = socp_malloc(len + 1);
                memcpy(u->advert, text, len);
                u->advert[len] = '\0';
                u->advert_ms = socp_now_ms();
                socpd_router_tell_accounts(self, u, true);
                json_decref(u->meta);
                u->meta = json_is_object(meta) ? json_deep_copy(meta) : json_object();
                json_object_del(u->meta, "pubkey");
            } else {
                if (!u || u->conn || strcmp(u->server_id, sid) != 0) {
                    return; // only if it still lives there
                }
                // Another server saying the user's server is gone: believed
                // only when we have no link of our own to that server.
                s_server_t *host = socpd_map_get(self->servers, sid);
                if (strcmp(env->from, sid) != 0 && host && host->conn) {
                    return;
                }
                socpd_map_remove(self->users, uid);
                socpd_router_tell_accounts(self, u, false);
                socpd_router_user_free(u);
            }
            socp_buf_t ids;
            socp_buf_init(&ids);
            socpd_router_local_conns(self, NULL, &ids);
            if (!reapply) {
                socpd_router_server_conns(self, link ? link->id : NULL, &ids);
            }
            socpd_router_relay(self, &ids, text, len);
            socp_buf_fini(&ids);
            return;
        }
        case SOCP_ENVELOPE_TYPE_SERVER_DELIVER: {
            const char *uid = json_string_value(json_object_get(env->payload, "user_id"));
            s_user_t *u = uid ? socpd_map_get(self->users, uid) : NULL;
            if (!u) {
                socp_warn("SERVER_DELIVER from %s for %.64s, a user nobody here knows: dropped",
                          env->from, uid ? uid : "(no user_id)");
                return;
            }
            socp_buf_t ids;
            socp_buf_init(&ids);
            if (u->conn) {
                socpd_router_put_conn_id(&ids, u->conn);
                const char *frame = json_string_value(json_object_get(env->payload, "frame"));
                const char *kname = json_string_value(json_object_get(env->payload, "kind"));
                if (frame) {
                    // The old {kind, frame} wrapper: the user's frame inside
                    // is checked (type, recipient, its sender's signature).
                    socp_envelope_type_t kind =
                        kname ? socp_envelope_type_lookup(kname, strlen(kname))
                              : SOCP_ENVELOPE_TYPE_UNKNOWN;
                    if (kind == SOCP_ENVELOPE_TYPE_MSG_PUBLIC_CHANNEL ||
                        kind == SOCP_ENVELOPE_TYPE_FILE_START ||
                        kind == SOCP_ENVELOPE_TYPE_FILE_CHUNK ||
                        kind == SOCP_ENVELOPE_TYPE_FILE_END) {
                        s_deliver_inner(self, from, env, kind, frame, u);
                    }
                } else {
                    json_t *ts = json_object_get(env->payload, "ts");
                    const char *sender = json_string_value(json_object_get(env->payload, "sender"));
                    int64_t t = json_is_integer(ts) ? json_integer_value(ts) : env->ts;
                    json_t *p =
                        socpd_router_deliver_payload(env->payload, sender ? sender : "", u->id, t);
                    s_conn_t *uc = socpd_router_conn(self, u->conn);
                    if (uc && uc->account) {
                        json_t *d = socpd_router_account_deliver(p);
                        json_decref(p);
                        p = d;
                    }
                    socpd_router_emit(self, &ids, "USER_DELIVER", u->id, t, p, false, NULL);
                }
                self->delivered++;
            } else {
                s_server_t *s = socpd_map_get(self->servers, u->server_id);
                if (s && s->conn && s->conn != c->id) {
                    socpd_router_put_conn_id(&ids, s->conn);
                    socpd_router_relay(self, &ids, text, len); // forwarded unchanged
                }
            }
            socp_buf_fini(&ids);
            return;
        }
        default:
            return;
    }
}

// The payload of a user frame (MSG_PUBLIC_CHANNEL to a user, FILE_*) sent
// on to another server, server-signed: the user's own fields, plus who it is
// for (`user_id` and `to`: what the Impl14 servers route by), who sent it and
// when (`sender`, `ts`), and the user's frame itself (`frame`), which a socpd
// hands to the recipient unchanged, so the user's signature still verifies.
json_t *
socpd_router_forward_payload(const socp_envelope_t *env,
                             const char *recipient,
                             const char *text,
                             size_t len)
{
    json_t *p = json_deep_copy(env->payload);
    json_object_set_new(p, "user_id", json_string(recipient));
    json_object_set_new(p, "to", json_string(recipient));
    json_object_set_new(p, "sender", json_string(env->from));
    json_object_set_new(p, "ts", json_integer(env->ts));
    json_object_set_new(p, "frame", json_stringn(text, len));
    return p;
}

// Hands a user's frame carried inside a server-signed one to its local
// recipient: it must be a frame of the same type, from `sender`, for `u`,
// signed by the sender's key (unless unsigned user frames are allowed).
static void
s_deliver_inner(s_self_t *self,
                const s_server_t *link,
                const socp_envelope_t *env,
                socp_envelope_type_t kind,
                const char *frame,
                s_user_t *u)
{
    socp_envelope_t in;
    socp_envelope_error_t err;
    if (socp_envelope_parse(frame, strlen(frame), &in, &err) != 0) {
        self->dropped_bad_server_sig++;
        socp_warn("%s from server %s carries a malformed frame: dropped", env->type, link->id);
        return;
    }
    s_user_t *sender = socpd_map_get(self->users, in.from);
    const char *why = NULL;
    if (in.kind != kind || strcmp(in.to, u->id) != 0) {
        why = "its frame is of another type or for another user";
    } else if (!sender || !sender->pubkey) {
        why = "its sender is unknown";
    } else if (!in.sig && self->a.require_user_sig) {
        why = "its frame is not signed by the user";
    } else if (in.sig) {
        socp_rsa_key_t *key = NULL;
        if (socp_rsa_public_import(sender->pubkey, strlen(sender->pubkey), &key) != 0 ||
            socp_sig_verify_payload(key, in.payload, in.sig, NULL) != 0) {
            why = "its frame does not verify under the sender's key";
        }
        socp_rsa_destroy(&key);
    }
    if (why) {
        self->dropped_bad_server_sig++;
        socp_warn("%s from server %s for %.64s: %s: dropped", env->type, link->id, u->id, why);
    } else if (socp_seen_check_envelope(self->seen, &in, (int64_t) socp_now_ms()) != SOCP_EREPLAY) {
        socp_buf_t ids;
        socp_buf_init(&ids);
        socpd_router_put_conn_id(&ids, u->conn);
        socpd_router_relay(self, &ids, frame, strlen(frame));
        socp_buf_fini(&ids);
        self->delivered++;
    }
    socp_envelope_fini(&in);
}

// MSG_PUBLIC_CHANNEL / FILE_* signed by a peer server (from = its id) for
// one user (payload user_id or to): socpd's and Impl14's form.
static void
s_on_server_typed_frame(s_self_t *self,
                        s_conn_t *c,
                        const socp_envelope_t *env,
                        const char *text,
                        size_t len)
{
    s_server_t *link = socpd_map_get(self->servers, c->peer_id);
    if (c->kind != S_SERVER || !link || !s_verify_server(self, env)) {
        return;
    }
    if (socp_seen_check_envelope(self->seen, env, (int64_t) socp_now_ms()) == SOCP_EREPLAY) {
        return;
    }
    const char *uid = json_string_value(json_object_get(env->payload, "user_id"));
    if (!uid) {
        uid = json_string_value(json_object_get(env->payload, "to"));
    }
    s_user_t *u = uid ? socpd_map_get(self->users, uid) : NULL;
    if (!u) {
        socp_warn("%s from server %s for %.64s, a user nobody here knows: dropped", env->type,
                  link->id, uid ? uid : "(no user_id)");
        return;
    }
    if (!u->conn) {
        s_server_t *host = socpd_map_get(self->servers, u->server_id);
        if (host && host->conn && host->conn != c->id) {
            socp_buf_t ids;
            socp_buf_init(&ids);
            socpd_router_put_conn_id(&ids, host->conn);
            socpd_router_relay(self, &ids, text, len); // forwarded unchanged
            socp_buf_fini(&ids);
        }
        return;
    }
    const char *frame = json_string_value(json_object_get(env->payload, "frame"));
    if (frame) {
        s_deliver_inner(self, link, env, env->kind, frame, u);
        return;
    }
    // Impl14's form: no user frame inside; the server vouches for `sender`,
    // which must be one of its own users. Our clients get the frame as that
    // user's (from = sender, unsigned: the content_sig inside is what they
    // check); an Impl14 client gets it server-built, sender in the payload.
    // Impl14's FILE_* name no sender at all: delivered from us, as its
    // server's word (the recipient sees who relayed it, not who sent it).
    const char *sender = json_string_value(json_object_get(env->payload, "sender"));
    s_user_t *su = sender ? socpd_map_get(self->users, sender) : NULL;
    if (sender && (!su || strcmp(su->server_id, link->id) != 0)) {
        self->dropped_bad_server_sig++;
        socp_warn("%s from server %s names sender %.64s, not one of its users: dropped", env->type,
                  link->id, sender ? sender : "(none)");
        return;
    }
    json_t *ts = json_object_get(env->payload, "ts");
    int64_t t = json_is_integer(ts) ? json_integer_value(ts) : env->ts;
    json_t *p = json_deep_copy(env->payload);
    json_object_del(p, "user_id");
    socp_buf_t ids;
    socp_buf_init(&ids);
    socpd_router_put_conn_id(&ids, u->conn);
    s_conn_t *uc = socpd_router_conn(self, u->conn);
    if ((uc && uc->account) || !sender) {
        json_t *d = socpd_router_account_deliver(p);
        socpd_router_emit(self, &ids, env->type, u->id, t, d, false, NULL);
    } else {
        socp_envelope_t out;
        socp_buf_t built;
        socp_buf_init(&built);
        if (socp_envelope_init(&out, env->type, sender, u->id, t, p) == 0) {
            if (socp_envelope_emit(&out, &built) == 0) {
                socpd_router_relay(self, &ids, built.data, built.len);
            }
            socp_envelope_fini(&out);
        }
        socp_buf_fini(&built);
    }
    json_decref(p);
    socp_buf_fini(&ids);
    self->delivered++;
}

// A public-channel frame or a user frame coming from a peer server unwrapped.
void
socpd_router_on_server_user_frame(s_self_t *self,
                                  s_conn_t *c,
                                  const socp_envelope_t *env,
                                  const char *text,
                                  size_t len)
{
    if (socpd_map_get(self->servers, env->from)) {
        s_on_server_typed_frame(self, c, env, text, len);
        return;
    }
    // A user's own frame relayed unchanged by a server: accepted only on a
    // verified server link, from a user we know, under that user's key, so
    // no server (or anyone who joined as one) can speak for a user.
    s_user_t *sender = socpd_map_get(self->users, env->from);
    if (c->kind != S_SERVER || !socpd_map_get(self->servers, c->peer_id) || !sender ||
        sender->conn || !sender->pubkey || (!env->sig && self->a.require_user_sig)) {
        self->dropped_bad_server_sig++;
        return;
    }
    if (env->sig) {
        socp_rsa_key_t *key = NULL;
        bool ok = socp_rsa_public_import(sender->pubkey, strlen(sender->pubkey), &key) == 0 &&
                  socp_sig_verify_payload(key, env->payload, env->sig, NULL) == 0;
        socp_rsa_destroy(&key);
        // Peer A re-signs a user's frame with its server key when it relays
        // it: accepted for a user that server hosts, on its own link.
        s_server_t *link = socpd_map_get(self->servers, c->peer_id);
        if (!ok && strcmp(sender->server_id, link->id) == 0 &&
            socp_sig_verify_payload(link->key, env->payload, env->sig, NULL) == 0) {
            ok = true;
        }
        if (!ok) {
            self->dropped_bad_server_sig++;
            socp_warn("%s relayed by %s for %.64s verifies under neither the user's key nor its "
                      "server's: dropped",
                      env->type, c->peer_id, env->from);
            return;
        }
    }
    if (socp_seen_check_envelope(self->seen, env, (int64_t) socp_now_ms()) == SOCP_EREPLAY) {
        return;
    }
    if (env->kind == SOCP_ENVELOPE_TYPE_MSG_PUBLIC_CHANNEL &&
        (strcmp(env->to, "public") == 0 || strcmp(env->to, "*") == 0 ||
         !socpd_map_get(self->users, env->to))) {
        // One hop per server: deliver to our local members only.
        socp_buf_t ids;
        socp_buf_init(&ids);
        socpd_router_local_conns(self, env->from, &ids);
        socpd_router_relay(self, &ids, text, len);
        socp_buf_fini(&ids);
        return;
    }
    s_user_t *u = socpd_map_get(self->users, env->to);
    if (u && u->conn) {
        socp_buf_t ids;
        socp_buf_init(&ids);
        socpd_router_put_conn_id(&ids, u->conn);
        socpd_router_relay(self, &ids, text, len);
        socp_buf_fini(&ids);
    }
}

// Removes every user hosted by a server (link lost) and tells local users.
void
socpd_router_server_unlink_users(s_self_t *self, const char *server_id)
{
    size_t n = socpd_map_size(self->users), k = 0, pos = 0;
    s_user_t **gone = socp_calloc(n ? n : 1, sizeof *gone);
    const char *key;
    void *v;
    while (socpd_map_next(self->users, &pos, &key, &v)) {
        s_user_t *u = v;
        if (!u->conn && strcmp(u->server_id, server_id) == 0) {
            gone[k++] = u;
        }
    }
    // Local users, and the other servers: one of them may know these users
    // only through us (it has no link of its own to that server yet).
    socp_buf_t ids;
    socp_buf_init(&ids);
    socpd_router_local_conns(self, NULL, &ids);
    socpd_router_server_conns(self, server_id, &ids);
    for (size_t i = 0; i < k; i++) {
        socpd_map_remove(self->users, gone[i]->id);
        socpd_router_tell_accounts(self, gone[i], false);
        socpd_router_emit(self, &ids, "USER_REMOVE", "*", socp_wall_ms(),
                          json_pack("{s:s, s:s}", "user_id", gone[i]->id, "server_id", server_id),
                          false, NULL);
        socpd_router_user_free(gone[i]);
    }
    if (k) {
        socp_info("removed %zu users of server %s", k, server_id);
    }
    socp_buf_fini(&ids);
    free(gone);
}
