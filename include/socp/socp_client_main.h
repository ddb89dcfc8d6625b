// socp_client_main.h: what every client front end's main() shares (the
// terminal client `socp` and `socp bridge`): the common options, the data
// directory, and running the actor set (store, crypto0..N-1, net and the
// front end) under the supervisor until a signal or an actor ends.
// Part of socp, a SOCP v1.3 client and server.
//
// Thread affinity: the main thread, before and while the actors run.
#ifndef SOCP_CLIENT_MAIN_H
#define SOCP_CLIENT_MAIN_H

#include "socp/socp_actor.h"
#include "socp/socp_client.h"
#include "socp/socp_common.h"
#include "socp/socp_ws.h"

// --help text of the options socp_client_opts_take() knows.
#define SOCP_CLIENT_OPTS_USAGE                                                                \
    "  --server URL          server to connect to (default ws://127.0.0.1:8765)\n"            \
    "  --data-dir DIR        data directory (default $SOCP_HOME, else ./.socp)\n"             \
    "  --name NAME           display name (saved; /nick or setDisplayName changes it)\n"      \
    "  --plain-key           keep the private key unencrypted (or SOCP_PLAIN_KEY=1)\n"        \
    "  --import-key PATH     create the identity from an RSA-4096 PKCS#8 PEM key\n"           \
    "  --primes 2|4          primes of a new key (default 4)\n"                               \
    "  --pub-format auto|der|pem  how our key is published (default auto: DER, or PEM\n"      \
    "                        for a server whose users' keys come as PEM, remembered)\n"       \
    "  --sig-form auto|string|bytes  content_sig form we emit (default auto: the form\n"      \
    "                        each contact signs in, else string; bytes for an account)\n"     \
    "  --pss-salt max|32     PSS salt when signing (default max)\n"                           \
    "  --heartbeat MS        HEARTBEAT interval (default 15000)\n"                            \
    "  --dead MS             silence before the link is dead (default 45000; a server\n"      \
    "                        silent for a third of it is pinged)\n"                           \
    "  --workers N           crypto workers (default: number of cores)\n"                     \
    "  --file-rate N         file frames per second at most (default 190, halved while the\n" \
    "                        server reports its rate limit; 0: no limit)\n"                   \
    "  --file-idle MS        drop an incoming file that sends nothing this long (60000)\n"    \
    "  --hold MS             keep a DM for a user who is not online this long, sending it\n"  \
    "                        when they come online (default 604800000: 7 days)\n"             \
    "  --passphrase-file PATH  the key's passphrase (with --account: the account\n"           \
    "                        password) is the first line of PATH; else SOCP_PASSPHRASE\n"     \
    "                        (SOCP_ACCOUNT_PASSWORD), else the terminal. Both variables\n"    \
    "                        are wiped from the environment at start\n"                       \
    "  --account NAME        log in to account NAME on an Impl14-style server (registered\n"  \
    "                        on first use; its password from --passphrase-file, the\n"        \
    "                        terminal or SOCP_ACCOUNT_PASSWORD); the data directory is\n"     \
    "                        the account's.\n"                                                \
    "                        WARNING: the password goes to the server in clear over ws://\n"

typedef struct {
    const char *who; // "socp", "socp bridge": the prefix of error lines
    const char *server, *data_dir, *name, *import_key;
    const char *pass_file; // --passphrase-file, or NULL
    bool plain;
    unsigned primes, workers, file_rate;
    socp_client_wire_t wire;
    uint64_t heartbeat, dead, file_idle;
    uint64_t hold;       // --hold MS: a DM for a user who is not online is kept this long
    bool sig_form_given; // --sig-form was given (account mode defaults to bytes)
    // --account NAME; the password (sodium memory) is set by
    // socp_client_opts_account:
    const char *account, *account_pass;
    size_t account_pass_len;
    // Set by socp_client_opts_check from server:
    char host[SOCP_WS_HOST_MAX];
    uint16_t port;
} socp_client_opts_t;

// The defaults (server ws://127.0.0.1:8765, 4 primes, 190 file frames/s).
void socp_client_opts_init(socp_client_opts_t *o, const char *who);

// Takes argument `a` (with `v`, the next argument or NULL) if it is a common
// option. Returns 0: not one of ours; 1: taken, a flag without value; 2:
// taken with its value (skip v); -1: ours but v is missing or bad.
int socp_client_opts_take(socp_client_opts_t *o, const char *a, const char *v);

// After parsing: first the passphrase or account password
// (socp_client_secret_load: --passphrase-file, SOCP_PASSPHRASE,
// SOCP_ACCOUNT_PASSWORD, both variables wiped), then environment defaults
// (SOCP_HOME, SOCP_PLAIN_KEY), the display name, the server URL, libsodium,
// and the data directory (created 0700, or tightened to it). Returns 0, or an
// exit code (2: usage or configuration, 1: runtime, 3: the passphrase file)
// after one line "<who>: <reason>" on stderr.
int socp_client_opts_check(socp_client_opts_t *o);

// A decimal option value in [min, max]; false if it is not one.
bool socp_client_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

// Reads a line from the terminal (/dev/tty) without echo into out (cap
// bytes, NUL included). Returns its length, or -1 (no terminal, nothing typed).
long socp_client_read_tty(const char *prompt, char *out, size_t cap);

// Prints "<who>: <message>" on stderr and returns `code`.
int socp_client_die(const char *who, int code, const char *fmt, ...) SOCP_PRINTF(3, 4);

// The front end the actor set runs with (the actor named "ui").
typedef struct {
    socp_actor_fn *fn;
    void *args;
    bool before_net;    // start it before net (the bridge: no presence missed)
    const char *banner; // logged (info) once everything runs, or NULL
} socp_client_front_t;

// The identity as the actors need it.
typedef struct {
    const char *user_id;
    char fp[65];   // hex SHA-256 of the public key DER
    char *pub;     // our key as published (o->wire.pub_format); owned
    char *pub_pem; // our key as b64url(PEM) when o->wire.pub_auto; owned
    unsigned workers;
    socp_rsa_key_t *key; // consumed by socp_client_run
} socp_client_self_t;

// Fills `self` from the loaded key (which it takes over) and forgets the
// passphrase and password read at start (socp_client_secret_forget; the
// account's password lives on in the caller's socp_client_account_pass_t).
// Call before any thread starts.
// Returns 0 or an exit code after one line on stderr; on failure the key is
// destroyed.
int socp_client_self_init(const socp_client_opts_t *o,
                          const char *user_id,
                          socp_rsa_key_t **key,
                          socp_client_self_t *self);

// Hands each crypto worker its own copy of the key (the key itself is
// destroyed here), starts store, crypto0..N-1, net and the front end, waits
// for a signal or an actor's end, and stops them in reverse order. Frees
// what `self` owns. Returns the process exit code (0, or 1 after a line on
// stderr).
int socp_client_run(const socp_client_opts_t *o,
                    socp_client_self_t *self,
                    const socp_client_front_t *front);

#endif
