// socp_client_account.h: `socp --account NAME`: the client's side of an
// Impl14 account (issue #11): the password, the data directory of an
// account, and the login made before the actors start.
// Part of socp, a SOCP v1.3 client and server.
//
// At start, on the main thread and before any other thread exists:
//   1. the password comes from --passphrase-file or SOCP_ACCOUNT_PASSWORD
//      (read by socp_client_secret_load, which wiped the variable from the
//      environment block and removed it) or from the terminal, into sodium
//      memory;
//   2. socp_client_account_login connects to the server (blocking, bounded
//      by a timeout), sends USER_LOGIN (no USER_HELLO: the account may not
//      exist yet), and:
//        - USER_LOGGED_IN: done; with no key in the data directory yet,
//          the key is the account's privkey_store opened with the password
//          (logging in from a new machine), saved locally; with one, it
//          must be the key the privkey_store holds;
//        - ERROR USER_NOT_FOUND: registers the account (USER_REGISTER with
//          our key sealed in Impl14's privkey_store format under the
//          password, so Impl14's own client can log in with it too), waits
//          for USER_REGISTERED, and logs in again;
//        - a wrong password, or a data directory whose key is not the
//          account's: one line, exit code 3.
//   3. the net actor then logs in again on every connection it makes
//      (socp_client_net_args_t.account), with the same password, which
//      stays in sodium memory until the client stops.
//
// The data directory of an account holds `account` (the name) and `key`
// (socp_keyfile, encrypted with the account password unless --plain-key).
// A directory that holds a UUID identity (`user_id`) or another account is
// refused.
//
// Security: Impl14's USER_LOGIN carries the password in clear, over ws://:
// anyone on the path reads it. The password is never logged or printed.
#ifndef SOCP_CLIENT_ACCOUNT_H
#define SOCP_CLIENT_ACCOUNT_H

#include "socp/socp_client_main.h"
#include "socp/socp_common.h"
#include "socp/socp_rsa.h"

#define SOCP_CLIENT_ACCOUNT_ENV "SOCP_ACCOUNT_PASSWORD"

// The account password, in sodium_malloc memory.
typedef struct {
    char *pass;    // NUL-terminated; sodium memory (NULL until read)
    size_t len;    // bytes without the NUL
    bool from_tty; // typed (so a new account asks for it twice)
} socp_client_account_pass_t;

// The password of account `name`: the one given at start
// (socp_client_secret_password: --passphrase-file or SOCP_ACCOUNT_PASSWORD)
// or, without it, from the terminal (no echo). Call before any thread starts.
// @return 0, or an exit code (3) after one line "<who>: <reason>" on stderr.
int socp_client_account_password(const char *who, const char *name, socp_client_account_pass_t *p);

// Wipes and frees the password. NULL-safe, idempotent.
void socp_client_account_pass_free(socp_client_account_pass_t *p);

typedef struct {
    const char *who;                      // message prefix ("socp")
    const char *host;                     // server host
    uint16_t port;                        // server port
    const char *data_dir;                 // the data directory (exists, 0700)
    const char *name;                     // the account name (socp_account_name_ok)
    const socp_client_account_pass_t *pw; // its password
    bool plain;                           // keep the local key file unencrypted
    const char *import_key;               // PEM to register a new account with, or NULL
    unsigned primes;                      // 2 or 4, for a key generated for a new account
    socp_rsa_progress_fn *progress;       // key generation progress, or NULL
    void *progress_arg;                   // its argument
    int timeout_ms;                       // per answer awaited (0: 10000)
} socp_client_account_opts_t;

// Logs in to (or registers, then logs in to) account o->name on the server
// and returns its private key. When the server cannot be reached but the
// data directory has the key, says so on stderr and returns the key (the
// net actor keeps trying). Thread affinity: main thread, at start.
// @param key  receives the account's private key (socp_rsa_destroy)
// @return 0, or an exit code after one line "<who>: <reason>" on stderr:
//         1 (server unreachable with no key here, refused registration,
//         no answer), 2 (data directory of something else), 3 (wrong
//         password, key file unreadable, the key here is not the account's).
int socp_client_account_login(const socp_client_account_opts_t *o, socp_rsa_key_t **key);

// --account: Impl14's wire settings (DER keys, content signatures over the
// raw ciphertext unless --sig-form, payload.to), the password into *pw (the
// caller frees it with socp_client_account_pass_free after the run), then
// the login or registration that gives the key (socp_client_account_login).
// Main thread, at start. Returns 0 or an exit code after one line on stderr.
int socp_client_opts_account(socp_client_opts_t *o,
                             socp_client_account_pass_t *pw,
                             socp_rsa_progress_fn *progress,
                             void *progress_arg,
                             socp_rsa_key_t **key);

#endif
