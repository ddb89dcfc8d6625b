// socp_client_main.c: what the client front ends' main() functions share
// (see the header). Part of socp, a SOCP v1.3 client and server.
#include "socp/socp_client_main.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "socp/socp_account.h"
#include "socp/socp_client_secret.h"
#include "socp/socp_err.h"
#include "socp/socp_log.h"
#include "socp/socp_platform.h"
#include "socp/socp_sup.h"
#include "socp/socp_uuid.h"

long
socp_client_read_tty(const char *prompt, char *out, size_t cap)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        return -1;
    }
    struct termios old, t;
    bool tty = tcgetattr(fd, &old) == 0;
    if (tty) {
        t = old;
        t.c_lflag &= (tcflag_t) ~ECHO;
        (void) tcsetattr(fd, TCSAFLUSH, &t);
    }
    if (write(fd, prompt, strlen(prompt)) < 0) {
        // the read below still works
    }
    size_t n = 0;
    char c;
    while (n + 1 < cap && read(fd, &c, 1) == 1 && c != '\n') {
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
    return n ? (long) n : -1;
}

int
socp_client_die(const char *who, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", who);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return code;
}

void
socp_client_opts_init(socp_client_opts_t *o, const char *who)
{
    memset(o, 0, sizeof *o);
    o->who = who;
    o->server = "ws://127.0.0.1:8765";
    o->primes = 4;
    o->file_rate = 190;
    o->wire.pub_auto = true; // DER, or PEM for a server that presents PEM keys
    o->wire.sig_auto = true; // the form each recipient signs in (ADR 0014)
}

bool
socp_client_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
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

// Two-word choice: true (and *first) when v is one of them.
static bool
s_pick(const char *v, const char *one, const char *two, bool *first)
{
    *first = strcmp(v, one) == 0;
    return *first || strcmp(v, two) == 0;
}

int
socp_client_opts_take(socp_client_opts_t *o, const char *a, const char *v)
{
    if (strcmp(a, "--plain-key") == 0) {
        o->plain = true;
        return 1;
    }
    if (strcmp(a, "--account") == 0) {
        if (!v || !socp_account_name_ok(v, strlen(v))) {
            return -1; // 1-64 characters, no spaces or control characters
        }
        o->account = v;
        return 2;
    }
    if (strcmp(a, "--passphrase-file") == 0) {
        if (!v) {
            return -1;
        }
        o->pass_file = v; // read by socp_client_opts_check
        return 2;
    }
    static const char *const valued[] = {
        "--server",     "--data-dir",  "--name",      "--import-key", "--primes",
        "--pub-format", "--sig-form",  "--pss-salt",  "--heartbeat",  "--dead",
        "--workers",    "--file-rate", "--file-idle", "--hold"};
    size_t i = 0;
    while (i < SOCP_ARRAY_LEN(valued) && strcmp(a, valued[i]) != 0) {
        i++;
    }
    if (i == SOCP_ARRAY_LEN(valued)) {
        return 0;
    }
    if (!v) {
        return -1;
    }
    uint64_t n = 0;
    bool first = false;
    if (strcmp(a, "--server") == 0) {
        o->server = v;
    } else if (strcmp(a, "--data-dir") == 0) {
        o->data_dir = v;
    } else if (strcmp(a, "--name") == 0) {
        o->name = v;
    } else if (strcmp(a, "--import-key") == 0) {
        o->import_key = v;
    } else if (strcmp(a, "--primes") == 0 && s_pick(v, "2", "4", &first)) {
        o->primes = first ? 2 : 4;
    } else if (strcmp(a, "--pub-format") == 0 && strcmp(v, "auto") == 0) {
        o->wire.pub_format = SOCP_RSA_PUB_B64_DER;
        o->wire.pub_auto = true;
    } else if (strcmp(a, "--pub-format") == 0 && s_pick(v, "der", "pem", &first)) {
        o->wire.pub_format = first ? SOCP_RSA_PUB_B64_DER : SOCP_RSA_PUB_B64_PEM;
        o->wire.pub_auto = false; // an explicit form always wins
    } else if (strcmp(a, "--sig-form") == 0 && strcmp(v, "auto") == 0) {
        o->wire.sig_emit = SOCP_SIG_EMIT_STRING;
        o->wire.sig_auto = true;
        o->sig_form_given = true;
    } else if (strcmp(a, "--sig-form") == 0 && s_pick(v, "string", "bytes", &first)) {
        o->wire.sig_emit = first ? SOCP_SIG_EMIT_STRING : SOCP_SIG_EMIT_RAW;
        o->wire.sig_auto = false; // an explicit form is used for everyone
        o->sig_form_given = true;
    } else if (strcmp(a, "--pss-salt") == 0 && s_pick(v, "max", "32", &first)) {
        o->wire.salt = first ? SOCP_RSA_SALT_MAX : SOCP_RSA_SALT_32;
    } else if (strcmp(a, "--heartbeat") == 0 && socp_client_parse_u64(v, 100, 3600000, &n)) {
        o->heartbeat = n;
    } else if (strcmp(a, "--dead") == 0 && socp_client_parse_u64(v, 300, 3600000, &n)) {
        o->dead = n;
    } else if (strcmp(a, "--file-rate") == 0 && socp_client_parse_u64(v, 0, 1000000, &n)) {
        o->file_rate = (unsigned) n;
    } else if (strcmp(a, "--file-idle") == 0 && socp_client_parse_u64(v, 500, 3600000, &n)) {
        o->file_idle = n;
    } else if (strcmp(a, "--hold") == 0 &&
               socp_client_parse_u64(v, 1000, 366ull * 24 * 3600 * 1000, &n)) {
        o->hold = n;
    } else if (strcmp(a, "--workers") == 0 &&
               socp_client_parse_u64(v, 1, SOCP_CLIENT_CRYPTO_MAX, &n)) {
        o->workers = (unsigned) n;
    } else {
        return -1;
    }
    return 2;
}

int
socp_client_opts_check(socp_client_opts_t *o)
{
    // First: the passphrase (or password) out of the environment, whatever
    // else goes wrong after.
    const char *why = NULL;
    if (socp_client_secret_load(o->pass_file, o->account != NULL, &why) != 0) {
        return socp_client_die(o->who, 3, "%s%s%s", o->pass_file ? o->pass_file : "",
                               o->pass_file ? ": " : "", why);
    }
    if (!o->data_dir) {
        const char *home = getenv("SOCP_HOME");
        o->data_dir = home && *home ? home : "./.socp";
    }
    const char *plain = getenv("SOCP_PLAIN_KEY");
    if (plain && strcmp(plain, "1") == 0) {
        o->plain = true;
    }
    if (o->name && (strlen(o->name) > 64 || !socp_uuid_is_peer_id(o->name, strlen(o->name)))) {
        return socp_client_die(o->who, 2, "bad --name: %s (1-64 printable characters)", o->name);
    }
    char path[SOCP_WS_PATH_MAX];
    int rc = socp_ws_parse_url(o->server, o->host, &o->port, path);
    if (rc != 0) {
        return socp_client_die(o->who, 2,
                               rc == SOCP_EUNSUPPORTED ? "wss:// is not supported: %s"
                                                       : "bad server URL: %s",
                               o->server);
    }
    if (sodium_init() < 0) {
        return socp_client_die(o->who, 1, "%s", "libsodium failed to start");
    }
    if (mkdir(o->data_dir, 0700) == 0) {
        (void) socp_platform_sync_parent(o->data_dir); // its name survives a crash
    } else if (errno != EEXIST) {
        return socp_client_die(o->who, 2, "cannot create the data directory %s", o->data_dir);
    }
    struct stat st;
    if (stat(o->data_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return socp_client_die(o->who, 2, "%s is not a directory", o->data_dir);
    }
    if ((st.st_mode & 077) && chmod(o->data_dir, 0700) != 0) {
        return socp_client_die(o->who, 2, "cannot restrict %s to mode 0700", o->data_dir);
    }
    return 0;
}

int
socp_client_self_init(const socp_client_opts_t *o,
                      const char *user_id,
                      socp_rsa_key_t **key,
                      socp_client_self_t *self)
{
    memset(self, 0, sizeof *self);
    socp_client_secret_forget(); // the key is loaded: the passphrase has done its work
    self->user_id = user_id;
    if (socp_client_key_fp(*key, self->fp) != 0 ||
        socp_rsa_public_export(*key, o->wire.pub_format, &self->pub) != 0 ||
        (o->wire.pub_auto &&
         socp_rsa_public_export(*key, SOCP_RSA_PUB_B64_PEM, &self->pub_pem) != 0)) {
        free(self->pub);
        self->pub = NULL;
        socp_rsa_destroy(key);
        return socp_client_die(o->who, 1, "%s", "cannot export the public key");
    }
    unsigned workers = o->workers;
    if (!workers) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        workers = cores < 1                        ? 1
                  : cores > SOCP_CLIENT_CRYPTO_MAX ? SOCP_CLIENT_CRYPTO_MAX
                                                   : (unsigned) cores;
    }
    self->workers = workers;
    self->key = *key;
    *key = NULL;
    return 0;
}

static void
s_wipe_copies(socp_client_crypto_args_t *cargs, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (cargs[i].key_der) { // a worker that never started
            sodium_memzero(cargs[i].key_der, cargs[i].key_der_len);
            sodium_free(cargs[i].key_der);
            cargs[i].key_der = NULL;
        }
    }
}

int
socp_client_run(const socp_client_opts_t *o,
                socp_client_self_t *self,
                const socp_client_front_t *front)
{
    // Each worker gets its own copy of the key (sodium memory, wiped by it).
    socp_client_crypto_args_t cargs[SOCP_CLIENT_CRYPTO_MAX];
    memset(cargs, 0, sizeof cargs);
    int exit_code = 0;
    for (unsigned i = 0; i < self->workers && exit_code == 0; i++) {
        cargs[i].user_id = self->user_id;
        cargs[i].wire = o->wire;
        if (socp_rsa_private_export(self->key, SOCP_RSA_PRIV_DER, &cargs[i].key_der,
                                    &cargs[i].key_der_len) != 0) {
            exit_code =
                socp_client_die(o->who, 1, "%s", "cannot hand the key to the crypto workers");
        }
    }
    socp_rsa_destroy(&self->key);
    uint8_t *history_key = sodium_malloc(32);
    if (!history_key && exit_code == 0) {
        exit_code = socp_client_die(o->who, 1, "%s", "out of secure memory");
    }
    if (exit_code == 0) {
        socp_client_history_key(cargs[0].key_der, cargs[0].key_der_len, history_key);
    }
    char server[SOCP_WS_HOST_MAX + 16];
    snprintf(server, sizeof server, "%s:%u", o->host, (unsigned) o->port);
    socp_client_store_args_t sargs = {.data_dir = o->data_dir,
                                      .history_key = history_key,
                                      .server = server,
                                      .file_idle_ms = o->file_idle,
                                      .hold_ms = o->hold};
    socp_client_net_args_t nargs = {.host = o->host,
                                    .port = o->port,
                                    .user_id = self->user_id,
                                    .pubkey = self->pub,
                                    .pubkey_pem = self->pub_pem,
                                    .pub_auto = o->wire.pub_auto,
                                    .display_name = o->name ? o->name : "",
                                    .crypto_workers = self->workers,
                                    .heartbeat_ms = o->heartbeat,
                                    .dead_ms = o->dead,
                                    .account = o->account,
                                    .account_pass = o->account_pass,
                                    .account_pass_len = o->account_pass_len};
    socp_bus_t *bus = NULL;
    socp_sup_t *sup = NULL;
    int rc;
    if (exit_code != 0) {
        goto out;
    }
    if (socp_bus_new(&bus) != 0 || socp_sup_new(bus, true, &sup) != 0) {
        exit_code = socp_client_die(o->who, 1, "%s", "cannot start the message bus");
        goto out;
    }
    rc = socp_sup_start(sup, "store", socp_client_store_actor, &sargs, NULL);
    sodium_free(history_key); // the store keeps its own copy
    history_key = NULL;
    if (rc != 0) {
        exit_code = socp_client_die(o->who, 1, "cannot open the database: %s",
                                    rc == SOCP_EBADKEY ? "its history was sealed with another key"
                                                       : socp_strerror(rc));
        goto out;
    }
    // A turn of 8 RSA operations: TERM is seen within ~10 ms.
    socp_actor_opts_t crypto_opts = {.batch = 8};
    for (unsigned i = 0; i < self->workers; i++) {
        char name[SOCP_ACTOR_NAME_MAX + 1];
        snprintf(name, sizeof name, "crypto%u", i);
        if ((rc = socp_sup_start(sup, name, socp_client_crypto_actor, &cargs[i], &crypto_opts)) !=
            0) {
            exit_code = socp_client_die(o->who, 1, "cannot start the crypto workers: %s",
                                        socp_strerror(rc));
            goto out;
        }
    }
    if (front->before_net) {
        rc = socp_sup_start(sup, "ui", front->fn, front->args, NULL);
        rc = rc ? rc : socp_sup_start(sup, "net", socp_client_net_actor, &nargs, NULL);
    } else {
        rc = socp_sup_start(sup, "net", socp_client_net_actor, &nargs, NULL);
        rc = rc ? rc : socp_sup_start(sup, "ui", front->fn, front->args, NULL);
    }
    if (rc != 0) {
        exit_code = socp_client_die(o->who, 1, "cannot start: %s", socp_strerror(rc));
        goto out;
    }
    if (front->banner) {
        socp_info("%s", front->banner);
    }
    for (;;) {
        socp_sup_event_t ev;
        if (socp_sup_wait(sup, -1, &ev) < 0) {
            break;
        }
        if (ev.kind == SOCP_SUP_SIGNAL || ev.kind == SOCP_SUP_EXIT) {
            if (ev.kind == SOCP_SUP_EXIT && ev.code != 0) {
                exit_code =
                    socp_client_die(o->who, 1, "%s stopped: %s", ev.actor, socp_strerror(ev.code));
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
    sodium_free(history_key);
    s_wipe_copies(cargs, self->workers);
    if (bus) {
        (void) socp_bus_destroy(&bus);
    }
    free(self->pub);
    self->pub = NULL;
    free(self->pub_pem);
    self->pub_pem = NULL;
    return exit_code;
}
