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
    "  --zmq-format F        msgpack (default) or json payloads on ZeroMQ\n"
    "  --event-hwm N         events queued per subscriber before they are dropped and counted\n"
    "  --max-inflight N      items accepted but not yet durable before sends get 'busy' (4096)\n"
    "and the options of the terminal client:\n" SOCP_CLIENT_OPTS_USAGE
    "An encrypted key's passphrase comes from SOCP_PASSPHRASE (no terminal is used).\n"
    "See docs/bridge.md for the methods and notifications.\n";

typedef struct {
    socp_client_opts_t c; // what every client front end takes
    const char *zmq_bind, *zmq_pub;
    bool use_stdio, zmq_json;
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

// Loads the identity of the data directory, or creates one (same files as
// the terminal client; the passphrase only from SOCP_PASSPHRASE).
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

int
socp_bridge_main(int argc, char **argv)
{
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
    if ((rc = socp_client_opts_check(&o.c)) != 0) {
        return rc;
    }
    char uuid[SOCP_UUID_BUF];
    const char *user_id = o.c.account ? o.c.account : uuid;
    socp_rsa_key_t *key = NULL;
    socp_client_self_t self;
    socp_client_account_pass_t pw = {0};
    rc = o.c.account ? socp_client_opts_account(&o.c, &pw, NULL, NULL, &key)
                     : s_identity(&o.c, uuid, &key);
    if (rc != 0 || (rc = socp_client_self_init(&o.c, user_id, &key, &self)) != 0) {
        socp_client_account_pass_free(&pw);
        return rc;
    }
    socp_bridge_args_t bargs = {.user_id = user_id,
                                .data_dir = o.c.data_dir,
                                .server_url = o.c.server,
                                .fingerprint = self.fp,
                                .display_name = o.c.name,
                                .crypto_workers = self.workers,
                                .file_rate = o.c.file_rate,
                                .use_stdio = o.use_stdio,
                                .in_fd = STDIN_FILENO,
                                .out_fd = STDOUT_FILENO,
                                .zmq_bind = o.zmq_bind,
                                .zmq_pub = o.zmq_pub,
                                .zmq_json = o.zmq_json,
                                .event_hwm = (int) o.event_hwm,
                                .max_inflight = (size_t) o.max_inflight};
    char banner[512];
    snprintf(banner, sizeof banner, "bridge: %s as %s", o.c.server, user_id);
    // The bridge is started before net so that no presence is missed.
    socp_client_front_t front = {
        .fn = socp_bridge_actor, .args = &bargs, .before_net = true, .banner = banner};
    rc = socp_client_run(&o.c, &self, &front);
    socp_client_account_pass_free(&pw);
    return rc;
}
