// socp.c: the SOCP v1.3 chat client (issue #5).
// Part of socp, a SOCP v1.3 client and server.
//
// Parses flags, opens or creates the identity in the data directory, starts
// the actors (store, crypto0..N-1, net, ui) under the supervisor, waits for
// a signal or for the ui to finish, and stops them in reverse order.
// Exit codes: 0 ok; 1 runtime failure; 2 usage / configuration; 3 identity
// (key file, passphrase).
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "socp/socp_bench.h"
#include "socp/socp_account.h"
#include "socp/socp_bridge.h"
#include "socp/socp_client.h"
#include "socp/socp_client_account.h"
#include "socp/socp_client_identity.h"
#include "socp/socp_client_main.h"
#include "socp/socp_err.h"
#include "socp/socp_keyfile.h"
#include "socp/socp_log.h"
#include "socp/socp_platform.h"
#include "socp/socp_rsa.h"
#include "socp/socp_sup.h"
#include "socp/socp_uuid.h"
#include "socp/socp_ws.h"

static const char s_usage[] =
    "usage: socp [options]\n" SOCP_CLIENT_OPTS_USAGE "  --help, --version\n"
    "The passphrase of an encrypted key is read from --passphrase-file, else from\n"
    "SOCP_PASSPHRASE (for scripts), else from the terminal. With --account the key\n"
    "file is encrypted with the account password instead.\n";

static int
s_parse(int argc, char **argv, socp_client_opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(s_usage, stdout);
            exit(0);
        }
        if (strcmp(a, "--version") == 0) {
            printf("socp %s (SOCP v1.3)\n", SOCP_VERSION);
            exit(0);
        }
        int took = socp_client_opts_take(o, a, i + 1 < argc ? argv[i + 1] : NULL);
        if (took <= 0) {
            return socp_client_die("socp", 2, "%s option or value: %s (see --help)",
                                   took == 0 ? "unknown" : "bad or missing", a);
        }
        i += took - 1;
    }
    return 0;
}

// Reads a passphrase from the terminal (no echo): asked only when none was
// given (--passphrase-file, SOCP_PASSPHRASE; socp_client_secret).
static int
s_passphrase(const char *prompt, char *out, size_t size)
{
    return socp_client_read_tty(prompt, out, size) > 0 ? 0 : SOCP_EINVAL;
}

static bool
s_progress(int phase, int n, void *arg)
{
    SOCP_UNUSED(n);
    unsigned *state = arg; // [0] primes, [1] done, [2] ticks
    if (phase == 3 && state[1] < state[0]) {
        state[1]++;
    }
    state[2]++;
    if (phase == 3 || state[2] % 64 == 0) {
        unsigned fill = state[1] * 20 / state[0];
        fprintf(stderr, "\rgenerating your RSA-4096 key [%-20.*s] %u/%u %c", (int) fill,
                "####################", state[1], state[0], "|/-\\"[state[2] / 64 % 4]);
        fflush(stderr);
    }
    return true;
}

static int
s_pass_prompt(const char *prompt, char *out, size_t size, void *arg)
{
    (void) arg;
    return s_passphrase(prompt, out, size);
}

// Loads or creates the identity: user id and private key.
static int
s_identity(const socp_client_opts_t *o, char user_id[SOCP_UUID_BUF], socp_rsa_key_t **key)
{
    unsigned state[3] = {o->primes, 0, 0};
    socp_identity_opts_t io = {.who = "socp",
                               .data_dir = o->data_dir,
                               .import_key = o->import_key,
                               .primes = o->primes,
                               .plain = o->plain,
                               .pass = s_pass_prompt,
                               .confirm = true,
                               .progress = s_progress,
                               .progress_arg = state};
    return socp_client_identity(&io, user_id, key);
}

// Room in OpenSSL's secure heap for the private parts of every key the
// process holds: the identity's, each crypto worker's copy (at most
// SOCP_CLIENT_CRYPTO_MAX) and transient copies; about 4 KiB each.
#define S_SECURE_HEAP (512u * 1024u)

int
main(int argc, char **argv)
{
    // Before anything secret is read: no core dump, no ptrace by others of
    // the same user (every subcommand).
    if (socp_platform_no_dump() != 0) {
        fprintf(stderr, "socp: warning: cannot turn core dumps off\n");
    }
    if (argc > 1 && strcmp(argv[1], "bench") == 0) {
        return socp_bench_main(argc - 1, argv + 1); // throwaway keys, maybe thousands
    }
    // The private key's numbers in locked memory left out of core dumps.
    if (socp_rsa_secure_heap(S_SECURE_HEAP) < 0) {
        fprintf(stderr, "socp: warning: no secure heap for the private key\n");
    }
    if (argc > 1 && strcmp(argv[1], "bridge") == 0) {
        return socp_bridge_main(argc - 1, argv + 1);
    }
    socp_platform_block_signals();
    socp_client_opts_t o;
    socp_client_opts_init(&o, "socp");
    int rc = s_parse(argc, argv, &o);
    if (rc != 0 || (rc = socp_client_opts_check(&o)) != 0) {
        return rc;
    }
    char uuid[SOCP_UUID_BUF];
    const char *user_id = o.account ? o.account : uuid;
    socp_rsa_key_t *key = NULL;
    socp_client_self_t self;
    socp_client_account_pass_t pw = {0};
    unsigned state[3] = {o.primes, 0, 0};
    rc = o.account ? socp_client_opts_account(&o, &pw, s_progress, state, &key)
                   : s_identity(&o, uuid, &key);
    if (rc != 0 || (rc = socp_client_self_init(&o, user_id, &key, &self)) != 0) {
        socp_client_account_pass_free(&pw);
        return rc;
    }
    // How long a DM for a user who is not online is held, for people.
    uint64_t hold = o.hold ? o.hold : 7ull * 24 * 3600 * 1000;
    char hold_text[32];
    if (hold % (24ull * 3600 * 1000) == 0) {
        snprintf(hold_text, sizeof hold_text, "%llu day%s",
                 (unsigned long long) (hold / (24ull * 3600 * 1000)),
                 hold == 24ull * 3600 * 1000 ? "" : "s");
    } else if (hold >= 3600000) {
        snprintf(hold_text, sizeof hold_text, "%.1f h", (double) hold / 3600000.0);
    } else {
        snprintf(hold_text, sizeof hold_text, "%llu s", (unsigned long long) (hold / 1000));
    }
    socp_client_ui_args_t uargs = {.user_id = user_id,
                                   .data_dir = o.data_dir,
                                   .server_url = o.server,
                                   .fingerprint = self.fp,
                                   .display_name = o.name,
                                   .file_rate = o.file_rate,
                                   .crypto_workers = self.workers,
                                   .interactive = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO),
                                   .in_fd = STDIN_FILENO,
                                   .out_fd = STDOUT_FILENO,
                                   .hold_text = hold_text};
    socp_client_front_t front = {.fn = socp_client_ui_actor, .args = &uargs};
    rc = socp_client_run(&o, &self, &front);
    socp_client_account_pass_free(&pw);
    return rc;
}
