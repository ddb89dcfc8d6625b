// socp_bridge_main.c: `socp bridge`: flags, identity, and the client's actor
// set with the bridge actor in place of the terminal ui.
// Part of socp, a SOCP v1.3 client and server.
//
// Exit codes as for socp: 0 ok; 1 runtime failure; 2 usage / configuration;
// 3 identity (key file, passphrase). Logs go to stderr only; stdout carries
// JSON-RPC (with --stdio) and nothing else.
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    "usage: socp bridge --server URL --data-dir DIR (--stdio | --zmq-bind EP) [options]\n"
    "  --stdio               JSON-RPC 2.0 on stdin/stdout, one object per line\n"
    "  --zmq-bind EP         requests on a ROUTER at EP (tcp://127.0.0.1:PORT or ipc://PATH)\n"
    "  --zmq-pub EP          events on an XPUB at EP (default: tcp port+1, or ipc PATH.pub)\n"
    "  --zmq-format F        msgpack (default) or json payloads on ZeroMQ\n"
    "  --event-hwm N         events queued per subscriber before they are dropped and counted\n"
    "  --max-inflight N      items accepted but not yet durable before sends get 'busy' (4096)\n"
    "  --name NAME           display name (saved)\n"
    "  --plain-key           keep the private key unencrypted (or SOCP_PLAIN_KEY=1)\n"
    "  --import-key PATH     create the identity from an RSA-4096 PKCS#8 PEM key\n"
    "  --primes 2|4          primes of a new key (default 4)\n"
    "  --workers N           crypto workers (default: number of cores)\n"
    "  --file-rate N         file frames per second at most (default 150, 0: no limit)\n"
    "  --heartbeat MS, --dead MS   link timing (defaults 15000, 45000)\n"
    "An encrypted key's passphrase comes from SOCP_PASSPHRASE (no terminal is used).\n"
    "See docs/bridge.md for the methods and notifications.\n";

typedef struct {
    const char *server, *data_dir, *name, *import_key, *zmq_bind, *zmq_pub;
    bool plain, use_stdio, zmq_json;
    unsigned primes, workers, file_rate;
    uint64_t heartbeat, dead, max_inflight, event_hwm;
} s_opts_t;

static int s_die(int code, const char *fmt, ...) SOCP_PRINTF(2, 3);

static int
s_die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "socp bridge: ");
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
        } else if (strcmp(a, "--plain-key") == 0) {
            o->plain = true;
            continue;
        } else if (strcmp(a, "--stdio") == 0) {
            o->use_stdio = true;
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
        } else if (strcmp(a, "--zmq-bind") == 0) {
            o->zmq_bind = v;
        } else if (strcmp(a, "--zmq-pub") == 0) {
            o->zmq_pub = v;
        } else if (strcmp(a, "--zmq-format") == 0 &&
                   (strcmp(v, "msgpack") == 0 || strcmp(v, "json") == 0)) {
            o->zmq_json = v[0] == 'j';
        } else if (strcmp(a, "--primes") == 0 && (strcmp(v, "2") == 0 || strcmp(v, "4") == 0)) {
            o->primes = (unsigned) (v[0] - '0');
        } else if (strcmp(a, "--heartbeat") == 0 && s_num(v, 100, 3600000, &n)) {
            o->heartbeat = n;
        } else if (strcmp(a, "--dead") == 0 && s_num(v, 300, 3600000, &n)) {
            o->dead = n;
        } else if (strcmp(a, "--file-rate") == 0 && s_num(v, 0, 1000000, &n)) {
            o->file_rate = (unsigned) n;
        } else if (strcmp(a, "--workers") == 0 && s_num(v, 1, SOCP_CLIENT_CRYPTO_MAX, &n)) {
            o->workers = (unsigned) n;
        } else if (strcmp(a, "--max-inflight") == 0 && s_num(v, 1, 1000000, &n)) {
            o->max_inflight = n;
        } else if (strcmp(a, "--event-hwm") == 0 && s_num(v, 1, 10000000, &n)) {
            o->event_hwm = n;
        } else {
            return s_die(2, "bad option or value: %s (see --help)", a);
        }
    }
    return 0;
}

// Loads the identity of the data directory, or creates one (same files as
// the terminal client; the passphrase only from SOCP_PASSPHRASE).
static int
s_identity(const s_opts_t *o, char user_id[SOCP_UUID_BUF], socp_rsa_key_t **key)
{
    socp_identity_opts_t io = {.who = "socp bridge",
                               .data_dir = o->data_dir,
                               .import_key = o->import_key,
                               .primes = o->primes,
                               .plain = o->plain};
    return socp_client_identity(&io, user_id, key);
}

int
socp_bridge_main(int argc, char **argv)
{
    socp_platform_block_signals();
    s_opts_t o = {.server = "ws://127.0.0.1:8765", .primes = 4, .file_rate = 150};
    int rc = s_parse(argc, argv, &o);
    if (rc != 0) {
        return rc;
    }
    if (!o.use_stdio && !o.zmq_bind) {
        return s_die(2, "%s", "choose a front end: --stdio and/or --zmq-bind EP (see --help)");
    }
    if (o.zmq_pub && !o.zmq_bind) {
        return s_die(2, "%s", "--zmq-pub needs --zmq-bind");
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
    if ((rc = socp_ws_parse_url(o.server, host, &port, path)) != 0) {
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
    socp_client_wire_t wire = {0};
    if (socp_client_key_fp(key, fp) != 0 ||
        socp_rsa_public_export(key, wire.pub_format, &pub) != 0) {
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
    socp_client_crypto_args_t cargs[SOCP_CLIENT_CRYPTO_MAX];
    memset(cargs, 0, sizeof cargs);
    for (unsigned i = 0; i < workers; i++) {
        cargs[i].user_id = user_id;
        cargs[i].wire = wire;
        if (socp_rsa_private_export(key, SOCP_RSA_PRIV_DER, &cargs[i].key_der,
                                    &cargs[i].key_der_len) != 0) {
            for (unsigned k = 0; k < i; k++) {
                sodium_memzero(cargs[k].key_der, cargs[k].key_der_len);
                sodium_free(cargs[k].key_der);
            }
            socp_rsa_destroy(&key);
            free(pub);
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
    socp_bridge_args_t bargs = {.user_id = user_id,
                                .data_dir = o.data_dir,
                                .server_url = o.server,
                                .fingerprint = fp,
                                .display_name = o.name,
                                .crypto_workers = workers,
                                .file_rate = o.file_rate,
                                .use_stdio = o.use_stdio,
                                .in_fd = STDIN_FILENO,
                                .out_fd = STDOUT_FILENO,
                                .zmq_bind = o.zmq_bind,
                                .zmq_pub = o.zmq_pub,
                                .zmq_json = o.zmq_json,
                                .event_hwm = (int) o.event_hwm,
                                .max_inflight = (size_t) o.max_inflight};
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
    // The bridge is started before net so that no presence is missed.
    if ((rc = socp_sup_start(sup, "ui", socp_bridge_actor, &bargs, NULL)) != 0 ||
        (rc = socp_sup_start(sup, "net", socp_client_net_actor, &nargs, NULL)) != 0) {
        exit_code = s_die(1, "cannot start: %s", socp_strerror(rc));
        goto out;
    }
    socp_info("bridge: %s as %s", o.server, user_id);
    for (;;) {
        socp_sup_event_t ev;
        if (socp_sup_wait(sup, -1, &ev) < 0) {
            break;
        }
        if (ev.kind == SOCP_SUP_SIGNAL || ev.kind == SOCP_SUP_EXIT) {
            if (ev.kind == SOCP_SUP_EXIT && ev.code != 0) {
                fprintf(stderr, "socp bridge: %s stopped: %s\n", ev.actor, socp_strerror(ev.code));
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
        if (cargs[i].key_der) {
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
