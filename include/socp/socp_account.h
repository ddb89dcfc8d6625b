// socp_account.h: accounts as Impl14 keeps them (a user name, a password, the
// private key stored on the server sealed under the password).
// Part of socp, a SOCP v1.3 client and server.
//
// Formats (exactly what Impl14's cli_crypto.py writes and reads; "b64url" is
// base64url without padding; we accept padded and standard base64 too):
//
//   pake_password  b64url(salt, 16 random bytes) "." b64url(scrypt(password,
//                  salt, N=2^14, r=8, p=1, 32 bytes)). What the server keeps
//                  to check a login's password (the password itself goes
//                  over the wire in clear: USER_LOGIN).
//   privkey_store  the JSON text {"salt": b64url(16), "nonce": b64url(12),
//                  "blob": b64url(AES-256-GCM(key, nonce, PEM) || tag)}, no
//                  associated data, key = scrypt(password, salt, N=2^14,
//                  r=8, p=1, 32 bytes), PEM = the PKCS#8 PEM private key
//                  ("BEGIN PRIVATE KEY"). A salt of its own, not the
//                  pake_password's.
//
// Passwords are bytes (UTF-8 from a terminal), 1..SOCP_ACCOUNT_PASSWORD_MAX
// long, without NUL. Every derived key and every plaintext lives in
// sodium_malloc memory and is wiped on every path.
//
// Frame builders for the account exchange of an Impl14 server (issue #11):
// USER_REGISTER, USER_HELLO, USER_LOGIN, and a reader for its replies.
//
// Pure functions: no threads, no I/O, no globals; thread-safe.
#ifndef SOCP_ACCOUNT_H
#define SOCP_ACCOUNT_H

#include "socp/socp_common.h"
#include "socp/socp_rsa.h"

#include <jansson.h>

#define SOCP_ACCOUNT_SALT_LEN     16    // salts we draw (pake_password and privkey_store)
#define SOCP_ACCOUNT_SALT_MAX     64    // longest salt we accept from others
#define SOCP_ACCOUNT_NONCE_LEN    12    // AES-GCM nonce (the only length accepted)
#define SOCP_ACCOUNT_TAG_LEN      16    // AES-GCM tag
#define SOCP_ACCOUNT_KEY_LEN      32    // scrypt output: AES-256 key, password check
#define SOCP_ACCOUNT_PASSWORD_MAX 1024  // longest password (bytes)
#define SOCP_ACCOUNT_PLAIN_MAX    16384 // longest sealed plaintext (a PEM key is ~3.3 KiB)
#define SOCP_ACCOUNT_STORE_MAX    32768 // longest privkey_store text we look at
#define SOCP_ACCOUNT_PAKE_MAX     256   // longest pake_password text we look at
#define SOCP_ACCOUNT_NAME_MAX     64    // longest account name (user id) we use

#define SOCP_ACCOUNT_SCRYPT_N 16384u // 2^14
#define SOCP_ACCOUNT_SCRYPT_R 8u
#define SOCP_ACCOUNT_SCRYPT_P 1u

// ---- password check (pake_password) ----------------------------------------

// scrypt(password, salt, N=2^14, r=8, p=1) into out (32 bytes). 16 MiB of
// memory, tens of milliseconds.
// @return 0; SOCP_EINVAL (password or salt length out of range);
//         SOCP_ECRYPTO (scrypt failed: out of memory).
SOCP_NODISCARD int socp_account_scrypt(const char *pass,
                                       size_t pass_len,
                                       const uint8_t *salt,
                                       size_t salt_len,
                                       uint8_t out[SOCP_ACCOUNT_KEY_LEN]);

// Makes a pake_password for `pass` with a fresh random salt (or `salt`,
// SOCP_ACCOUNT_SALT_LEN bytes, when not NULL: for tests).
// @param out  receives a NUL-terminated string; the caller frees it with free()
// @return 0, or the errors of socp_account_scrypt.
SOCP_NODISCARD int
socp_account_pake_make(const char *pass, size_t pass_len, const uint8_t *salt, char **out);

// Splits a pake_password into its salt and expected key without deriving
// anything (the parser the fuzzer drives).
// @param text  untrusted, need not be NUL-terminated
// @return 0; SOCP_EPROTO (not "salt.key" in base64, salt empty or over
//         SOCP_ACCOUNT_SALT_MAX, key not 32 bytes); SOCP_ETOOBIG (longer
//         than SOCP_ACCOUNT_PAKE_MAX).
SOCP_NODISCARD int socp_account_pake_parse(const char *text,
                                           size_t len,
                                           uint8_t salt[SOCP_ACCOUNT_SALT_MAX],
                                           size_t *salt_len,
                                           uint8_t key[SOCP_ACCOUNT_KEY_LEN]);

// Checks `pass` against a stored pake_password (constant-time comparison of
// the derived key). For the server that keeps accounts.
// @return 0 when it matches; SOCP_EAUTH when it does not; the errors of
//         socp_account_pake_parse for a stored value that is not one;
//         SOCP_EINVAL for a password length out of range; SOCP_ECRYPTO.
SOCP_NODISCARD int
socp_account_pake_verify(const char *pass, size_t pass_len, const char *stored, size_t stored_len);

// ---- the private key sealed under the password (privkey_store) -------------

// The fields of a privkey_store, decoded (no key derived yet).
typedef struct {
    uint8_t salt[SOCP_ACCOUNT_SALT_MAX];
    size_t salt_len;
    uint8_t nonce[SOCP_ACCOUNT_NONCE_LEN];
    uint8_t *blob;   // ciphertext || tag; owned: free with free()
    size_t blob_len; // > SOCP_ACCOUNT_TAG_LEN
} socp_account_store_t;

// Seals `plain` (normally a PKCS#8 PEM private key) under `pass` with a
// fresh salt and nonce (or `salt` and `nonce` when not NULL: for tests).
// @param out  receives the privkey_store JSON text, NUL-terminated, written
//             as Python's json.dumps writes it; the caller frees it with free()
// @return 0; SOCP_EINVAL (password length, empty plain); SOCP_ETOOBIG
//         (plain over SOCP_ACCOUNT_PLAIN_MAX); SOCP_ECRYPTO.
SOCP_NODISCARD int socp_account_store_seal(const uint8_t *plain,
                                           size_t plain_len,
                                           const char *pass,
                                           size_t pass_len,
                                           const uint8_t *salt,
                                           const uint8_t *nonce,
                                           char **out);

// Seals a private key (exported as PKCS#8 PEM) under `pass`.
// @return as socp_account_store_seal; SOCP_EINVAL for a public-only key.
SOCP_NODISCARD int socp_account_store_seal_key(const socp_rsa_key_t *key,
                                               const char *pass,
                                               size_t pass_len,
                                               char **out);

// Parses a privkey_store text (the parser the fuzzer drives): a JSON object
// with string members salt, nonce and blob (others are ignored).
// @param out  filled on success (release with socp_account_store_fini);
//             zeroed on failure
// @param why  if not NULL: a static English sentence (no secrets)
// @return 0; SOCP_EPROTO (not JSON, not an object, a member missing, not a
//         string or not base64, salt empty or over 64 bytes, nonce not 12
//         bytes, blob no longer than the tag or over the plaintext limit);
//         SOCP_ETOOBIG (text over SOCP_ACCOUNT_STORE_MAX).
SOCP_NODISCARD int
socp_account_store_parse(const char *text, size_t len, socp_account_store_t *out, const char **why);

// Frees what socp_account_store_parse allocated. Accepts a zeroed struct.
void socp_account_store_fini(socp_account_store_t *self);

// Opens a privkey_store with `pass`.
// @param plain      receives the plaintext in sodium_malloc memory (one NUL
//                   byte after it); the caller releases it with sodium_free()
// @param plain_len  its length
// @param why        as for socp_account_store_parse
// @return 0; the errors of socp_account_store_parse; SOCP_EINVAL (password
//         length); SOCP_EAUTH (wrong password, or the store was altered);
//         SOCP_ECRYPTO (scrypt ran out of memory).
SOCP_NODISCARD int socp_account_store_open(const char *text,
                                           size_t len,
                                           const char *pass,
                                           size_t pass_len,
                                           uint8_t **plain,
                                           size_t *plain_len,
                                           const char **why);

// Opens a privkey_store and imports the private key it holds.
// @param out  receives the key; free with socp_rsa_destroy
// @return as socp_account_store_open; SOCP_EBADKEY when what it holds is not
//         an acceptable RSA-4096 private key.
SOCP_NODISCARD int socp_account_store_open_key(const char *text,
                                               size_t len,
                                               const char *pass,
                                               size_t pass_len,
                                               socp_rsa_key_t **out,
                                               const char **why);

// ---- frames -----------------------------------------------------------------

// True when `name` (len bytes) can be an account name: 1..64 bytes, an
// acceptable peer id (socp_uuid_is_peer_id: UTF-8, no control characters)
// without spaces (a /tell argument).
bool socp_account_name_ok(const char *name, size_t len);

// USER_REGISTER {ts, payload {user_id, pubkey, privkey_store, pake_password}},
// without from, to and sig (as Impl14's client sends it).
// @param out  receives compact JSON, NUL-terminated; free with free()
// @return 0; SOCP_EINVAL (a NULL or empty argument, a bad name).
SOCP_NODISCARD int socp_account_register_frame(const char *name,
                                               const char *pubkey,
                                               const char *privkey_store,
                                               const char *pake_password,
                                               int64_t ts,
                                               char **out);

// USER_HELLO {from NAME, to "", ts, payload {client, pubkey, enc_pubkey}},
// unsigned (Impl14 reads no user signature). pubkey may be NULL (a client
// that has no key yet): then the payload has only `client`.
// @return 0; SOCP_EINVAL.
SOCP_NODISCARD int socp_account_hello_frame(const char *name,
                                            const char *pubkey,
                                            const char *client,
                                            int64_t ts,
                                            char **out);

// USER_LOGIN {ts, payload {user_id, password}}. The password travels in
// clear (that is Impl14's protocol): the frame is built in sodium_malloc
// memory, never in ordinary heap.
// @param out      receives the frame, NUL-terminated; release with
//                 sodium_free() (which wipes it)
// @param out_len  its length without the NUL
// @return 0; SOCP_EINVAL (bad name, password length or not UTF-8).
SOCP_NODISCARD int socp_account_login_frame(const char *name,
                                            const char *pass,
                                            size_t pass_len,
                                            int64_t ts,
                                            char **out,
                                            size_t *out_len);

// What an Impl14 server said, as far as the account exchange cares.
typedef enum {
    SOCP_ACCOUNT_REPLY_OTHER = 0,  // anything else (handled by the ordinary paths)
    SOCP_ACCOUNT_REPLY_HELLO_ACK,  // USER_HELLO_ACK: nothing to do
    SOCP_ACCOUNT_REPLY_REGISTERED, // USER_REGISTERED {user_id}
    SOCP_ACCOUNT_REPLY_LOGGED_IN,  // USER_LOGGED_IN {user_id, privkey_store}
    SOCP_ACCOUNT_REPLY_ERROR,      // ERROR {code, detail}
    SOCP_ACCOUNT_REPLY_ADDED,      // USER_ADDED {user_id, pubkey, online_local}: presence
    SOCP_ACCOUNT_REPLY_REMOVED,    // USER_REMOVED {user_id}: left
    SOCP_ACCOUNT_REPLY_SNAPSHOT,   // PUBLIC_CHANNEL_SNAPSHOT: nothing to do
} socp_account_reply_kind_t;

typedef struct {
    socp_account_reply_kind_t kind;
    const char *user_id;       // REGISTERED, LOGGED_IN, ADDED, REMOVED (NULL if absent)
    const char *privkey_store; // LOGGED_IN (NULL if absent or not a string)
    const char *pubkey;        // ADDED (NULL if absent or not a string)
    const char *code;          // ERROR ("" if absent)
    const char *detail;        // ERROR ("" if absent)
} socp_account_reply_t;

// Classifies a parsed frame from the server. Strings point into `frame`
// (borrowed: valid while the caller holds it). A frame whose fields have the
// wrong types is OTHER with nothing filled, except that a USER_ADDED or
// USER_REMOVED without a string user_id is OTHER too.
void socp_account_reply(const json_t *frame, socp_account_reply_t *out);

// A static English name of a reply kind ("USER_LOGGED_IN").
const char *socp_account_reply_name(socp_account_reply_kind_t kind);

#endif
