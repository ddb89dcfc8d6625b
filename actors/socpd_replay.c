// socpd_replay.c: the server's replay memory in LMDB (see socpd_replay.h).
//
// DESIGN: a module owned by the router actor, like socpd_store, but in its
// own LMDB environment so its commits can skip the fsync the user bindings
// keep: one small write transaction per accepted user frame (~20 us without
// a sync), one fsync per second at most, one per accepted signed hello.
// Blocking calls: mdb_txn_commit (a few page writes), mdb_env_sync (fsync)
// for hellos and once a second; the sweep deletes a bounded number of
// records per call.
#include "socp/socpd_replay.h"
#include "socp/socp_err.h"
#include "socp/socp_json.h"
#include "socp/socp_log.h"

#include <errno.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct socpd_replay {
    MDB_env *env;
    MDB_dbi seen;   // digest (32) -> expiry (8, big-endian ms)
    MDB_dbi expiry; // expiry (8, big-endian) + digest (32) -> empty
    bool dirty;     // written since the last sync
};

static void
s_put_be64(uint8_t *p, int64_t v)
{
    uint64_t u = (uint64_t) v;
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t) u;
        u >>= 8;
    }
}

static int64_t
s_get_be64(const uint8_t *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) {
        u = (u << 8) | p[i];
    }
    return (int64_t) u;
}

static int
s_open_env(const char *path, size_t map_mb, socpd_replay_t *self)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        return SOCP_ESTORE;
    }
    MDB_txn *txn = NULL;
    int rc = mdb_env_create(&self->env);
    if (rc != 0) {
        self->env = NULL;
        return SOCP_ESTORE;
    }
    rc = mdb_env_set_maxdbs(self->env, 4);
    if (rc == 0) {
        rc = mdb_env_set_mapsize(self->env, (map_mb ? map_mb : 1024) * 1024u * 1024u);
    }
    if (rc == 0) {
        rc = mdb_env_open(self->env, path, MDB_NOSYNC, 0600);
    }
    if (rc == 0) {
        rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "seen", MDB_CREATE, &self->seen);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "expiry", MDB_CREATE, &self->expiry);
    }
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (rc != 0) {
        socp_error("replay memory: cannot open %s: %s", path, mdb_strerror(rc));
        if (txn) {
            mdb_txn_abort(txn);
        }
        mdb_env_close(self->env);
        self->env = NULL;
        return SOCP_ESTORE;
    }
    return 0;
}

int
socpd_replay_open(const char *dir, size_t map_mb, int64_t *lost_ms, socpd_replay_t **out)
{
    *out = NULL;
    if (lost_ms) {
        *lost_ms = 0;
    }
    char path[4096];
    if (!dir || snprintf(path, sizeof path, "%s/replay.lmdb", dir) >= (int) sizeof path - 40) {
        return SOCP_EINVAL;
    }
    socpd_replay_t *self = socp_calloc(1, sizeof *self);
    if (s_open_env(path, map_mb, self) != 0) {
        // Damaged (a power loss without sync can do that): start a new memory
        // and tell the caller that nothing before now is remembered.
        int64_t now = socp_wall_ms();
        char aside[4200];
        snprintf(aside, sizeof aside, "%s.broken-%lld", path, (long long) now);
        if (rename(path, aside) != 0 || s_open_env(path, map_mb, self) != 0) {
            free(self);
            return SOCP_ESTORE;
        }
        socp_warn("replay memory was unreadable: moved to %s; frames signed before now are "
                  "refused",
                  aside);
        if (lost_ms) {
            *lost_ms = now;
        }
    }
    *out = self;
    return 0;
}

void
socpd_replay_close(socpd_replay_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    socpd_replay_t *self = *self_p;
    if (self->dirty) {
        (void) mdb_env_sync(self->env, 1);
    }
    mdb_env_close(self->env);
    free(self);
    *self_p = NULL;
}

int
socpd_replay_check_and_add(socpd_replay_t *self,
                           const uint8_t key[SOCPD_REPLAY_KEY_BYTES],
                           int64_t expires_ms,
                           int64_t now_ms,
                           bool durable)
{
    if (!self || !key || expires_ms < 0) {
        return SOCP_EINVAL;
    }
    MDB_txn *txn = NULL;
    if (mdb_txn_begin(self->env, NULL, 0, &txn) != 0) {
        return SOCP_ESTORE;
    }
    MDB_val k = {.mv_size = SOCPD_REPLAY_KEY_BYTES, .mv_data = (void *) key};
    MDB_val v;
    int rc = mdb_get(txn, self->seen, &k, &v);
    uint8_t ix[8 + SOCPD_REPLAY_KEY_BYTES];
    if (rc == 0 && v.mv_size == 8) {
        int64_t old = s_get_be64(v.mv_data);
        if (old > now_ms) {
            mdb_txn_abort(txn);
            return SOCP_EREPLAY;
        }
        // Expired, not swept yet: replaced below (its index entry goes).
        s_put_be64(ix, old);
        memcpy(ix + 8, key, SOCPD_REPLAY_KEY_BYTES);
        MDB_val ik = {.mv_size = sizeof ix, .mv_data = ix};
        (void) mdb_del(txn, self->expiry, &ik, NULL);
        rc = MDB_NOTFOUND;
    }
    if (rc != MDB_NOTFOUND && rc != 0) {
        mdb_txn_abort(txn);
        return SOCP_ESTORE;
    }
    uint8_t exp[8];
    s_put_be64(exp, expires_ms);
    MDB_val ev = {.mv_size = 8, .mv_data = exp};
    s_put_be64(ix, expires_ms);
    memcpy(ix + 8, key, SOCPD_REPLAY_KEY_BYTES);
    MDB_val ik = {.mv_size = sizeof ix, .mv_data = ix};
    MDB_val empty = {.mv_size = 0, .mv_data = NULL};
    rc = mdb_put(txn, self->seen, &k, &ev, 0);
    if (rc == 0) {
        rc = mdb_put(txn, self->expiry, &ik, &empty, 0);
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        if (rc == MDB_MAP_FULL) {
            socp_warn("replay memory is full: frames are refused until records expire");
        }
        return SOCP_ESTORE;
    }
    if (mdb_txn_commit(txn) != 0) {
        return SOCP_ESTORE;
    }
    self->dirty = true;
    if (durable) {
        return socpd_replay_sync(self);
    }
    return 0;
}

size_t
socpd_replay_sweep(socpd_replay_t *self, int64_t now_ms, size_t max)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    if (!self || max == 0 || mdb_txn_begin(self->env, NULL, 0, &txn) != 0) {
        return 0;
    }
    if (mdb_cursor_open(txn, self->expiry, &cur) != 0) {
        mdb_txn_abort(txn);
        return 0;
    }
    // The index is sorted by expiry: take the first record while it is
    // expired, deleting by key (no cursor deletes to reason about).
    size_t n = 0;
    uint8_t ix[8 + SOCPD_REPLAY_KEY_BYTES];
    MDB_val k, v;
    while (n < max && mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0) {
        if (k.mv_size != sizeof ix) {
            uint8_t odd[511]; // not ours: it can never match, drop it
            if (k.mv_size > sizeof odd) {
                break;
            }
            memcpy(odd, k.mv_data, k.mv_size);
            MDB_val bad = {.mv_size = k.mv_size, .mv_data = odd};
            if (mdb_del(txn, self->expiry, &bad, NULL) != 0) {
                break;
            }
            n++;
            continue;
        }
        memcpy(ix, k.mv_data, sizeof ix);
        int64_t exp = s_get_be64(ix);
        if (exp > now_ms) {
            break;
        }
        MDB_val dk = {.mv_size = SOCPD_REPLAY_KEY_BYTES, .mv_data = ix + 8};
        MDB_val dv;
        if (mdb_get(txn, self->seen, &dk, &dv) == 0 && dv.mv_size == 8 &&
            s_get_be64(dv.mv_data) == exp) {
            (void) mdb_del(txn, self->seen, &dk, NULL);
        }
        MDB_val ik = {.mv_size = sizeof ix, .mv_data = ix};
        if (mdb_del(txn, self->expiry, &ik, NULL) != 0) {
            break;
        }
        n++;
    }
    mdb_cursor_close(cur);
    if (n == 0) {
        mdb_txn_abort(txn);
        return 0;
    }
    if (mdb_txn_commit(txn) != 0) {
        return 0;
    }
    self->dirty = true;
    return n;
}

int
socpd_replay_sync(socpd_replay_t *self)
{
    if (!self) {
        return SOCP_EINVAL;
    }
    if (!self->dirty) {
        return 0;
    }
    if (mdb_env_sync(self->env, 1) != 0) {
        return SOCP_ESTORE;
    }
    self->dirty = false;
    return 0;
}

size_t
socpd_replay_count(socpd_replay_t *self)
{
    MDB_txn *txn = NULL;
    MDB_stat st;
    if (!self || mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn) != 0) {
        return 0;
    }
    size_t n = mdb_stat(txn, self->seen, &st) == 0 ? st.ms_entries : 0;
    mdb_txn_abort(txn);
    return n;
}

int
socpd_replay_key(const char *tag,
                 const json_t *payload,
                 const char *type,
                 const char *from,
                 const char *to,
                 int64_t ts,
                 uint8_t key[SOCPD_REPLAY_KEY_BYTES])
{
    memset(key, 0, SOCPD_REPLAY_KEY_BYTES);
    socp_buf_t canon;
    socp_buf_init(&canon);
    int rc = socp_json_canonical(payload, SOCP_JSON_CANON_ASCII, &canon);
    if (rc != 0) {
        socp_buf_fini(&canon);
        return rc;
    }
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *) tag, strlen(tag) + 1);
    if (from) {
        char tsbuf[32];
        snprintf(tsbuf, sizeof tsbuf, "%lld", (long long) ts);
        const char *parts[] = {type ? type : "", from, to ? to : "", tsbuf};
        for (size_t i = 0; i < SOCP_ARRAY_LEN(parts); i++) {
            crypto_hash_sha256_update(&st, (const uint8_t *) parts[i], strlen(parts[i]) + 1);
        }
    }
    crypto_hash_sha256_update(&st, canon.data, canon.len);
    crypto_hash_sha256_final(&st, key);
    socp_buf_fini(&canon);
    return 0;
}
