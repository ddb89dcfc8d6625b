// socpd_net.h: the server's network actor ("socpd_net").
//
// Owns the listening socket (opened by the caller, handed over) and every
// connection: accepts, WebSocket handshakes (with a deadline; the 101 answer
// names the server in a SOCP-Server-Id header, ADR 0015), per-connection
// token-bucket rate limit on received frames (user connections; server links
// are exempt), bounded output (a peer that stops reading is dropped), and the
// outgoing server links the router asks for (SOCPD_DIAL).
//
// Out: SOCPD_OPEN / SOCPD_FRAME / SOCPD_GONE / SOCPD_DIAL_FAIL to socpd_router.
// In:  SOCPD_SEND (from crypto workers), SOCPD_KICK and SOCPD_DIAL (router).
#ifndef SOCPD_NET_H
#define SOCPD_NET_H

#include "socp/socp_actor.h"

typedef struct {
    int listen_fd;            // non-blocking listening socket (ownership passes to the actor)
    int handshake_timeout_ms; // WebSocket upgrade must finish within this
    double rate;              // frames per second per user connection (0: unlimited)
    double burst;             // bucket size
    size_t max_output;        // unwritten bytes per connection before it is dropped
    const char *server_id;    // our id, named in every upgrade answer (SOCP-Server-Id)
} socpd_net_args_t;

int socpd_net_actor(socp_actor_ctx_t *ctx, void *args);

#endif
