// socp_rsa.h: RSA-4096 keys, OAEP-SHA256 encryption and PSS-SHA256 signatures.
// Part of socp, a SOCP v1.3 client and server.
//
// Wraps an OpenSSL 3 EVP_PKEY. Every key this module hands out has passed the
// wire profile's checks: RSA (rsaEncryption), modulus exactly 4096 bits,
// public exponent 65537. Our own keys are 4-prime (RFC 8017 multi-prime) by
// default; on the wire a multi-prime public key is an ordinary (n, e) key.
//
// Thread-safety: functions without a key argument are thread-safe. A key
// object caches its OpenSSL operation contexts, so one key object must not be
// used from two threads at once (give each thread its own copy, e.g. through
// socp_rsa_public_dup or a second import).
#ifndef SOCP_RSA_H
#define SOCP_RSA_H

#include "socp/socp_common.h"

#define SOCP_RSA_BITS         4096  // the only modulus size we accept
#define SOCP_RSA_BYTES        512   // size of a signature and of a ciphertext
#define SOCP_RSA_OAEP_MAX     446   // largest OAEP-SHA256 plaintext: 512 - 2*32 - 2
#define SOCP_RSA_PSS_SALT_MAX 478   // 512 - 32 - 2
#define SOCP_RSA_PUBLIC_E     65537 // the only public exponent we accept
#define SOCP_RSA_IMPORT_MAX   16384 // longest encoded key text we look at

typedef struct socp_rsa_key socp_rsa_key_t;

// PSS salt length used when signing. Verification always accepts any length.
typedef enum {
    SOCP_RSA_SALT_MAX = 0, // 478 bytes: what most deployed verifiers require (default)
    SOCP_RSA_SALT_32 = 1,  // 32 bytes: what WebCrypto-based peers use
} socp_rsa_salt_t;

// How a public key is written out.
typedef enum {
    SOCP_RSA_PUB_B64_DER = 0, // base64url(DER SubjectPublicKeyInfo) (default)
    SOCP_RSA_PUB_B64_PEM = 1, // base64url(PEM text), for one strict deployed client
    SOCP_RSA_PUB_PEM = 2,     // the PEM text itself ("BEGIN PUBLIC KEY")
} socp_rsa_pub_format_t;

// How a private key is written out: always PKCS#8 (PrivateKeyInfo).
typedef enum {
    SOCP_RSA_PRIV_DER = 0, // DER bytes
    SOCP_RSA_PRIV_PEM = 1, // PEM text ("BEGIN PRIVATE KEY"), NUL-terminated
} socp_rsa_priv_format_t;

// Key generation progress, called from inside socp_rsa_generate on the
// calling thread (OpenSSL's BN_GENCB events): `phase` 0 = a prime candidate
// was drawn, 1 = a primality test round passed, 2 = a candidate was accepted
// or rejected, 3 = one prime factor of the key is done (n = its 0-based index
// for multi-prime keys, 0 for two-prime keys). Expect about `primes` phase-3
// events (more if a prime is redrawn), so a progress bar can show
// min(phase-3 events, primes) / primes. Return true to continue, false to
// cancel the generation.
typedef bool(socp_rsa_progress_fn)(int phase, int n, void *arg);

// Generates a fresh RSA-4096 key with e = 65537 and `primes` prime factors
// (2, 3 or 4; SOCP uses 4 by default, 2 on request). Takes about 0.2-2 s.
// @param progress  optional callback (NULL for none), see above
// @param out       receives the new private key; free with socp_rsa_destroy
// @return 0; SOCP_EINVAL for a bad prime count; SOCP_ETERM if the callback
//         cancelled; SOCP_ECRYPTO if OpenSSL failed.
SOCP_NODISCARD int
socp_rsa_generate(unsigned primes, socp_rsa_progress_fn *progress, void *arg, socp_rsa_key_t **out);

// Destroys a key (private material is cleared by OpenSSL) and sets *self_p
// to NULL. Accepts *self_p == NULL.
void socp_rsa_destroy(socp_rsa_key_t **self_p);

// True when the key holds private material (can sign and decrypt).
bool socp_rsa_is_private(const socp_rsa_key_t *self);

// Number of prime factors of a private key (2..4 here); 0 for a public key.
unsigned socp_rsa_primes(const socp_rsa_key_t *self);

// Modulus size in bits (always SOCP_RSA_BITS for keys from this module).
unsigned socp_rsa_bits(const socp_rsa_key_t *self);

// True when both keys have the same public part (n, e).
bool socp_rsa_public_equal(const socp_rsa_key_t *a, const socp_rsa_key_t *b);

// Imports a public key from any encoding the wire profile accepts: base64url
// or standard base64 (padded or not) of DER SubjectPublicKeyInfo, of DER
// PKCS#1 RSAPublicKey, or of PEM text; or raw PEM text ("BEGIN PUBLIC KEY"
// or "BEGIN RSA PUBLIC KEY"). Surrounding whitespace is ignored.
// @param text  the encoded key (need not be NUL-terminated); untrusted
// @param out   receives a public-only key; free with socp_rsa_destroy
// @return 0, or SOCP_EBADKEY for anything that does not parse, is not RSA,
//         carries private material, is not 4096 bits, or has e != 65537.
SOCP_NODISCARD int socp_rsa_public_import(const char *text, size_t len, socp_rsa_key_t **out);

// Writes the public part of a key (public or private) in `format`.
// @param out  receives a NUL-terminated string; the caller frees it with free()
// @return 0, SOCP_EINVAL for an unknown format, or SOCP_ECRYPTO.
SOCP_NODISCARD int
socp_rsa_public_export(const socp_rsa_key_t *self, socp_rsa_pub_format_t format, char **out);

// Makes a public-only copy of a key.
// @param out  receives the copy; free with socp_rsa_destroy
// @return 0 or SOCP_ECRYPTO.
SOCP_NODISCARD int socp_rsa_public_dup(const socp_rsa_key_t *self, socp_rsa_key_t **out);

// Imports a private key: PKCS#8 (or PKCS#1) in DER or PEM, any prime count,
// unencrypted. The same size and exponent checks as for public keys apply.
// @param data  the encoded key (PEM need not be NUL-terminated); not retained
// @param out   receives the key; free with socp_rsa_destroy
// @return 0 or SOCP_EBADKEY.
SOCP_NODISCARD int socp_rsa_private_import(const uint8_t *data, size_t len, socp_rsa_key_t **out);

// Exports a private key as unencrypted PKCS#8.
// @param out      receives the encoding in sodium_malloc memory (PEM is also
//                 NUL-terminated); the caller releases it with sodium_free()
// @param out_len  receives its length (PEM: without the NUL)
// @return 0; SOCP_EINVAL if the key is public-only or the format unknown;
//         SOCP_EINIT if libsodium cannot start; SOCP_ECRYPTO.
SOCP_NODISCARD int socp_rsa_private_export(const socp_rsa_key_t *self,
                                           socp_rsa_priv_format_t format,
                                           uint8_t **out,
                                           size_t *out_len);

// RSA-OAEP encryption (SHA-256, MGF1-SHA-256, empty label).
// @param out  receives exactly SOCP_RSA_BYTES bytes
// @return 0; SOCP_ETOOBIG if len > SOCP_RSA_OAEP_MAX; SOCP_ECRYPTO.
SOCP_NODISCARD int
socp_rsa_encrypt(socp_rsa_key_t *self, const void *plain, size_t len, uint8_t out[SOCP_RSA_BYTES]);

// RSA-OAEP decryption with the same parameters.
// @param cipher   untrusted ciphertext; must be SOCP_RSA_BYTES long
// @param out      receives the plaintext (at most SOCP_RSA_OAEP_MAX bytes);
//                 the caller wipes it when done
// @return 0; SOCP_EINVAL for a public-only key; SOCP_ECRYPTO for any
//         ciphertext that does not decrypt (wrong size, tampered, wrong key).
SOCP_NODISCARD int socp_rsa_decrypt(socp_rsa_key_t *self,
                                    const uint8_t *cipher,
                                    size_t cipher_len,
                                    uint8_t out[SOCP_RSA_OAEP_MAX],
                                    size_t *out_len);

// Puts the private parts of every RSA key decoded or generated afterwards (d,
// the prime factors, the CRT exponents and coefficients) in OpenSSL's secure
// heap: one mapping of `size` bytes (a power of two), locked in memory
// (mlock), left out of core dumps (MADV_DONTDUMP) and cleansed when freed.
// OpenSSL allocates those numbers with BN_secure_new once the heap exists;
// it still keeps copies of the primes (its Montgomery contexts) and each
// operation's temporaries in its ordinary heap (ADR 0016). Once per process,
// before any key is loaded and before any other thread starts; a full heap
// makes a key import fail, so size it for every key the process holds.
// @return 0; 1 (the heap is in use but not locked: RLIMIT_MEMLOCK);
//         SOCP_ENOMEM (no secure heap: keys stay in the ordinary heap).
int socp_rsa_secure_heap(size_t size);

// RSASSA-PSS signature (SHA-256, MGF1-SHA-256) over `msg` (hashed inside).
// @param out  receives exactly SOCP_RSA_BYTES bytes
// @return 0; SOCP_EINVAL for a public-only key or bad salt; SOCP_ECRYPTO.
SOCP_NODISCARD int socp_rsa_sign(socp_rsa_key_t *self,
                                 socp_rsa_salt_t salt,
                                 const void *msg,
                                 size_t len,
                                 uint8_t out[SOCP_RSA_BYTES]);

// Verifies a PSS-SHA256 signature over `msg`, with any salt length.
// @param sig  untrusted; anything but SOCP_RSA_BYTES bytes fails
// @return 0 if valid, SOCP_EBADSIG otherwise.
SOCP_NODISCARD int socp_rsa_verify(socp_rsa_key_t *self,
                                   const void *msg,
                                   size_t len,
                                   const uint8_t *sig,
                                   size_t sig_len);

#endif
