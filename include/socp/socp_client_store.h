// socp_client_store.h: the client's LMDB database (history, contacts with
// pinned keys, outbox, seen messages, received files, settings).
// Part of socp, a SOCP v1.3 client and server.
//
// Layout (DATA_DIR/db, an LMDB environment, schema version 4 in meta):
//   meta      "schema" -> "4"; "set:<name>" -> setting value; "seal" -> a
//             sealed check text (present once a key was set); "compact"
//             while a compaction is owed
//   outbox    seq (u64 BE) -> state, body: 'U'|'S' (unsent/sent) + plain
//             body, or 'u'|'s' + sealed body; body = conv length (u8),
//             conv, frame
//   history   seq (u64 BE) -> JSON {k,o,c,f,t,s,m,x} (kind, outgoing, conv,
//             from, ts, status, form, text), sealed once a key is set
//   contacts  user id -> JSON {id, name, pub, fp, first, last, sig}; once a
//             key is set: BLAKE2b-256(user id) keyed with the index key ->
//             the same JSON sealed
//   seen      ts (u64 BE) + SHA-256(from NUL ts NUL ciphertext-hash) -> ts
//   files     file id -> JSON record, sealed once a key is set
// Sealed: 0x01, 24-byte nonce (random prefix + counter, never repeated under
// one key), XChaCha20-Poly1305 ciphertext; associated data = table letter +
// record key (docs/adr/0011-client-secrets-at-rest.md,
// docs/adr/0016-sealed-contacts-and-outbox.md). Once sealed, a plain record
// is not trusted. Every record read back is validated (the disk is outside
// the process): a record that does not decode is skipped with a warning,
// never trusted.
//
// Writes go into one write transaction opened on demand; socp_cstore_commit
// makes everything since the last commit durable at once (group commit;
// LMDB's default sync mode, so a commit that returned 0 survives kill -9 and
// power loss). A failed commit (disk full, map full) loses exactly the
// uncommitted batch and leaves the database as of the last commit.
//
// Thread-safety: one thread (the store actor) owns a store.
#ifndef SOCP_CLIENT_STORE_H
#define SOCP_CLIENT_STORE_H

#include "socp/socp_common.h"

#define SOCP_CSTORE_SCHEMA   4
#define SOCP_CSTORE_MAP_SIZE (1024ull << 20) // default LMDB map: 1 GiB

typedef struct socp_cstore socp_cstore_t;

// One history entry. Strings are borrowed (valid during the callback).
typedef struct {
    uint64_t seq;     // history order (set by socp_cstore_history_add)
    uint8_t kind;     // SOCP_CLIENT_KIND_DM / _PUBLIC
    bool outgoing;    // sent by us
    const char *conv; // conversation: peer id or "public"
    const char *from; // sender id
    int64_t ts;       // Unix ms
    uint8_t status;   // SOCP_CLIENT_TRUST_*
    const char *form; // content_sig form ("" if none)
    const char *text; // UTF-8 text
    size_t text_len;  // bytes
} socp_cstore_msg_t;

// A contact. Strings are borrowed (valid during the callback / until the
// next call on the store).
typedef struct {
    const char *user_id; // id
    const char *name;    // display name
    const char *pub;     // pinned public key text
    const char *fp;      // hex SHA-256 of the key DER
    int64_t first_seen;  // Unix ms
    int64_t last_seen;   // Unix ms
    uint8_t sig;         // content_sig form they sign in: 0 unknown, 1 string, 2 raw bytes
} socp_cstore_contact_t;

// Opens (creating if needed, mode 0700/0600) the database in dir.
// @param map_size  0 for SOCP_CSTORE_MAP_SIZE
// @param why       if not NULL, a static sentence on failure
// @return 0; SOCP_ESTORE (LMDB failed); SOCP_EVERSION (newer schema);
//         SOCP_EIO (cannot create the directory).
SOCP_NODISCARD int
socp_cstore_open(const char *dir, size_t map_size, socp_cstore_t **out, const char **why);

// Seals every history, received-file, contact and outbox record with `key`
// (32 bytes, kept in sodium memory; the caller wipes its copy): records
// already there are sealed now (contacts moved under their keyed hash, in
// chunks, resumable after a crash), new ones when written; outbox records
// that cannot be opened are dropped (and no longer counted pending). Call
// once, right after open. A database sealed before must be opened with the
// same key.
// @param why  if not NULL, a static sentence on failure
// @return 0; SOCP_EBADKEY (sealed with another key: nothing changed);
//         SOCP_ESTORE; SOCP_EINVAL (a key is set already, or a batch is open).
SOCP_NODISCARD int
socp_cstore_set_key(socp_cstore_t *self, const uint8_t key[32], const char **why);

// Aborts any uncommitted batch, closes and frees; *self_p = NULL. NULL-safe.
void socp_cstore_destroy(socp_cstore_t **self_p);

// Commits the open write batch (no-op when none). @return 0 or SOCP_ESTORE
// (the batch is then lost; the database is as of the last commit). A write
// that failed since the last commit (a full map, say) dropped the batch at
// once; this then fails too, so the caller learns that everything it wrote
// since its last commit is gone. Outbox seqs are never given twice.
SOCP_NODISCARD int socp_cstore_commit(socp_cstore_t *self);

// Drops the open write batch.
void socp_cstore_abort(socp_cstore_t *self);

// True while a write batch is open.
bool socp_cstore_dirty(const socp_cstore_t *self);

// Appends a signed frame to the outbox, unsent. @return 0 or SOCP_ESTORE.
SOCP_NODISCARD int socp_cstore_outbox_put(socp_cstore_t *self,
                                          const char *conv,
                                          const char *frame,
                                          size_t len,
                                          uint64_t *seq_out);

// Marks an outbox entry sent. Unknown seq: 0 (already pruned).
SOCP_NODISCARD int socp_cstore_outbox_mark_sent(socp_cstore_t *self, uint64_t seq);

// Calls fn for every unsent entry with a seq above `after`, in seq order
// (frame borrowed for the call). fn returns 0 to continue, anything else
// stops and is returned. Stops with SOCP_EAGAIN, without calling fn, at the
// first entry of the open batch (not durable yet); 0 when every unsent entry
// was visited.
typedef int(socp_cstore_outbox_fn)(uint64_t seq, const char *frame, size_t len, void *arg);
SOCP_NODISCARD int socp_cstore_outbox_each_unsent(socp_cstore_t *self,
                                                  uint64_t after,
                                                  socp_cstore_outbox_fn *fn,
                                                  void *arg);

// Unsent entries, including the open batch.
uint64_t socp_cstore_outbox_pending(const socp_cstore_t *self);

// Appends a history entry; sets msg->seq. @return 0, SOCP_EINVAL, SOCP_ESTORE.
SOCP_NODISCARD int socp_cstore_history_add(socp_cstore_t *self, socp_cstore_msg_t *msg);

// Calls fn for the last n entries of conv (NULL or "": all), oldest first.
typedef int(socp_cstore_msg_fn)(const socp_cstore_msg_t *msg, void *arg);
SOCP_NODISCARD int socp_cstore_history_last(socp_cstore_t *self,
                                            const char *conv,
                                            size_t n,
                                            socp_cstore_msg_fn *fn,
                                            void *arg);

// Sets the status of history record seq (an outgoing DM held, then sent or
// failed). @return 0; SOCP_ENOTFOUND; SOCP_ESTORE.
SOCP_NODISCARD int
socp_cstore_history_set_status(socp_cstore_t *self, uint64_t seq, uint8_t status);

// A DM piece held for a user who is not online (sealed like history).
typedef struct {
    uint64_t seq;        // its number (order of sending)
    const char *to;      // recipient user id
    const uint8_t *data; // plaintext piece (UTF-8, <= 446 bytes)
    size_t len;
    int64_t ts;           // Unix ms when the user sent it
    uint64_t history_seq; // its history record
} socp_cstore_held_t;

// Holds a DM piece; *seq_out gets its number. @return 0; SOCP_EINVAL (empty,
// over 446 bytes, not UTF-8); SOCP_ESTORE.
SOCP_NODISCARD int socp_cstore_held_put(socp_cstore_t *self,
                                        const char *to,
                                        const void *data,
                                        size_t len,
                                        int64_t ts,
                                        uint64_t history_seq,
                                        uint64_t *seq_out);

// Forgets a held piece (sent, or expired). @return 0; SOCP_ENOTFOUND; SOCP_ESTORE.
SOCP_NODISCARD int socp_cstore_held_del(socp_cstore_t *self, uint64_t seq);

// Calls fn for every held piece, oldest first (non-zero from fn stops);
// strings are valid during the call. Damaged records are skipped.
typedef int socp_cstore_held_fn(const socp_cstore_held_t *held, void *arg);
SOCP_NODISCARD int socp_cstore_held_each(socp_cstore_t *self, socp_cstore_held_fn *fn, void *arg);

// Records a received message key. @return 0 (new), SOCP_EREPLAY (already
// stored), SOCP_ESTORE.
SOCP_NODISCARD int
socp_cstore_seen_add(socp_cstore_t *self, const char *from, int64_t ts, const uint8_t hash[32]);

// Records the content_sig form a known contact signs in (0-2, as
// socp_cstore_contact_t.sig). *changed (if not NULL) says whether it differs
// from what was stored.
// @return 0; SOCP_ENOTFOUND (no such contact); SOCP_EINVAL; SOCP_ESTORE.
SOCP_NODISCARD int
socp_cstore_contact_set_sig(socp_cstore_t *self, const char *user_id, uint8_t sig, bool *changed);

// Pins a contact's key on first sight (TOFU) and updates name / last seen.
// @param name   NULL or "" keeps the stored name
// @param state  receives 1 when newly pinned, 0 when already known
// @return 0; SOCP_EBADKEY when a different key is pinned (nothing changed);
//         SOCP_EINVAL; SOCP_ESTORE.
SOCP_NODISCARD int socp_cstore_contact_pin(socp_cstore_t *self,
                                           const char *user_id,
                                           const char *name,
                                           const char *pub,
                                           const char *fp,
                                           int64_t now_ms,
                                           int *state);

// Looks a contact up; the strings in *out stay valid until the next call.
// @return 0, SOCP_ENOTFOUND, SOCP_ESTORE.
SOCP_NODISCARD int
socp_cstore_contact_get(socp_cstore_t *self, const char *user_id, socp_cstore_contact_t *out);

// Calls fn for every contact (borrowed strings).
typedef int(socp_cstore_contact_fn)(const socp_cstore_contact_t *c, void *arg);
SOCP_NODISCARD int
socp_cstore_contacts_each(socp_cstore_t *self, socp_cstore_contact_fn *fn, void *arg);

// Settings (printable text up to 1024 bytes).
SOCP_NODISCARD int socp_cstore_setting_set(socp_cstore_t *self, const char *key, const char *value);
// @return 0, SOCP_ENOTFOUND, SOCP_ETOOBIG (size too small), SOCP_ESTORE.
SOCP_NODISCARD int
socp_cstore_setting_get(socp_cstore_t *self, const char *key, char *out, size_t size);

// Records a received file (JSON object text, stored as given). When a files
// directory is set, it is synced first (the file was just linked there).
SOCP_NODISCARD int
socp_cstore_file_put(socp_cstore_t *self, const char *file_id, const char *record_json);

// The directory received files are linked into (a copy is kept; NULL: none).
void socp_cstore_set_files_dir(socp_cstore_t *self, const char *dir);

// Number of received-file records.
SOCP_NODISCARD int socp_cstore_file_count(socp_cstore_t *self, size_t *count);

#endif
