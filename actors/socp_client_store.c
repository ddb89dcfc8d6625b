// socp_client_store.c: the client's LMDB database (see socp_client_store.h).
// Part of socp, a SOCP v1.3 client and server.
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
#include "socp/socp_text.h"

#define S_CONV_MAX    128u
#define S_SETTING_MAX 1024u
#define S_RECORD_MAX  (64u * 1024u)
#define S_SEEN_KEY    40 // seen table key: be64 ts + SHA-256(from, ts, digest)

// Sealed values (history and file records once a key is set): 0x01, a
// random XChaCha20 nonce, then the XChaCha20-Poly1305 ciphertext of the
// plain value. The associated data is the table's letter and the record's
// key, so a record cannot be moved to another key or table unnoticed. A
// plain value starts with '{' (JSON).
#define S_SEAL_TAG   0x01
#define S_SEAL_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define S_SEAL_OVER  (1 + S_SEAL_NONCE + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define S_SEAL_CHECK "socp history key check"
_Static_assert(S_SEAL_NONCE == 16 + 8, "nonce = 16-byte prefix + 64-bit counter");

struct socp_cstore {
    MDB_env *env;
    MDB_dbi meta, outbox, history, contacts, seen, files;
    MDB_txn *txn;           // open write batch, or NULL
    uint64_t next_outbox;   // next outbox seq
    uint64_t next_history;  // next history seq
    uint64_t pending;       // unsent outbox entries (committed + batch)
    uint64_t batch_pending; // pending as of the last commit
    uint64_t batch_outbox;  // next_outbox as of the last commit
    bool batch_lost;        // a failed write dropped the batch: the next commit fails
    uint64_t batch_history; // next_history as of the last commit
    char *scratch;          // contact_get strings
    // The last contact read (its strings in scratch): every received message
    // checks its sender's pin, and a burst comes from few senders. Dropped
    // on any contact write and when a batch is abandoned.
    socp_cstore_contact_t last_contact;
    bool last_contact_ok;
    uint8_t *seal_key; // 32 bytes in sodium memory once set, else NULL
    // Nonces: 16 random bytes drawn when the key is set, then a counter (no
    // system call per record; unique per key with overwhelming probability).
    uint8_t nonce_prefix[16];
    uint64_t nonce_count;
    bool sealed; // the database is sealed: a plain history/file record is not trusted
    char *dir;   // the environment's directory
    size_t map_size;
};

static void
s_be64(uint64_t v, uint8_t out[8])
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t) (v & 0xff);
        v >>= 8;
    }
}

static uint64_t
s_get_be64(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | in[i];
    }
    return v;
}

// The associated data of a sealed value: the table's letter, then the
// record's key (at most 256 bytes of it). Returns its length.
static size_t
s_seal_ad(char table, const MDB_val *k, uint8_t ad[1 + 256])
{
    size_t n = k->mv_size < 256 ? k->mv_size : 256;
    ad[0] = (uint8_t) table;
    memcpy(ad + 1, k->mv_data, n);
    return 1 + n;
}

// Seals `len` bytes for table `table` under record key `k` into a new buffer
// (*out, *out_len; free() it).
static void
s_seal(socp_cstore_t *self,
       char table,
       const MDB_val *k,
       const void *plain,
       size_t len,
       uint8_t **out,
       size_t *out_len)
{
    uint8_t ad[1 + 256];
    size_t ad_len = s_seal_ad(table, k, ad);
    uint8_t *buf = socp_malloc(len + S_SEAL_OVER);
    buf[0] = S_SEAL_TAG;
    memcpy(buf + 1, self->nonce_prefix, sizeof self->nonce_prefix);
    s_be64(++self->nonce_count, buf + 1 + sizeof self->nonce_prefix);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(buf + 1 + S_SEAL_NONCE, &clen, plain, len, ad,
                                               ad_len, NULL, buf + 1, self->seal_key);
    *out = buf;
    *out_len = 1 + S_SEAL_NONCE + (size_t) clen;
}

// Opens a value read from table `table`: a plain one is copied, a sealed one
// decrypted. Returns a NUL-terminated buffer (free with s_unsealed_free) or
// NULL when the value is sealed and no key, another key, or damage.
static char *
s_unseal(const socp_cstore_t *self, char table, const MDB_val *k, const MDB_val *v, size_t *len)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size == 0 || p[0] != S_SEAL_TAG) {
        if (self->sealed) {
            return NULL; // every record was sealed: a plain one was put there
        }
        char *copy = socp_malloc(v->mv_size + 1);
        memcpy(copy, v->mv_data, v->mv_size);
        copy[v->mv_size] = '\0';
        *len = v->mv_size;
        return copy;
    }
    if (!self->seal_key || v->mv_size < S_SEAL_OVER) {
        return NULL;
    }
    uint8_t ad[1 + 256];
    size_t ad_len = s_seal_ad(table, k, ad);
    size_t clen = v->mv_size - 1 - S_SEAL_NONCE;
    char *plain = socp_malloc(clen + 1);
    unsigned long long plen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt((uint8_t *) plain, &plen, NULL,
                                                   p + 1 + S_SEAL_NONCE, clen, ad, ad_len, p + 1,
                                                   self->seal_key) != 0) {
        free(plain);
        return NULL;
    }
    plain[plen] = '\0';
    *len = (size_t) plen;
    return plain;
}

static void
s_unsealed_free(char *plain, size_t len)
{
    if (plain) {
        sodium_memzero(plain, len);
        free(plain);
    }
}

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
        seq = s_get_be64(k.mv_data);
    }
    mdb_cursor_close(cur);
    return seq;
}

// Validates one outbox value; returns the frame or NULL.
static const char *
s_outbox_decode(const MDB_val *v, bool *sent, size_t *frame_len)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < 3 || (p[0] != 'U' && p[0] != 'S') || (size_t) 2 + p[1] >= v->mv_size) {
        return NULL;
    }
    *sent = p[0] == 'S';
    *frame_len = v->mv_size - 2 - p[1];
    return (const char *) p + 2 + p[1];
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
        bool sent = false;
        size_t len;
        if (k.mv_size != 8 || !s_outbox_decode(&v, &sent, &len)) {
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

static int
s_mkdir(const char *path)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
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
static int
s_env_open(socp_cstore_t *self, MDB_txn **txn, const char **why)
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
    if ((rc = mdb_env_open(self->env, self->dir, MDB_NOTLS, 0600)) != 0) {
        *why = "cannot open the database (locked by another socp, or damaged?)";
        socp_error("store: open %s: %s", self->dir, mdb_strerror(rc));
        return rc;
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
               {"seen", &self->seen},       {"files", &self->files}};
    for (size_t i = 0; i < SOCP_ARRAY_LEN(dbs); i++) {
        if ((rc = mdb_dbi_open(*txn, dbs[i].name, MDB_CREATE, dbs[i].dbi)) != 0) {
            *why = "cannot open a table (not a socp database?)";
            return rc;
        }
    }
    return 0;
}

// Rewrites the database file with only its live pages (LMDB's compacting
// copy), so values replaced by sealed ones no longer linger in free pages;
// the copy replaces the file by rename, so a crash leaves one or the other.
// *replaced tells whether it happened; a copy or rename that fails leaves
// the old file in use (warned; the mark makes the next start try again).
// Only a failure to reopen is an error (the store is then unusable).
static int
s_compact(socp_cstore_t *self, bool *replaced, const char **why)
{
    *replaced = false;
    char tmp[4200], from[4300], to[4300];
    snprintf(tmp, sizeof tmp, "%s/compact", self->dir);
    snprintf(from, sizeof from, "%s/data.mdb", tmp);
    snprintf(to, sizeof to, "%s/data.mdb", self->dir);
    (void) unlink(from);
    int rc = s_mkdir(tmp) == 0 ? mdb_env_copy2(self->env, tmp, MDB_CP_COMPACT) : EIO;
    int fd = rc == 0 ? open(from, O_RDONLY | O_CLOEXEC) : -1;
    if (rc != 0 || fd < 0 || fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        (void) unlink(from);
        (void) rmdir(tmp);
        socp_warn("store: cannot write a compacted copy of the database (disk full?); "
                  "records from before sealing stay in its free pages until the next start");
        return 0;
    }
    close(fd);
    mdb_env_close(self->env);
    self->env = NULL;
    if (rename(from, to) != 0) {
        (void) unlink(from);
        socp_warn("store: cannot replace the database by its compacted copy; "
                  "tried again at the next start");
    } else {
        *replaced = true;
    }
    (void) rmdir(tmp);
    int dfd = open(self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void) fsync(dfd);
        close(dfd);
    }
    MDB_txn *txn = NULL;
    rc = s_env_open(self, &txn, why);
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (txn) {
        mdb_txn_abort(txn);
    }
    return rc == 0 ? 0 : SOCP_ESTORE;
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
    if (s_mkdir(dir) != 0) {
        *why = "cannot create the database directory";
        return SOCP_EIO;
    }
    socp_cstore_t *self = socp_calloc(1, sizeof *self);
    self->dir = socp_strdup(dir);
    self->map_size = map_size ? map_size : SOCP_CSTORE_MAP_SIZE;
    MDB_txn *txn = NULL;
    int err = SOCP_ESTORE;
    int rc = s_env_open(self, &txn, why);
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
            // 1 -> 2: the seen table's key. 2 -> 3: values may be sealed
            // (nothing to convert; sealing starts when a key is set).
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

#define S_SEAL_CHUNK 4096 // records sealed per transaction during the migration

// Seals every plain value of one table, S_SEAL_CHUNK records per committed
// transaction (a long history never needs one huge transaction). Keys are
// collected first, then each value is read, sealed and put by key: no
// cursor walks over pages the puts are changing. Sealed records are skipped,
// so a migration cut short by a crash carries on at the next start.
static int
s_seal_table(socp_cstore_t *self, MDB_dbi dbi, char table, size_t *count)
{
    uint8_t(*keys)[S_CONV_MAX + 1] = socp_malloc(S_SEAL_CHUNK * sizeof *keys);
    size_t *lens = socp_malloc(S_SEAL_CHUNK * sizeof *lens);
    uint8_t resume[S_CONV_MAX + 1];
    size_t resume_len = 0;
    bool done = false;
    int rc = 0;
    while (!done && rc == 0) {
        MDB_txn *txn;
        MDB_cursor *cur;
        if ((rc = mdb_txn_begin(self->env, NULL, 0, &txn)) != 0) {
            break;
        }
        if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
            mdb_txn_abort(txn);
            break;
        }
        MDB_val k = {resume_len, resume}, v;
        int g = resume_len ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
                           : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        size_t n = 0;
        for (; g == 0 && n < S_SEAL_CHUNK; g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            if (k.mv_size > S_CONV_MAX) {
                continue; // not a key we write
            }
            if (v.mv_size == 0 || *(const uint8_t *) v.mv_data != S_SEAL_TAG) {
                memcpy(keys[n], k.mv_data, k.mv_size);
                lens[n++] = k.mv_size;
            }
            memcpy(resume, k.mv_data, k.mv_size);
            resume_len = k.mv_size;
        }
        done = g == MDB_NOTFOUND;
        mdb_cursor_close(cur);
        if (g != 0 && g != MDB_NOTFOUND) {
            rc = g;
        }
        for (size_t i = 0; i < n && rc == 0; i++) {
            MDB_val kk = {lens[i], keys[i]};
            if ((rc = mdb_get(txn, dbi, &kk, &v)) != 0) {
                break;
            }
            uint8_t *sealed;
            size_t len;
            s_seal(self, table, &kk, v.mv_data, v.mv_size, &sealed, &len);
            MDB_val nv = {len, sealed};
            rc = mdb_put(txn, dbi, &kk, &nv, 0);
            free(sealed);
        }
        if (rc != 0) {
            mdb_txn_abort(txn);
            break;
        }
        if ((rc = mdb_txn_commit(txn)) != 0) {
            break;
        }
        *count += n;
        // MDB_SET_RANGE lands on the last key seen again: already done,
        // and sealed now, so it is skipped.
    }
    free(keys);
    free(lens);
    return rc;
}

// Sets or clears the "compact" mark: a compaction is owed (the history
// was sealed and old plain copies may sit in free pages).
static int
s_compact_mark(socp_cstore_t *self, MDB_txn *txn, bool set)
{
    MDB_val k = {7, (void *) "compact"}, v = {1, (void *) "1"};
    int rc = set ? mdb_put(txn, self->meta, &k, &v, 0) : mdb_del(txn, self->meta, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

// Runs an owed compaction and clears the mark once the file is replaced.
static int
s_compact_owed(socp_cstore_t *self, const char **why)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return 0; // tried again next start
    }
    MDB_val k = {7, (void *) "compact"}, v;
    bool owed = mdb_get(txn, self->meta, &k, &v) == 0;
    mdb_txn_abort(txn);
    if (!owed) {
        return 0;
    }
    bool replaced = false;
    if ((rc = s_compact(self, &replaced, why)) != 0 || !replaced) {
        return rc;
    }
    if (mdb_txn_begin(self->env, NULL, 0, &txn) == 0) {
        if (s_compact_mark(self, txn, false) != 0 || mdb_txn_commit(txn) != 0) {
            socp_warn("store: cannot clear the compaction mark; it runs again next start");
        }
    }
    return 0;
}

int
socp_cstore_set_key(socp_cstore_t *self, const uint8_t key[32], const char **why)
{
    const char *dummy;
    why = why ? why : &dummy;
    *why = "ok";
    if (self->seal_key || self->txn) {
        *why = "the key is set once, before any write";
        return SOCP_EINVAL;
    }
    if (sodium_init() < 0 || !(self->seal_key = sodium_malloc(32))) {
        *why = "out of secure memory";
        return SOCP_ENOMEM;
    }
    memcpy(self->seal_key, key, 32);
    randombytes_buf(self->nonce_prefix, sizeof self->nonce_prefix);
    self->nonce_count = 0;
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    int err = SOCP_ESTORE;
    if (rc != 0) {
        *why = "cannot start a transaction";
        goto fail;
    }
    MDB_val k = {4, (void *) "seal"}, v;
    rc = mdb_get(txn, self->meta, &k, &v);
    if (rc == 0) {
        // Sealed before: this key must open the check record.
        size_t len = 0;
        char *check = v.mv_size > 0 && *(const uint8_t *) v.mv_data == S_SEAL_TAG
                          ? s_unseal(self, 'm', &k, &v, &len)
                          : NULL;
        bool ok = check && len == strlen(S_SEAL_CHECK) && memcmp(check, S_SEAL_CHECK, len) == 0;
        s_unsealed_free(check, len);
        mdb_txn_abort(txn);
        txn = NULL;
        if (!ok) {
            *why = "the history was sealed with another key (was the key file replaced?)";
            err = SOCP_EBADKEY;
            rc = 0;
            goto fail;
        }
        self->sealed = true;
        return s_compact_owed(self, why);
    }
    mdb_txn_abort(txn);
    txn = NULL;
    if (rc != MDB_NOTFOUND) {
        *why = "cannot read the database";
        goto fail;
    }
    // The first key: seal what is there (in chunks), then write the check
    // record with the compaction mark; from then on only sealed records
    // are read back.
    size_t rows = 0;
    rc = s_seal_table(self, self->history, 'h', &rows);
    if (rc == 0) {
        rc = s_seal_table(self, self->files, 'f', &rows);
    }
    if (rc == 0 && (rc = mdb_txn_begin(self->env, NULL, 0, &txn)) == 0) {
        uint8_t *sealed;
        size_t len;
        s_seal(self, 'm', &k, S_SEAL_CHECK, strlen(S_SEAL_CHECK), &sealed, &len);
        v = (MDB_val){len, sealed};
        rc = mdb_put(txn, self->meta, &k, &v, 0);
        free(sealed);
        if (rc == 0 && rows) {
            rc = s_compact_mark(self, txn, true);
        }
        if (rc == 0) {
            rc = mdb_txn_commit(txn);
        } else {
            mdb_txn_abort(txn);
        }
        txn = NULL;
    }
    if (rc != 0) {
        *why = "cannot seal the history (disk full?)";
        goto fail;
    }
    self->sealed = true;
    if (rows) {
        socp_info("store: %zu history and file records sealed with the key", rows);
    }
    return s_compact_owed(self, why);
fail:
    if (txn) {
        mdb_txn_abort(txn);
    }
    if (rc != 0 && err == SOCP_ESTORE) {
        socp_error("store: set key: %s", mdb_strerror(rc));
    }
    sodium_free(self->seal_key);
    self->seal_key = NULL;
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
    free(self->dir);
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
    s_seal(self, table, k, plain->mv_data, plain->mv_size, &sealed, &len);
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
    s_be64(seq, key);
    MDB_val k = {8, key}, v = {2 + clen + len, NULL};
    if ((rc = mdb_put(txn, self->outbox, &k, &v, MDB_RESERVE)) != 0) {
        s_batch_lost(self);
        return s_lmdb_err(rc, "outbox put");
    }
    uint8_t *p = v.mv_data;
    p[0] = 'U';
    p[1] = (uint8_t) clen;
    memcpy(p + 2, conv, clen);
    memcpy(p + 2 + clen, frame, len);
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
    s_be64(seq, key);
    MDB_val k = {8, key}, v;
    rc = mdb_get(txn, self->outbox, &k, &v);
    if (rc == MDB_NOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        s_batch_lost(self);
        return s_lmdb_err(rc, "outbox get");
    }
    if (v.mv_size < 1 || ((const uint8_t *) v.mv_data)[0] != 'U') {
        return 0;
    }
    // Values of a write txn may live in the map: copy before rewriting.
    uint8_t *copy = socp_memdup(v.mv_data, v.mv_size);
    copy[0] = 'S';
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
    s_be64(after + 1, start);
    MDB_cursor *cur = r.cur;
    MDB_val k = {8, start}, v;
    int result = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && result == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        bool sent;
        size_t len;
        const char *frame = s_outbox_decode(&v, &sent, &len);
        if (k.mv_size != 8 || !frame || sent) {
            continue;
        }
        uint64_t seq = s_get_be64(k.mv_data);
        if (seq >= uncommitted) {
            result = SOCP_EAGAIN;
            break;
        }
        result = fn(seq, frame, len, arg);
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

int
socp_cstore_history_add(socp_cstore_t *self, socp_cstore_msg_t *msg)
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
    s_be64(self->next_history, key);
    MDB_val k = {8, key}, v = {strlen(text), text};
    int rc = s_put_sealed(self, self->history, 'h', &k, &v, "history put");
    sodium_memzero(text, strlen(text));
    free(text);
    if (rc == 0) {
        msg->seq = self->next_history++;
    }
    return rc;
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
    char *plain = s_unseal(self, 'h', k, v, &len);
    json_t *o = plain ? json_loadb(plain, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    s_unsealed_free(plain, len);
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
        .seq = s_get_be64(k->mv_data),
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
        s_be64(seqs[i], key);
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
    s_be64((uint64_t) ts, key);
    crypto_hash_sha256_final(&st, key + 8);
    MDB_txn *txn;
    int rc = s_wtxn(self, &txn);
    if (rc != 0) {
        return rc;
    }
    uint8_t val[8];
    s_be64((uint64_t) ts, val);
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

// Parses a contact record; strings point into *holder.
static bool
s_contact_decode(const MDB_val *k,
                 const MDB_val *v,
                 socp_cstore_contact_t *c,
                 json_t **holder,
                 char *id,
                 size_t idsize)
{
    *holder = NULL;
    if (k->mv_size == 0 || k->mv_size >= idsize || v->mv_size > S_RECORD_MAX) {
        return false;
    }
    memcpy(id, k->mv_data, k->mv_size);
    id[k->mv_size] = '\0';
    json_t *o = json_loadb(v->mv_data, v->mv_size, JSON_REJECT_DUPLICATES, NULL);
    json_t *name = json_object_get(o, "name"), *pub = json_object_get(o, "pub"),
           *fp = json_object_get(o, "fp"), *first = json_object_get(o, "first"),
           *last = json_object_get(o, "last");
    if (!json_is_string(name) || !json_is_string(pub) || !json_is_string(fp) ||
        !json_is_integer(first) || !json_is_integer(last) || json_string_length(fp) != 64) {
        json_decref(o);
        return false;
    }
    *c = (socp_cstore_contact_t){id,
                                 json_string_value(name),
                                 json_string_value(pub),
                                 json_string_value(fp),
                                 json_integer_value(first),
                                 json_integer_value(last)};
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
                int64_t last)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I}", "name", name, "pub", pub, "fp", fp, "first",
                          (json_int_t) first, "last", (json_int_t) last);
    if (!o) {
        return SOCP_EINVAL;
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text) {
        return SOCP_ENOMEM;
    }
    MDB_val k = {strlen(user_id), (void *) user_id}, v = {strlen(text), text};
    self->last_contact_ok = false;
    int rc = s_put(self, self->contacts, &k, &v, "contact put");
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
                               now_ms);
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
    rc = s_contact_write(self, user_id, keep_name, keep_pub, fp, first, now_ms);
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
    MDB_val k = {strlen(user_id), (void *) user_id}, v;
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
        if (!s_contact_decode(&k, &v, &c, &holder, id, sizeof id)) {
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
                p, p + a, p + a + b, p + a + b + d, c.first_seen, c.last_seen};
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
        if (s_contact_decode(&k, &v, &c, &holder, id, sizeof id)) {
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
    MDB_val k = {strlen(file_id), (void *) file_id},
            v = {strlen(record_json), (void *) record_json};
    return s_put_sealed(self, self->files, 'f', &k, &v, "file put");
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
