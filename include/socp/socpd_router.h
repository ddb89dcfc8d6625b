// socpd_router.h: the server's routing actor ("socpd_router").
//
// Owns every table (connections, local users, user locations, servers and
// their pinned keys), the seen-cache, the database handle and the replay
// memory (ADR 0015: what a signed hello proves, replays of user frames,
// hello budgets per address and in all); decides where
// each frame goes, builds outgoing frames and hands them to the crypto
// workers for signing (SOCPD_SIGN), or to net directly for frames relayed
// unchanged (SOCPD_SEND). Timers: identification deadline, heartbeats,
// dead-link detection, reconnects with backoff and jitter.
#ifndef SOCPD_ROUTER_H
#define SOCPD_ROUTER_H

#include "socp/socp_actor.h"

#define SOCPD_INTRODUCERS_MAX 16

typedef struct {
    char host[256];
    uint16_t port;
    char pubkey[2048]; // pinned, any accepted encoding (b64url PEM is ~1,070)
} socpd_peer_addr_t;

typedef enum { SOCPD_PUB_AUTO = 0, SOCPD_PUB_DER, SOCPD_PUB_PEM } socpd_pub_format_t;

typedef struct {
    const char *server_id;     // our UUID
    const char *host;          // advertised host
    uint16_t port;             // advertised (bound) port
    const char *pubkey;        // our public key, base64url DER SPKI
    const char *pubkey_pem;    // the same as base64url(PEM)
    int pub_format;            // socpd_pub_format_t: which one a peer server gets
    const char *data_dir;      // for the database
    int crypto_workers;        // number of socpd_cryptoN actors
    int hello_timeout_ms;      // first frame must identify within this (many waiting)
    int idle_hello_ms;         // ... or this, while few connections wait
    int heartbeat_ms;          // HEARTBEAT period on server links
    int dead_ms;               // a link silent this long is dead
    int64_t max_skew_ms;       // user frames with ts further than this get TIMEOUT
    bool require_user_sig;     // content frames from users must carry a sig
    int64_t hello_window_ms;   // a signed hello proves its key only with a payload.ts this close
    double hello_rate;         // hellos served per second per address (0: no limit)
    double hello_burst;        // ... bucket size
    double hello_rate_global;  // hellos served per second, all addresses (0: no limit)
    double hello_burst_global; // ... bucket size
    int unproven_ttl_days;     // an unproven binding unused this long is removed (0: kept)
    size_t n_introducers;
    socpd_peer_addr_t introducers[SOCPD_INTRODUCERS_MAX];
} socpd_router_args_t;

int socpd_router_actor(socp_actor_ctx_t *ctx, void *args);

#endif
