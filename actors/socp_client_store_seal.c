// socp_client_store_seal.c: the client store's records at rest: history,
// received-file, contact and outbox records sealed with XChaCha20-Poly1305
// under a key derived from the user's private key
// (docs/adr/0011-client-secrets-at-rest.md,
// docs/adr/0016-sealed-contacts-and-outbox.md), the one-time migration of
// plain records (chunked, resumable), the key check record, and the
// compacting copy that drops the plain pages afterwards.
// Part of socp, a SOCP v1.3 client and server. The rest of the store:
// socp_client_store.c; shared state: socp_client_store_int.h.
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
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

// True when value v of table `table` is plain (to be sealed by the
// migration), false when it is sealed already.
static bool
s_is_plain(char table, const MDB_val *v)
{
    const uint8_t *p = v->mv_data;
    if (table == 'o') {
        return v->mv_size > 0 && (p[0] == S_OUT_UNSENT || p[0] == S_OUT_SENT);
    }
    return v->mv_size == 0 || p[0] != S_SEAL_TAG;
}

// Seals one plain record of the migration (key k, value v read in txn): in
// place for history and files; a contact moves under its keyed hash with
// its id inside; an outbox record gets the sealed state letter, and a sent
// one is dropped. A damaged contact or outbox record is dropped (it could
// never be used, and a plain record is not trusted once sealed).
static int
s_seal_record(socp_cstore_t *self, MDB_txn *txn, MDB_dbi dbi, char table, MDB_val *k, MDB_val *v)
{
    uint8_t *sealed = NULL;
    size_t len = 0;
    int rc = 0;
    if (table == 'h' || table == 'f') {
        socp_cstore_seal(self, table, k, v->mv_data, v->mv_size, &sealed, &len);
        MDB_val nv = {len, sealed};
        rc = mdb_put(txn, dbi, k, &nv, 0);
    } else if (table == 'o') {
        const uint8_t *p = v->mv_data;
        size_t flen;
        if (p[0] == S_OUT_SENT || !socp_cstore_outbox_body(p + 1, v->mv_size - 1, &flen)) {
            return mdb_del(txn, dbi, k, NULL);
        }
        socp_cstore_seal(self, 'o', k, p + 1, v->mv_size - 1, &sealed, &len);
        uint8_t *nvbuf = socp_malloc(1 + len);
        nvbuf[0] = S_OUT_SEALED_UNSENT;
        memcpy(nvbuf + 1, sealed, len);
        MDB_val nv = {1 + len, nvbuf};
        rc = mdb_put(txn, dbi, k, &nv, 0);
        free(nvbuf);
    } else { // 'c'
        char id[S_CONV_MAX + 1];
        json_t *o = json_loadb(v->mv_data, v->mv_size, JSON_REJECT_DUPLICATES, NULL);
        bool ok = json_is_object(o) && k->mv_size > 0 && k->mv_size <= S_CONV_MAX &&
                  !memchr(k->mv_data, 0, k->mv_size);
        if (ok) {
            memcpy(id, k->mv_data, k->mv_size);
            id[k->mv_size] = '\0';
            ok = json_object_set_new(o, "id", json_string(id)) == 0;
        }
        char *text = ok ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!text) {
            socp_warn("store: dropping a damaged contact record");
            return mdb_del(txn, dbi, k, NULL);
        }
        uint8_t kbuf[S_CONTACT_KEY];
        MDB_val nk = socp_cstore_contact_key(self, id, kbuf);
        socp_cstore_seal(self, 'c', &nk, text, strlen(text), &sealed, &len);
        sodium_memzero(text, strlen(text));
        free(text);
        MDB_val nv = {len, sealed};
        rc = mdb_del(txn, dbi, k, NULL);
        if (rc == 0) {
            rc = mdb_put(txn, dbi, &nk, &nv, 0);
        }
    }
    free(sealed);
    return rc;
}

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
            if (s_is_plain(table, &v)) {
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
            // Values of a write txn may live in the map: copy before writing.
            uint8_t *copy = socp_memdup(v.mv_data, v.mv_size);
            MDB_val cv = {v.mv_size, copy};
            rc = s_seal_record(self, txn, dbi, table, &kk, &cv);
            sodium_memzero(copy, cv.mv_size);
            free(copy);
        }
        if (rc != 0) {
            mdb_txn_abort(txn);
            break;
        }
        if ((rc = mdb_txn_commit(txn)) != 0) {
            break;
        }
        *count += n;
        // MDB_SET_RANGE lands on the last key seen again (or, when it was
        // moved or dropped, on the next): sealed now, so it is skipped.
    }
    free(keys);
    free(lens);
    return rc;
}

// Sets or clears the "compact" mark: a compaction is owed (records were
// sealed and old plain copies may sit in free pages).
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

// What the "seal" record of meta says (S_SEAL_* texts).
typedef enum {
    S_STATE_ABSENT,  // never sealed (or the record was removed)
    S_STATE_CHECK3,  // schema 3: history and files sealed
    S_STATE_MIG_ALL, // sealing every table, under way
    S_STATE_MIG_CO,  // sealing contacts and outbox (history and files were), under way
    S_STATE_CHECK,   // every table sealed
    S_STATE_BAD,     // sealed with another key, or damaged
} s_state_t;

static const struct {
    s_state_t state;
    const char *text;
} s_states[] = {
    {S_STATE_CHECK3, S_SEAL_CHECK3},
    {S_STATE_MIG_ALL, S_SEAL_MIG_ALL},
    {S_STATE_MIG_CO, S_SEAL_MIG_CO},
    {S_STATE_CHECK, S_SEAL_CHECK},
};

static int
s_state_read(socp_cstore_t *self, s_state_t *state)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return rc;
    }
    MDB_val k = {4, (void *) "seal"}, v;
    rc = mdb_get(txn, self->meta, &k, &v);
    *state = S_STATE_ABSENT;
    if (rc == 0) {
        size_t len = 0;
        char *check = v.mv_size > 0 && *(const uint8_t *) v.mv_data == S_SEAL_TAG
                          ? socp_cstore_unseal(self, 'm', &k, &v, &len)
                          : NULL;
        *state = S_STATE_BAD;
        for (size_t i = 0; check && i < SOCP_ARRAY_LEN(s_states); i++) {
            if (len == strlen(s_states[i].text) && memcmp(check, s_states[i].text, len) == 0) {
                *state = s_states[i].state;
            }
        }
        socp_cstore_unsealed_free(check, len);
    }
    mdb_txn_abort(txn);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

// Writes the "seal" record (sealed `text`), with the compaction mark when
// `compact`, in one transaction.
static int
s_state_write(socp_cstore_t *self, const char *text, bool compact)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }
    MDB_val k = {4, (void *) "seal"};
    uint8_t *sealed;
    size_t len;
    socp_cstore_seal(self, 'm', &k, text, strlen(text), &sealed, &len);
    MDB_val v = {len, sealed};
    rc = mdb_put(txn, self->meta, &k, &v, 0);
    free(sealed);
    if (rc == 0 && compact) {
        rc = s_compact_mark(self, txn, true);
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

// True when one of the tables (by letter in `tables`) has any record.
static bool
s_any_records(socp_cstore_t *self, const char *tables)
{
    MDB_txn *txn;
    if (mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn) != 0) {
        return true; // compact to be safe
    }
    bool any = false;
    for (const char *t = tables; *t && !any; t++) {
        MDB_dbi dbi = *t == 'h'   ? self->history
                      : *t == 'f' ? self->files
                      : *t == 'c' ? self->contacts
                                  : self->outbox;
        MDB_stat st;
        any = mdb_stat(txn, dbi, &st) != 0 || st.ms_entries > 0;
    }
    mdb_txn_abort(txn);
    return any;
}

// With no "seal" record: are there sealed records all the same (the record
// was removed, so that planted plain records would be sealed as ours)?
// 0: none; 1: some, and one opens with this key; SOCP_EBADKEY: some, and
// none of the first few opens.
static int
s_sealed_orphans(socp_cstore_t *self)
{
    MDB_txn *txn;
    if (mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn) != 0) {
        return 0;
    }
    const struct {
        MDB_dbi dbi;
        char table;
    } tabs[] = {
        {self->history, 'h'}, {self->files, 'f'}, {self->contacts, 'c'}, {self->outbox, 'o'}};
    int found = 0, opened = 0;
    for (size_t i = 0; i < SOCP_ARRAY_LEN(tabs) && !opened && found < 8; i++) {
        MDB_cursor *cur;
        if (mdb_cursor_open(txn, tabs[i].dbi, &cur) != 0) {
            continue;
        }
        MDB_val k, v;
        for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0 && !opened && found < 8;
             g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            if (s_is_plain(tabs[i].table, &v) || v.mv_size < 2) {
                continue;
            }
            found++;
            MDB_val body = v;
            if (tabs[i].table == 'o') { // the state letter, then the seal
                body = (MDB_val){v.mv_size - 1, (uint8_t *) v.mv_data + 1};
            }
            size_t len = 0;
            char *plain = socp_cstore_unseal(self, tabs[i].table, &k, &body, &len);
            opened = plain != NULL;
            socp_cstore_unsealed_free(plain, len);
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return opened ? 1 : found ? SOCP_EBADKEY : 0;
}

// Once sealed: drops every outbox record that does not open (damaged, or
// plain) and counts the unsent ones.
static int
s_outbox_recount(socp_cstore_t *self)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc != 0) {
        return rc;
    }
    if ((rc = mdb_cursor_open(txn, self->outbox, &cur)) != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    uint64_t pending = 0, dropped = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *p = v.mv_data;
        bool ok = k.mv_size == 8 && v.mv_size > 1 && p[0] == S_OUT_SEALED_UNSENT;
        if (ok) {
            MDB_val body = {v.mv_size - 1, (void *) (p + 1)};
            size_t len = 0, flen;
            char *plain = socp_cstore_unseal(self, 'o', &k, &body, &len);
            ok = plain && socp_cstore_outbox_body((const uint8_t *) plain, len, &flen);
            socp_cstore_unsealed_free(plain, len);
        }
        if (ok) {
            pending++;
        } else {
            dropped += v.mv_size == 0 || (p[0] != S_OUT_SENT && p[0] != S_OUT_SEALED_SENT);
            if ((rc = mdb_cursor_del(cur, 0)) != 0) {
                break;
            }
        }
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return rc;
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        return rc;
    }
    if (dropped) {
        socp_warn("store: %llu outbox record(s) that do not open with the key were dropped",
                  (unsigned long long) dropped);
    }
    self->pending = pending;
    return 0;
}

// Seals the plain records of the tables named in `tables` ("hfco"): the
// migration. *rows counts what was sealed (or dropped).
static int
s_migrate(socp_cstore_t *self, const char *tables, size_t *rows)
{
    int rc = 0;
    for (const char *t = tables; *t && rc == 0; t++) {
        MDB_dbi dbi = *t == 'h'   ? self->history
                      : *t == 'f' ? self->files
                      : *t == 'c' ? self->contacts
                                  : self->outbox;
        rc = s_seal_table(self, dbi, *t, rows);
    }
    return rc;
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
    if (sodium_init() < 0 || !(self->seal_key = sodium_malloc(32)) ||
        !(self->index_key = sodium_malloc(S_CONTACT_KEY))) {
        sodium_free(self->seal_key);
        self->seal_key = NULL;
        *why = "out of secure memory";
        return SOCP_ENOMEM;
    }
    memcpy(self->seal_key, key, 32);
    crypto_kdf_derive_from_key(self->index_key, S_CONTACT_KEY, 1, "socpcidx", self->seal_key);
    randombytes_buf(self->nonce_prefix, sizeof self->nonce_prefix);
    self->nonce_count = 0;
    int err = SOCP_ESTORE;
    s_state_t state;
    int rc = s_state_read(self, &state);
    if (rc != 0) {
        *why = "cannot read the database";
        goto fail;
    }
    const char *tables = NULL; // what the migration seals
    switch (state) {
        case S_STATE_BAD:
            *why = "the history was sealed with another key (was the key file replaced?)";
            err = SOCP_EBADKEY;
            goto fail;
        case S_STATE_ABSENT: {
            int orphans = s_sealed_orphans(self);
            if (orphans == SOCP_EBADKEY) {
                *why = "the history was sealed with another key (was the key file replaced?)";
                err = SOCP_EBADKEY;
                goto fail;
            }
            if (orphans) {
                // Sealed records without their check record: it was removed.
                // What is plain here was not written by us: not sealed in.
                socp_warn("store: the database's key check record was missing; "
                          "its plain records are not trusted");
                break;
            }
            tables = "hfco";
            rc = s_state_write(self, S_SEAL_MIG_ALL, s_any_records(self, tables));
            break;
        }
        case S_STATE_MIG_ALL:
            tables = "hfco";
            break;
        case S_STATE_CHECK3:
            tables = "co";
            rc = s_state_write(self, S_SEAL_MIG_CO, s_any_records(self, tables));
            break;
        case S_STATE_MIG_CO:
            tables = "co";
            break;
        case S_STATE_CHECK:
            break;
    }
    size_t rows = 0;
    if (rc == 0 && tables) {
        rc = s_migrate(self, tables, &rows);
    }
    if (rc == 0 && state != S_STATE_CHECK) {
        rc = s_state_write(self, S_SEAL_CHECK, rows > 0);
    }
    if (rc == 0) {
        self->sealed = true;
        rc = s_outbox_recount(self);
    }
    if (rc != 0) {
        self->sealed = false;
        *why = "cannot seal the database (disk full?)";
        goto fail;
    }
    if (rows) {
        socp_info("store: %zu records sealed with the key", rows);
    }
    return s_compact_owed(self, why);
fail:
    if (rc != 0 && err == SOCP_ESTORE) {
        socp_error("store: set key: %s", mdb_strerror(rc));
    }
    sodium_free(self->seal_key);
    sodium_free(self->index_key);
    self->seal_key = NULL;
    self->index_key = NULL;
    return err;
}
