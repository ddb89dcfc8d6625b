// socpd: the SOCP v1.3 server. See docs/socpd.md (and `socpd --help`).
//
// main() parses flags and the config file, loads or creates the server
// identity (DIR/server.key, the id in the database), opens the listening
// socket, starts the actors (crypto workers, router, net) under a
// supervisor, prints the "listening ..." line, and waits for SIGINT/SIGTERM.
#define _GNU_SOURCE
#include "socp/socp_err.h"
#include "socp/socp_keyfile.h"
#include "socp/socp_log.h"
#include "socp/socp_platform.h"
#include "socp/socp_rsa.h"
#include "socp/socp_sup.h"
#include "socp/socp_tcp.h"
#include "socp/socp_uuid.h"
#include "socp/socpd_crypto.h"
#include "socp/socpd_net.h"
#include "socp/socpd_router.h"
#include "socp/socpd_store.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define S_WORKERS_MAX 16

typedef struct {
    char host[256];
    long port;
    char data_dir[2048];
    bool print_pubkey;
    bool plain_key;
    long key_primes;
    char import_key[2048];
    long heartbeat_ms;
    long dead_ms;
    long hello_timeout_ms;
    long idle_hello_ms; // -1: not given (then 300000, or --hello-timeout-ms if given)
    bool hello_given;
    long handshake_timeout_ms;
    double rate;
    double burst;
    long crypto_workers;
    long max_skew_ms;
    bool allow_unsigned;
    long hello_window_ms;
    double hello_rate;
    double hello_burst;
    double hello_rate_global;
    double hello_burst_global;
    long unproven_ttl_days;
    char passphrase_file[2048];
    int pub_format;
    long max_output_kb;
    char advertise_host[256];
    size_t n_intro;
    socpd_peer_addr_t intro[SOCPD_INTRODUCERS_MAX];
} s_opts_t;

static void
s_usage(FILE *f)
{
    fprintf(f, "usage: socpd [options]\n"
               "  --port N               listen port (default 8765; 0 picks a free port)\n"
               "  --host ADDR            listen address (default 127.0.0.1)\n"
               "  --advertise-host H     host other servers should dial (default: --host)\n"
               "  --data-dir DIR         database and key directory (default ./socpd-data)\n"
               "  --introducer H:P:KEY   join a mesh through this server (repeatable; KEY =\n"
               "                         its public key: base64url of DER SPKI or of PEM)\n"
               "  --print-pubkey         print the server public key (DER unless --pub-format\n"
               "                         pem) and exit\n"
               "  --pub-format F         how our key is published: der (base64url of DER\n"
               "                         SPKI), pem (of PEM text, what PEM-only peers parse)\n"
               "                         or auto (default: PEM to a server whose own key\n"
               "                         is PEM, DER to the others)\n"
               "  --plain-key            keep the server key unencrypted (tests; env\n"
               "                         SOCPD_PLAIN_KEY=1); else the passphrase comes from\n"
               "                         --passphrase-file, env SOCPD_PASSPHRASE (removed\n"
               "                         from the environment at start) or a prompt\n"
               "  --passphrase-file PATH read the key passphrase from the first line of PATH\n"
               "  --key-primes 2|4       primes of a generated key (default 4)\n"
               "  --import-key PEM       use this PKCS#8 PEM private key as the identity\n"
               "                         (only when DIR/server.key does not exist yet)\n"
               "  --heartbeat-ms N       server heartbeat period (default 15000)\n"
               "  --dead-ms N            a silent server link is dead after N ms (default 45000)\n"
               "  --hello-timeout-ms N   first frame must identify within N ms once more than\n"
               "                         64 connections wait for theirs; also bounds connect\n"
               "                         + WebSocket upgrade (default 5000)\n"
               "  --idle-hello-ms N      the same while 64 or fewer wait (a person at a\n"
               "                         prompt before /register or /login; default 300000,\n"
               "                         or --hello-timeout-ms when that is given)\n"
               "  --rate-limit N         frames/s per user connection (default 200; 0 = none)\n"
               "  --rate-burst N         token bucket size (default 2 x rate)\n"
               "  --max-output-kb N      unwritten output per connection before it is\n"
               "                         dropped as a slow reader (default 4096)\n"
               "  --crypto-workers N     signing threads (default: number of cores, max 16)\n"
               "  --max-skew-ms N        refuse user frames with ts further off (default 600000)\n"
               "  --allow-unsigned       accept user content frames (MSG_*, FILE_*) without sig;\n"
               "                         USER_HELLO may always be unsigned, but only a signed\n"
               "                         one proves the key (ADR 0012, ADR 0015)\n"
               "  --hello-window-ms N    a signed USER_HELLO proves its key only if its signed\n"
               "                         payload.ts is within N ms of our clock (default 120000)\n"
               "  --hello-rate N         USER_HELLOs served per second per address (default 50;\n"
               "                         0 = no limit); more wait, up to 64 per address\n"
               "  --hello-burst N        per-address bucket size (default 4 x rate)\n"
               "  --hello-rate-global N  USER_HELLOs served per second in all (default 200;\n"
               "                         0 = no limit); more wait, up to 1024\n"
               "  --hello-burst-global N global bucket size (default 2 x rate)\n"
               "  --unproven-ttl-days N  forget an id bound by unsigned hellos only (never\n"
               "                         proven) once unused for N days (default 30; 0 = keep)\n"
               "  --log-level L          error|warn|info|debug (default info; env SOCP_LOG)\n"
               "  --config FILE          read 'name = value' lines (same names as the flags)\n"
               "  --help, --version\n");
}

static int
s_parse_introducer(s_opts_t *o, const char *v)
{
    if (o->n_intro >= SOCPD_INTRODUCERS_MAX) {
        return -1;
    }
    const char *c1 = strchr(v, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c1 || !c2 || c1 == v || (size_t) (c1 - v) >= sizeof o->intro[0].host) {
        return -1;
    }
    socpd_peer_addr_t *p = &o->intro[o->n_intro];
    memcpy(p->host, v, (size_t) (c1 - v));
    p->host[c1 - v] = '\0';
    char *end = NULL;
    long port = strtol(c1 + 1, &end, 10);
    if (end != c2 || port <= 0 || port > 65535 || strlen(c2 + 1) == 0 ||
        strlen(c2 + 1) >= sizeof p->pubkey) {
        return -1;
    }
    p->port = (uint16_t) port;
    snprintf(p->pubkey, sizeof p->pubkey, "%s", c2 + 1);
    socp_rsa_key_t *k = NULL;
    if (socp_rsa_public_import(p->pubkey, strlen(p->pubkey), &k) != 0) {
        fprintf(stderr, "socpd: --introducer %s: the key is not an RSA-4096 public key\n", v);
        return -1;
    }
    socp_rsa_destroy(&k);
    o->n_intro++;
    return 0;
}

static int
s_number(const char *name, const char *v, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || !end || *end || end == v || n < min || n > max) {
        fprintf(stderr, "socpd: %s: expected a number in %ld..%ld, got '%s'\n", name, min, max, v);
        return -1;
    }
    *out = n;
    return 0;
}

static int s_config(s_opts_t *o, const char *path);

// Applies one option (name without dashes). `v` is NULL for flags.
static int
s_apply(s_opts_t *o, const char *name, const char *v, bool *needs_value)
{
    *needs_value = true;
    long n = 0;
    if (strcmp(name, "print-pubkey") == 0) {
        *needs_value = false;
        o->print_pubkey = true;
        return 0;
    }
    if (strcmp(name, "plain-key") == 0) {
        *needs_value = false;
        o->plain_key = !v || strcmp(v, "0") != 0;
        return 0;
    }
    if (strcmp(name, "allow-unsigned") == 0) {
        *needs_value = false;
        o->allow_unsigned = !v || strcmp(v, "0") != 0;
        return 0;
    }
    if (!v) {
        return 1; // caller fetches the value
    }
    if (strcmp(name, "port") == 0) {
        return s_number(name, v, 0, 65535, &o->port);
    }
    if (strcmp(name, "host") == 0) {
        snprintf(o->host, sizeof o->host, "%s", v);
        return 0;
    }
    if (strcmp(name, "advertise-host") == 0) {
        snprintf(o->advertise_host, sizeof o->advertise_host, "%s", v);
        return 0;
    }
    if (strcmp(name, "data-dir") == 0) {
        snprintf(o->data_dir, sizeof o->data_dir, "%s", v);
        return 0;
    }
    if (strcmp(name, "import-key") == 0) {
        snprintf(o->import_key, sizeof o->import_key, "%s", v);
        return 0;
    }
    if (strcmp(name, "introducer") == 0) {
        if (s_parse_introducer(o, v) != 0) {
            fprintf(stderr, "socpd: --introducer: expected host:port:pubkey, got '%.80s'\n", v);
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "pub-format") == 0) {
        if (strcmp(v, "der") != 0 && strcmp(v, "pem") != 0 && strcmp(v, "auto") != 0) {
            fprintf(stderr, "socpd: --pub-format: der, pem or auto\n");
            return -1;
        }
        o->pub_format = strcmp(v, "der") == 0   ? SOCPD_PUB_DER
                        : strcmp(v, "pem") == 0 ? SOCPD_PUB_PEM
                                                : SOCPD_PUB_AUTO;
        return 0;
    }
    if (strcmp(name, "key-primes") == 0) {
        if (s_number(name, v, 2, 4, &o->key_primes) != 0 || o->key_primes == 3) {
            fprintf(stderr, "socpd: --key-primes: 2 or 4\n");
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "heartbeat-ms") == 0) {
        return s_number(name, v, 10, 3600000, &o->heartbeat_ms);
    }
    if (strcmp(name, "dead-ms") == 0) {
        return s_number(name, v, 20, 36000000, &o->dead_ms);
    }
    if (strcmp(name, "hello-timeout-ms") == 0) {
        // Also bounds an outgoing dial (TCP connect + WebSocket upgrade) and an
        // incoming upgrade: a peer that accepts but never answers is given up
        // after the same time.
        int rc = s_number(name, v, 10, 600000, &o->hello_timeout_ms);
        o->handshake_timeout_ms = o->hello_timeout_ms;
        o->hello_given = true;
        return rc;
    }
    if (strcmp(name, "idle-hello-ms") == 0) {
        return s_number(name, v, 10, 3600000, &o->idle_hello_ms);
    }
    if (strcmp(name, "rate-limit") == 0) {
        int rc = s_number(name, v, 0, 10000000, &n);
        o->rate = (double) n;
        return rc;
    }
    if (strcmp(name, "rate-burst") == 0) {
        int rc = s_number(name, v, 1, 10000000, &n);
        o->burst = (double) n;
        return rc;
    }
    if (strcmp(name, "max-output-kb") == 0) {
        return s_number(name, v, 300, 1048576, &o->max_output_kb);
    }
    if (strcmp(name, "crypto-workers") == 0) {
        return s_number(name, v, 1, S_WORKERS_MAX, &o->crypto_workers);
    }
    if (strcmp(name, "max-skew-ms") == 0) {
        return s_number(name, v, 1000, 100000000, &o->max_skew_ms);
    }
    if (strcmp(name, "hello-window-ms") == 0) {
        return s_number(name, v, 1000, 3600000, &o->hello_window_ms);
    }
    if (strcmp(name, "hello-rate") == 0 || strcmp(name, "hello-burst") == 0 ||
        strcmp(name, "hello-rate-global") == 0 || strcmp(name, "hello-burst-global") == 0) {
        bool burst = strstr(name, "burst") != NULL;
        int rc = s_number(name, v, burst ? 1 : 0, 1000000, &n);
        double *dst = strcmp(name, "hello-rate") == 0          ? &o->hello_rate
                      : strcmp(name, "hello-burst") == 0       ? &o->hello_burst
                      : strcmp(name, "hello-rate-global") == 0 ? &o->hello_rate_global
                                                               : &o->hello_burst_global;
        *dst = (double) n;
        return rc;
    }
    if (strcmp(name, "unproven-ttl-days") == 0) {
        return s_number(name, v, 0, 36500, &o->unproven_ttl_days);
    }
    if (strcmp(name, "passphrase-file") == 0) {
        if (strlen(v) >= sizeof o->passphrase_file) {
            fprintf(stderr, "socpd: --passphrase-file: path too long\n");
            return -1;
        }
        snprintf(o->passphrase_file, sizeof o->passphrase_file, "%s", v);
        return 0;
    }
    if (strcmp(name, "log-level") == 0) {
        const char *lv[] = {"error", "warn", "info", "debug"};
        for (int i = 0; i < 4; i++) {
            if (strcmp(v, lv[i]) == 0) {
                socp_log_set_level((socp_log_level_t) i);
                return 0;
            }
        }
        fprintf(stderr, "socpd: --log-level: error|warn|info|debug\n");
        return -1;
    }
    if (strcmp(name, "config") == 0) {
        return s_config(o, v);
    }
    fprintf(stderr, "socpd: unknown option '%s' (see --help)\n", name);
    return -1;
}

static int
s_config(s_opts_t *o, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "socpd: cannot read config %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line;
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        size_t len = strlen(s);
        while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ')) {
            s[--len] = '\0';
        }
        if (!*s || *s == '#') {
            continue;
        }
        char *eq = strchr(s, '=');
        char *name = s, *val = NULL;
        if (eq) {
            *eq = '\0';
            val = eq + 1;
            while (*val == ' ' || *val == '\t') {
                val++;
            }
        }
        size_t nl = strlen(name);
        while (nl && (name[nl - 1] == ' ' || name[nl - 1] == '\t')) {
            name[--nl] = '\0';
        }
        if (strcmp(name, "config") == 0) {
            fprintf(stderr, "socpd: %s:%d: nested config files are not allowed\n", path, lineno);
            rc = -1;
            break;
        }
        bool needs = false;
        int r = s_apply(o, name, val, &needs);
        if (r == 1) {
            fprintf(stderr, "socpd: %s:%d: '%s' needs a value\n", path, lineno, name);
            rc = -1;
        } else if (r != 0) {
            fprintf(stderr, "socpd: %s:%d: invalid line\n", path, lineno);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

#define S_PASS_MAX 1024

// SOCPD_PASSPHRASE, taken out of the environment at start (s_take_env_passphrase):
// a copy in locked memory, or NULL.
static char *s_env_pass;

// Copies SOCPD_PASSPHRASE into locked memory and removes it from the
// environment: unset, and its bytes in the process's environment block wiped
// (unsetenv alone leaves them readable in /proc/PID/environ and in core
// dumps). Called first thing in main, before any thread exists.
static void
s_take_env_passphrase(void)
{
    static const char name[] = "SOCPD_PASSPHRASE";
    const size_t nlen = sizeof name - 1;
    char *found[16];
    size_t n = 0;
    for (char **e = environ; e && *e && n < SOCP_ARRAY_LEN(found); e++) {
        if (strncmp(*e, name, nlen) == 0 && (*e)[nlen] == '=') {
            found[n++] = *e;
        }
    }
    if (n == 0) {
        return;
    }
    const char *value = found[0] + nlen + 1;
    if (*value && strlen(value) < S_PASS_MAX) {
        s_env_pass = sodium_malloc(S_PASS_MAX);
        if (s_env_pass) {
            snprintf(s_env_pass, S_PASS_MAX, "%s", value);
        }
    }
    (void) unsetenv(name); // every entry of that name leaves environ
    for (size_t i = 0; i < n; i++) {
        sodium_memzero(found[i], strlen(found[i])); // the bytes themselves
    }
}

// Reads the first line of `path` (without its line end) into buf.
static int
s_read_passphrase_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "socpd: --passphrase-file %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0) {
        fprintf(stderr, "socpd: warning: %s can be read by other users (chmod 600 it)\n", path);
    }
    char *r = fgets(buf, (int) size, f);
    fclose(f);
    if (!r) {
        fprintf(stderr, "socpd: --passphrase-file %s: empty\n", path);
        return -1;
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!buf[0]) {
        fprintf(stderr, "socpd: --passphrase-file %s: the first line is empty\n", path);
        return -1;
    }
    return 0;
}

static int
s_read_passphrase(const s_opts_t *o, char *buf, size_t size)
{
    if (o->passphrase_file[0]) {
        return s_read_passphrase_file(o->passphrase_file, buf, size);
    }
    if (s_env_pass) {
        snprintf(buf, size, "%s", s_env_pass);
        return 0;
    }
    if (!isatty(STDIN_FILENO)) {
        fprintf(stderr, "socpd: the server key is encrypted: use --passphrase-file, set "
                        "SOCPD_PASSPHRASE or run on a terminal (or --plain-key for tests)\n");
        return -1;
    }
    fprintf(stderr, "server key passphrase: ");
    struct termios old, quiet;
    bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t) ECHO;
        (void) tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    char *r = fgets(buf, (int) size, stdin);
    if (tty) {
        (void) tcsetattr(STDIN_FILENO, TCSANOW, &old);
    }
    fprintf(stderr, "\n");
    if (!r) {
        return -1;
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    return buf[0] ? 0 : -1;
}

// Loads DIR/server.key, or creates it (imported PEM or a fresh key).
static int
s_identity(const s_opts_t *o, socp_rsa_key_t **key)
{
    char path[2200];
    snprintf(path, sizeof path, "%s/server.key", o->data_dir);
    char *pass = sodium_malloc(S_PASS_MAX);
    if (!pass) {
        return SOCP_ENOMEM;
    }
    pass[0] = '\0';
    const char *why = NULL;
    bool encrypted = false;
    int rc = socp_keyfile_is_encrypted(path, &encrypted, &why);
    if (rc == 0) {
        if (encrypted && s_read_passphrase(o, pass, S_PASS_MAX) != 0) {
            sodium_free(pass);
            return SOCP_EAUTH;
        }
        rc = socp_keyfile_load(path, pass, strlen(pass), key, &why);
        if (rc != 0) {
            fprintf(stderr, "socpd: %s: %s\n", path, why ? why : socp_strerror(rc));
        }
        sodium_free(pass);
        return rc;
    }
    if (rc != SOCP_ENOTFOUND) {
        fprintf(stderr, "socpd: %s: %s\n", path, why ? why : socp_strerror(rc));
        sodium_free(pass);
        return rc;
    }
    if (o->import_key[0]) {
        FILE *f = fopen(o->import_key, "rb");
        uint8_t *pem = sodium_malloc(SOCP_RSA_IMPORT_MAX);
        size_t len = f && pem ? fread(pem, 1, SOCP_RSA_IMPORT_MAX, f) : 0;
        if (f) {
            fclose(f);
        }
        rc = len ? socp_rsa_private_import(pem, len, key) : SOCP_EIO;
        if (pem) {
            sodium_free(pem);
        }
        if (rc != 0) {
            fprintf(stderr, "socpd: --import-key %s: %s\n", o->import_key, socp_strerror(rc));
            sodium_free(pass);
            return rc;
        }
    } else {
        socp_info("generating the server key (RSA-4096, %ld primes)", o->key_primes);
        rc = socp_rsa_generate((unsigned) o->key_primes, NULL, NULL, key);
        if (rc != 0) {
            sodium_free(pass);
            return rc;
        }
    }
    if (o->plain_key) {
        rc = socp_keyfile_save_plain(path, *key);
    } else if (s_read_passphrase(o, pass, S_PASS_MAX) == 0) {
        rc = socp_keyfile_save(path, *key, pass, strlen(pass), NULL);
    } else {
        rc = SOCP_EAUTH;
    }
    sodium_free(pass);
    if (rc != 0) {
        fprintf(stderr, "socpd: cannot write %s: %s\n", path, socp_strerror(rc));
        socp_rsa_destroy(key);
    }
    return rc;
}

int
main(int argc, char **argv)
{
    (void) socp_platform_no_dump(); // no core dump, no ptrace by others: the key is in memory
    // The server key's private numbers (one copy per crypto worker) in
    // locked memory left out of dumps (ADR 0016); before any thread starts.
    if (socp_rsa_secure_heap(1024u * 1024u) < 0) {
        fprintf(stderr, "socpd: warning: no secure heap for the server key\n");
    }
    socp_platform_block_signals();
    if (sodium_init() < 0) {
        fprintf(stderr, "socpd: libsodium failed to start\n");
        return 1;
    }
    s_take_env_passphrase();
    s_opts_t o;
    memset(&o, 0, sizeof o);
    snprintf(o.host, sizeof o.host, "127.0.0.1");
    o.port = 8765;
    snprintf(o.data_dir, sizeof o.data_dir, "socpd-data");
    o.key_primes = 4;
    o.heartbeat_ms = 15000;
    o.dead_ms = 45000;
    o.hello_timeout_ms = 5000;
    o.idle_hello_ms = -1;
    o.handshake_timeout_ms = 5000;
    o.rate = 200;
    o.burst = 0;
    o.max_skew_ms = 600000;
    o.hello_window_ms = 120000;
    o.hello_rate = 50;
    o.hello_rate_global = 200;
    o.unproven_ttl_days = 30;
    o.max_output_kb = 4096;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o.crypto_workers = cores > 0 ? (cores > S_WORKERS_MAX ? S_WORKERS_MAX : cores) : 2;
    const char *env = getenv("SOCPD_PLAIN_KEY");
    o.plain_key = env && strcmp(env, "1") == 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_usage(stdout);
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            printf("socpd %s (SOCP v1.3)\n", SOCP_VERSION);
            return 0;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "socpd: unexpected argument '%s' (see --help)\n", a);
            return 2;
        }
        char name[64];
        const char *val = NULL;
        const char *eq = strchr(a + 2, '=');
        size_t nl = eq ? (size_t) (eq - a - 2) : strlen(a + 2);
        if (nl >= sizeof name) {
            fprintf(stderr, "socpd: unknown option '%s'\n", a);
            return 2;
        }
        memcpy(name, a + 2, nl);
        name[nl] = '\0';
        if (eq) {
            val = eq + 1;
        }
        bool needs = false;
        int r = s_apply(&o, name, val, &needs);
        if (r == 1) {
            if (i + 1 >= argc) {
                fprintf(stderr, "socpd: --%s needs a value\n", name);
                return 2;
            }
            r = s_apply(&o, name, argv[++i], &needs);
        }
        if (r != 0) {
            return 2;
        }
    }
    if (o.burst <= 0) {
        o.burst = o.rate > 0 ? o.rate * 2 : 1;
    }
    if (o.hello_burst <= 0) {
        o.hello_burst = o.hello_rate > 0 ? o.hello_rate * 4 : 1;
    }
    if (o.hello_burst_global <= 0) {
        o.hello_burst_global = o.hello_rate_global > 0 ? o.hello_rate_global * 2 : 1;
    }
    if (o.dead_ms <= o.heartbeat_ms) {
        fprintf(stderr, "socpd: --dead-ms must be larger than --heartbeat-ms\n");
        return 2;
    }
    if (mkdir(o.data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "socpd: cannot create %s: %s\n", o.data_dir, strerror(errno));
        return 1;
    }

    socp_rsa_key_t *key = NULL;
    int irc = s_identity(&o, &key);
    if (s_env_pass) {
        sodium_free(s_env_pass); // wiped; the key is loaded (or not) by now
        s_env_pass = NULL;
    }
    if (irc != 0) {
        return 1;
    }
    char *pubkey = NULL, *pubkey_pem = NULL;
    if (socp_rsa_public_export(key, SOCP_RSA_PUB_B64_DER, &pubkey) != 0 ||
        socp_rsa_public_export(key, SOCP_RSA_PUB_B64_PEM, &pubkey_pem) != 0) {
        free(pubkey);
        socp_rsa_destroy(&key);
        return 1;
    }
    if (o.print_pubkey) {
        printf("%s\n", o.pub_format == SOCPD_PUB_PEM ? pubkey_pem : pubkey);
        free(pubkey);
        free(pubkey_pem);
        socp_rsa_destroy(&key);
        return 0;
    }
    // Server id: persisted in the database.
    char server_id[SOCP_UUID_BUF + 92] = "";
    socpd_store_t *store = NULL;
    if (socpd_store_open(o.data_dir, 0, &store) != 0) {
        fprintf(stderr, "socpd: cannot open the database in %s\n", o.data_dir);
        return 1;
    }
    char *stored = NULL;
    if (socpd_store_meta_get(store, "server_id", &stored) == 0 &&
        socp_uuid_is_peer_id(stored, strlen(stored)) && strlen(stored) < sizeof server_id) {
        snprintf(server_id, sizeof server_id, "%s", stored);
    } else {
        socp_uuid_generate(server_id);
        if (socpd_store_meta_put(store, "server_id", server_id) != 0) {
            fprintf(stderr, "socpd: cannot write the server id\n");
            return 1;
        }
    }
    free(stored);
    socpd_store_close(&store);

    int lfd = -1;
    uint16_t port = 0;
    if (socp_tcp_listen(o.host, (uint16_t) o.port, 512, &lfd, &port) != 0) {
        fprintf(stderr, "socpd: cannot listen on %s:%ld: %s\n", o.host, o.port, strerror(errno));
        return 1;
    }

    // Key material for the workers: DER in locked memory, wiped after start.
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (socp_rsa_private_export(key, SOCP_RSA_PRIV_DER, &der, &der_len) != 0) {
        return 1;
    }
    socp_rsa_destroy(&key);

    socp_bus_t *bus = NULL;
    socp_sup_t *sup = NULL;
    if (socp_bus_new(&bus) != 0 || socp_sup_new(bus, true, &sup) != 0) {
        return 1;
    }
    socpd_crypto_args_t cargs = {.key_der = der, .key_len = der_len, .salt = SOCP_RSA_SALT_MAX};
    socp_actor_opts_t aopts = {.inbox_hwm = 10000, .peer_hwm = 10000, .outbox_max = 1000000};
    int rc = 0;
    for (long i = 0; i < o.crypto_workers && rc == 0; i++) {
        char name[32];
        snprintf(name, sizeof name, "socpd_crypto%ld", i);
        rc = socp_sup_start(sup, name, socpd_crypto_actor, &cargs, &aopts);
    }
    sodium_free(der); // wiped by sodium_free
    socpd_router_args_t rargs;
    memset(&rargs, 0, sizeof rargs);
    rargs.server_id = server_id;
    rargs.host = o.advertise_host[0] ? o.advertise_host : o.host;
    rargs.port = port;
    rargs.pubkey = pubkey;
    rargs.pubkey_pem = pubkey_pem;
    rargs.pub_format = o.pub_format;
    rargs.data_dir = o.data_dir;
    rargs.crypto_workers = (int) o.crypto_workers;
    rargs.hello_timeout_ms = (int) o.hello_timeout_ms;
    rargs.idle_hello_ms = (int) (o.idle_hello_ms >= 0 ? o.idle_hello_ms
                                 : o.hello_given      ? o.hello_timeout_ms
                                                      : 300000);
    rargs.heartbeat_ms = (int) o.heartbeat_ms;
    rargs.dead_ms = (int) o.dead_ms;
    rargs.max_skew_ms = o.max_skew_ms;
    rargs.require_user_sig = !o.allow_unsigned;
    rargs.hello_window_ms = o.hello_window_ms;
    rargs.hello_rate = o.hello_rate;
    rargs.hello_burst = o.hello_burst;
    rargs.hello_rate_global = o.hello_rate_global;
    rargs.hello_burst_global = o.hello_burst_global;
    rargs.unproven_ttl_days = (int) o.unproven_ttl_days;
    rargs.n_introducers = o.n_intro;
    memcpy(rargs.introducers, o.intro, sizeof o.intro);
    if (rc == 0) {
        rc = socp_sup_start(sup, "socpd_router", socpd_router_actor, &rargs, &aopts);
    }
    socpd_net_args_t nargs = {
        .listen_fd = lfd,
        .handshake_timeout_ms = (int) o.handshake_timeout_ms,
        .rate = o.rate,
        .burst = o.burst,
        .max_output = (size_t) o.max_output_kb * 1024u,
        .server_id = server_id,
    };
    if (rc == 0) {
        rc = socp_sup_start(sup, "socpd_net", socpd_net_actor, &nargs, &aopts);
    }
    if (rc != 0) {
        fprintf(stderr, "socpd: cannot start: %s\n", socp_strerror(rc));
        socp_sup_destroy(&sup);
        (void) socp_bus_destroy(&bus);
        free(pubkey);
        free(pubkey_pem);
        return 1;
    }
    printf("listening ws://%s:%u id=%s\n", o.host, (unsigned) port, server_id);
    fflush(stdout);
    socp_info("socpd %s listening on %s:%u as %s (%ld crypto workers, %zu introducers)",
              SOCP_VERSION, o.host, (unsigned) port, server_id, o.crypto_workers, o.n_intro);

    int status = 0;
    for (;;) {
        socp_sup_event_t ev;
        if (socp_sup_wait(sup, -1, &ev) != 0) {
            continue;
        }
        if (ev.kind == SOCP_SUP_SIGNAL) {
            if (ev.signo == SIGHUP) {
                continue;
            }
            socp_info("signal %d: stopping", ev.signo);
            break;
        }
        if (ev.kind == SOCP_SUP_FAULT) {
            socp_warn("actor %s fault %d: %s", ev.actor, ev.code, ev.detail);
            continue;
        }
        if (ev.kind == SOCP_SUP_EXIT) {
            socp_error("actor %s exited (%d): stopping", ev.actor, ev.code);
            status = 1;
            break;
        }
    }
    (void) socp_sup_stop(sup, 800);
    socp_sup_destroy(&sup);
    (void) socp_bus_destroy(&bus);
    free(pubkey);
    free(pubkey_pem);
    socp_info("stopped");
    return status;
}
