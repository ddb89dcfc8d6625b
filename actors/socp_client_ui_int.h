// socp_client_ui_int.h: what the two files of the ui actor share
// (socp_client_ui.c: terminal, input, messages from the other actors;
// socp_client_ui_cmd.c: the commands and sending). Private to them.
// Part of socp, a SOCP v1.3 client and server.
#ifndef SOCP_CLIENT_UI_INT_H
#define SOCP_CLIENT_UI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "socp/socp_client.h"
#include "socp/socp_client_lineedit.h"
#include "socp/socp_common.h"
#include "socp/socp_uuid.h"

#define S_LINE_MAX    65536
#define S_OUT_CAP     (8u << 20) // stdout backlog past which lines are counted, not shown
#define S_HIST_MAX    200
#define S_PEERS_MAX   4096
#define S_GROUPS_MAX  4096
#define S_FILE_MAX    (256ull << 20)
#define S_DRAIN_MS    30000
#define S_SCRIPT_WAIT 5000 // script mode: input waits this long for the link
#define S_CHUNKS_TICK 64

typedef socp_client_peer_t s_peer_t;

typedef struct {
    uint64_t first, count, done;
    int failed;
    char *line; // the echo printed when every piece is durable
} s_group_t;

typedef socp_client_outfile_t s_outfile_t;

// Long messages (docs/client.md, "Long messages"): every piece but the last
// ends with U+2060 WORD JOINER, invisible in other clients; pieces carry
// consecutive ts (signed), so a piece joins the buffer only if its ts is
// the next one. A buffer not completed within S_JOIN_STALE_MS is shown
// marked [INCOMPLETE].
#define S_MORE          "\xe2\x81\xa0"
#define S_MORE_LEN      3
#define S_JOINS         32
#define S_JOIN_STALE_MS 10000

typedef struct {
    bool used, history, outgoing;
    bool unsigned_clear; // a piece in clear whose content_sig did not verify
    uint8_t kind, status;
    char from[129], peer[129];
    int64_t ts_first, ts_last;
    uint64_t since_ms;
    char *buf;
    size_t len;
} s_join_t;

typedef struct {
    socp_client_ui_args_t *args;
    s_join_t joins[S_JOINS];
    s_peer_t peers[S_PEERS_MAX];
    size_t npeers;
    s_group_t groups[S_GROUPS_MAX];
    size_t ngroups;
    uint64_t next_local;
    socp_client_route_t route; // CLI_SEND numbering and spread over the workers
    uint64_t pending;          // unsent outbox frames (UINT64_MAX: not known yet)
    bool link_up;
    char nick[257];
    // line editor (interactive), or the script line being read
    struct termios saved;
    bool raw;
    socp_lineedit_t *ed;
    char inbuf[S_LINE_MAX];
    size_t inlen;
    // Script input read but not yet taken: lines wait here while the crypto
    // workers are busy (stdin is not watched meanwhile).
    char rbuf[4096];
    size_t rlen, rpos;
    bool in_paused;
    bool in_waiting; // script mode: input not read until the link is up
    int wait_timer;
    bool eof;
    uint64_t eof_ms;
    int drain_timer;
    s_outfile_t out;
    socp_client_pacer_t pacer; // file frames under the server's rate limit
    socp_actor_ctx_t *ctx;
    // stdout: non-blocking and buffered unless it is the terminal, so a
    // reader that stops reading never stops the ui; past S_OUT_CAP lines are
    // counted instead of shown.
    socp_client_out_t stdout_stream;
    bool out_watched;
    bool out_dropping;    // over S_OUT_CAP: lines are dropped until stdout drains
    uint64_t out_dropped; // lines dropped in this episode
    bool quitting;        // /quit: stdout gets longer to drain at exit
    unsigned last_in_pct;
} s_ui_t;

// Output (socp_client_ui.c). Writes bytes to stdout (buffered, bounded).
void socp_ui_write(s_ui_t *self, const char *s, size_t n);

// Redraws the input row (interactive mode only).
void socp_ui_redraw(s_ui_t *self);

// Prints one line above the input row; text from outside is made safe.
void socp_ui_print(s_ui_t *self, const char *fmt, ...) SOCP_PRINTF(2, 3);

// A user by id, display name or unique prefix; prints why on failure.
s_peer_t *socp_ui_resolve(s_ui_t *self, const char *who);

// How a user is shown: "you" for us, the name (with a short key
// fingerprint when it clashes: socp_client_peer_label), else the id.
// Returns buf or a static string.
#define S_LABEL_MAX 300
const char *socp_ui_label(s_ui_t *self, const char *id, char *buf, size_t size);
const char *socp_ui_peer_label(s_ui_t *self, const s_peer_t *p, char *buf, size_t size);

// Commands (socp_client_ui_cmd.c): runs one line the user typed.
// Returns 0, or SOCP_ACTOR_STOP for /quit.
int socp_ui_command(socp_actor_ctx_t *ctx, s_ui_t *self, char *line);

#endif
