// socp_ws.c: WebSocket session over wslay's event API, fed bytes and producing bytes. Part of socp.
//
// wslay reads from `in` (the bytes of the current socp_ws_feed call) through
// s_recv_cb, which reports WSLAY_ERR_WOULDBLOCK when they run out, and writes
// into `out` through s_send_cb, which always takes everything: the bound on
// unwritten output is enforced by socp_ws itself, so wslay's own queues are
// empty after every call.
//
// A small frame-header guard runs over the incoming stream before wslay sees
// it. It rejects what wslay would answer with an empty close frame (a control
// frame over 125 bytes or fragmented, a non-minimal or 63-bit length) and
// catches an oversized message at its header, before wslay allocates the
// payload; wslay still checks masking, opcodes, fragment order and UTF-8.
// Bytes from the one that revealed a violation onwards are withheld from
// wslay, so the close code we queue (1002 or 1009) is the only one sent.
#include "socp/socp_ws.h"

#include <assert.h>
#include <string.h>

#include <sodium.h>
#include <wslay/wslay.h>

#include "socp/socp_err.h"

#define S_REASON_MAX 123    // close reason bytes (125 - 2 for the code)
#define S_COMPACT    65536u // compact the output buffer past this many written bytes

// A received message waiting for socp_ws_next_message.
typedef struct s_msg {
    struct s_msg *next;  // next queued message
    socp_ws_kind_t kind; // text or binary
    size_t len;          // payload bytes
    uint8_t data[];      // payload and a NUL
} s_msg_t;

// Frame-header guard state, carried across feeds.
typedef struct {
    uint8_t hdr[14];       // header bytes of the current frame so far
    size_t hdr_len;        // bytes in hdr (0 while in a payload)
    uint64_t payload_len;  // payload length of the current frame
    uint64_t payload_left; // payload bytes of the current frame still to come
    uint64_t message_len;  // payload bytes of the current data message so far
    bool fragmented;       // a data message awaits continuation frames
} s_guard_t;

struct socp_ws {
    socp_ws_role_t role;                   // client or server
    socp_ws_opts_t opts;                   // limits, defaults filled in
    wslay_event_context_ptr ctx;           // wslay session
    int error;                             // sticky error, 0 while healthy
    bool requested;                        // client: upgrade request queued
    bool open;                             // handshake completed
    bool closed_early;                     // socp_ws_close before the handshake completed
    socp_buf_t head;                       // handshake header block received so far
    char accept[SOCP_WS_ACCEPT_LEN + 1];   // client: the Sec-WebSocket-Accept we expect
    char path[SOCP_WS_PATH_MAX];           // server: accepted request target
    char server_id[SOCP_WS_SERVER_ID_MAX]; // server: sent in the 101; client: received
    socp_buf_t out;                        // output; bytes before out_off are written
    size_t out_off;                        // bytes of out already consumed
    const uint8_t *in;                     // input wslay may read (during feed only)
    size_t in_len;                         // bytes left at in
    s_guard_t guard;                       // frame-header guard
    s_msg_t *first;                        // oldest queued message
    s_msg_t *last;                         // newest queued message
    s_msg_t *current;                      // message handed out last
    uint64_t pongs;                        // pongs received
    char reason[S_REASON_MAX + 1];         // peer's close reason
};

// ---- wslay callbacks --------------------------------------------------------

static ssize_t
s_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user_data)
{
    SOCP_UNUSED(flags);
    socp_ws_t *self = user_data;
    if (self->in_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < self->in_len ? len : self->in_len;
    memcpy(buf, self->in, n);
    self->in += n;
    self->in_len -= n;
    return (ssize_t) n;
}

static ssize_t
s_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user_data)
{
    SOCP_UNUSED(ctx);
    SOCP_UNUSED(flags);
    socp_ws_t *self = user_data;
    socp_buf_append(&self->out, data, len);
    return (ssize_t) len;
}

static int
s_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user_data)
{
    SOCP_UNUSED(ctx);
    SOCP_UNUSED(user_data);
    randombytes_buf(buf, len);
    return 0;
}

static void
s_on_msg_cb(wslay_event_context_ptr ctx,
            const struct wslay_event_on_msg_recv_arg *arg,
            void *user_data)
{
    SOCP_UNUSED(ctx);
    socp_ws_t *self = user_data;
    if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME) {
        s_msg_t *msg = socp_malloc(sizeof(*msg) + arg->msg_length + 1);
        msg->next = NULL;
        msg->kind = arg->opcode == WSLAY_TEXT_FRAME ? SOCP_WS_TEXT : SOCP_WS_BINARY;
        msg->len = arg->msg_length;
        if (arg->msg_length > 0) {
            memcpy(msg->data, arg->msg, arg->msg_length);
        }
        msg->data[arg->msg_length] = 0;
        if (self->last) {
            self->last->next = msg;
        } else {
            self->first = msg;
        }
        self->last = msg;
    } else if (arg->opcode == WSLAY_PONG) {
        self->pongs++;
    } else if (arg->opcode == WSLAY_CONNECTION_CLOSE && arg->msg_length > 2) {
        size_t n = arg->msg_length - 2;
        n = n < S_REASON_MAX ? n : S_REASON_MAX;
        memcpy(self->reason, arg->msg + 2, n);
        self->reason[n] = '\0';
    }
}

// ---- helpers ----------------------------------------------------------------

static int
s_fail(socp_ws_t *self, int code)
{
    self->error = code;
    return code;
}

static size_t
s_pending(const socp_ws_t *self)
{
    return self->out.len - self->out_off;
}

static bool
s_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t extra;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            extra = 1, cp = c & 0x1fu, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2, cp = c & 0x0fu, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3, cp = c & 0x07u, min = 0x10000;
        } else {
            return false;
        }
        if (n - i <= extra) {
            return false;
        }
        for (size_t j = 1; j <= extra; j++) {
            if ((s[i + j] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (s[i + j] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += extra + 1;
    }
    return true;
}

// Moves wslay's queued frames into the output buffer.
static int
s_flush(socp_ws_t *self)
{
    int rv = wslay_event_send(self->ctx);
    if (rv != 0) {
        return s_fail(self, rv == WSLAY_ERR_NOMEM ? SOCP_ENOMEM : SOCP_EIO);
    }
    return 0;
}

// Checks the header byte just added to the guard. Returns 0, or the close
// code (1002 or 1009) for a violation.
static uint16_t
s_guard_header(socp_ws_t *self)
{
    s_guard_t *g = &self->guard;
    const uint8_t *h = g->hdr;
    if (g->hdr_len < 2) {
        return 0;
    }
    uint8_t opcode = h[0] & 0x0fu, len7 = h[1] & 0x7fu;
    bool fin = (h[0] & 0x80u) != 0, masked = (h[1] & 0x80u) != 0, control = (opcode & 0x8u) != 0;
    size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    if (g->hdr_len == 2) {
        if ((h[0] & 0x70u) != 0 || masked != (self->role == SOCP_WS_SERVER)) {
            return WSLAY_CODE_PROTOCOL_ERROR; // RSV bits without an extension, wrong masking
        }
        if (control) {
            if (opcode > WSLAY_PONG || !fin || len7 > 125 ||
                (opcode == WSLAY_CONNECTION_CLOSE && len7 == 1)) {
                return WSLAY_CODE_PROTOCOL_ERROR;
            }
        } else if (opcode == WSLAY_CONTINUATION_FRAME) {
            if (!g->fragmented) {
                return WSLAY_CODE_PROTOCOL_ERROR;
            }
        } else if (opcode == WSLAY_TEXT_FRAME || opcode == WSLAY_BINARY_FRAME) {
            if (g->fragmented) {
                return WSLAY_CODE_PROTOCOL_ERROR;
            }
            g->message_len = 0;
        } else {
            return WSLAY_CODE_PROTOCOL_ERROR; // reserved opcode
        }
    }
    if (g->hdr_len == 2 + ext) {
        uint64_t plen = len7;
        if (ext > 0) {
            plen = 0;
            for (size_t i = 0; i < ext; i++) {
                plen = (plen << 8) | h[2 + i];
            }
            if ((ext == 2 && plen < 126) || (ext == 8 && (plen < 65536 || (plen >> 63) != 0))) {
                return WSLAY_CODE_PROTOCOL_ERROR; // not the shortest length encoding
            }
        }
        if (!control) {
            if (plen > self->opts.max_message - g->message_len) {
                return WSLAY_CODE_MESSAGE_TOO_BIG;
            }
            g->message_len += plen;
        }
        g->payload_len = plen;
    }
    if (g->hdr_len == 2 + ext + (masked ? 4 : 0)) {
        if (!control) {
            g->fragmented = !fin;
        }
        g->payload_left = g->payload_len;
        g->hdr_len = 0;
    }
    return 0;
}

// Runs the guard over data. Returns 0 with *ok = len, or a close code with
// *ok = the bytes before the one that revealed the violation.
static uint16_t
s_guard(socp_ws_t *self, const uint8_t *data, size_t len, size_t *ok)
{
    s_guard_t *g = &self->guard;
    size_t i = 0;
    while (i < len) {
        if (g->payload_left > 0) {
            size_t n = len - i;
            if (g->payload_left < n) {
                n = (size_t) g->payload_left;
            }
            i += n;
            g->payload_left -= n;
            continue;
        }
        g->hdr[g->hdr_len++] = data[i];
        uint16_t code = s_guard_header(self);
        if (code != 0) {
            *ok = i;
            return code;
        }
        i++;
    }
    *ok = len;
    return 0;
}

// Feeds bytes after the handshake to the guard and wslay.
static int
s_feed_frames(socp_ws_t *self, const uint8_t *data, size_t len)
{
    if (len == 0 || !wslay_event_get_read_enabled(self->ctx)) {
        return 0; // nothing, or bytes after the peer's close frame
    }
    size_t ok = 0;
    uint16_t code = s_guard(self, data, len, &ok);
    self->in = data;
    self->in_len = ok;
    int rv = wslay_event_recv(self->ctx);
    self->in = NULL;
    self->in_len = 0;
    if (rv != 0) {
        (void) s_flush(self);
        return s_fail(self, rv == WSLAY_ERR_NOMEM ? SOCP_ENOMEM : SOCP_EPROTO);
    }
    bool reading = wslay_event_get_read_enabled(self->ctx) != 0;
    bool wslay_failed = !reading && !wslay_event_get_close_received(self->ctx);
    bool guard_failed = reading && code != 0;
    if (guard_failed) {
        (void) wslay_event_queue_close(self->ctx, code, NULL, 0);
        wslay_event_shutdown_read(self->ctx);
    }
    int rc = s_flush(self);
    if (wslay_failed || guard_failed) {
        uint16_t why = guard_failed ? code : wslay_event_get_status_code_sent(self->ctx);
        return s_fail(self, why == WSLAY_CODE_MESSAGE_TOO_BIG ? SOCP_ETOOBIG : SOCP_EPROTO);
    }
    if (rc != 0) {
        return rc;
    }
    if (s_pending(self) > self->opts.max_output) {
        return s_fail(self, SOCP_EOVERFLOW);
    }
    return 0;
}

// Accumulates and checks the handshake header block. On success sets *used
// to the bytes of data that belonged to it (the rest are frames).
static int
s_feed_head(socp_ws_t *self, const uint8_t *data, size_t len, size_t *used)
{
    bool server = self->role == SOCP_WS_SERVER;
    size_t old = self->head.len;
    size_t take = SOCP_WS_HEAD_MAX - old;
    take = len < take ? len : take;
    socp_buf_append(&self->head, data, take);
    size_t end = 0;
    int rc = socp_ws_handshake_scan(self->head.data, self->head.len, old, server, &end);
    if (rc == SOCP_EAGAIN) {
        *used = take;
        return 0;
    }
    if (rc == 0) {
        *used = end - old;
        if (server) {
            socp_ws_request_t req;
            rc = socp_ws_handshake_parse_request(self->head.data, end, &req);
            if (rc == 0) {
                memcpy(self->path, req.path, sizeof(self->path));
                socp_ws_handshake_response_ex(&self->out, 0, req.accept,
                                              self->server_id[0] ? self->server_id : NULL);
            }
        } else {
            rc = socp_ws_handshake_parse_response_ex(self->head.data, end, self->accept,
                                                     self->server_id);
        }
    }
    socp_buf_fini(&self->head);
    if (rc != 0) {
        if (server) {
            socp_ws_handshake_response(&self->out, rc, NULL);
        }
        return s_fail(self, SOCP_EPROTO);
    }
    self->open = true;
    return 0;
}

// Common checks before queueing an outgoing frame.
static int
s_can_send(socp_ws_t *self)
{
    if (self->error) {
        return self->error;
    }
    if (self->closed_early || wslay_event_get_close_sent(self->ctx) ||
        wslay_event_get_close_received(self->ctx)) {
        return SOCP_ECLOSED;
    }
    if (!self->open) {
        return SOCP_EAGAIN;
    }
    return 0;
}

// Queues one frame and moves it to the output, unless that would exceed
// max_output.
static int
s_send(socp_ws_t *self, uint8_t opcode, const void *data, size_t len)
{
    if (s_pending(self) + len + SOCP_WS_FRAME_OVERHEAD > self->opts.max_output) {
        return SOCP_EOVERFLOW;
    }
    struct wslay_event_msg msg = {opcode, data, len};
    int rv = wslay_event_queue_msg(self->ctx, &msg);
    if (rv == WSLAY_ERR_NO_MORE_MSG) {
        return SOCP_ECLOSED;
    }
    if (rv != 0) {
        return rv == WSLAY_ERR_NOMEM ? s_fail(self, SOCP_ENOMEM) : SOCP_EINVAL;
    }
    return s_flush(self);
}

// ---- public API ---------------------------------------------------------------

socp_ws_t *
socp_ws_new(socp_ws_role_t role, const socp_ws_opts_t *opts)
{
    socp_ws_opts_t o = opts ? *opts : (socp_ws_opts_t){0};
    o.max_message = o.max_message ? o.max_message : SOCP_WS_MAX_MESSAGE_DEFAULT;
    o.max_send = o.max_send ? o.max_send : SOCP_WS_MAX_SEND_DEFAULT;
    o.max_output = o.max_output ? o.max_output : SOCP_WS_MAX_OUTPUT_DEFAULT;
    if ((role != SOCP_WS_CLIENT && role != SOCP_WS_SERVER) ||
        o.max_send > SIZE_MAX - SOCP_WS_FRAME_OVERHEAD ||
        o.max_output < o.max_send + SOCP_WS_FRAME_OVERHEAD || sodium_init() < 0) {
        return NULL;
    }
    socp_ws_t *self = socp_calloc(1, sizeof(*self));
    self->role = role;
    self->opts = o;
    self->opts.server_id = NULL; // copied: the caller's string need not outlive us
    if (role == SOCP_WS_SERVER && o.server_id &&
        socp_ws_handshake_server_id_ok(o.server_id, strlen(o.server_id))) {
        memcpy(self->server_id, o.server_id, strlen(o.server_id) + 1);
    }
    socp_buf_init(&self->head);
    socp_buf_init(&self->out);
    struct wslay_event_callbacks callbacks = {
        s_recv_cb, s_send_cb, s_genmask_cb, NULL, NULL, NULL, s_on_msg_cb,
    };
    int rv = role == SOCP_WS_SERVER ? wslay_event_context_server_init(&self->ctx, &callbacks, self)
                                    : wslay_event_context_client_init(&self->ctx, &callbacks, self);
    if (rv != 0) {
        goto fail;
    }
    wslay_event_config_set_max_recv_msg_length(self->ctx, o.max_message);
    return self;
fail:
    socp_ws_destroy(&self);
    return NULL;
}

void
socp_ws_destroy(socp_ws_t **self_p)
{
    assert(self_p);
    socp_ws_t *self = *self_p;
    if (!self) {
        return;
    }
    if (self->ctx) {
        wslay_event_context_free(self->ctx);
    }
    while (self->first) {
        s_msg_t *next = self->first->next;
        free(self->first);
        self->first = next;
    }
    free(self->current);
    socp_buf_fini(&self->head);
    socp_buf_fini(&self->out);
    free(self);
    *self_p = NULL;
}

int
socp_ws_request(socp_ws_t *self, const char *host, uint16_t port, const char *path)
{
    assert(self);
    if (self->error) {
        return self->error;
    }
    if (self->role != SOCP_WS_CLIENT || self->requested || self->closed_early || port == 0) {
        return SOCP_EINVAL;
    }
    uint8_t raw[16];
    char key[SOCP_WS_KEY_LEN + 1];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(key, sizeof(key), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
    int rc = socp_ws_handshake_accept(key, SOCP_WS_KEY_LEN, self->accept);
    if (rc == 0) {
        rc = socp_ws_handshake_request(&self->out, host, port, path, key);
    }
    if (rc == 0) {
        self->requested = true;
    }
    return rc;
}

int
socp_ws_feed(socp_ws_t *self, const void *data, size_t len)
{
    assert(self);
    if (self->error) {
        return self->error;
    }
    if (!data && len > 0) {
        return SOCP_EINVAL;
    }
    socp_ws_state_t state = socp_ws_state(self);
    if (state == SOCP_WS_CLOSED) {
        return SOCP_ECLOSED;
    }
    if (self->role == SOCP_WS_CLIENT && !self->requested) {
        return SOCP_EINVAL;
    }
    const uint8_t *p = data;
    if (!self->open) {
        size_t used = 0;
        int rc = s_feed_head(self, p, len, &used);
        if (rc != 0 || !self->open) {
            return rc;
        }
        p += used;
        len -= used;
    }
    return s_feed_frames(self, p, len);
}

int
socp_ws_next_message(socp_ws_t *self, socp_ws_msg_t *out)
{
    assert(self);
    assert(out);
    memset(out, 0, sizeof(*out));
    free(self->current);
    self->current = self->first;
    if (!self->current) {
        return SOCP_EAGAIN;
    }
    self->first = self->current->next;
    if (!self->first) {
        self->last = NULL;
    }
    out->kind = self->current->kind;
    out->data = self->current->data;
    out->len = self->current->len;
    return 0;
}

int
socp_ws_send_text(socp_ws_t *self, const char *data, size_t len)
{
    assert(self);
    int rc = s_can_send(self);
    if (rc != 0) {
        return rc;
    }
    if (len > self->opts.max_send) {
        return SOCP_ETOOBIG;
    }
    if ((!data && len > 0) || (len > 0 && !s_utf8_valid((const uint8_t *) data, len))) {
        return SOCP_EINVAL;
    }
    return s_send(self, WSLAY_TEXT_FRAME, data, len);
}

int
socp_ws_send_binary(socp_ws_t *self, const void *data, size_t len)
{
    assert(self);
    int rc = s_can_send(self);
    if (rc != 0) {
        return rc;
    }
    if (len > self->opts.max_send) {
        return SOCP_ETOOBIG;
    }
    if (!data && len > 0) {
        return SOCP_EINVAL;
    }
    return s_send(self, WSLAY_BINARY_FRAME, data, len);
}

int
socp_ws_send_ping(socp_ws_t *self, const void *data, size_t len)
{
    assert(self);
    int rc = s_can_send(self);
    if (rc != 0) {
        return rc;
    }
    if (len > 125 || (!data && len > 0)) {
        return SOCP_EINVAL;
    }
    return s_send(self, WSLAY_PING, data, len);
}

int
socp_ws_close(socp_ws_t *self, uint16_t code, const char *reason)
{
    assert(self);
    if (self->error) {
        return self->error;
    }
    size_t reason_len = reason ? strlen(reason) : 0;
    bool code_ok = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
                   (code >= 3000 && code <= 4999);
    if (!code_ok || reason_len > S_REASON_MAX ||
        (reason_len > 0 && !s_utf8_valid((const uint8_t *) reason, reason_len))) {
        return SOCP_EINVAL;
    }
    if (self->closed_early || wslay_event_get_close_sent(self->ctx)) {
        return SOCP_ECLOSED;
    }
    if (!self->open) {
        self->closed_early = true;
        return 0;
    }
    int rv = wslay_event_queue_close(self->ctx, code, (const uint8_t *) reason, reason_len);
    if (rv == WSLAY_ERR_NO_MORE_MSG) {
        return SOCP_ECLOSED;
    }
    if (rv != 0) {
        return s_fail(self, rv == WSLAY_ERR_NOMEM ? SOCP_ENOMEM : SOCP_EIO);
    }
    return s_flush(self);
}

const uint8_t *
socp_ws_output(const socp_ws_t *self, size_t *len)
{
    assert(self);
    size_t n = s_pending(self);
    if (len) {
        *len = n;
    }
    return n > 0 ? self->out.data + self->out_off : NULL;
}

void
socp_ws_output_consumed(socp_ws_t *self, size_t n)
{
    assert(self);
    size_t pending = s_pending(self);
    assert(n <= pending);
    self->out_off += n <= pending ? n : pending;
    if (self->out_off == self->out.len) {
        if (self->out.cap > S_COMPACT) {
            socp_buf_fini(&self->out); // give a burst's memory back
        }
        socp_buf_reset(&self->out);
        self->out_off = 0;
    } else if (self->out_off >= S_COMPACT && self->out_off >= self->out.len / 2) {
        memmove(self->out.data, self->out.data + self->out_off, self->out.len - self->out_off);
        self->out.len -= self->out_off;
        self->out_off = 0;
    }
}

bool
socp_ws_want_write(const socp_ws_t *self)
{
    assert(self);
    return s_pending(self) > 0;
}

bool
socp_ws_want_read(const socp_ws_t *self)
{
    socp_ws_state_t state = socp_ws_state(self);
    return state == SOCP_WS_CONNECTING || state == SOCP_WS_OPEN || state == SOCP_WS_CLOSING;
}

socp_ws_state_t
socp_ws_state(const socp_ws_t *self)
{
    assert(self);
    if (self->error) {
        return SOCP_WS_FAILED;
    }
    if (self->closed_early) {
        return SOCP_WS_CLOSED;
    }
    if (!self->open) {
        return SOCP_WS_CONNECTING;
    }
    bool sent = wslay_event_get_close_sent(self->ctx) != 0;
    bool received = wslay_event_get_close_received(self->ctx) != 0;
    if (sent && received) {
        return SOCP_WS_CLOSED;
    }
    return sent || received ? SOCP_WS_CLOSING : SOCP_WS_OPEN;
}

int
socp_ws_error(const socp_ws_t *self)
{
    assert(self);
    return self->error;
}

uint16_t
socp_ws_close_code_sent(const socp_ws_t *self)
{
    assert(self);
    return self->open && wslay_event_get_close_sent(self->ctx)
               ? wslay_event_get_status_code_sent(self->ctx)
               : 0;
}

uint16_t
socp_ws_close_code_received(const socp_ws_t *self)
{
    assert(self);
    return self->open && wslay_event_get_close_received(self->ctx)
               ? wslay_event_get_status_code_received(self->ctx)
               : 0;
}

const char *
socp_ws_close_reason(const socp_ws_t *self)
{
    assert(self);
    return self->reason;
}

const char *
socp_ws_server_id(const socp_ws_t *self)
{
    assert(self);
    return self->role == SOCP_WS_CLIENT && self->open ? self->server_id : NULL;
}

const char *
socp_ws_path(const socp_ws_t *self)
{
    assert(self);
    return self->role == SOCP_WS_SERVER && self->open ? self->path : NULL;
}

uint64_t
socp_ws_pongs_received(const socp_ws_t *self)
{
    assert(self);
    return self->pongs;
}

// ---- URL --------------------------------------------------------------------

static bool
s_prefix_ieq(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++) {
        char c = *s;
        if (c >= 'A' && c <= 'Z') {
            c = (char) (c - 'A' + 'a');
        }
        if (c != *prefix) {
            return false;
        }
    }
    return true;
}

int
socp_ws_parse_url(const char *url,
                  char host[SOCP_WS_HOST_MAX],
                  uint16_t *port,
                  char path[SOCP_WS_PATH_MAX])
{
    if (host) {
        memset(host, 0, SOCP_WS_HOST_MAX);
    }
    if (path) {
        memset(path, 0, SOCP_WS_PATH_MAX);
    }
    if (port) {
        *port = 0;
    }
    if (!url || !host || !port || !path) {
        return SOCP_EINVAL;
    }
    if (s_prefix_ieq(url, "wss://")) {
        return SOCP_EUNSUPPORTED;
    }
    if (!s_prefix_ieq(url, "ws://")) {
        return SOCP_EINVAL;
    }
    const char *auth = url + 5;
    size_t auth_len = strcspn(auth, "/?#");
    const char *name = auth, *colon = NULL;
    size_t name_len;
    if (auth[0] == '[') {
        const char *close = memchr(auth, ']', auth_len);
        if (!close) {
            return SOCP_EINVAL;
        }
        name = auth + 1;
        name_len = (size_t) (close - name);
        if (close + 1 < auth + auth_len) {
            if (close[1] != ':') {
                return SOCP_EINVAL;
            }
            colon = close + 1;
        }
        for (size_t i = 0; i < name_len; i++) {
            char c = name[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                  c == ':' || c == '.')) {
                return SOCP_EINVAL;
            }
        }
    } else {
        colon = memchr(auth, ':', auth_len);
        name_len = colon ? (size_t) (colon - auth) : auth_len;
        for (size_t i = 0; i < name_len; i++) {
            char c = name[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '.' || c == '-' || c == '_')) {
                return SOCP_EINVAL; // includes '@' (user info) and spaces
            }
        }
    }
    if (name_len == 0 || name_len >= SOCP_WS_HOST_MAX) {
        return SOCP_EINVAL;
    }
    unsigned long port_value = SOCP_WS_DEFAULT_PORT;
    if (colon) {
        const char *digits = colon + 1;
        size_t n = (size_t) (auth + auth_len - digits);
        if (n == 0 || n > 5) {
            return SOCP_EINVAL;
        }
        port_value = 0;
        for (size_t i = 0; i < n; i++) {
            if (digits[i] < '0' || digits[i] > '9') {
                return SOCP_EINVAL;
            }
            port_value = port_value * 10 + (unsigned long) (digits[i] - '0');
        }
        if (port_value == 0 || port_value > 65535) {
            return SOCP_EINVAL;
        }
    }
    const char *rest = auth + auth_len;
    size_t rest_len = strlen(rest);
    bool slash = rest[0] != '/';
    if (rest_len + (slash ? 1 : 0) >= SOCP_WS_PATH_MAX) {
        return SOCP_EINVAL;
    }
    for (size_t i = 0; i < rest_len; i++) {
        unsigned char c = (unsigned char) rest[i];
        if (c <= 0x20 || c >= 0x7f || c == '#') {
            return SOCP_EINVAL;
        }
    }
    memcpy(host, name, name_len);
    host[name_len] = '\0';
    *port = (uint16_t) port_value;
    path[0] = '/';
    memcpy(path + (slash ? 1 : 0), rest, rest_len);
    path[rest_len + (slash ? 1 : 0)] = '\0';
    return 0;
}
