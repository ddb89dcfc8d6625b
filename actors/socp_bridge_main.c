// socp_bridge_main.c: `socp bridge`: flags, identity, and the client's actor
// set with the bridge actor in place of the terminal ui.
// Part of socp, a SOCP v1.3 client and server.
//
// Exit codes as for socp: 0 ok; 1 runtime failure; 2 usage / configuration
// (including an endpoint other hosts can reach without --zmq-curve or
// --zmq-insecure, and a bad --zmq-curve key file or client list); 3 identity
// (key file, passphrase). Logs go to stderr only; stdout carries JSON-RPC
// (with --stdio) and nothing else (--zmq-curve-keygen: the public key).
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
#include "socp/socp_client_account.h"
#include "socp/socp_client_identity.h"
#include "socp/socp_client_main.h"
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
    "  --zmq-curve KEYFILE   CURVE encryption and authentication on both endpoints, with the\n"
    "                        secret key of KEYFILE; required to bind an address other hosts\n"
    "                        can reach (anything but 127.0.0.0/8, ::1, localhost, ipc://)\n"
    "  --zmq-curve-clients F let in only the CURVE clients whose public keys F lists\n"
    "  --zmq-insecure        bind an address other hosts can reach without authentication\n"
    "  --zmq-curve-keygen PATH  (alone) create a CURVE key file (mode 0600), print its public key\n"
    "  --zmq-format F        msgpack (default) or json payloads on ZeroMQ\n"
    "  --event-hwm N         events queued per subscriber before they are dropped and counted\n"
    "  --max-inflight N      items accepted but not yet durable before sends get 'busy' (4096)\n"
    "and the options of the terminal client:\n" SOCP_CLIENT_OPTS_USAGE
    "An encrypted key's passphrase (with --account: the password) comes from\n"
    "--passphrase-file or SOCP_PASSPHRASE (SOCP_ACCOUNT_PASSWORD); no terminal is used.\n"
    "See docs/bridge.md for the methods and notifications.\n";

typedef struct {
    socp_client_opts_t c; // what every client front end takes
    const char *zmq_bind, *zmq_pub;
    const char *zmq_curve, *zmq_clients; // key file, client list (NULL: none)
    bool use_stdio, zmq_json, zmq_insecure;
    uint64_t max_inflight, event_hwm;
} s_opts_t;

// The bridge's own options; the rest go to socp_client_opts_take.
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
        } else if (strcmp(a, "--stdio") == 0) {
            o->use_stdio = true;
            continue;
        } else if (strcmp(a, "--zmq-insecure") == 0) {
            o->zmq_insecure = true;
            continue;
        } else if (strcmp(a, "--zmq-curve-keygen") == 0) {
            return socp_client_die("socp bridge", 2, "%s",
                                   "--zmq-curve-keygen PATH takes no other option");
        }
        int took = socp_client_opts_take(&o->c, a, v);
        if (took > 0) {
            i += took - 1;
            continue;
        }
        bool ours = took == 0 && v;
        if (ours && strcmp(a, "--zmq-bind") == 0) {
            o->zmq_bind = v;
        } else if (ours && strcmp(a, "--zmq-pub") == 0) {
            o->zmq_pub = v;
        } else if (ours && strcmp(a, "--zmq-curve") == 0) {
            o->zmq_curve = v;
        } else if (ours && strcmp(a, "--zmq-curve-clients") == 0) {
            o->zmq_clients = v;
        } else if (ours && strcmp(a, "--zmq-format") == 0 &&
                   (strcmp(v, "msgpack") == 0 || strcmp(v, "json") == 0)) {
            o->zmq_json = v[0] == 'j';
        } else if (ours && strcmp(a, "--max-inflight") == 0 &&
                   socp_client_parse_u64(v, 1, 1000000, &n)) {
            o->max_inflight = n;
        } else if (ours && strcmp(a, "--event-hwm") == 0 &&
                   socp_client_parse_u64(v, 1, 10000000, &n)) {
            o->event_hwm = n;
        } else {
            return socp_client_die("socp bridge", 2,
                                   "bad or unknown option or value: %s (see --help)", a);
        }
        i++;
    }
    return 0;
}

static int s_run(s_opts_t *o, socp_bridge_args_t *b);

// Loads the identity of the data directory, or creates one (same files as
// the terminal client; the passphrase only from --passphrase-file or
// SOCP_PASSPHRASE).
static int
s_identity(const socp_client_opts_t *o, char user_id[SOCP_UUID_BUF], socp_rsa_key_t **key)
{
    socp_identity_opts_t io = {.who = "socp bridge",
                               .data_dir = o->data_dir,
                               .import_key = o->import_key,
                               .primes = o->primes,
                               .plain = o->plain};
    return socp_client_identity(&io, user_id, key);
}

// `socp bridge --zmq-curve-keygen PATH`: a new key file; the public key on stdout.
static int
s_keygen(const char *path)
{
    char pub[SOCP_BRIDGE_Z85_LEN + 1], err[512];
    if (sodium_init() < 0) {
        return socp_client_die("socp bridge", 1, "%s", "libsodium failed to start");
    }
    if (socp_bridge_curve_keygen(path, pub, err, sizeof err) != 0) {
        return socp_client_die("socp bridge", 2, "%s", err);
    }
    printf("%s\n", pub);
    return fflush(stdout) == 0 ? 0 : 1;
}

// The ZeroMQ endpoints and who may reach them: resolves both endpoints
// (what is checked is what is bound), refuses one that other hosts can reach
// unless CURVE or --zmq-insecure says so, and loads the CURVE key and client
// list. Fills the endpoint fields of *b; *secret and *clients are allocated
// here (sodium memory / heap) and freed by the caller, also on failure.
static int
s_exposure(const s_opts_t *o,
           socp_bridge_ep_t eps[2],
           char **secret,
           socp_bridge_clients_t **clients,
           socp_bridge_args_t *b)
{
    const char *who = "socp bridge";
    char err[512];
    if ((o->zmq_curve || o->zmq_clients || o->zmq_insecure) && !o->zmq_bind) {
        return socp_client_die(
            who, 2, "%s", "--zmq-curve, --zmq-curve-clients and --zmq-insecure need --zmq-bind");
    }
    if (o->zmq_curve && o->zmq_insecure) {
        return socp_client_die(who, 2, "%s", "--zmq-curve and --zmq-insecure exclude each other");
    }
    if (o->zmq_clients && !o->zmq_curve) {
        return socp_client_die(who, 2, "%s", "--zmq-curve-clients needs --zmq-curve KEYFILE");
    }
    if (!o->zmq_bind) {
        return 0;
    }
    if (socp_bridge_ep_resolve(o->zmq_bind, &eps[0], err, sizeof err) != 0) {
        return socp_client_die(who, 2, "bad --zmq-bind: %s", err);
    }
    char derived[SOCP_BRIDGE_EP_MAX];
    const char *pub = o->zmq_pub;
    if (!pub) {
        if (socp_bridge_pub_endpoint(eps[0].endpoint, derived, sizeof derived) != 0) {
            return socp_client_die(
                who, 2, "cannot derive the events endpoint from %s; use --zmq-pub EP", o->zmq_bind);
        }
        pub = derived;
    }
    if (socp_bridge_ep_resolve(pub, &eps[1], err, sizeof err) != 0) {
        return socp_client_die(who, 2, "bad --zmq-pub: %s", err);
    }
    for (int i = 0; i < 2; i++) {
        if (eps[i].exposed && !o->zmq_curve && !o->zmq_insecure) {
            return socp_client_die(who, 2,
                                   "refusing to bind %s: other hosts can reach it and it has no "
                                   "authentication; use --zmq-curve KEYFILE (or --zmq-insecure)",
                                   eps[i].endpoint);
        }
        if (eps[i].exposed && o->zmq_insecure) {
            socp_warn("bridge: %s is reachable from other hosts without authentication "
                      "(--zmq-insecure): whoever reaches it reads the history and sends as you",
                      eps[i].endpoint);
        }
    }
    if (o->zmq_curve) {
        *secret = sodium_malloc(SOCP_BRIDGE_Z85_LEN + 1);
        if (!*secret) {
            return socp_client_die(who, 1, "%s", "out of memory");
        }
        if (socp_bridge_curve_load(o->zmq_curve, *secret, err, sizeof err) != 0) {
            return socp_client_die(who, 2, "%s", err);
        }
        b->zmq_curve_secret = *secret;
    }
    if (o->zmq_clients) {
        *clients = socp_malloc(sizeof **clients);
        if (socp_bridge_curve_clients(o->zmq_clients, *clients, err, sizeof err) != 0) {
            return socp_client_die(who, 2, "%s", err);
        }
        b->zmq_clients = *clients;
    }
    b->zmq_bind = eps[0].endpoint;
    b->zmq_pub = eps[1].endpoint;
    return 0;
}

int
socp_bridge_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--zmq-curve-keygen") == 0) {
        if (argc != 3) {
            return socp_client_die("socp bridge", 2, "%s",
                                   "usage: socp bridge --zmq-curve-keygen PATH (no other option)");
        }
        return s_keygen(argv[2]);
    }
    socp_platform_block_signals();
    s_opts_t o = {0};
    socp_client_opts_init(&o.c, "socp bridge");
    int rc = s_parse(argc, argv, &o);
    if (rc != 0) {
        return rc;
    }
    if (!o.use_stdio && !o.zmq_bind) {
        return socp_client_die("socp bridge", 2, "%s",
                               "choose a front end: --stdio and/or --zmq-bind EP (see --help)");
    }
    if (o.zmq_pub && !o.zmq_bind) {
        return socp_client_die("socp bridge", 2, "%s", "--zmq-pub needs --zmq-bind");
    }
    // Before anything else that can fail or ask: a refused endpoint must not
    // cost a key load or a passphrase first.
    if (sodium_init() < 0) {
        return socp_client_die("socp bridge", 1, "%s", "libsodium failed to start");
    }
    socp_bridge_ep_t eps[2];
    char *secret = NULL;
    socp_bridge_clients_t *clients = NULL;
    socp_bridge_args_t bargs = {0};
    rc = s_exposure(&o, eps, &secret, &clients, &bargs);
    if (rc == 0) {
        rc = s_run(&o, &bargs);
    }
    if (secret) {
        sodium_free(secret); // wipes it
    }
    free(clients);
    return rc;
}

// Identity, then the client's actors with the bridge as the front end.
static int
s_run(s_opts_t *o, socp_bridge_args_t *b)
{
    int rc;
    if ((rc = socp_client_opts_check(&o->c)) != 0) {
        return rc;
    }
    char uuid[SOCP_UUID_BUF];
    const char *user_id = o->c.account ? o->c.account : uuid;
    socp_rsa_key_t *key = NULL;
    socp_client_self_t self;
    socp_client_account_pass_t pw = {0};
    rc = o->c.account ? socp_client_opts_account(&o->c, &pw, NULL, NULL, &key)
                      : s_identity(&o->c, uuid, &key);
    if (rc != 0 || (rc = socp_client_self_init(&o->c, user_id, &key, &self)) != 0) {
        socp_client_account_pass_free(&pw);
        return rc;
    }
    socp_bridge_args_t bargs = {.user_id = user_id,
                                .data_dir = o->c.data_dir,
                                .server_url = o->c.server,
                                .fingerprint = self.fp,
                                .display_name = o->c.name,
                                .crypto_workers = self.workers,
                                .file_rate = o->c.file_rate,
                                .use_stdio = o->use_stdio,
                                .in_fd = STDIN_FILENO,
                                .out_fd = STDOUT_FILENO,
                                .zmq_bind = b->zmq_bind,
                                .zmq_pub = b->zmq_pub,
                                .zmq_curve_secret = b->zmq_curve_secret,
                                .zmq_clients = b->zmq_clients,
                                .zmq_json = o->zmq_json,
                                .event_hwm = (int) o->event_hwm,
                                .max_inflight = (size_t) o->max_inflight};
    char banner[512];
    snprintf(banner, sizeof banner, "bridge: %s as %s", o->c.server, user_id);
    // The bridge is started before net so that no presence is missed.
    socp_client_front_t front = {
        .fn = socp_bridge_actor, .args = &bargs, .before_net = true, .banner = banner};
    rc = socp_client_run(&o->c, &self, &front);
    socp_client_account_pass_free(&pw);
    return rc;
}
