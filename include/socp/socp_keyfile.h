// socp_keyfile.h: the private key at rest (Argon2id + XChaCha20-Poly1305).
// Part of socp, a SOCP v1.3 client and server.
//
// File format, version 1 (all integers big-endian):
//
//   off len  field
//     0   8  magic "SOCPKEY\0"
//     8   1  version (1)
//     9   1  flags: bit 0 = encrypted; other bits must be 0
//    10   2  reserved, 0
//    12   4  body length in bytes
//    16   8  Argon2id opslimit   (0 when not encrypted)
//    24   8  Argon2id memlimit   (0 when not encrypted)
//    32  16  Argon2id salt       (zeros when not encrypted)
//    48  24  XChaCha20-Poly1305 nonce (zeros when not encrypted)
//    72   -  body: encrypted = crypto_aead_xchacha20poly1305_ietf ciphertext
//            (tag included) of the PKCS#8 DER, with the 72 header bytes as
//            associated data, under Argon2id(passphrase, salt);
//            not encrypted = the PKCS#8 DER itself, followed by a 32-byte
//            BLAKE2b checksum of header and body (corruption check only).
//
// Files are written atomically (temp file, fsync, rename, fsync of the
// directory) with mode 0600, and refused on load if group or others have any
// access. Secrets (derived key, DER) live in sodium_malloc memory and are wiped
// on every path; OpenSSL keeps its own copy of the parsed key.
//
// Thread-safety: functions are thread-safe on distinct paths and keys.
#ifndef SOCP_KEYFILE_H
#define SOCP_KEYFILE_H

#include "socp/socp_common.h"
#include "socp/socp_rsa.h"

#define SOCP_KEYFILE_VERSION    1
#define SOCP_KEYFILE_HEADER_LEN 72
#define SOCP_KEYFILE_MAX_BODY   16384        // a 4096-bit PKCS#8 key is about 2.4 KiB
#define SOCP_KEYFILE_MAX_OPS    16           // Argon2id passes accepted on load
#define SOCP_KEYFILE_MAX_MEM    (1ull << 30) // Argon2id memory accepted on load (1 GiB)

// Argon2id cost of the passphrase derivation.
typedef struct {
    uint64_t opslimit; // passes over memory (libsodium opslimit)
    uint64_t memlimit; // bytes of memory (libsodium memlimit)
} socp_keyfile_cost_t;

// The default cost: libsodium's INTERACTIVE profile (2 passes, 64 MiB).
socp_keyfile_cost_t socp_keyfile_cost_default(void);

// The cheapest cost Argon2id allows (1 pass, 8 KiB). For tests only: it
// offers no protection against guessing.
socp_keyfile_cost_t socp_keyfile_cost_test(void);

// Writes `key` encrypted under `pass` to `path` (replacing any file there).
// @param key   a private key; borrowed
// @param pass  the passphrase bytes (not NUL-terminated necessarily); non-empty
// @param cost  NULL for socp_keyfile_cost_default()
// @return 0; SOCP_EINVAL (public key, empty passphrase, cost outside what
//         loading accepts); SOCP_EINIT (libsodium); SOCP_ECRYPTO (key
//         derivation ran out of memory, export failed); SOCP_EIO (write).
SOCP_NODISCARD int socp_keyfile_save(const char *path,
                                     const socp_rsa_key_t *key,
                                     const char *pass,
                                     size_t pass_len,
                                     const socp_keyfile_cost_t *cost);

// Writes `key` unencrypted (explicit opt-in: scripts and tests). Same file
// format with the encrypted flag clear; same atomic write and mode 0600.
// @return as socp_keyfile_save.
SOCP_NODISCARD int socp_keyfile_save_plain(const char *path, const socp_rsa_key_t *key);

// Reads a key file. `pass` is ignored for an unencrypted file.
// @param out  receives the private key; free with socp_rsa_destroy
// @param why  if not NULL, receives a static English sentence saying what
//             went wrong (or "ok"); never contains secrets
// @return 0; SOCP_ENOTFOUND (no such file); SOCP_EIO (cannot read, not a
//         regular file); SOCP_EMODE (group/others have access: chmod 600);
//         SOCP_EPROTO (not a key file, truncated, trailing bytes, bad
//         checksum, parameters out of range); SOCP_EVERSION (newer format);
//         SOCP_EAUTH (wrong or missing passphrase, or tampered encrypted
//         data); SOCP_EBADKEY (decrypted content is not an acceptable key);
//         SOCP_ECRYPTO (key derivation failed, e.g. out of memory).
SOCP_NODISCARD int socp_keyfile_load(const char *path,
                                     const char *pass,
                                     size_t pass_len,
                                     socp_rsa_key_t **out,
                                     const char **why);

// Parses key file bytes already in memory (socp_keyfile_load without the
// file system and mode checks). Same parameters and errors.
SOCP_NODISCARD int socp_keyfile_decode(const uint8_t *data,
                                       size_t len,
                                       const char *pass,
                                       size_t pass_len,
                                       socp_rsa_key_t **out,
                                       const char **why);

// Tells whether the file at `path` is encrypted (so a UI knows whether to ask
// for a passphrase). Checks the mode and the header only.
// @return 0 with *encrypted set; otherwise the errors of socp_keyfile_load.
SOCP_NODISCARD int socp_keyfile_is_encrypted(const char *path, bool *encrypted, const char **why);

#endif
