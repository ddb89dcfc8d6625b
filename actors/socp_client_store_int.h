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

// Sealed values (every history, file, contact and outbox record once a key
// is set; ADR 0011, 0016): 0x01, a unique XChaCha20 nonce, then the
// XChaCha20-Poly1305 ciphertext of the plain value. The associated data is
// the table's letter ('h', 'f', 'c', 'o', 'm') and the record's key, so a
// record cannot be moved to another key or table unnoticed. A plain history,
// file or contact value starts with '{' (JSON).
#define S_SEAL_TAG   0x01
#define S_SEAL_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define S_SEAL_OVER  (1 + S_SEAL_NONCE + crypto_aead_xchacha20poly1305_ietf_ABYTES)
// The sealed text of the "seal" record in meta tells what is sealed:
#define S_SEAL_CHECK3  "socp history key check"                      // schema 3: history and files
#define S_SEAL_CHECK   "socp store key check 4"                      // every table
#define S_SEAL_MIG_ALL "socp store key check 4: sealing every table" // migration under way
#define S_SEAL_MIG_CO  "socp store key check 4: sealing contacts and outbox" // from schema 3
// Outbox values start with their state: 'U' / 'S' (unsent / sent) before a
// plain body (conv length, conv, frame), 'u' / 's' before the same body
// sealed. The state stays outside the seal, so marking a frame sent costs
// no decryption (what it tells: ADR 0016).
#define S_OUT_UNSENT        'U'
#define S_OUT_SENT          'S'
#define S_OUT_SEALED_UNSENT 'u'
#define S_OUT_SEALED_SENT   's'
// Sealed contacts are keyed by BLAKE2b-256 of the user id under the index
// key (crypto_kdf subkey 1 of context "socpcidx" of the sealing key); the id
// is inside the sealed value.
#define S_CONTACT_KEY 32
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
    uint8_t *seal_key;  // 32 bytes in sodium memory once set, else NULL
    uint8_t *index_key; // contact keys (S_CONTACT_KEY), sodium memory, with seal_key
    // Nonces: 16 random bytes drawn when the key is set, then a counter (no
    // system call per record; unique per key with overwhelming probability).
    uint8_t nonce_prefix[16];
    uint64_t nonce_count;
    bool sealed;     // the database is sealed: a plain record is not trusted
    char *dir;       // the environment's directory
    char *files_dir; // synced after a file record is put (socp_cstore_set_files_dir), or NULL
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
// The LMDB key of a contact: the user id itself, or its keyed hash (in buf)
// once a key is set.
MDB_val
socp_cstore_contact_key(const socp_cstore_t *self, const char *user_id, uint8_t buf[S_CONTACT_KEY]);
// Checks the plain body of an outbox record (conv length, conv, frame);
// returns the frame and its length, or NULL.
const char *socp_cstore_outbox_body(const uint8_t *p, size_t len, size_t *frame_len);

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
