// socp_client_store_seal.c: the client store's records at rest: history and
// received-file records sealed with XChaCha20-Poly1305 under a key derived
// from the user's private key (docs/adr/0011-client-secrets-at-rest.md), the
// one-time migration of plain records (chunked, resumable), the key check
// record, and the compacting copy that drops the plain pages afterwards.
// Part of socp, a SOCP v1.3 client and server. The rest of the store:
// socp_client_store.c; shared state: socp_client_store_int.h.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "socp/socp_err.h"
#include "socp/socp_log.h"
#include "socp_client_store_int.h"

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
void
socp_cstore_seal(socp_cstore_t *self,
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
    socp_cstore_be64(++self->nonce_count, buf + 1 + sizeof self->nonce_prefix);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(buf + 1 + S_SEAL_NONCE, &clen, plain, len, ad,
                                               ad_len, NULL, buf + 1, self->seal_key);
    *out = buf;
    *out_len = 1 + S_SEAL_NONCE + (size_t) clen;
}

// Opens a value read from table `table`: a plain one is copied, a sealed one
// decrypted. Returns a NUL-terminated buffer (free with socp_cstore_unsealed_free) or
// NULL when the value is sealed and no key, another key, or damage.
char *
socp_cstore_unseal(const socp_cstore_t *self,
                   char table,
                   const MDB_val *k,
                   const MDB_val *v,
                   size_t *len)
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

void
socp_cstore_unsealed_free(char *plain, size_t len)
{
    if (plain) {
        sodium_memzero(plain, len);
        free(plain);
    }
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
    int rc = socp_cstore_mkdir(tmp) == 0 ? mdb_env_copy2(self->env, tmp, MDB_CP_COMPACT) : EIO;
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
    rc = socp_cstore_env_open(self, &txn, why);
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (txn) {
        mdb_txn_abort(txn);
    }
    return rc == 0 ? 0 : SOCP_ESTORE;
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
            socp_cstore_seal(self, table, &kk, v.mv_data, v.mv_size, &sealed, &len);
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
                          ? socp_cstore_unseal(self, 'm', &k, &v, &len)
                          : NULL;
        bool ok = check && len == strlen(S_SEAL_CHECK) && memcmp(check, S_SEAL_CHECK, len) == 0;
        socp_cstore_unsealed_free(check, len);
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
        socp_cstore_seal(self, 'm', &k, S_SEAL_CHECK, strlen(S_SEAL_CHECK), &sealed, &len);
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
