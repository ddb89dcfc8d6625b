// socp_bridge_methods.c: the bridge's JSON-RPC methods (send, broadcast,
// sendFile, history, list, stats, ...) and the bus messages that complete
// them: a send is split into 446-byte pieces spread over the crypto workers
// and answered once every piece is durable in the outbox; received
// messages, files and notes become notifications.
// Part of socp, a SOCP v1.3 client and server. The actor and its transports:
// socp_bridge.c; shared state: socp_bridge_int.h.
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "socp/socp_err.h"
#include "socp/socp_log.h"
#include "socp/socp_text.h"
#include "socp_bridge_int.h"

// ---- sending -------------------------------------------------------------------------

static s_group_t *
s_group_new(s_bridge_t *self, uint64_t count, const s_origin_t *o, json_t *result)
{
    s_group_t *g = &self->groups[self->ngroups++];
    *g = (s_group_t){.first = self->next_local, .count = count, .origin = *o, .result = result};
    g->origin.id = o->id ? json_incref(o->id) : NULL;
    self->next_local += count;
    self->inflight += count;
    return g;
}

static bool
s_room(s_bridge_t *self, const s_origin_t *o, uint64_t pieces)
{
    size_t cap = self->args->max_inflight ? self->args->max_inflight : 4096;
    if (self->ngroups == S_GROUPS_MAX || self->inflight + pieces > cap) {
        socp_bridge_fail(self, o, SOCP_BRIDGE_BUSY,
                         "busy: %llu items wait to be stored; retry after a reply arrives",
                         (unsigned long long) self->inflight);
        return false;
    }
    return true;
}

static void
s_send_piece(s_bridge_t *self,
             uint8_t kind,
             uint64_t local_id,
             const s_peer_t *to,
             const void *data,
             size_t len,
             const char *meta,
             uint64_t index,
             int64_t ts)
{
    socp_client_piece_t piece = {kind, local_id, to->id, to->pub, data, len,
                                 meta, index,    ts,     to->sig, 0};
    socp_client_send_piece(self->ctx, &self->route, self->args->crypto_workers, &piece);
}

// Looks a recipient up and checks its key; answers the error itself.
static s_peer_t *
s_recipient(s_bridge_t *self, const s_origin_t *o, const char *who)
{
    int hits = 0;
    s_peer_t *p = socp_bridge_resolve(self, who, &hits);
    if (!p) {
        socp_bridge_fail(self, o, SOCP_BRIDGE_UNKNOWN_USER,
                         hits ? "\"%s\" matches %d users; use the user id"
                              : "no user \"%s\" is known",
                         who, hits);
        return NULL;
    }
    if (p->status == 2) {
        socp_bridge_fail(self, o, SOCP_BRIDGE_NO_KEY,
                         "%s's key changed and was refused; not sending", p->id);
        return NULL;
    }
    if (!p->pub || !*p->pub) {
        socp_bridge_fail(self, o, SOCP_BRIDGE_NO_KEY, "no key known for %s", p->id);
        return NULL;
    }
    return p;
}

static bool
s_split(s_bridge_t *self, const s_origin_t *o, const char *text, socp_text_pieces_t *pieces)
{
    size_t len = strlen(text);
    if (len == 0 || len > S_TEXT_MAX) {
        socp_bridge_fail(self, o, SOCP_BRIDGE_INVALID_PARAMS, "text must be 1..%u bytes",
                         S_TEXT_MAX);
        return false;
    }
    if (socp_text_split(text, len, SOCP_TEXT_PIECE_MAX, pieces) != 0 || pieces->count == 0) {
        socp_bridge_fail(self, o, SOCP_BRIDGE_INVALID_PARAMS, "text is not valid UTF-8");
        return false;
    }
    return true;
}

void
socp_bridge_m_send(s_bridge_t *self, const s_origin_t *o, const char *to, const char *text)
{
    s_peer_t *p = s_recipient(self, o, to);
    socp_text_pieces_t pieces = {0};
    if (!p || !s_split(self, o, text, &pieces)) {
        return;
    }
    // Not online (or we are not connected): held by the store until they are.
    bool hold = !p->online && strcmp(p->id, self->args->user_id) != 0;
    if (s_room(self, o, pieces.count)) {
        s_group_t *g = s_group_new(self, pieces.count, o,
                                   json_pack("{s:b,s:s,s:I,s:b}", "accepted", 1, "to", p->id,
                                             "pieces", (json_int_t) pieces.count, "held", hold));
        int64_t ts = socp_wall_ms();
        for (size_t i = 0; i < pieces.count; i++) {
            if (hold) {
                socp_client_hold_piece(self->ctx, g->first + i, p->id,
                                       text + pieces.items[i].offset, pieces.items[i].len,
                                       ts + (int64_t) i);
            } else {
                s_send_piece(self, SOCP_CLIENT_KIND_DM, g->first + i, p,
                             text + pieces.items[i].offset, pieces.items[i].len, NULL, 0,
                             ts + (int64_t) i);
            }
        }
    }
    socp_text_pieces_fini(&pieces);
}

static bool
s_member(s_bridge_t *self, const s_peer_t *p)
{
    return p->online && p->status != 2 && strcmp(p->id, self->args->user_id) != 0 && p->pub &&
           *p->pub;
}

void
socp_bridge_m_broadcast(s_bridge_t *self, const s_origin_t *o, const char *text)
{
    socp_text_pieces_t pieces = {0};
    if (!s_split(self, o, text, &pieces)) {
        return;
    }
    size_t members = 0;
    for (size_t i = 0; i < self->npeers; i++) {
        members += s_member(self, &self->peers[i]);
    }
    if (members == 0) {
        socp_bridge_ok(self, o, json_pack("{s:b,s:i}", "accepted", 1, "recipients", 0));
    } else if (s_room(self, o, members * pieces.count)) {
        s_group_t *g =
            s_group_new(self, members * pieces.count, o,
                        json_pack("{s:b,s:I}", "accepted", 1, "recipients", (json_int_t) members));
        int64_t ts = socp_wall_ms();
        uint64_t id = g->first;
        for (size_t i = 0; i < self->npeers; i++) {
            s_peer_t *p = &self->peers[i];
            if (!s_member(self, p)) {
                continue;
            }
            for (size_t k = 0; k < pieces.count; k++) {
                s_send_piece(self, SOCP_CLIENT_KIND_PUBLIC, id++, p, text + pieces.items[k].offset,
                             pieces.items[k].len, NULL, 0, ts + (int64_t) k);
            }
        }
    }
    socp_text_pieces_fini(&pieces);
}

static int s_on_file_tick(socp_actor_ctx_t *ctx, int timer_id, void *arg);

void
socp_bridge_m_send_file(s_bridge_t *self, const s_origin_t *o, const char *to, const char *path)
{
    if (self->file.fd >= 0) {
        socp_bridge_fail(self, o, SOCP_BRIDGE_BUSY,
                         "a file is already being sent; retry when it is done");
        return;
    }
    s_peer_t *p = s_recipient(self, o, to);
    if (!p) {
        return;
    }
    if (self->ngroups == S_GROUPS_MAX) {
        socp_bridge_fail(self, o, SOCP_BRIDGE_BUSY, "busy: too many requests wait to be stored");
        return;
    }
    socp_client_file_t file;
    char why[4200];
    if (socp_client_file_open(path, S_FILE_MAX, &file, why, sizeof why) != 0) {
        socp_bridge_fail(self, o, SOCP_BRIDGE_FILE, "%s", why);
        return;
    }
    uint64_t total = file.size;
    uint64_t chunks = (total + SOCP_TEXT_PIECE_MAX - 1) / SOCP_TEXT_PIECE_MAX;
    s_outfile_t *f = &self->file;
    // File pieces are paced, not counted against max_inflight up front.
    s_group_t *g = s_group_new(self, chunks + 2, o,
                               json_pack("{s:b,s:s,s:s,s:s,s:I,s:s}", "accepted", 1, "to", p->id,
                                         "fileId", file.file_id, "name", file.name, "size",
                                         (json_int_t) total, "sha256", file.sha_hex));
    socp_client_outfile_start(f, &file, p->id, p->pub, g->first);
    s_send_piece(self, SOCP_CLIENT_KIND_FILE_START, f->group, p, NULL, 0, file.meta, 0,
                 socp_wall_ms());
    socp_client_pacer_start(&self->pacer, socp_now_ms());
    f->timer = socp_actor_timer_add(self->ctx, 0, 5, s_on_file_tick, self);
}

static int
s_on_file_tick(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    SOCP_UNUSED(timer_id);
    s_bridge_t *self = arg;
    s_outfile_t *f = &self->file;
    bool read_error;
    if (!socp_client_outfile_tick(f, ctx, &self->route, self->args->crypto_workers, &self->pacer,
                                  S_CHUNKS_TICK, &read_error)) {
        return 0;
    }
    if (read_error) {
        socp_warn("bridge: reading %s failed; transfer cut short", f->name);
    }
    for (size_t i = 0; i < self->ngroups; i++) {
        s_group_t *g = &self->groups[i];
        if (g->first == f->group && g->count != f->index + 2) {
            self->inflight -= g->count - (f->index + 2); // a short read
            g->count = f->index + 2;
        }
    }
    return 0;
}

void
socp_bridge_on_accepted(s_bridge_t *self, const socp_msg_cli_accepted_t *a)
{
    if (a->local_id == 0 && a->seq == 0 && a->status == 0) {
        self->pending = a->pending;
        return;
    }
    if (a->status == 0) {
        self->pending = a->pending;
    }
    for (size_t i = 0; i < self->ngroups; i++) {
        s_group_t *g = &self->groups[i];
        if (a->local_id < g->first || a->local_id >= g->first + g->count) {
            continue;
        }
        g->done++;
        if (self->inflight) {
            self->inflight--;
        }
        if (a->status != 0 && !g->failed) {
            g->failed = (int) a->status;
        }
        bool file_running = self->file.fd >= 0 && self->file.group == g->first;
        if (g->done >= g->count && !file_running) {
            if (g->failed) {
                json_decref(g->result);
                socp_bridge_fail(self, &g->origin, SOCP_BRIDGE_NOT_SENT, "not sent: %s",
                                 g->failed == SOCP_EBADKEY ? "the recipient's key is unusable"
                                                           : socp_strerror(g->failed));
            } else {
                socp_bridge_ok(self, &g->origin, g->result);
            }
            socp_bridge_origin_fini(&g->origin);
            self->groups[i] = self->groups[--self->ngroups];
        }
        return;
    }
}

// ---- the other methods ---------------------------------------------------------------

static json_t *
s_user_json(s_bridge_t *self, const s_peer_t *p)
{
    json_t *u = json_pack("{s:s,s:o,s:b,s:b,s:b}", "id", p->id, "name",
                          socp_bridge_jtext(p->name, strlen(p->name)), "online", p->online, "self",
                          strcmp(p->id, self->args->user_id) == 0, "keyRefused", p->status == 2);
    socp_bridge_user_keys(self, p, u);
    return u;
}

void
socp_bridge_user_keys(s_bridge_t *self, const s_peer_t *p, json_t *u)
{
    // Names that cannot lie: the label a person should see (the name, with a
    // short fingerprint when it clashes), the key fingerprint and server.
    char lb[300];
    socp_client_peer_label(self->peers, self->npeers, p, self->args->user_id, self->nick, lb,
                           sizeof lb);
    json_object_set_new(u, "label", socp_bridge_jtext(lb, strlen(lb)));
    json_object_set_new(u, "fingerprint", json_string(p->fp ? p->fp : ""));
    json_object_set_new(
        u, "server",
        socp_bridge_jtext(p->server ? p->server : "", p->server ? strlen(p->server) : 0));
}

void
socp_bridge_m_list(s_bridge_t *self, const s_origin_t *o)
{
    json_t *a = json_array();
    for (size_t i = 0; i < self->npeers; i++) {
        if (self->peers[i].online) {
            json_array_append_new(a, s_user_json(self, &self->peers[i]));
        }
    }
    socp_bridge_ok(self, o, a);
}

void
socp_bridge_m_history(s_bridge_t *self, const s_origin_t *o, const char *peer, json_int_t limit)
{
    char id[129] = "";
    if (peer && (strcmp(peer, "public") == 0 || strcmp(peer, "all") == 0)) {
        snprintf(id, sizeof id, "public");
    } else if (peer && *peer) {
        int hits = 0;
        s_peer_t *p = socp_bridge_resolve(self, peer, &hits);
        if (p) {
            snprintf(id, sizeof id, "%s", p->id);
        } else if (strlen(peer) <= 128 && socp_uuid_is_peer_id(peer, strlen(peer))) {
            snprintf(id, sizeof id, "%s", peer); // not online now: history by id
        } else {
            socp_bridge_fail(self, o, SOCP_BRIDGE_UNKNOWN_USER, "no user \"%s\" is known", peer);
            return;
        }
    }
    if (self->hist_n == S_HIST_Q_MAX) {
        socp_bridge_fail(self, o, SOCP_BRIDGE_BUSY, "busy: too many history requests waiting");
        return;
    }
    s_origin_t *q = &self->hist_q[self->hist_n++];
    *q = *o;
    q->id = o->id ? json_incref(o->id) : NULL;
    socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_HISTORY_REQ);
    m.body.cli_history_req.peer = id;
    m.body.cli_history_req.limit = (uint32_t) limit;
    (void) socp_actor_send(self->ctx, "store", &m);
}

static const char *
s_trust(uint8_t status)
{
    switch (status) {
        case SOCP_CLIENT_TRUST_VERIFIED:
            return "verified";
        case SOCP_CLIENT_TRUST_UNVERIFIED:
            return "unverified";
        case SOCP_CLIENT_TRUST_PLAINTEXT:
            return "plaintext";
        case SOCP_CLIENT_TRUST_UNREADABLE:
            return "unreadable";
        default:
            return "key-changed";
    }
}

static json_t *
s_show_json(s_bridge_t *self, const socp_msg_cli_show_t *s)
{
    bool pub = s->kind == SOCP_CLIENT_KIND_PUBLIC;
    const char *from = s->outgoing ? self->args->user_id : s->from;
    const char *to = pub ? "public" : s->outgoing ? s->peer : self->args->user_id;
    bool unreadable = s->status == SOCP_CLIENT_TRUST_UNREADABLE;
    bool clear = s->status == SOCP_CLIENT_TRUST_PLAINTEXT;
    // A message in clear is "verified" when its content_sig held (a form is
    // recorded); "encrypted" says whether it was end-to-end encrypted.
    bool verified = s->status == SOCP_CLIENT_TRUST_VERIFIED || (clear && s->form && *s->form);
    // An outgoing DM held for a user who was not online: "held", then
    // "sent" (handed to the server) or "failed" (given up).
    const char *state = !s->outgoing                           ? "received"
                        : s->status == SOCP_CLIENT_OUT_PENDING ? "held"
                        : s->status == SOCP_CLIENT_OUT_FAILED  ? "failed"
                                                               : "sent";
    if (s->outgoing && s->status >= SOCP_CLIENT_OUT_PENDING) {
        verified = true; // our own text
    }
    json_t *row = json_pack(
        "{s:s,s:s,s:o,s:I,s:b,s:s,s:s,s:s,s:b}", "from", from, "to", to, "text",
        unreadable ? json_string("") : socp_bridge_jtext(s->text.data, s->text.len), "ts",
        (json_int_t) s->ts, "verified", verified, "channel", pub ? "public" : "dm", "trust",
        s_trust(s->outgoing && s->status >= SOCP_CLIENT_OUT_PENDING ? 0 : s->status), "form",
        s->form ? s->form : "", "encrypted", !clear);
    json_object_set_new(row, "state", json_string(state));
    return row;
}

void
socp_bridge_on_show(s_bridge_t *self, const socp_msg_cli_show_t *s)
{
    if (s->history) {
        if (self->hist_n) {
            if (!self->hist_rows) {
                self->hist_rows = json_array();
            }
            json_t *row = s_show_json(self, s);
            json_object_set_new(row, "outgoing", json_boolean(s->outgoing));
            json_array_append_new(self->hist_rows, row);
        }
        return;
    }
    if (s->outgoing) {
        return; // our own items are answered by the send reply
    }
    socp_bridge_event(self, "message", s_show_json(self, s));
}

void
socp_bridge_on_note(s_bridge_t *self, const socp_msg_cli_note_t *n)
{
    if (strcmp(n->text, "-- end of history --") == 0 && self->hist_n) {
        s_origin_t o = self->hist_q[0];
        memmove(self->hist_q, self->hist_q + 1, (self->hist_n - 1) * sizeof *self->hist_q);
        self->hist_n--;
        socp_bridge_ok(self, &o, self->hist_rows ? self->hist_rows : json_array());
        self->hist_rows = NULL;
        socp_bridge_origin_fini(&o);
        return;
    }
    if (n->level == 0) {
        socp_info("bridge: %s", n->text);
        return;
    }
    // "server error USER_NOT_FOUND: ..." -> code USER_NOT_FOUND
    char code[64] = "CLIENT";
    const char *p = strstr(n->text, "server error ");
    if (p) {
        p += strlen("server error ");
        size_t k = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789");
        if (k > 0 && k < sizeof code) {
            memcpy(code, p, k);
            code[k] = '\0';
        }
    } else if (n->level == 3) {
        snprintf(code, sizeof code, "ALARM");
    }
    socp_bridge_event(self, "error",
                      json_pack("{s:s,s:o,s:s}", "code", code, "detail",
                                socp_bridge_jtext(n->text, strlen(n->text)), "level",
                                n->level == 1 ? "warning" : "error"));
}

void
socp_bridge_on_file(s_bridge_t *self, const socp_msg_cli_file_t *f)
{
    if (f->status == 1) {
        char hex[65] = "";
        int fd = open(f->path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            crypto_hash_sha256_state sha;
            crypto_hash_sha256_init(&sha);
            uint8_t buf[65536];
            ssize_t n;
            while ((n = read(fd, buf, sizeof buf)) > 0) {
                crypto_hash_sha256_update(&sha, buf, (size_t) n);
            }
            close(fd);
            uint8_t d[32];
            crypto_hash_sha256_final(&sha, d);
            sodium_bin2hex(hex, sizeof hex, d, sizeof d);
        }
        socp_bridge_event(self, "file",
                          json_pack("{s:s,s:s,s:s,s:o,s:o,s:I,s:s}", "event", "received", "from",
                                    f->peer, "fileId", f->file_id, "name",
                                    socp_bridge_jtext(f->name, strlen(f->name)), "path",
                                    socp_bridge_jtext(f->path, strlen(f->path)), "size",
                                    (json_int_t) f->total, "sha256", hex));
    } else if (f->status < 0) {
        socp_bridge_event(self, "file",
                          json_pack("{s:s,s:s,s:s,s:o,s:o}", "event", "failed", "from", f->peer,
                                    "fileId", f->file_id, "name",
                                    socp_bridge_jtext(f->name, strlen(f->name)), "detail",
                                    socp_bridge_jtext(f->detail, strlen(f->detail))));
    } else if (f->done == 0) {
        socp_bridge_event(self, "file",
                          json_pack("{s:s,s:s,s:s,s:o,s:I}", "event", "receiving", "from", f->peer,
                                    "fileId", f->file_id, "name",
                                    socp_bridge_jtext(f->name, strlen(f->name)), "size",
                                    (json_int_t) f->total));
    }
}

json_t *
socp_bridge_stats_json(s_bridge_t *self)
{
    return json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:I,s:I,s:I}", "requests",
        (json_int_t) self->n_requests, "errors", (json_int_t) self->n_errors, "busy",
        (json_int_t) self->n_busy, "events", (json_int_t) self->n_events, "eventsDropped",
        (json_int_t) (self->ev_dropped_zmq + self->ev_dropped_stdio), "eventsDroppedZmq",
        (json_int_t) self->ev_dropped_zmq, "eventsDroppedStdio",
        (json_int_t) self->ev_dropped_stdio, "repliesDropped", (json_int_t) self->replies_dropped,
        "inflight", (json_int_t) self->inflight, "outboxPending",
        (json_int_t) (self->pending == UINT64_MAX ? 0 : self->pending), "connected", self->link_up,
        "rateLimited", (json_int_t) self->n_slowdowns, "fileRate", (json_int_t) self->pacer.rate,
        "clientsRefused", (json_int_t) self->zap_refused);
}
