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
#include <fcntl.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "socp/socp_bench.h"
#include "socp/socp_bridge.h"
#include "socp/socp_client.h"
#include "socp/socp_client_identity.h"
#include "socp/socp_err.h"
#include "socp/socp_keyfile.h"
#include "socp/socp_log.h"
#include "socp/socp_platform.h"
#include "socp/socp_sup.h"
#include "socp/socp_uuid.h"
#include "socp/socp_ws.h"

static const char s_usage[] =
    "usage: socp [options]\n"
    "  --server URL          server to connect to (default ws://127.0.0.1:8765)\n"
    "  --data-dir DIR        data directory (default $SOCP_HOME, else ./.socp)\n"
    "  --name NAME           display name (saved; /nick changes it)\n"
    "  --plain-key           keep the private key unencrypted (or SOCP_PLAIN_KEY=1)\n"
    "  --import-key PATH     create the identity from an RSA-4096 PKCS#8 PEM key\n"
    "  --primes 2|4          primes of a new key (default 4)\n"
    "  --pub-format der|pem  how our key is published (default der)\n"
    "  --sig-form string|bytes  content_sig form we emit (default string)\n"
    "  --pss-salt max|32     PSS salt when signing (default max)\n"
    "  --heartbeat MS        heartbeat interval (default 15000)\n"
    "  --dead MS             silence before the link is dead (default 45000)\n"
    "  --workers N           crypto workers (default: number of cores)\n"
    "  --file-rate N         file frames per second at most (default 190, halved while the\n"
    "                        server reports its rate limit; 0: no limit)\n"
    "  --help, --version\n"
    "The passphrase of an encrypted key is read from the terminal, or from\n"
    "SOCP_PASSPHRASE for scripts.\n";

typedef struct {
    const char *server, *data_dir, *name, *import_key;
    bool plain;
    unsigned primes, workers, file_rate;
    socp_client_wire_t wire;
    uint64_t heartbeat, dead;
} s_opts_t;

static int s_die(int code, const char *fmt, ...) SOCP_PRINTF(2, 3);

static int
s_die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "socp: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return code;
}

static bool
s_num(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

static int
s_parse(int argc, char **argv, s_opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(s_usage, stdout);
            exit(0);
        } else if (strcmp(a, "--version") == 0) {
            printf("socp %s (SOCP v1.3)\n", SOCP_VERSION);
            exit(0);
        } else if (strcmp(a, "--plain-key") == 0) {
            o->plain = true;
            continue;
        }
        if (!v) {
            return s_die(2, "unknown option or missing value: %s (see --help)", a);
        }
        i++;
        if (strcmp(a, "--server") == 0) {
            o->server = v;
        } else if (strcmp(a, "--data-dir") == 0) {
            o->data_dir = v;
        } else if (strcmp(a, "--name") == 0) {
            o->name = v;
        } else if (strcmp(a, "--import-key") == 0) {
            o->import_key = v;
        } else if (strcmp(a, "--primes") == 0 && (strcmp(v, "2") == 0 || strcmp(v, "4") == 0)) {
            o->primes = (unsigned) (v[0] - '0');
        } else if (strcmp(a, "--pub-format") == 0 &&
                   (strcmp(v, "der") == 0 || strcmp(v, "pem") == 0)) {
            o->wire.pub_format = v[0] == 'd' ? SOCP_RSA_PUB_B64_DER : SOCP_RSA_PUB_B64_PEM;
        } else if (strcmp(a, "--sig-form") == 0 &&
                   (strcmp(v, "string") == 0 || strcmp(v, "bytes") == 0)) {
            o->wire.sig_emit = v[0] == 's' ? SOCP_SIG_EMIT_STRING : SOCP_SIG_EMIT_RAW;
        } else if (strcmp(a, "--pss-salt") == 0 &&
                   (strcmp(v, "max") == 0 || strcmp(v, "32") == 0)) {
            o->wire.salt = v[0] == 'm' ? SOCP_RSA_SALT_MAX : SOCP_RSA_SALT_32;
        } else if (strcmp(a, "--heartbeat") == 0 && s_num(v, 100, 3600000, &n)) {
            o->heartbeat = n;
        } else if (strcmp(a, "--dead") == 0 && s_num(v, 300, 3600000, &n)) {
            o->dead = n;
        } else if (strcmp(a, "--file-rate") == 0 && s_num(v, 0, 1000000, &n)) {
            o->file_rate = (unsigned) n;
        } else if (strcmp(a, "--workers") == 0 && s_num(v, 1, SOCP_CLIENT_CRYPTO_MAX, &n)) {
            o->workers = (unsigned) n;
        } else {
            return s_die(2, "bad option or value: %s (see --help)", a);
        }
    }
    return 0;
}

// Reads a passphrase from SOCP_PASSPHRASE or the terminal (no echo).
static int
s_passphrase(const char *prompt, char *out, size_t size)
{
    const char *env = getenv("SOCP_PASSPHRASE");
    if (env && *env) {
        snprintf(out, size, "%s", env);
        return 0;
    }
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        return SOCP_EINVAL;
    }
    struct termios old, t;
    bool tty = tcgetattr(fd, &old) == 0;
    if (tty) {
        t = old;
        t.c_lflag &= (tcflag_t) ~ECHO;
        (void) tcsetattr(fd, TCSAFLUSH, &t);
    }
    if (write(fd, prompt, strlen(prompt)) < 0) {
        // nothing to do: the read below still works
    }
    size_t n = 0;
    char c;
    while (n < size - 1 && read(fd, &c, 1) == 1 && c != '\n') {
        out[n++] = c;
    }
    out[n] = '\0';
    if (tty) {
        (void) tcsetattr(fd, TCSAFLUSH, &old);
    }
    if (write(fd, "\n", 1) < 0) {
        // ignored
    }
    close(fd);
    return n ? 0 : SOCP_EINVAL;
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
s_identity(const s_opts_t *o, char user_id[SOCP_UUID_BUF], socp_rsa_key_t **key)
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

int
main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "bridge") == 0) {
        return socp_bridge_main(argc - 1, argv + 1);
    }
    if (argc > 1 && strcmp(argv[1], "bench") == 0) {
        return socp_bench_main(argc - 1, argv + 1);
    }
    socp_platform_block_signals();
    s_opts_t o = {.server = "ws://127.0.0.1:8765", .primes = 4, .file_rate = 190};
    int rc = s_parse(argc, argv, &o);
    if (rc != 0) {
        return rc;
    }
    if (!o.data_dir) {
        o.data_dir = getenv("SOCP_HOME") && *getenv("SOCP_HOME") ? getenv("SOCP_HOME") : "./.socp";
    }
    if (getenv("SOCP_PLAIN_KEY") && strcmp(getenv("SOCP_PLAIN_KEY"), "1") == 0) {
        o.plain = true;
    }
    if (o.name && (strlen(o.name) > 64 || !socp_uuid_is_peer_id(o.name, strlen(o.name)))) {
        return s_die(2, "bad --name: %s (1-64 printable characters)", o.name);
    }
    char host[SOCP_WS_HOST_MAX], path[SOCP_WS_PATH_MAX];
    uint16_t port = 0;
    rc = socp_ws_parse_url(o.server, host, &port, path);
    if (rc != 0) {
        return s_die(2,
                     rc == SOCP_EUNSUPPORTED ? "wss:// is not supported: %s" : "bad server URL: %s",
                     o.server);
    }
    if (sodium_init() < 0) {
        return s_die(1, "%s", "libsodium failed to start");
    }
    if (mkdir(o.data_dir, 0700) != 0 && errno != EEXIST) {
        return s_die(2, "cannot create the data directory %s", o.data_dir);
    }
    struct stat st;
    if (stat(o.data_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return s_die(2, "%s is not a directory", o.data_dir);
    }
    if ((st.st_mode & 077) && chmod(o.data_dir, 0700) != 0) {
        return s_die(2, "cannot restrict %s to mode 0700", o.data_dir);
    }
    char user_id[SOCP_UUID_BUF];
    socp_rsa_key_t *key = NULL;
    if ((rc = s_identity(&o, user_id, &key)) != 0) {
        return rc;
    }
    char fp[65];
    char *pub = NULL;
    if (socp_client_key_fp(key, fp) != 0 ||
        socp_rsa_public_export(key, o.wire.pub_format, &pub) != 0) {
        socp_rsa_destroy(&key);
        return s_die(1, "%s", "cannot export the public key");
    }
    unsigned workers = o.workers;
    if (!workers) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        workers = cores < 1                        ? 1
                  : cores > SOCP_CLIENT_CRYPTO_MAX ? SOCP_CLIENT_CRYPTO_MAX
                                                   : (unsigned) cores;
    }
    // Each worker gets its own copy of the key (sodium memory, wiped by it).
    socp_client_crypto_args_t cargs[SOCP_CLIENT_CRYPTO_MAX];
    memset(cargs, 0, sizeof cargs);
    for (unsigned i = 0; i < workers; i++) {
        cargs[i].user_id = user_id;
        cargs[i].wire = o.wire;
        if (socp_rsa_private_export(key, SOCP_RSA_PRIV_DER, &cargs[i].key_der,
                                    &cargs[i].key_der_len) != 0) {
            socp_rsa_destroy(&key);
            return s_die(1, "%s", "cannot hand the key to the crypto workers");
        }
    }
    socp_rsa_destroy(&key);

    socp_client_store_args_t sargs = {.data_dir = o.data_dir};
    socp_client_net_args_t nargs = {.host = host,
                                    .port = port,
                                    .user_id = user_id,
                                    .pubkey = pub,
                                    .display_name = o.name ? o.name : "",
                                    .crypto_workers = workers,
                                    .heartbeat_ms = o.heartbeat,
                                    .dead_ms = o.dead};
    socp_client_ui_args_t uargs = {.user_id = user_id,
                                   .data_dir = o.data_dir,
                                   .server_url = o.server,
                                   .fingerprint = fp,
                                   .display_name = o.name,
                                   .file_rate = o.file_rate,
                                   .crypto_workers = workers,
                                   .interactive = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO),
                                   .in_fd = STDIN_FILENO,
                                   .out_fd = STDOUT_FILENO};
    socp_bus_t *bus = NULL;
    socp_sup_t *sup = NULL;
    int exit_code = 0;
    if (socp_bus_new(&bus) != 0 || socp_sup_new(bus, true, &sup) != 0) {
        exit_code = s_die(1, "%s", "cannot start the message bus");
        goto out;
    }
    socp_actor_opts_t crypto_opts = {.batch = 8};
    if ((rc = socp_sup_start(sup, "store", socp_client_store_actor, &sargs, NULL)) != 0) {
        exit_code = s_die(1, "cannot open the database: %s", socp_strerror(rc));
        goto out;
    }
    for (unsigned i = 0; i < workers; i++) {
        char name[SOCP_ACTOR_NAME_MAX + 1];
        snprintf(name, sizeof name, "crypto%u", i);
        if ((rc = socp_sup_start(sup, name, socp_client_crypto_actor, &cargs[i], &crypto_opts)) !=
            0) {
            exit_code = s_die(1, "cannot start the crypto workers: %s", socp_strerror(rc));
            goto out;
        }
    }
    if ((rc = socp_sup_start(sup, "net", socp_client_net_actor, &nargs, NULL)) != 0 ||
        (rc = socp_sup_start(sup, "ui", socp_client_ui_actor, &uargs, NULL)) != 0) {
        exit_code = s_die(1, "cannot start: %s", socp_strerror(rc));
        goto out;
    }
    for (;;) {
        socp_sup_event_t ev;
        if (socp_sup_wait(sup, -1, &ev) < 0) {
            break;
        }
        if (ev.kind == SOCP_SUP_SIGNAL || ev.kind == SOCP_SUP_EXIT) {
            if (ev.kind == SOCP_SUP_EXIT && ev.code != 0) {
                fprintf(stderr, "socp: %s stopped: %s\n", ev.actor, socp_strerror(ev.code));
                exit_code = 1;
            }
            break;
        }
        if (ev.kind == SOCP_SUP_FAULT) {
            socp_warn("%s: %s", ev.actor, ev.detail);
        }
    }
out:
    if (sup) {
        (void) socp_sup_stop(sup, 300);
        socp_sup_destroy(&sup);
    }
    for (unsigned i = 0; i < workers; i++) {
        if (cargs[i].key_der) { // a worker that never started
            sodium_memzero(cargs[i].key_der, cargs[i].key_der_len);
            sodium_free(cargs[i].key_der);
        }
    }
    if (bus) {
        (void) socp_bus_destroy(&bus);
    }
    free(pub);
    return exit_code;
}
