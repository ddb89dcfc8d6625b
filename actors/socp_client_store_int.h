// socp_client_store_int.h: what the two files of the client store share
// (socp_client_store.c: opening, batches, the tables; socp_client_store_seal.c:
// sealing values at rest, the migration to sealed records, compaction).
// Private to them. Part of socp, a SOCP v1.3 client and server.
#ifndef SOCP_CLIENT_STORE_INT_H
#define SOCP_CLIENT_STORE_INT_H

#include <lmdb.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "socp/socp_client_store.h"

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
    MDB_dbi meta, outbox, history, contacts, seen, files, held;
    MDB_txn *txn;           // open write batch, or NULL
    uint64_t next_outbox;   // next outbox seq
    uint64_t next_history;  // next history seq
    uint64_t next_held;     // next held-DM seq (gaps after an abandoned batch are fine)
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

static inline void
socp_cstore_be64(uint64_t v, uint8_t out[8])
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t) (v & 0xff);
        v >>= 8;
    }
}

static inline uint64_t
socp_cstore_get_be64(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | in[i];
    }
    return v;
}

// socp_client_store.c
// Creates dir (0700) if missing. @return 0 or SOCP_EIO.
int socp_cstore_mkdir(const char *path);
// Opens the environment and its tables in self->dir; *txn is the open
// write transaction that created them. @return 0 or an error (why set).
int socp_cstore_env_open(socp_cstore_t *self, MDB_txn **txn, const char **why);

// socp_client_store_seal.c
// Seals plain[0..len) for key k of table `table`: *out (malloc'd) and
// *out_len. Needs self->seal_key.
void socp_cstore_seal(socp_cstore_t *self,
                      char table,
                      const MDB_val *k,
                      const void *plain,
                      size_t len,
                      uint8_t **out,
                      size_t *out_len);
// The plain value of v (sealed or, before sealing, plain JSON), or NULL if
// it cannot be trusted; free with socp_cstore_unsealed_free.
char *socp_cstore_unseal(const socp_cstore_t *self,
                         char table,
                         const MDB_val *k,
                         const MDB_val *v,
                         size_t *len);
void socp_cstore_unsealed_free(char *plain, size_t len);

#endif
