// socp_client_store.c: the client's LMDB database (see socp_client_store.h):
// opening, write batches, and the tables. Sealing records at rest, their
// migration and compaction: socp_client_store_seal.c (shared state:
// socp_client_store_int.h). Part of socp, a SOCP v1.3 client and server.
#include "socp/socp_client_store.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "socp/socp_err.h"
#include "socp/socp_log.h"
#include "socp/socp_platform.h"
#include "socp/socp_text.h"
#include "socp_client_store_int.h"

static int
s_lmdb_err(int rc, const char *what)
{
    socp_error("store: %s: %s", what, mdb_strerror(rc));
    return SOCP_ESTORE;
}

// The write batch, opened on demand.
static int
s_wtxn(socp_cstore_t *self, MDB_txn **out)
{
    if (!self->txn) {
        int rc = mdb_txn_begin(self->env, NULL, 0, &self->txn);
        if (rc != 0) {
            self->txn = NULL;
            return s_lmdb_err(rc, "begin");
        }
        self->batch_pending = self->pending;
        self->batch_outbox = self->next_outbox;
        self->batch_history = self->next_history;
    }
    *out = self->txn;
    return 0;
}

// A read view: the write batch when open (it sees its own writes), else a
// fresh read-only txn the caller aborts (*owned = true).
static int
s_rtxn(socp_cstore_t *self, MDB_txn **out, bool *owned)
{
    if (self->txn) {
        *out = self->txn;
        *owned = false;
        return 0;
    }
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, out);
    if (rc != 0) {
        return s_lmdb_err(rc, "read txn");
    }
    *owned = true;
    return 0;
}

// A cursor on one table, inside the open batch or a read transaction of its
// own (aborted again by s_reader_close).
typedef struct {
    MDB_txn *txn;
    bool owned;
    MDB_cursor *cur;
} s_reader_t;

static int
s_reader_open(socp_cstore_t *self, MDB_dbi dbi, s_reader_t *r)
{
    int rc = s_rtxn(self, &r->txn, &r->owned);
    if (rc != 0) {
        return rc;
    }
    if ((rc = mdb_cursor_open(r->txn, dbi, &r->cur)) != 0) {
        if (r->owned) {
            mdb_txn_abort(r->txn);
        }
        return s_lmdb_err(rc, "cursor");
    }
    return 0;
}

static void
s_reader_close(s_reader_t *r)
{
    mdb_cursor_close(r->cur);
    if (r->owned) {
        mdb_txn_abort(r->txn);
    }
}

static uint64_t
s_last_seq(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, dbi, &cur) != 0) {
        return 0;
    }
    MDB_val k, v;
    uint64_t seq = 0;
    if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8) {
        seq = socp_cstore_get_be64(k.mv_data);
    }
    mdb_cursor_close(cur);
    return seq;
}

const char *
socp_cstore_outbox_body(const uint8_t *p, size_t len, size_t *frame_len)
{
    if (len < 2 || (size_t) 1 + p[0] >= len) {
        return NULL;
    }
    *frame_len = len - 1 - p[0];
    return (const char *) p + 1 + p[0];
}

// One outbox record read back. `plain` holds the opened body of a sealed
// record (free with socp_cstore_unsealed_free); frame points into it or
// into the value.
typedef struct {
    bool sent;
    const char *frame;
    size_t len;
    char *plain;
    size_t plain_len;
} s_outbox_rec_t;

// Validates (and opens) one outbox value; false if it is damaged, cannot
// be opened, or is plain in a sealed database.
static bool
s_outbox_read(const socp_cstore_t *self, const MDB_val *k, const MDB_val *v, s_outbox_rec_t *r)
{
    memset(r, 0, sizeof *r);
    const uint8_t *p = v->mv_data;
    if (k->mv_size != 8 || v->mv_size < 1) {
        return false;
    }
    if (p[0] == S_OUT_UNSENT || p[0] == S_OUT_SENT) {
        r->sent = p[0] == S_OUT_SENT;
        r->frame = self->sealed ? NULL : socp_cstore_outbox_body(p + 1, v->mv_size - 1, &r->len);
        return r->frame != NULL;
    }
    if (p[0] != S_OUT_SEALED_UNSENT && p[0] != S_OUT_SEALED_SENT) {
        return false;
    }
    r->sent = p[0] == S_OUT_SEALED_SENT;
    MDB_val body = {v->mv_size - 1, (void *) (p + 1)};
    r->plain = socp_cstore_unseal(self, 'o', k, &body, &r->plain_len);
    r->frame = r->plain ? socp_cstore_outbox_body((const uint8_t *) r->plain, r->plain_len, &r->len)
                        : NULL;
    if (!r->frame) {
        socp_cstore_unsealed_free(r->plain, r->plain_len);
        r->plain = NULL;
        return false;
    }
    return true;
}

// Schema 1 keyed the seen table by the digest alone (32 bytes, value: the
// ts). Schema 2 puts the ts first (40 bytes). Rewrites old entries; the
// same facts, so replay detection carries over.
static int
s_migrate_seen(socp_cstore_t *self, MDB_txn *txn)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, self->seen, &cur);
    if (rc != 0) {
        return s_lmdb_err(rc, "cursor");
    }
    uint8_t *old = NULL; // collected first: no inserts under a moving cursor
    size_t n = 0, cap = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 32 || v.mv_size != 8) {
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            old = socp_realloc(old, cap * S_SEEN_KEY);
        }
        memcpy(old + n * S_SEEN_KEY, v.mv_data, 8);
        memcpy(old + n * S_SEEN_KEY + 8, k.mv_data, 32);
        n++;
    }
    mdb_cursor_close(cur);
    rc = rc == MDB_NOTFOUND ? 0 : rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint8_t *e = old + i * S_SEEN_KEY;
        MDB_val ok = {32, e + 8}, nk = {S_SEEN_KEY, e}, nv = {8, e};
        rc = mdb_del(txn, self->seen, &ok, NULL);
        if (rc == 0) {
            rc = mdb_put(txn, self->seen, &nk, &nv, 0);
        }
    }
    free(old);
    if (rc != 0) {
        return s_lmdb_err(rc, "migrate the seen table");
    }
    if (n) {
        socp_info("store: seen table converted to schema %d (%zu entries)", SOCP_CSTORE_SCHEMA, n);
    }
    return 0;
}

// Drops sent and malformed outbox records and counts the rest. Sealed
// bodies cannot be opened yet (the key comes later): their state byte and
// size are checked here, the rest by socp_cstore_set_key.
static int
s_prune_and_count(socp_cstore_t *self, MDB_txn *txn)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, self->outbox, &cur);
    if (rc != 0) {
        return s_lmdb_err(rc, "cursor");
    }
    MDB_val k, v;
    uint64_t pending = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *p = v.mv_data;
        size_t len;
        bool ok = k.mv_size == 8 && v.mv_size > 0;
        bool sent = !ok || p[0] == S_OUT_SENT || p[0] == S_OUT_SEALED_SENT;
        if (ok && p[0] == S_OUT_UNSENT) {
            ok = socp_cstore_outbox_body(p + 1, v.mv_size - 1, &len) != NULL;
        } else if (ok && p[0] == S_OUT_SEALED_UNSENT) {
            ok = v.mv_size >= 1 + S_SEAL_OVER;
        } else if (!sent) {
            ok = false;
        }
        if (!ok) {
            socp_warn("store: dropping a malformed outbox record");
            sent = true;
        }
        if (sent) {
            if ((rc = mdb_cursor_del(cur, 0)) != 0) {
                break;
            }
        } else {
            pending++;
        }
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return s_lmdb_err(rc, "prune outbox");
    }
    self->pending = pending;
    return 0;
}

int
socp_cstore_mkdir(const char *path)
{
    if (mkdir(path, 0700) == 0) {
        (void) socp_platform_sync_parent(path); // the new name is durable
    } else if (errno != EEXIST) {
        return SOCP_EIO;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return SOCP_EIO;
    }
    (void) chmod(path, 0700);
    return 0;
}

// Opens the environment in self->dir and every table, in a write
// transaction left open in *txn.
int
socp_cstore_env_open(socp_cstore_t *self, MDB_txn **txn, const char **why)
{
    *txn = NULL;
    int rc = mdb_env_create(&self->env);
    if (rc != 0) {
        self->env = NULL;
        *why = "cannot create the LMDB environment";
        return rc;
    }
    (void) mdb_env_set_maxdbs(self->env, 8);
    (void) mdb_env_set_mapsize(self->env, self->map_size);
    // LMDB's default sync mode: a commit returns once its pages and then its
    // meta page are on disk (fdatasync, then a write through an O_DSYNC
    // descriptor). Never MDB_NOSYNC / MDB_NOMETASYNC / MDB_MAPASYNC: what
    // the client acknowledges must survive a crash of the machine, not only
    // of the process (test: socp_sync_client_acks_follow_a_sync).
    char data[4200];
    snprintf(data, sizeof data, "%s/data.mdb", self->dir);
    bool fresh = access(data, F_OK) != 0;
    if ((rc = mdb_env_open(self->env, self->dir, MDB_NOTLS, 0600)) != 0) {
        *why = "cannot open the database (locked by another socp, or damaged?)";
        socp_error("store: open %s: %s", self->dir, mdb_strerror(rc));
        return rc;
    }
    if (fresh) {
        (void) socp_platform_sync_dir(self->dir); // the new file's name is durable
    }
    if ((rc = mdb_txn_begin(self->env, NULL, 0, txn)) != 0) {
        *txn = NULL;
        *why = "cannot start a transaction";
        return rc;
    }
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {{"meta", &self->meta},       {"outbox", &self->outbox},
               {"history", &self->history}, {"contacts", &self->contacts},
               {"seen", &self->seen},       {"files", &self->files},
               {"held", &self->held}};
    for (size_t i = 0; i < SOCP_ARRAY_LEN(dbs); i++) {
        if ((rc = mdb_dbi_open(*txn, dbs[i].name, MDB_CREATE, dbs[i].dbi)) != 0) {
            *why = "cannot open a table (not a socp database?)";
            return rc;
        }
    }
    return 0;
}

int
socp_cstore_open(const char *dir, size_t map_size, socp_cstore_t **out, const char **why)
{
    const char *dummy;
    why = why ? why : &dummy;
    *why = "ok";
    *out = NULL;
    if (!dir || !*dir) {
        *why = "no database directory";
        return SOCP_EINVAL;
    }
    if (socp_cstore_mkdir(dir) != 0) {
        *why = "cannot create the database directory";
        return SOCP_EIO;
    }
    socp_cstore_t *self = socp_calloc(1, sizeof *self);
    self->dir = socp_strdup(dir);
    self->map_size = map_size ? map_size : SOCP_CSTORE_MAP_SIZE;
    MDB_txn *txn = NULL;
    int err = SOCP_ESTORE;
    int rc = socp_cstore_env_open(self, &txn, why);
    if (rc != 0) {
        goto fail;
    }
    MDB_val k = {6, (void *) "schema"}, v;
    rc = mdb_get(txn, self->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        char ver[8];
        snprintf(ver, sizeof ver, "%d", SOCP_CSTORE_SCHEMA);
        v = (MDB_val){strlen(ver), ver};
        if ((rc = mdb_put(txn, self->meta, &k, &v, 0)) != 0) {
            *why = "cannot write the schema version";
            goto fail;
        }
    } else if (rc != 0) {
        *why = "cannot read the schema version";
        goto fail;
    } else {
        char ver[16] = {0};
        memcpy(ver, v.mv_data, v.mv_size < sizeof ver - 1 ? v.mv_size : sizeof ver - 1);
        char *end;
        long n = strtol(ver, &end, 10);
        if (*end || n < 1) {
            *why = "the schema version record is damaged";
            goto fail;
        }
        if (n > SOCP_CSTORE_SCHEMA) {
            *why = "the database was written by a newer socp";
            err = SOCP_EVERSION;
            goto fail;
        }
        if (n < SOCP_CSTORE_SCHEMA) {
            // 1 -> 2: the seen table's key. 2 -> 3: history and file values
            // may be sealed; 3 -> 4: contacts and outbox too (nothing to
            // convert here: sealing starts when a key is set).
            char ver2[8];
            snprintf(ver2, sizeof ver2, "%d", SOCP_CSTORE_SCHEMA);
            v = (MDB_val){strlen(ver2), ver2};
            if ((n < 2 && s_migrate_seen(self, txn) != 0) ||
                mdb_put(txn, self->meta, &k, &v, 0) != 0) {
                *why = "cannot convert the database to the current schema";
                goto fail;
            }
        }
    }
    if ((err = s_prune_and_count(self, txn)) != 0) {
        *why = "cannot read the outbox";
        goto fail;
    }
    err = SOCP_ESTORE;
    self->next_outbox = s_last_seq(txn, self->outbox) + 1;
    self->next_history = s_last_seq(txn, self->history) + 1;
    self->next_held = s_last_seq(txn, self->held) + 1;
    if ((rc = mdb_txn_commit(txn)) != 0) {
        txn = NULL;
        *why = "cannot commit (disk full?)";
        goto fail;
    }
    *out = self;
    return 0;
fail:
    if (txn) {
        mdb_txn_abort(txn);
    }
    if (self->env) {
        mdb_env_close(self->env);
    }
    free(self->dir);
    free(self);
    return err;
}

void
socp_cstore_destroy(socp_cstore_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    socp_cstore_t *self = *self_p;
    socp_cstore_abort(self);
    if (self->env) {
        mdb_env_close(self->env);
    }
    free(self->scratch);
    sodium_free(self->seal_key); // wipes
    sodium_free(self->index_key);
    free(self->dir);
    free(self->files_dir);
    free(self);
    *self_p = NULL;
}

int
socp_cstore_commit(socp_cstore_t *self)
{
    if (self->batch_lost) {
        // A write failed (full map?) and took the batch with it; whatever was
        // written since belongs to the same batch for the caller: lost too.
        socp_cstore_abort(self);
        self->batch_lost = false;
        socp_error("store: the batch was dropped by a failed write");
        return SOCP_ESTORE;
    }
    if (!self->txn) {
        return 0;
    }
    int rc = mdb_txn_commit(self->txn);
    self->txn = NULL;
    if (rc != 0) {
        self->last_contact_ok = false;
        self->pending = self->batch_pending;
        self->next_history = self->batch_history;
        return s_lmdb_err(rc, "commit");
    }
    return 0;
}

// Outbox seqs are never given twice, even after a lost batch, so a late
// report about a frame of that batch can never match another frame.
void
socp_cstore_abort(socp_cstore_t *self)
{
    if (self->txn) {
        mdb_txn_abort(self->txn);
        self->txn = NULL;
        self->last_contact_ok = false;
        self->pending = self->batch_pending;
        self->next_history = self->batch_history;
    }
}

static void
s_batch_lost(socp_cstore_t *self)
{
    socp_cstore_abort(self);
    self->batch_lost = true;
}

bool
socp_cstore_dirty(const socp_cstore_t *self)
{
    return self->txn != NULL;
}

// A failed put poisons the batch (LMDB rule): drop it.
static int
s_put(socp_cstore_t *self, MDB_dbi dbi, MDB_val *k, MDB_val *v, const char *what)
{
    MDB_txn *txn;
    int rc = s_wtxn(self, &txn);
    if (rc != 0) {
        return rc;
    }
    if ((rc = mdb_put(txn, dbi, k, v, 0)) != 0) {
        s_batch_lost(self);
        return s_lmdb_err(rc, what);
    }
    return 0;
}

// s_put of a value sealed for table `table` when a key is set.
static int
s_put_sealed(socp_cstore_t *self,
             MDB_dbi dbi,
             char table,
             MDB_val *k,
             const MDB_val *plain,
             const char *what)
{
    if (!self->seal_key) {
        MDB_val v = *plain;
        return s_put(self, dbi, k, &v, what);
    }
    uint8_t *sealed;
    size_t len;
    socp_cstore_seal(self, table, k, plain->mv_data, plain->mv_size, &sealed, &len);
    MDB_val v = {len, sealed};
    int rc = s_put(self, dbi, k, &v, what);
    free(sealed);
    return rc;
}

int
socp_cstore_outbox_put(socp_cstore_t *self,
                       const char *conv,
                       const char *frame,
                       size_t len,
                       uint64_t *seq_out)
{
    size_t clen = conv ? strlen(conv) : 0;
    if (!frame || clen > S_CONV_MAX || len == 0) {
        return SOCP_EINVAL;
    }
    MDB_txn *txn;
    int rc = s_wtxn(self, &txn);
    if (rc != 0) {
        return rc;
    }
    uint64_t seq = self->next_outbox;
    uint8_t key[8];
    socp_cstore_be64(seq, key);
    MDB_val k = {8, key};
    // The body: conv length, conv, frame; sealed once a key is set.
    uint8_t *body = socp_malloc(1 + clen + len);
    body[0] = (uint8_t) clen;
    memcpy(body + 1, conv, clen);
    memcpy(body + 1 + clen, frame, len);
    uint8_t *sealed = NULL;
    size_t blen = 1 + clen + len;
    if (self->seal_key) {
        socp_cstore_seal(self, 'o', &k, body, blen, &sealed, &blen);
    }
    MDB_val v = {1 + blen, NULL};
    rc = mdb_put(txn, self->outbox, &k, &v, MDB_RESERVE);
    if (rc == 0) {
        uint8_t *p = v.mv_data;
        p[0] = sealed ? S_OUT_SEALED_UNSENT : S_OUT_UNSENT;
        memcpy(p + 1, sealed ? sealed : body, blen);
    }
    free(sealed);
    free(body);
    if (rc != 0) {
        s_batch_lost(self);
        return s_lmdb_err(rc, "outbox put");
    }
    self->next_outbox++;
    self->pending++;
    if (seq_out) {
        *seq_out = seq;
    }
    return 0;
}

int
socp_cstore_outbox_mark_sent(socp_cstore_t *self, uint64_t seq)
{
    MDB_txn *txn;
    int rc = s_wtxn(self, &txn);
    if (rc != 0) {
        return rc;
    }
    uint8_t key[8];
    socp_cstore_be64(seq, key);
    MDB_val k = {8, key}, v;
    rc = mdb_get(txn, self->outbox, &k, &v);
    if (rc == MDB_NOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        s_batch_lost(self);
        return s_lmdb_err(rc, "outbox get");
    }
    uint8_t state = v.mv_size > 0 ? ((const uint8_t *) v.mv_data)[0] : 0;
    if (state != S_OUT_UNSENT && state != S_OUT_SEALED_UNSENT) {
        return 0;
    }
    // Values of a write txn may live in the map: copy before rewriting. The
    // state is outside the seal: nothing to open.
    uint8_t *copy = socp_memdup(v.mv_data, v.mv_size);
    copy[0] = state == S_OUT_UNSENT ? S_OUT_SENT : S_OUT_SEALED_SENT;
    MDB_val nv = {v.mv_size, copy};
    rc = mdb_put(txn, self->outbox, &k, &nv, 0);
    free(copy);
    if (rc != 0) {
        s_batch_lost(self);
        return s_lmdb_err(rc, "outbox mark");
    }
    if (self->pending > 0) {
        self->pending--;
    }
    return 0;
}

int
socp_cstore_outbox_each_unsent(socp_cstore_t *self,
                               uint64_t after,
                               socp_cstore_outbox_fn *fn,
                               void *arg)
{
    if (after == UINT64_MAX) {
        return 0;
    }
    s_reader_t r;
    int rc = s_reader_open(self, self->outbox, &r);
    if (rc != 0) {
        return rc;
    }
    // Entries from here on belong to the open batch: not durable yet.
    uint64_t uncommitted = self->txn ? self->batch_outbox : UINT64_MAX;
    uint8_t start[8];
    socp_cstore_be64(after + 1, start);
    MDB_cursor *cur = r.cur;
    MDB_val k = {8, start}, v;
    int result = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && result == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        s_outbox_rec_t rec;
        if (!s_outbox_read(self, &k, &v, &rec) || rec.sent) {
            socp_cstore_unsealed_free(rec.plain, rec.plain_len);
            continue;
        }
        uint64_t seq = socp_cstore_get_be64(k.mv_data);
        if (seq >= uncommitted) {
            socp_cstore_unsealed_free(rec.plain, rec.plain_len);
            result = SOCP_EAGAIN;
            break;
        }
        result = fn(seq, rec.frame, rec.len, arg);
        socp_cstore_unsealed_free(rec.plain, rec.plain_len);
    }
    s_reader_close(&r);
    if (result == 0 && rc != 0 && rc != MDB_NOTFOUND) {
        return s_lmdb_err(rc, "outbox read");
    }
    return result;
}

uint64_t
socp_cstore_outbox_pending(const socp_cstore_t *self)
{
    return self->pending;
}

// Writes history record `seq` (new, or replacing it).
static int
s_history_put(socp_cstore_t *self, uint64_t seq, const socp_cstore_msg_t *msg)
{
    if (!msg || !msg->conv || !msg->from || (!msg->text && msg->text_len)) {
        return SOCP_EINVAL;
    }
    json_t *o = json_object();
    json_object_set_new(o, "k", json_integer(msg->kind));
    json_object_set_new(o, "o", json_boolean(msg->outgoing));
    json_object_set_new(o, "c", json_string(msg->conv));
    json_object_set_new(o, "f", json_string(msg->from));
    json_object_set_new(o, "t", json_integer(msg->ts));
    json_object_set_new(o, "s", json_integer(msg->status));
    json_object_set_new(o, "m", json_string(msg->form ? msg->form : ""));
    json_t *x = json_stringn(msg->text ? msg->text : "", msg->text_len);
    if (!x || !json_object_get(o, "c") || !json_object_get(o, "f") || !json_object_get(o, "m")) {
        json_decref(x);
        json_decref(o);
        return SOCP_EINVAL; // not UTF-8
    }
    json_object_set_new(o, "x", x);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text) {
        return SOCP_ENOMEM;
    }
    uint8_t key[8];
    socp_cstore_be64(seq, key);
    MDB_val k = {8, key}, v = {strlen(text), text};
    int rc = s_put_sealed(self, self->history, 'h', &k, &v, "history put");
    sodium_memzero(text, strlen(text));
    free(text);
    return rc;
}

int
socp_cstore_history_add(socp_cstore_t *self, socp_cstore_msg_t *msg)
{
    int rc = s_history_put(self, self->next_history, msg);
    if (rc == 0) {
        msg->seq = self->next_history++;
    }
    return rc;
}

static bool s_history_decode(const socp_cstore_t *self,
                             const MDB_val *k,
                             const MDB_val *v,
                             socp_cstore_msg_t *msg,
                             json_t **holder);

int
socp_cstore_history_set_status(socp_cstore_t *self, uint64_t seq, uint8_t status)
{
    MDB_txn *txn;
    int rc = s_wtxn(self, &txn);
    if (rc != 0) {
        return rc;
    }
    uint8_t key[8];
    socp_cstore_be64(seq, key);
    MDB_val k = {8, key}, v;
    rc = mdb_get(txn, self->history, &k, &v);
    if (rc == MDB_NOTFOUND) {
        return SOCP_ENOTFOUND;
    }
    if (rc != 0) {
        s_batch_lost(self);
        return s_lmdb_err(rc, "history get");
    }
    socp_cstore_msg_t m;
    json_t *holder;
    if (!s_history_decode(self, &k, &v, &m, &holder)) {
        return SOCP_ENOTFOUND;
    }
    m.status = status;
    rc = s_history_put(self, seq, &m);
    json_decref(holder);
    return rc;
}

// ---- held DMs (for users who are not online) -----------------------------------------

int
socp_cstore_held_put(socp_cstore_t *self,
                     const char *to,
                     const void *data,
                     size_t len,
                     int64_t ts,
                     uint64_t history_seq,
                     uint64_t *seq_out)
{
    if (!to || !*to || strlen(to) > S_CONV_MAX || !data || len == 0 || len > 446 ||
        !socp_text_utf8_valid(data, len)) {
        return SOCP_EINVAL;
    }
    json_t *o = json_pack("{s:s, s:s#, s:I, s:I}", "to", to, "x", (const char *) data, (int) len,
                          "t", (json_int_t) ts, "h", (json_int_t) history_seq);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) {
        return SOCP_ENOMEM;
    }
    uint8_t key[8];
    socp_cstore_be64(self->next_held, key);
    MDB_val k = {8, key}, v = {strlen(text), text};
    int rc = s_put_sealed(self, self->held, 'p', &k, &v, "held put");
    sodium_memzero(text, strlen(text));
    free(text);
    if (rc == 0) {
        *seq_out = self->next_held++;
    }
    return rc;
}

int
socp_cstore_held_del(socp_cstore_t *self, uint64_t seq)
{
    MDB_txn *txn;
    int rc = s_wtxn(self, &txn);
    if (rc != 0) {
        return rc;
    }
    uint8_t key[8];
    socp_cstore_be64(seq, key);
    MDB_val k = {8, key};
    rc = mdb_del(txn, self->held, &k, NULL);
    if (rc == MDB_NOTFOUND) {
        return SOCP_ENOTFOUND;
    }
    if (rc != 0) {
        s_batch_lost(self);
        return s_lmdb_err(rc, "held del");
    }
    return 0;
}

int
socp_cstore_held_each(socp_cstore_t *self, socp_cstore_held_fn *fn, void *arg)
{
    s_reader_t r;
    int rc = s_reader_open(self, self->held, &r);
    if (rc != 0) {
        return rc;
    }
    MDB_val k, v;
    int op = MDB_FIRST;
    while ((rc = mdb_cursor_get(r.cur, &k, &v, op)) == 0) {
        op = MDB_NEXT;
        size_t len = 0;
        char *plain = k.mv_size == 8 ? socp_cstore_unseal(self, 'p', &k, &v, &len) : NULL;
        json_t *o = plain ? json_loadb(plain, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
        socp_cstore_unsealed_free(plain, len);
        json_t *to = json_object_get(o, "to"), *x = json_object_get(o, "x"),
               *t = json_object_get(o, "t"), *h = json_object_get(o, "h");
        if (!json_is_string(to) || !json_is_string(x) || !json_is_integer(t) ||
            !json_is_integer(h) || json_string_length(x) == 0 || json_string_length(x) > 446) {
            socp_warn("store: damaged held message ignored");
            json_decref(o);
            continue;
        }
        socp_cstore_held_t held = {socp_cstore_get_be64(k.mv_data),
                                   json_string_value(to),
                                   (const uint8_t *) json_string_value(x),
                                   json_string_length(x),
                                   json_integer_value(t),
                                   (uint64_t) json_integer_value(h)};
        int stop = fn(&held, arg);
        json_decref(o);
        if (stop) {
            break;
        }
    }
    s_reader_close(&r);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : s_lmdb_err(rc, "held read");
}

// Decodes one history record into msg (strings point into json owned by *holder).
static bool
s_history_decode(const socp_cstore_t *self,
                 const MDB_val *k,
                 const MDB_val *v,
                 socp_cstore_msg_t *msg,
                 json_t **holder)
{
    *holder = NULL;
    if (k->mv_size != 8 || v->mv_size > S_RECORD_MAX + S_SEAL_OVER) {
        return false;
    }
    size_t len = 0;
    char *plain = socp_cstore_unseal(self, 'h', k, v, &len);
    json_t *o = plain ? json_loadb(plain, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    socp_cstore_unsealed_free(plain, len);
    if (!json_is_object(o)) {
        json_decref(o);
        return false;
    }
    json_t *kk = json_object_get(o, "k"), *oo = json_object_get(o, "o"),
           *c = json_object_get(o, "c"), *f = json_object_get(o, "f"), *t = json_object_get(o, "t"),
           *s = json_object_get(o, "s"), *m = json_object_get(o, "m"), *x = json_object_get(o, "x");
    if (!json_is_integer(kk) || !json_is_boolean(oo) || !json_is_string(c) || !json_is_string(f) ||
        !json_is_integer(t) || !json_is_integer(s) || !json_is_string(m) || !json_is_string(x) ||
        json_integer_value(kk) < 0 || json_integer_value(kk) > 255 || json_integer_value(s) < 0 ||
        json_integer_value(s) > 255) {
        json_decref(o);
        return false;
    }
    *msg = (socp_cstore_msg_t){
        .seq = socp_cstore_get_be64(k->mv_data),
        .kind = (uint8_t) json_integer_value(kk),
        .outgoing = json_is_true(oo),
        .conv = json_string_value(c),
        .from = json_string_value(f),
        .ts = json_integer_value(t),
        .status = (uint8_t) json_integer_value(s),
        .form = json_string_value(m),
        .text = json_string_value(x),
        .text_len = json_string_length(x),
    };
    *holder = o;
    return true;
}

int
socp_cstore_history_last(socp_cstore_t *self,
                         const char *conv,
                         size_t n,
                         socp_cstore_msg_fn *fn,
                         void *arg)
{
    bool all = !conv || !*conv;
    s_reader_t r;
    int rc = s_reader_open(self, self->history, &r);
    if (rc != 0) {
        return rc;
    }
    MDB_cursor *cur = r.cur;
    // Walk back to find the n matching keys, then forward to report them.
    uint64_t *seqs = socp_calloc(n ? n : 1, sizeof *seqs);
    size_t found = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); rc == 0 && found < n;
         rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        socp_cstore_msg_t m;
        json_t *holder;
        if (!s_history_decode(self, &k, &v, &m, &holder)) {
            continue;
        }
        if (all || strcmp(m.conv, conv) == 0) {
            seqs[found++] = m.seq;
        }
        json_decref(holder);
    }
    int result = 0;
    for (size_t i = found; i-- > 0 && result == 0;) {
        uint8_t key[8];
        socp_cstore_be64(seqs[i], key);
        k = (MDB_val){8, key};
        if (mdb_cursor_get(cur, &k, &v, MDB_SET_KEY) != 0) {
            continue;
        }
        socp_cstore_msg_t m;
        json_t *holder;
        if (s_history_decode(self, &k, &v, &m, &holder)) {
            result = fn(&m, arg);
            json_decref(holder);
        }
    }
    free(seqs);
    s_reader_close(&r);
    return result;
}

int
socp_cstore_seen_add(socp_cstore_t *self, const char *from, int64_t ts, const uint8_t hash[32])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *) from, strlen(from) + 1);
    char tsbuf[32];
    int n = snprintf(tsbuf, sizeof tsbuf, "%lld", (long long) ts);
    crypto_hash_sha256_update(&st, (const uint8_t *) tsbuf, (size_t) n + 1);
    crypto_hash_sha256_update(&st, hash, 32);
    // Key: ts (big-endian) then the digest, so a burst of messages lands in
    // a few neighbouring pages instead of one random page each (fewer dirty
    // pages per commit, a table that stays cheap as it grows).
    uint8_t key[S_SEEN_KEY];
    socp_cstore_be64((uint64_t) ts, key);
    crypto_hash_sha256_final(&st, key + 8);
    MDB_txn *txn;
    int rc = s_wtxn(self, &txn);
    if (rc != 0) {
        return rc;
    }
    uint8_t val[8];
    socp_cstore_be64((uint64_t) ts, val);
    MDB_val k = {S_SEEN_KEY, key}, v = {8, val};
    rc = mdb_put(txn, self->seen, &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
        return SOCP_EREPLAY;
    }
    if (rc != 0) {
        s_batch_lost(self);
        return s_lmdb_err(rc, "seen put");
    }
    return 0;
}

MDB_val
socp_cstore_contact_key(const socp_cstore_t *self, const char *user_id, uint8_t buf[S_CONTACT_KEY])
{
    if (!self->index_key) {
        return (MDB_val){strlen(user_id), (void *) user_id};
    }
    crypto_generichash(buf, S_CONTACT_KEY, (const uint8_t *) user_id, strlen(user_id),
                       self->index_key, S_CONTACT_KEY);
    return (MDB_val){S_CONTACT_KEY, buf};
}

// Parses a contact record; strings point into *holder. A sealed record
// carries the user id inside ("id"), a plain one is keyed by it; a plain
// record in a sealed database is not trusted.
static bool
s_contact_decode(const socp_cstore_t *self,
                 const MDB_val *k,
                 const MDB_val *v,
                 socp_cstore_contact_t *c,
                 json_t **holder,
                 char *id,
                 size_t idsize)
{
    *holder = NULL;
    if (k->mv_size == 0 || k->mv_size >= idsize || v->mv_size == 0 ||
        v->mv_size > S_RECORD_MAX + S_SEAL_OVER) {
        return false;
    }
    bool sealed = *(const uint8_t *) v->mv_data == S_SEAL_TAG;
    size_t len = 0;
    char *plain = socp_cstore_unseal(self, 'c', k, v, &len);
    json_t *o = plain ? json_loadb(plain, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    socp_cstore_unsealed_free(plain, len);
    json_t *name = json_object_get(o, "name"), *pub = json_object_get(o, "pub"),
           *fp = json_object_get(o, "fp"), *first = json_object_get(o, "first"),
           *last = json_object_get(o, "last"), *jid = json_object_get(o, "id");
    if (!json_is_string(name) || !json_is_string(pub) || !json_is_string(fp) ||
        !json_is_integer(first) || !json_is_integer(last) || json_string_length(fp) != 64 ||
        (sealed && (!json_is_string(jid) || json_string_length(jid) == 0 ||
                    json_string_length(jid) >= idsize))) {
        json_decref(o);
        return false;
    }
    if (sealed) {
        memcpy(id, json_string_value(jid), json_string_length(jid) + 1);
    } else {
        memcpy(id, k->mv_data, k->mv_size);
        id[k->mv_size] = '\0';
    }
    // "sig" came later: absent (or anything but 1-2) means not learned yet.
    json_int_t sig = json_integer_value(json_object_get(o, "sig"));
    *c = (socp_cstore_contact_t){id,
                                 json_string_value(name),
                                 json_string_value(pub),
                                 json_string_value(fp),
                                 json_integer_value(first),
                                 json_integer_value(last),
                                 (uint8_t) (sig >= 1 && sig <= 2 ? sig : 0)};
    *holder = o;
    return true;
}

static int
s_contact_write(socp_cstore_t *self,
                const char *user_id,
                const char *name,
                const char *pub,
                const char *fp,
                int64_t first,
                int64_t last,
                uint8_t sig)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:i}", "id", user_id, "name", name, "pub",
                          pub, "fp", fp, "first", (json_int_t) first, "last", (json_int_t) last,
                          "sig", (int) sig);
    if (!o) {
        return SOCP_EINVAL;
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text) {
        return SOCP_ENOMEM;
    }
    uint8_t kbuf[S_CONTACT_KEY];
    MDB_val k = socp_cstore_contact_key(self, user_id, kbuf), v = {strlen(text), text};
    self->last_contact_ok = false;
    int rc = s_put_sealed(self, self->contacts, 'c', &k, &v, "contact put");
    sodium_memzero(text, strlen(text));
    free(text);
    return rc;
}

int
socp_cstore_contact_pin(socp_cstore_t *self,
                        const char *user_id,
                        const char *name,
                        const char *pub,
                        const char *fp,
                        int64_t now_ms,
                        int *state)
{
    if (state) {
        *state = 0;
    }
    if (!user_id || !*user_id || strlen(user_id) > 128 || !pub || !fp || strlen(fp) != 64) {
        return SOCP_EINVAL;
    }
    socp_cstore_contact_t c;
    int rc = socp_cstore_contact_get(self, user_id, &c);
    if (rc == SOCP_ENOTFOUND) {
        if (state) {
            *state = 1;
        }
        return s_contact_write(self, user_id, name && *name ? name : user_id, pub, fp, now_ms,
                               now_ms, 0);
    }
    if (rc != 0) {
        return rc;
    }
    if (strcmp(c.fp, fp) != 0) {
        return SOCP_EBADKEY;
    }
    // Copy what we keep: c's strings die with the next store call.
    char *keep_pub = socp_strdup(c.pub);
    char *keep_name = socp_strdup(name && *name ? name : c.name);
    int64_t first = c.first_seen;
    rc = s_contact_write(self, user_id, keep_name, keep_pub, fp, first, now_ms, c.sig);
    free(keep_pub);
    free(keep_name);
    return rc;
}

int
socp_cstore_contact_set_sig(socp_cstore_t *self, const char *user_id, uint8_t sig, bool *changed)
{
    if (changed) {
        *changed = false;
    }
    if (sig > 2) {
        return SOCP_EINVAL;
    }
    socp_cstore_contact_t c;
    int rc = socp_cstore_contact_get(self, user_id, &c);
    if (rc != 0 || c.sig == sig) {
        return rc;
    }
    if (changed) {
        *changed = true;
    }
    // Copy what we keep: c's strings die with the next store call.
    char *keep_name = socp_strdup(c.name), *keep_pub = socp_strdup(c.pub);
    char fp[65];
    memcpy(fp, c.fp, sizeof fp);
    rc = s_contact_write(self, user_id, keep_name, keep_pub, fp, c.first_seen, c.last_seen, sig);
    free(keep_pub);
    free(keep_name);
    return rc;
}

int
socp_cstore_contact_get(socp_cstore_t *self, const char *user_id, socp_cstore_contact_t *out)
{
    memset(out, 0, sizeof *out);
    if (!user_id || !*user_id || strlen(user_id) > 128) {
        return SOCP_ENOTFOUND;
    }
    if (self->last_contact_ok && strcmp(self->last_contact.user_id, user_id) == 0) {
        *out = self->last_contact;
        return 0;
    }
    MDB_txn *txn;
    bool owned;
    int rc = s_rtxn(self, &txn, &owned);
    if (rc != 0) {
        return rc;
    }
    uint8_t kbuf[S_CONTACT_KEY];
    MDB_val k = socp_cstore_contact_key(self, user_id, kbuf), v;
    rc = mdb_get(txn, self->contacts, &k, &v);
    int result = 0;
    if (rc == MDB_NOTFOUND) {
        result = SOCP_ENOTFOUND;
    } else if (rc != 0) {
        result = s_lmdb_err(rc, "contact get");
    } else {
        char id[129];
        json_t *holder;
        socp_cstore_contact_t c;
        if (!s_contact_decode(self, &k, &v, &c, &holder, id, sizeof id) ||
            strcmp(id, user_id) != 0) {
            json_decref(holder);
            socp_warn("store: damaged contact record ignored");
            result = SOCP_ENOTFOUND;
        } else {
            // Pack the strings into one scratch block owned by the store.
            size_t a = strlen(c.user_id) + 1, b = strlen(c.name) + 1, d = strlen(c.pub) + 1, e = 65;
            free(self->scratch);
            self->scratch = socp_malloc(a + b + d + e);
            char *p = self->scratch;
            memcpy(p, c.user_id, a);
            memcpy(p + a, c.name, b);
            memcpy(p + a + b, c.pub, d);
            memcpy(p + a + b + d, c.fp, e);
            *out = (socp_cstore_contact_t){
                p, p + a, p + a + b, p + a + b + d, c.first_seen, c.last_seen, c.sig};
            self->last_contact = *out;
            self->last_contact_ok = true;
            json_decref(holder);
        }
    }
    if (owned) {
        mdb_txn_abort(txn);
    }
    return result;
}

int
socp_cstore_contacts_each(socp_cstore_t *self, socp_cstore_contact_fn *fn, void *arg)
{
    s_reader_t r;
    int rc = s_reader_open(self, self->contacts, &r);
    if (rc != 0) {
        return rc;
    }
    MDB_cursor *cur = r.cur;
    MDB_val k, v;
    int result = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && result == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char id[129];
        json_t *holder;
        socp_cstore_contact_t c;
        if (s_contact_decode(self, &k, &v, &c, &holder, id, sizeof id)) {
            result = fn(&c, arg);
            json_decref(holder);
        }
    }
    s_reader_close(&r);
    return result;
}

int
socp_cstore_setting_set(socp_cstore_t *self, const char *key, const char *value)
{
    char name[80];
    if (!key || !value || strlen(key) > 64 || strlen(value) > S_SETTING_MAX) {
        return SOCP_EINVAL;
    }
    int n = snprintf(name, sizeof name, "set:%s", key);
    MDB_val k = {(size_t) n, name}, v = {strlen(value), (void *) value};
    return s_put(self, self->meta, &k, &v, "setting put");
}

int
socp_cstore_setting_get(socp_cstore_t *self, const char *key, char *out, size_t size)
{
    char name[80];
    if (!key || strlen(key) > 64 || size == 0) {
        return SOCP_EINVAL;
    }
    out[0] = '\0';
    int n = snprintf(name, sizeof name, "set:%s", key);
    MDB_txn *txn;
    bool owned;
    int rc = s_rtxn(self, &txn, &owned);
    if (rc != 0) {
        return rc;
    }
    MDB_val k = {(size_t) n, name}, v;
    rc = mdb_get(txn, self->meta, &k, &v);
    int result = 0;
    if (rc == MDB_NOTFOUND) {
        result = SOCP_ENOTFOUND;
    } else if (rc != 0) {
        result = s_lmdb_err(rc, "setting get");
    } else if (v.mv_size >= size || v.mv_size > S_SETTING_MAX || memchr(v.mv_data, 0, v.mv_size) ||
               !socp_text_utf8_valid(v.mv_data, v.mv_size)) {
        result = SOCP_ETOOBIG;
    } else {
        memcpy(out, v.mv_data, v.mv_size);
        out[v.mv_size] = '\0';
    }
    if (owned) {
        mdb_txn_abort(txn);
    }
    return result;
}

int
socp_cstore_file_put(socp_cstore_t *self, const char *file_id, const char *record_json)
{
    if (!file_id || !*file_id || strlen(file_id) > 128 || !record_json) {
        return SOCP_EINVAL;
    }
    // The record names a file just linked into files_dir: its name is made
    // durable before the record that points at it (and before the user is
    // told it is saved).
    if (self->files_dir && socp_platform_sync_dir(self->files_dir) != 0) {
        socp_warn("store: cannot sync %s (the file's name may not survive a crash)",
                  self->files_dir);
    }
    MDB_val k = {strlen(file_id), (void *) file_id},
            v = {strlen(record_json), (void *) record_json};
    return s_put_sealed(self, self->files, 'f', &k, &v, "file put");
}

void
socp_cstore_set_files_dir(socp_cstore_t *self, const char *dir)
{
    free(self->files_dir);
    self->files_dir = dir ? socp_strdup(dir) : NULL;
}

int
socp_cstore_file_count(socp_cstore_t *self, size_t *count)
{
    MDB_txn *txn;
    bool owned;
    int rc = s_rtxn(self, &txn, &owned);
    if (rc != 0) {
        return rc;
    }
    MDB_stat st;
    rc = mdb_stat(txn, self->files, &st);
    if (owned) {
        mdb_txn_abort(txn);
    }
    if (rc != 0) {
        return s_lmdb_err(rc, "stat");
    }
    *count = st.ms_entries;
    return 0;
}
