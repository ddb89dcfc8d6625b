// socpd_router_account.c: the router's side of Impl14's account profile
// (docs/protocol.md, "Accounts"): USER_REGISTER, USER_HELLO answered by
// USER_HELLO_ACK, USER_LOGIN answered by USER_LOGGED_IN, and the frames an
// Impl14 client reads (USER_ADDED / USER_REMOVED, its LIST_RESPONSE, keys as
// base64url DER). Passwords: only the scrypt verifier is stored, a login is
// checked in constant time, failed logins are limited per account name and
// per connection, and the password is wiped from the frame once checked;
// nothing here logs it. Part of the router actor: shared state is in
// socpd_router_int.h.
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socp/socp_account.h"
#include "socp/socp_err.h"
#include "socp/socp_log.h"
#include "socp/socp_uuid.h"
#include "socpd_router_int.h"

static const char *
s_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

// An account name: what socp_account_name_ok allows, and not a channel.
static bool
s_name_ok(s_self_t *self, const char *name)
{
    return name && socp_account_name_ok(name, strlen(name)) &&
           !socpd_router_reserved_id(self, name);
}

// A token bucket: true (and one token taken) when a token is there.
static bool
s_take_token(s_bucket_t *b, double rate_per_s, double burst)
{
    uint64_t now = socp_now_ms();
    if (b->at_ms == 0) {
        b->tokens = burst;
    } else {
        b->tokens += (double) (now - b->at_ms) * rate_per_s / 1000.0;
        b->tokens = b->tokens > burst ? burst : b->tokens;
    }
    b->at_ms = now;
    if (b->tokens < 1.0) {
        return false;
    }
    b->tokens -= 1.0;
    return true;
}

// Password checks cost ~50 ms of the router's thread each (scrypt): a
// global budget keeps logins from starving delivery.
static bool
s_scrypt_allowed(s_self_t *self)
{
    return s_take_token(&self->scrypt_budget, S_SCRYPT_PER_S, S_SCRYPT_PER_S);
}

// Registrations write to disk: a global budget bounds the database's growth.
static bool
s_register_allowed(s_self_t *self)
{
    return s_take_token(&self->register_budget, S_REGISTER_PER_MIN / 60.0, S_REGISTER_PER_MIN);
}

void
socpd_router_on_register(s_self_t *self, s_conn_t *c, const socp_envelope_t *env)
{
    const char *name = s_str(env->payload, "user_id");
    const char *pk = s_str(env->payload, "pubkey");
    const char *store = s_str(env->payload, "privkey_store");
    const char *pake = s_str(env->payload, "pake_password");
    if (++c->registrations > S_REGISTER_PER_CONN || !s_register_allowed(self)) {
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_TIMEOUT,
                           "too many registrations: try again later", true);
        return;
    }
    uint8_t salt[SOCP_ACCOUNT_SALT_MAX], hash[SOCP_ACCOUNT_KEY_LEN];
    size_t salt_len = 0;
    if (!s_name_ok(self, name) || !pk || !store || !pake ||
        strlen(store) > SOCP_ACCOUNT_STORE_MAX ||
        socp_account_pake_parse(pake, strlen(pake), salt, &salt_len, hash) != 0) {
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_BAD_KEY,
                           "USER_REGISTER needs user_id, pubkey, privkey_store and a "
                           "pake_password of the form salt.hash",
                           false);
        return;
    }
    char *der = NULL;
    if (socpd_router_der_key(pk, &der) != 0) {
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_BAD_KEY,
                           "pubkey is not an RSA-4096 key with e=65537", false);
        return;
    }
    // The name must be free as a user id too, whatever key it is bound to:
    // anybody has a user's public key, so an account over an existing id
    // would let its registrant log in as that user (and lock the user out).
    char *bound = NULL;
    int rc = socpd_store_user_key(self->store, name, &bound);
    free(bound);
    if (rc != SOCP_ENOTFOUND || socpd_map_get(self->users, name) ||
        socpd_map_get(self->servers, name) || strcmp(name, self->server_id) == 0) {
        free(der);
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_NAME_IN_USE, "this name is taken", false);
        return;
    }
    rc = socpd_store_account_add(self->store, name, der, store, pake);
    free(der);
    if (rc != 0) {
        socpd_router_error(
            self, c,
            rc == SOCP_EEXIST ? SOCP_ENVELOPE_CODE_NAME_IN_USE : SOCP_ENVELOPE_CODE_TIMEOUT,
            rc == SOCP_EEXIST ? "this name is taken" : "server storage error, try again", false);
        return;
    }
    c->account = true; // a person may now take a while to type /login
    socp_info("account %s registered (conn %llu)", name, (unsigned long long) c->id);
    socpd_router_emit_one(self, c->id, "USER_REGISTERED", name, json_pack("{s:s}", "user_id", name),
                          false);
}

bool
socpd_router_on_account_hello(s_self_t *self, s_conn_t *c, const socp_envelope_t *env)
{
    socpd_store_account_t acct;
    if (!env->from[0] || socpd_store_account_get(self->store, env->from, &acct) != 0) {
        return false; // not an account: the standard hello
    }
    const char *pk = s_str(env->payload, "pubkey");
    char *der = NULL;
    bool same = !pk || (socpd_router_der_key(pk, &der) == 0 && strcmp(der, acct.pubkey) == 0);
    free(der);
    socpd_store_account_fini(&acct);
    if (!same) {
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_BAD_KEY,
                           "this account is registered with another key", false);
        return true;
    }
    c->account = true;
    snprintf(c->hello_id, sizeof c->hello_id, "%s", env->from);
    socpd_router_emit_one(self, c->id, "USER_HELLO_ACK", env->from,
                          json_pack("{s:s}", "status", "ok"), false);
    return true;
}

// True when `name` may try a login now; counts a failure when `failed`.
static bool
s_login_allowed(s_self_t *self, const char *name, bool failed)
{
    uint64_t now = socp_now_ms();
    s_login_t *l = socpd_map_get(self->logins, name);
    if (l && now - l->window_ms >= S_LOGIN_WINDOW_MS) {
        l->window_ms = now;
        l->failures = 0;
    }
    if (failed) {
        if (!l) {
            if (socpd_map_size(self->logins) >= S_LOGINS_MAX) {
                // Full: forget the oldest window, never the whole table
                // (clearing it would reset every name's count).
                size_t pos = 0;
                const char *k, *oldest = NULL;
                void *v;
                uint64_t oldest_ms = UINT64_MAX;
                while (socpd_map_next(self->logins, &pos, &k, &v)) {
                    if (((s_login_t *) v)->window_ms < oldest_ms) {
                        oldest_ms = ((s_login_t *) v)->window_ms;
                        oldest = k;
                    }
                }
                free(socpd_map_remove(self->logins, oldest));
            }
            l = socp_calloc(1, sizeof *l);
            l->window_ms = now;
            socpd_map_put(self->logins, name, l);
        }
        l->failures++;
    }
    return !l || l->failures < S_LOGIN_FAILS_ID;
}

// The JSON string's bytes are ours to wipe (jansson gives them out const).
static void
s_wipe_string(json_t *s)
{
    if (json_is_string(s)) {
        sodium_memzero((char *) json_string_value(s), json_string_length(s));
    }
}

void
socpd_router_on_login(s_self_t *self, s_conn_t *c, const socp_envelope_t *env)
{
    const char *name = s_str(env->payload, "user_id");
    json_t *pw = json_object_get(env->payload, "password");
    if (!s_name_ok(self, name) || !json_is_string(pw)) {
        s_wipe_string(pw);
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_BAD_KEY,
                           "USER_LOGIN needs user_id and password", false);
        return;
    }
    if (c->hello_id[0] && strcmp(c->hello_id, name) != 0) {
        s_wipe_string(pw);
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_BAD_KEY, "HELLO user mismatch", false);
        return;
    }
    if (!s_login_allowed(self, name, false) || !s_scrypt_allowed(self)) {
        s_wipe_string(pw);
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_TIMEOUT,
                           "too many failed logins for this name: try again in a minute", true);
        return;
    }
    socpd_store_account_t acct;
    int rc = socpd_store_account_get(self->store, name, &acct);
    if (rc != 0) {
        s_wipe_string(pw);
        socpd_router_error(
            self, c,
            rc == SOCP_ENOTFOUND ? SOCP_ENVELOPE_CODE_USER_NOT_FOUND : SOCP_ENVELOPE_CODE_TIMEOUT,
            rc == SOCP_ENOTFOUND ? "no such account" : "server storage error, try again", false);
        return;
    }
    bool ok = socp_account_pake_verify(json_string_value(pw), json_string_length(pw),
                                       acct.pake_password, strlen(acct.pake_password)) == 0;
    s_wipe_string(pw);
    if (!ok) {
        socpd_store_account_fini(&acct);
        (void) s_login_allowed(self, name, true);
        bool close = ++c->login_failures >= S_LOGIN_FAILS_CONN;
        socp_info("conn %llu: failed login for %s%s", (unsigned long long) c->id, name,
                  close ? " (closing)" : "");
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_BAD_KEY, "password invalid", close);
        return;
    }
    if (socpd_map_get(self->users, name)) {
        socpd_store_account_fini(&acct);
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_NAME_IN_USE,
                           "this user id is already connected", false);
        return;
    }
    socp_rsa_key_t *key = NULL;
    if (socp_rsa_public_import(acct.pubkey, strlen(acct.pubkey), &key) != 0) {
        socpd_store_account_fini(&acct);
        socpd_router_error(self, c, SOCP_ENVELOPE_CODE_BAD_KEY, "the account's key is unusable",
                           true);
        return;
    }
    // Told first, so the client has its key before any delivery.
    socpd_router_emit_one(
        self, c->id, "USER_LOGGED_IN", name,
        json_pack("{s:s, s:s}", "user_id", name, "privkey_store", acct.privkey_store), false);
    c->account = true; // frames to it in its shape from now on
    if (socpd_router_user_accept(self, c, name, acct.pubkey, key, json_object(), true)) {
        // Who is there, in the shape its client reads.
        size_t pos = 0;
        const char *k;
        void *v;
        while (socpd_map_next(self->users, &pos, &k, &v)) {
            const s_user_t *o = v;
            char *der = NULL;
            if (strcmp(o->id, name) != 0 && socpd_router_der_key(o->pubkey, &der) == 0) {
                socpd_router_emit_one(self, c->id, "USER_ADDED", name,
                                      json_pack("{s:s, s:s, s:b}", "user_id", o->id, "pubkey", der,
                                                "online_local", o->conn != 0),
                                      false);
            }
            free(der);
        }
    }
    socpd_store_account_fini(&acct);
}

json_t *
socpd_router_account_list(s_self_t *self)
{
    json_t *arr = json_array();
    size_t pos = 0;
    const char *k;
    void *v;
    while (socpd_map_next(self->users, &pos, &k, &v)) {
        const s_user_t *u = v;
        char *der = NULL;
        if (socpd_router_der_key(u->pubkey, &der) == 0) {
            json_array_append_new(arr,
                                  json_pack("{s:s, s:s, s:s, s:b}", "user_id", u->id, "server_id",
                                            u->server_id[0] ? u->server_id : self->server_id,
                                            "pubkey", der, "online_local", u->conn != 0));
        }
        free(der);
    }
    return json_pack("{s:o}", "users", arr);
}

void
socpd_router_tell_accounts(s_self_t *self, const s_user_t *u, bool added)
{
    char *der = NULL;
    if (added && socpd_router_der_key(u->pubkey, &der) != 0) {
        return;
    }
    socp_buf_t ids;
    socp_buf_init(&ids);
    size_t pos = 0;
    const char *k;
    void *v;
    while (socpd_map_next(self->users, &pos, &k, &v)) {
        const s_user_t *o = v;
        s_conn_t *c = o->conn ? socpd_router_conn(self, o->conn) : NULL;
        if (c && c->account && o != u) {
            socpd_router_put_conn_id(&ids, c->id);
        }
    }
    if (ids.len) {
        json_t *p = added ? json_pack("{s:s, s:s, s:b}", "user_id", u->id, "pubkey", der,
                                      "online_local", u->conn != 0)
                          : json_pack("{s:s}", "user_id", u->id);
        socpd_router_emit(self, &ids, added ? "USER_ADDED" : "USER_REMOVED", "*", socp_wall_ms(), p,
                          false, NULL);
    }
    socp_buf_fini(&ids);
    free(der);
}

// What an Impl14 client reads in a USER_DELIVER or a public message: the
// sender's key as base64url DER (the only form it parses).
json_t *
socpd_router_account_deliver(const json_t *payload)
{
    json_t *p = json_deep_copy(payload);
    const char *sp = s_str(p, "sender_pub");
    char *der = NULL;
    if (sp && socpd_router_der_key(sp, &der) == 0) {
        json_object_set_new(p, "sender_pub", json_string(der));
    }
    free(der);
    return p;
}
