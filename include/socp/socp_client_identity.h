// socp_client_identity.h: the identity of a client data directory (files
// `user_id` and `key`), loaded or created on first use. Shared by the
// terminal client, the bridge and anything else that acts as a user.
#ifndef SOCP_CLIENT_IDENTITY_H
#define SOCP_CLIENT_IDENTITY_H

#include "socp/socp_rsa.h"
#include "socp/socp_uuid.h"

// Asks for a passphrase: 0 and a NUL-terminated `out`, or non-zero if none.
typedef int(socp_identity_pass_fn)(const char *prompt, char *out, size_t size, void *arg);

typedef struct {
    const char *who;                // message prefix ("socp", "socp bridge")
    const char *data_dir;           // the data directory (exists, 0700)
    const char *import_key;         // PEM to import on first run, or NULL to generate
    unsigned primes;                // 2 or 4, for generation
    bool plain;                     // store a new key unencrypted
    socp_identity_pass_fn *pass;    // prompt when no passphrase was given (NULL: none)
    void *pass_arg;                 // its argument
    bool confirm;                   // ask twice for a new passphrase (when prompted)
    socp_rsa_progress_fn *progress; // key generation progress, or NULL
    void *progress_arg;             // its argument
} socp_identity_opts_t;

// Loads the identity of o->data_dir, or creates it (new UUID v4, imported or
// generated key, saved encrypted unless o->plain; the user_id file and its
// name synced). The passphrase is the one given at start
// (socp_client_secret_passphrase: --passphrase-file or SOCP_PASSPHRASE), else
// o->pass is asked. Returns 0, or an exit code
// (1: key generation failed, 3: identity unreadable, damaged or not
// savable) after printing one line "<who>: <reason>" on stderr. The key is
// the caller's (socp_rsa_destroy). Thread affinity: main thread, at start.
int socp_client_identity(const socp_identity_opts_t *o,
                         char user_id[SOCP_UUID_BUF],
                         socp_rsa_key_t **key);

#endif
