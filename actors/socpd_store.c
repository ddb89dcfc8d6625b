// socpd_store.c: the server's LMDB database (see socpd_store.h).
//
// DESIGN: a module owned by the router actor (not a separate actor: the only
// writes are a user's first key binding and the server id, a handful per
// second at most, so a 1-2 ms synchronous commit in the router costs less
// than a message round trip to another thread would complicate; recorded in
// docs/adr/0010-socpd-actors.md). Every value read from disk is parsed and
// checked before use. Blocking calls: mdb_txn_commit (fsync), bounded by one
// small record per transaction.
#include "socp/socpd_store.h"
#include "socp/socp_err.h"
#include "socp/socp_log.h"

#include <errno.h>
#include <jansson.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct socpd_store {
    MDB_env *env;
    MDB_dbi users;
    MDB_dbi groups;
    MDB_dbi members;
    MDB_dbi meta;
    MDB_dbi accounts;
    int64_t epoch_ms; // first start with last-use dates: the last use of older records
};

#define S_DAY_MS (24 * 3600 * 1000LL) // a record's last use is kept to the day

// One record in its own transaction. flags: 0 or MDB_NOOVERWRITE (then
// SOCP_EEXIST when the key has a value).
static int
s_put_ex(socpd_store_t *self,
         MDB_dbi dbi,
         const void *k,
         size_t klen,
         const char *v,
         unsigned flags)
{
    MDB_txn *txn = NULL;
    if (mdb_txn_begin(self->env, NULL, 0, &txn) != 0) {
        return SOCP_ESTORE;
    }
    MDB_val key = {.mv_size = klen, .mv_data = (void *) k};
    MDB_val val = {.mv_size = strlen(v), .mv_data = (void *) v};
    int rc = mdb_put(txn, dbi, &key, &val, flags);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc == MDB_KEYEXIST ? SOCP_EEXIST : SOCP_ESTORE;
    }
    return mdb_txn_commit(txn) == 0 ? 0 : SOCP_ESTORE;
}

static int
s_put(socpd_store_t *self, MDB_dbi dbi, const void *k, size_t klen, const char *v)
{
    return s_put_ex(self, dbi, k, klen, v, 0);
}

// A record's stored text (compact, sorted keys); steals rec. NULL: no memory.
static char *
s_dumps(json_t *rec)
{
    char *text = rec ? json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(rec);
    return text;
}

// Reads a value as a NUL-terminated copy; SOCP_ENOTFOUND / SOCP_ESTORE.
static int
s_get(socpd_store_t *self, MDB_dbi dbi, const void *k, size_t klen, char **out)
{
    *out = NULL;
    MDB_txn *txn = NULL;
    if (mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn) != 0) {
        return SOCP_ESTORE;
    }
    MDB_val key = {.mv_size = klen, .mv_data = (void *) k};
    MDB_val val;
    int rc = mdb_get(txn, dbi, &key, &val);
    if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return SOCP_ENOTFOUND;
    }
    if (rc != 0 || val.mv_size > 65536) {
        mdb_txn_abort(txn);
        return SOCP_ESTORE;
    }
    char *s = socp_malloc(val.mv_size + 1);
    memcpy(s, val.mv_data, val.mv_size);
    s[val.mv_size] = '\0';
    mdb_txn_abort(txn);
    *out = s;
    return 0;
}

// Parses a stored JSON record; NULL when it is not an object.
static json_t *
s_record(const char *text)
{
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    if (v && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

// Reads a record as a JSON object: 0 and *out (json_decref), SOCP_ENOTFOUND,
// SOCP_ESTORE (unreadable, or not an object).
static int
s_get_record(socpd_store_t *self, MDB_dbi dbi, const char *key, json_t **out)
{
    char *text = NULL;
    int rc = s_get(self, dbi, key, strlen(key), &text);
    if (rc != 0) {
        return rc;
    }
    *out = s_record(text);
    free(text);
    if (!*out) {
        socp_error("store: corrupt record");
        return SOCP_ESTORE;
    }
    return 0;
}

int
socpd_store_open(const char *dir, size_t map_mb, socpd_store_t **out)
{
    *out = NULL;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/socpd.lmdb", dir) >= (int) sizeof path) {
        return SOCP_EINVAL;
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        socp_error("store: cannot create %s", path);
        return SOCP_ESTORE;
    }
    socpd_store_t *self = socp_calloc(1, sizeof *self);
    MDB_txn *txn = NULL;
    if (mdb_env_create(&self->env) != 0) {
        free(self);
        return SOCP_ESTORE;
    }
    int rc = mdb_env_set_maxdbs(self->env, 8);
    if (rc == 0) {
        rc = mdb_env_set_mapsize(self->env, (map_mb ? map_mb : 256) * 1024u * 1024u);
    }
    if (rc == 0) {
        rc = mdb_env_open(self->env, path, 0, 0600);
    }
    if (rc == 0) {
        rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "users", MDB_CREATE, &self->users);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "groups", MDB_CREATE, &self->groups);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "group_members", MDB_CREATE, &self->members);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &self->meta);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "accounts", MDB_CREATE, &self->accounts);
    }
    if (rc == 0) {
        MDB_val key = {.mv_size = 6, .mv_data = (void *) "public"};
        MDB_val val;
        if (mdb_get(txn, self->groups, &key, &val) == MDB_NOTFOUND) {
            const char *rec = "{\"creator_id\":\"system\",\"version\":1}";
            val.mv_size = strlen(rec);
            val.mv_data = (void *) rec;
            rc = mdb_put(txn, self->groups, &key, &val, 0);
        }
    }
    if (rc == 0) {
        // Records older than last-use dates count as used at the first start
        // that knows them, so none expires sooner than the TTL after an upgrade.
        MDB_val key = {.mv_size = 14, .mv_data = (void *) "bindings_epoch"};
        MDB_val val;
        char text[32];
        if (mdb_get(txn, self->meta, &key, &val) == 0 && val.mv_size < sizeof text) {
            memcpy(text, val.mv_data, val.mv_size);
            text[val.mv_size] = '\0';
            self->epoch_ms = strtoll(text, NULL, 10);
        } else {
            self->epoch_ms = socp_wall_ms();
            snprintf(text, sizeof text, "%lld", (long long) self->epoch_ms);
            val.mv_size = strlen(text);
            val.mv_data = text;
            rc = mdb_put(txn, self->meta, &key, &val, 0);
        }
    }
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (rc != 0) {
        socp_error("store: cannot open %s: %s", path, mdb_strerror(rc));
        if (txn) {
            mdb_txn_abort(txn);
        }
        mdb_env_close(self->env);
        free(self);
        return SOCP_ESTORE;
    }
    *out = self;
    return 0;
}

void
socpd_store_close(socpd_store_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    mdb_env_close((*self_p)->env);
    free(*self_p);
    *self_p = NULL;
}

int
socpd_store_user_get(socpd_store_t *self, const char *user_id, socpd_store_user_t *out)
{
    memset(out, 0, sizeof *out);
    json_t *rec = NULL;
    int rc = s_get_record(self, self->users, user_id, &rec);
    if (rc != 0) {
        return rc;
    }
    const char *pk = json_string_value(json_object_get(rec, "pubkey"));
    json_t *presented = json_object_get(rec, "presented");
    json_t *proven = json_object_get(rec, "proven");
    json_t *seen = json_object_get(rec, "seen");
    if (!pk || (presented && !json_is_string(presented)) || (proven && !json_is_boolean(proven)) ||
        (seen && !json_is_integer(seen))) {
        json_decref(rec);
        socp_error("store: corrupt user record");
        return SOCP_ESTORE;
    }
    out->pubkey = socp_strdup(pk);
    // Records written before these fields: the normalised key is what the
    // user was relayed with, and nothing was proven.
    out->presented = socp_strdup(presented ? json_string_value(presented) : pk);
    out->proven = json_is_true(proven);
    out->seen_ms = seen ? (int64_t) json_integer_value(seen) : 0;
    json_decref(rec);
    return 0;
}

void
socpd_store_user_fini(socpd_store_user_t *u)
{
    free(u->pubkey);
    free(u->presented);
    memset(u, 0, sizeof *u);
}

int
socpd_store_user_key(socpd_store_t *self, const char *user_id, char **pubkey_out)
{
    socpd_store_user_t u;
    int rc = socpd_store_user_get(self, user_id, &u);
    *pubkey_out = rc == 0 ? u.pubkey : NULL;
    free(u.presented);
    return rc;
}

// Rewrites an existing user record with a new presented form, proof and last use.
static int
s_user_update(socpd_store_t *self,
              const char *user_id,
              const char *presented,
              bool proven,
              int64_t seen_ms)
{
    json_t *rec = NULL;
    int rc = s_get_record(self, self->users, user_id, &rec);
    if (rc != 0) {
        return rc;
    }
    json_object_set_new(rec, "presented", json_string(presented));
    json_object_set_new(rec, "proven", json_boolean(proven));
    json_object_set_new(rec, "seen", json_integer((json_int_t) seen_ms));
    char *out = s_dumps(rec);
    if (!out) {
        return SOCP_ENOMEM;
    }
    rc = s_put(self, self->users, user_id, strlen(user_id), out);
    free(out);
    return rc;
}

int
socpd_store_user_bind(socpd_store_t *self,
                      const char *user_id,
                      const char *pubkey,
                      const char *presented,
                      const char *meta_json,
                      bool proven,
                      char **bound_out)
{
    if (bound_out) {
        *bound_out = NULL;
    }
    socpd_store_user_t old;
    int rc = socpd_store_user_get(self, user_id, &old);
    if (rc == 0) {
        bool same = strcmp(old.pubkey, pubkey) == 0;
        if (!same) {
            if (bound_out) {
                *bound_out = old.pubkey;
                old.pubkey = NULL;
            }
            socpd_store_user_fini(&old);
            return SOCP_EEXIST;
        }
        // Same key: keep the latest presented form; proof is never lost; the
        // last use is written when it is a day old (not on every login).
        bool now_proven = old.proven || proven;
        int64_t now = socp_wall_ms();
        if (strcmp(old.presented, presented) != 0 || now_proven != old.proven ||
            now - old.seen_ms >= S_DAY_MS) {
            rc = s_user_update(self, user_id, presented, now_proven, now);
        }
        socpd_store_user_fini(&old);
        return rc;
    }
    if (rc != SOCP_ENOTFOUND) {
        return rc;
    }
    json_t *meta = meta_json ? json_loads(meta_json, 0, NULL) : NULL;
    if (!json_is_object(meta)) {
        json_decref(meta);
        meta = json_object();
    }
    char *text = s_dumps(json_pack("{s:s, s:s, s:b, s:o, s:i, s:I}", "pubkey", pubkey, "presented",
                                   presented, "proven", proven, "meta", meta, "version", 1, "seen",
                                   (json_int_t) socp_wall_ms()));
    if (!text) {
        return SOCP_ENOMEM;
    }
    // One transaction: the user, its public-group membership, the version bump.
    MDB_txn *txn = NULL;
    if (mdb_txn_begin(self->env, NULL, 0, &txn) != 0) {
        free(text);
        return SOCP_ESTORE;
    }
    MDB_val key = {.mv_size = strlen(user_id), .mv_data = (void *) user_id};
    MDB_val val = {.mv_size = strlen(text), .mv_data = text};
    int mrc = mdb_put(txn, self->users, &key, &val, 0);
    char mkey[6 + 1 + 129];
    int mlen = snprintf(mkey, sizeof mkey, "public%c%s", 0, user_id);
    const char *mrec = "{\"role\":\"member\",\"wrapped_key\":\"\"}";
    MDB_val k2 = {.mv_size = (size_t) mlen, .mv_data = mkey};
    MDB_val v2 = {.mv_size = strlen(mrec), .mv_data = (void *) mrec};
    if (mrc == 0) {
        mrc = mdb_put(txn, self->members, &k2, &v2, 0);
    }
    MDB_val gk = {.mv_size = 6, .mv_data = (void *) "public"};
    MDB_val gv;
    uint64_t version = 1;
    if (mrc == 0 && mdb_get(txn, self->groups, &gk, &gv) == 0 && gv.mv_size < 1024) {
        char buf[1024];
        memcpy(buf, gv.mv_data, gv.mv_size);
        buf[gv.mv_size] = '\0';
        json_t *g = s_record(buf);
        json_t *jv = g ? json_object_get(g, "version") : NULL;
        if (json_is_integer(jv) && json_integer_value(jv) > 0) {
            version = (uint64_t) json_integer_value(jv);
        }
        json_decref(g);
    }
    char grec[128];
    snprintf(grec, sizeof grec, "{\"creator_id\":\"system\",\"version\":%llu}",
             (unsigned long long) (version + 1));
    MDB_val gv2 = {.mv_size = strlen(grec), .mv_data = grec};
    if (mrc == 0) {
        mrc = mdb_put(txn, self->groups, &gk, &gv2, 0);
    }
    free(text);
    if (mrc != 0) {
        mdb_txn_abort(txn);
        return SOCP_ESTORE;
    }
    return mdb_txn_commit(txn) == 0 ? 0 : SOCP_ESTORE;
}

// The public group's version in txn (1 if unreadable).
static uint64_t
s_public_version_txn(socpd_store_t *self, MDB_txn *txn)
{
    MDB_val gk = {.mv_size = 6, .mv_data = (void *) "public"};
    MDB_val gv;
    uint64_t version = 1;
    if (mdb_get(txn, self->groups, &gk, &gv) == 0 && gv.mv_size < 1024) {
        char buf[1024];
        memcpy(buf, gv.mv_data, gv.mv_size);
        buf[gv.mv_size] = '\0';
        json_t *g = s_record(buf);
        json_t *jv = g ? json_object_get(g, "version") : NULL;
        if (json_is_integer(jv) && json_integer_value(jv) > 0) {
            version = (uint64_t) json_integer_value(jv);
        }
        json_decref(g);
    }
    return version;
}

// True when the stored user record `val` is unproven and last used before
// before_ms. Unreadable records are left alone (reported elsewhere).
static bool
s_user_expired(const socpd_store_t *self, const MDB_val *val, int64_t before_ms)
{
    if (val->mv_size > 65536) {
        return false;
    }
    char *text = socp_malloc(val->mv_size + 1);
    memcpy(text, val->mv_data, val->mv_size);
    text[val->mv_size] = '\0';
    json_t *rec = s_record(text);
    free(text);
    json_t *seen = rec ? json_object_get(rec, "seen") : NULL;
    bool expired = rec && !json_is_true(json_object_get(rec, "proven")) &&
                   (seen ? json_integer_value(seen) : self->epoch_ms) < before_ms;
    json_decref(rec);
    return expired;
}

int
socpd_store_expire_unproven(socpd_store_t *self,
                            int64_t before_ms,
                            size_t max_scan,
                            char cursor[SOCPD_STORE_CURSOR_MAX],
                            size_t *removed,
                            bool *done)
{
    *removed = 0;
    *done = false;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    if (mdb_txn_begin(self->env, NULL, 0, &txn) != 0) {
        return SOCP_ESTORE;
    }
    if (mdb_cursor_open(txn, self->users, &cur) != 0) {
        mdb_txn_abort(txn);
        return SOCP_ESTORE;
    }
    // Expired ids are collected first, then deleted by key.
    char(*gone)[SOCPD_STORE_CURSOR_MAX] = socp_calloc(max_scan ? max_scan : 1, sizeof *gone);
    size_t n_gone = 0, scanned = 0;
    size_t clen = strnlen(cursor, SOCPD_STORE_CURSOR_MAX - 1);
    MDB_val k = {.mv_size = clen, .mv_data = cursor}, v;
    int rc =
        clen ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (rc == 0 && clen && k.mv_size == clen && memcmp(k.mv_data, cursor, clen) == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); // the cursor was done last time
    }
    while (rc == 0 && scanned < max_scan) {
        scanned++;
        if (k.mv_size < SOCPD_STORE_CURSOR_MAX) {
            memcpy(cursor, k.mv_data, k.mv_size);
            cursor[k.mv_size] = '\0';
            if (s_user_expired(self, &v, before_ms)) {
                memcpy(gone[n_gone++], cursor, k.mv_size + 1);
            }
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    *done = rc == MDB_NOTFOUND;
    if (rc != 0 && rc != MDB_NOTFOUND) {
        free(gone);
        mdb_txn_abort(txn);
        return SOCP_ESTORE;
    }
    int mrc = 0;
    for (size_t i = 0; i < n_gone && mrc == 0; i++) {
        MDB_val uk = {.mv_size = strlen(gone[i]), .mv_data = gone[i]};
        mrc = mdb_del(txn, self->users, &uk, NULL);
        char mkey[6 + 1 + SOCPD_STORE_CURSOR_MAX];
        int mlen = snprintf(mkey, sizeof mkey, "public%c%s", 0, gone[i]);
        MDB_val mk = {.mv_size = (size_t) mlen, .mv_data = mkey};
        if (mrc == 0) {
            int drc = mdb_del(txn, self->members, &mk, NULL);
            mrc = drc == MDB_NOTFOUND ? 0 : drc;
        }
    }
    if (mrc == 0 && n_gone) {
        char grec[128];
        snprintf(grec, sizeof grec, "{\"creator_id\":\"system\",\"version\":%llu}",
                 (unsigned long long) (s_public_version_txn(self, txn) + 1));
        MDB_val gk = {.mv_size = 6, .mv_data = (void *) "public"};
        MDB_val gv = {.mv_size = strlen(grec), .mv_data = grec};
        mrc = mdb_put(txn, self->groups, &gk, &gv, 0);
    }
    free(gone);
    if (mrc != 0) {
        mdb_txn_abort(txn);
        return SOCP_ESTORE;
    }
    if (n_gone == 0) {
        mdb_txn_abort(txn); // nothing written: no commit, no sync
        return 0;
    }
    if (mdb_txn_commit(txn) != 0) {
        return SOCP_ESTORE;
    }
    *removed = n_gone;
    return 0;
}

size_t
socpd_store_user_count(socpd_store_t *self)
{
    MDB_txn *txn = NULL;
    MDB_stat st;
    if (mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn) != 0) {
        return 0;
    }
    size_t n = mdb_stat(txn, self->users, &st) == 0 ? st.ms_entries : 0;
    mdb_txn_abort(txn);
    return n;
}

uint64_t
socpd_store_public_version(socpd_store_t *self)
{
    char *text = NULL;
    if (s_get(self, self->groups, "public", 6, &text) != 0) {
        return 1;
    }
    json_t *g = s_record(text);
    free(text);
    json_t *jv = g ? json_object_get(g, "version") : NULL;
    uint64_t v =
        json_is_integer(jv) && json_integer_value(jv) > 0 ? (uint64_t) json_integer_value(jv) : 1;
    json_decref(g);
    return v;
}

int
socpd_store_meta_get(socpd_store_t *self, const char *key, char **value_out)
{
    return s_get(self, self->meta, key, strlen(key), value_out);
}

int
socpd_store_meta_put(socpd_store_t *self, const char *key, const char *value)
{
    return s_put(self, self->meta, key, strlen(key), value);
}

int
socpd_store_account_get(socpd_store_t *self, const char *name, socpd_store_account_t *out)
{
    memset(out, 0, sizeof *out);
    json_t *rec = NULL;
    int rc = s_get_record(self, self->accounts, name, &rec);
    if (rc != 0) {
        return rc;
    }
    const char *pk = json_string_value(json_object_get(rec, "pubkey"));
    const char *store = json_string_value(json_object_get(rec, "privkey_store"));
    const char *pake = json_string_value(json_object_get(rec, "pake_password"));
    if (!pk || !store || !pake) {
        json_decref(rec);
        socp_error("store: corrupt account record");
        return SOCP_ESTORE;
    }
    out->pubkey = socp_strdup(pk);
    out->privkey_store = socp_strdup(store);
    out->pake_password = socp_strdup(pake);
    json_decref(rec);
    return 0;
}

void
socpd_store_account_fini(socpd_store_account_t *a)
{
    free(a->pubkey);
    free(a->privkey_store);
    free(a->pake_password);
    memset(a, 0, sizeof *a);
}

int
socpd_store_account_add(socpd_store_t *self,
                        const char *name,
                        const char *pubkey,
                        const char *privkey_store,
                        const char *pake_password)
{
    char *text = s_dumps(json_pack("{s:s, s:s, s:s}", "pubkey", pubkey, "privkey_store",
                                   privkey_store, "pake_password", pake_password));
    if (!text) {
        return SOCP_ENOMEM;
    }
    int rc = s_put_ex(self, self->accounts, name, strlen(name), text, MDB_NOOVERWRITE);
    free(text);
    return rc;
}
