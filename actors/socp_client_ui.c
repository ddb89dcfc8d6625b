// socp_client_ui.c: the client's user interface actor.
// Part of socp, a SOCP v1.3 client and server.
//
// DESIGN
// Owns: the terminal (stdin/stdout). Two modes:
//   interactive (stdin is a terminal): raw mode, a one-line editor
//     (socp_client_lineedit: cursor keys, history, word and line kills; the
//     row scrolls to fit the terminal's width), tab completion of user
//     names, and every incoming line printed above the line being typed
//     (erase, print, redraw), so arriving messages never garble the input;
//   script (stdin is a pipe or file): one command per line, the same output
//     lines without any control codes; at end of input it waits until every
//     accepted frame has been written (outbox empty, at most 30 s) and quits.
// Also owns the directory of users as the store reports it (pinned keys),
// the pending-send table (echo a line once the store says it is durable),
// and outgoing file transfers (read from the user's file, paced by the
// crypto worker's queue).
// The commands and sending live in socp_client_ui_cmd.c; the state both
// files share is in socp_client_ui_int.h.
// In:  CLI_ACCEPTED, CLI_SHOW, CLI_PEER, CLI_NOTE, CLI_FILE, CLI_LINK,
//      CLI_SETTING (current nick). Out: CLI_SEND (cryptoN), CLI_HISTORY_REQ,
//      CLI_SETTING (store).
// Blocking calls: none; stdin is in the poll set, writes to the terminal are
// small, stdout that is not a terminal is non-blocking and buffered
// (socp_client_out). Shutdown: /quit, Ctrl-C, Ctrl-D or end of input return
// SOCP_ACTOR_STOP (the supervisor then stops the others); end of input first
// waits until everything is sent and stdout has taken its output (30 s at
// most); the terminal mode is restored on every path.
#include "socp/socp_client.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "socp/socp_client_lineedit.h"
#include "socp/socp_err.h"
#include "socp/socp_log.h"
#include "socp/socp_text.h"
#include "socp/socp_uuid.h"

#include "socp_client_ui_int.h"


// ---- output --------------------------------------------------------------------------

static void s_out_flush(s_ui_t *self);

// True when two fds are the same file (2>&1: the non-blocking flag would
// be shared, and the log's single writes could be cut short).
static bool
s_same_file(int a, int b)
{
    struct stat sa, sb;
    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static int
s_on_out_ready(socp_actor_ctx_t *ctx, int fd, short revents, void *arg)
{
    SOCP_UNUSED(ctx);
    SOCP_UNUSED(fd);
    SOCP_UNUSED(revents);
    s_out_flush(arg);
    return 0;
}

static void
s_out_flush(s_ui_t *self)
{
    socp_client_out_t *o = &self->stdout_stream;
    bool want = socp_client_out_flush(o);
    if (!want && self->out_dropping) {
        // Drained: say what was dropped, where it was dropped, then go on.
        char note[160];
        int n =
            snprintf(note, sizeof note, "(%llu lines not shown: the output was not being read)\n",
                     (unsigned long long) self->out_dropped);
        self->out_dropping = false;
        self->out_dropped = 0;
        socp_client_out_append(o, note, (size_t) n);
        want = socp_client_out_flush(o);
    }
    if (want != self->out_watched && self->ctx) {
        if (want) {
            socp_actor_watch_fd(self->ctx, o->fd, ZMQ_POLLOUT, s_on_out_ready, self);
        } else {
            socp_actor_unwatch_fd(self->ctx, o->fd);
        }
        self->out_watched = want;
    }
}

void
socp_ui_write(s_ui_t *self, const char *s, size_t n)
{
    socp_client_out_t *o = &self->stdout_stream;
    if (self->out_dropping || socp_client_out_pending(o) > S_OUT_CAP) {
        self->out_dropping = true;
        for (size_t i = 0; i < n; i++) {
            self->out_dropped += s[i] == '\n';
        }
        return;
    }
    socp_client_out_append(o, s, n);
    if (o->saved_flags >= 0) {
        s_out_flush(self);
    }
}

// Redraws the input row: the part of the line around the cursor that fits
// the terminal's width (asked each time, so a resize is followed).
void
socp_ui_redraw(s_ui_t *self)
{
    if (!self->raw) {
        return;
    }
    struct winsize ws;
    unsigned width = 80;
    if (ioctl(self->args->out_fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 8) {
        width = ws.ws_col;
    }
    char row[4096];
    size_t n = socp_lineedit_render(self->ed, "> ", width > 1000 ? 1000 : width, row, sizeof row);
    socp_ui_write(self, row, n);
}

// Prints one line above the input line. Text from outside is made safe:
// control characters and invalid UTF-8 become '?'.
void
socp_ui_print(s_ui_t *self, const char *fmt, ...)
{
    char small[4096];
    char *raw = small;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n >= (int) sizeof small && n < 4 * S_LINE_MAX) {
        raw = socp_malloc((size_t) n + 1); // a long (rejoined) message
        va_start(ap, fmt);
        n = vsnprintf(raw, (size_t) n + 1, fmt, ap);
        va_end(ap);
    }
    size_t cap = raw == small ? sizeof small : (size_t) n + 1;
    size_t len = n < 0 ? 0 : (size_t) n >= cap ? cap - 1 : (size_t) n;
    char outsmall[4200];
    char *out = len + 16 <= sizeof outsmall ? outsmall : socp_malloc(len + 16);
    size_t osize = out == outsmall ? sizeof outsmall : len + 16;
    size_t o = 0;
    if (self->raw) {
        memcpy(out, "\r\x1b[K", 4);
        o = 4;
    }
    for (size_t i = 0; i < len && o < osize - 8;) {
        uint32_t cp;
        size_t k = socp_text_utf8_decode((const uint8_t *) raw + i, len - i, &cp);
        if (k == 0 || !socp_text_printable(cp)) {
            out[o++] = '?';
            i += k ? k : 1;
            continue;
        }
        memcpy(out + o, raw + i, k);
        o += k;
        i += k;
    }
    out[o++] = '\n';
    socp_ui_write(self, out, o);
    socp_ui_redraw(self);
    if (out != outsmall) {
        free(out);
    }
    if (raw != small) {
        free(raw);
    }
}

static void
s_clock(int64_t ts_ms, char out[16])
{
    time_t t = (time_t) (ts_ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm)) {
        snprintf(out, 16, "--:--:--");
        return;
    }
    strftime(out, 16, "%H:%M:%S", &tm);
}

// ---- directory -----------------------------------------------------------------------

const char *
socp_ui_label(s_ui_t *self, const char *id, char *buf, size_t size)
{
    if (strcmp(id, self->args->user_id) == 0 || strcmp(id, "me") == 0) {
        return "you";
    }
    s_peer_t *p = socp_client_peer_find(self->peers, self->npeers, id);
    if (!p || !p->name || !*p->name) {
        return id;
    }
    return socp_ui_peer_label(self, p, buf, size);
}

const char *
socp_ui_peer_label(s_ui_t *self, const s_peer_t *p, char *buf, size_t size)
{
    socp_client_peer_label(self->peers, self->npeers, p, self->args->user_id, self->nick, buf,
                           size);
    return buf;
}

// Resolves a user by exact id, exact display name, or unique prefix of
// either. Prints why on failure.
s_peer_t *
socp_ui_resolve(s_ui_t *self, const char *who)
{
    int hits = 0;
    s_peer_t *hit = socp_client_peer_resolve(self->peers, self->npeers, who, &hits);
    if (hit) {
        return hit;
    }
    socp_ui_print(self,
                  hits ? "error: \"%s\" matches %d users; use more of the id"
                       : "error: no user \"%s\" (try /list)",
                  who, hits);
    return NULL;
}

static void
s_on_peer(s_ui_t *self, const socp_msg_cli_peer_t *p)
{
    // How they were shown until now: a rename is said out loud.
    char before[S_LABEL_MAX] = "";
    s_peer_t *old = socp_client_peer_find(self->peers, self->npeers, p->user_id);
    if (old) {
        socp_ui_peer_label(self, old, before, sizeof before);
    }
    bool was_online = false;
    s_peer_t *e = socp_client_peer_update(self->peers, &self->npeers, S_PEERS_MAX, p, &was_online);
    if (!e) {
        return;
    }
    bool self_id = strcmp(p->user_id, self->args->user_id) == 0;
    if (self_id || !self->link_up) {
        return;
    }
    char t[16], lb[S_LABEL_MAX];
    s_clock(socp_wall_ms(), t);
    socp_ui_peer_label(self, e, lb, sizeof lb);
    if (p->online != was_online) {
        socp_ui_print(self, "[%s] * %s %s", t, lb, p->online ? "is online" : "left");
    } else if (old && p->online && strcmp(before, lb) != 0) {
        socp_ui_print(self, "[%s] * %s is now known as %s", t, before, lb);
    }
}

// ---- input ---------------------------------------------------------------------------

static void
s_complete(s_ui_t *self)
{
    size_t plen;
    const char *prefix = socp_lineedit_word(self->ed, &plen);
    const char *match = NULL;
    int hits = 0;
    for (size_t i = 0; i < self->npeers; i++) {
        const char *cand[2] = {self->peers[i].name, self->peers[i].id};
        for (int k = 0; k < 2; k++) {
            if (self->peers[i].online && strncmp(cand[k], prefix, plen) == 0 &&
                !strchr(cand[k], ' ')) {
                if (!match || strcmp(match, cand[k]) != 0) {
                    hits++;
                }
                match = cand[k];
                break;
            }
        }
    }
    if (hits == 1) {
        (void) socp_lineedit_complete(self->ed, match); // the caller redraws
    } else if (hits > 1) {
        char list[2048] = {0};
        size_t o = 0;
        for (size_t i = 0; i < self->npeers && o < sizeof list - 140; i++) {
            if (self->peers[i].online && strncmp(self->peers[i].name, prefix, plen) == 0) {
                o += (size_t) snprintf(list + o, sizeof list - o, "%s ", self->peers[i].name);
            }
        }
        socp_ui_print(self, "%s", list);
    }
}

// One byte from the terminal (raw mode). A change to the line only sets
// *dirty: the row is redrawn once per read, so a long paste costs one
// redraw per read instead of one per byte.
static int
s_key(socp_actor_ctx_t *ctx, s_ui_t *self, uint8_t byte, bool *dirty)
{
    switch (socp_lineedit_feed(self->ed, byte)) {
        case SOCP_LINEEDIT_REDRAW:
            *dirty = true;
            return 0;
        case SOCP_LINEEDIT_COMPLETE:
            s_complete(self);
            *dirty = true;
            return 0;
        case SOCP_LINEEDIT_INTERRUPT:
        case SOCP_LINEEDIT_EOF:
            return SOCP_ACTOR_STOP;
        case SOCP_LINEEDIT_SUBMIT: {
            char *line = socp_lineedit_take(self->ed);
            socp_ui_write(self, "\r\x1b[K", 4);
            int rc = socp_ui_command(ctx, self, line);
            free(line);
            socp_ui_redraw(self);
            *dirty = false;
            return rc;
        }
        case SOCP_LINEEDIT_NONE:
            return 0;
    }
    return 0;
}

static int s_on_drain(socp_actor_ctx_t *ctx, int timer_id, void *arg);
static int s_take_lines(socp_actor_ctx_t *ctx, s_ui_t *self);

static bool
s_idle(s_ui_t *self)
{
    return self->ngroups == 0 && self->out.fd < 0 && self->pending == 0 &&
           socp_client_out_pending(&self->stdout_stream) == 0;
}

static int
s_on_input(socp_actor_ctx_t *ctx, int fd, short revents, void *arg)
{
    SOCP_UNUSED(revents);
    s_ui_t *self = arg;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return 0;
    }
    if (n <= 0) {
        socp_actor_unwatch_fd(ctx, fd);
        if (self->raw) {
            return SOCP_ACTOR_STOP;
        }
        self->eof = true;
        self->eof_ms = socp_now_ms();
        if (self->inlen > 0) {
            self->inbuf[self->inlen] = '\0';
            self->inlen = 0;
            if (socp_ui_command(ctx, self, self->inbuf) == SOCP_ACTOR_STOP) {
                return SOCP_ACTOR_STOP;
            }
        }
        self->drain_timer = socp_actor_timer_add(ctx, 10, 10, s_on_drain, self);
        return 0;
    }
    if (self->raw) {
        bool dirty = false;
        for (size_t i = 0; i < (size_t) n; i++) {
            int rc = s_key(ctx, self, (uint8_t) buf[i], &dirty);
            if (rc != 0) {
                return rc;
            }
        }
        if (dirty) {
            socp_ui_redraw(self);
        }
        return 0;
    }
    memcpy(self->rbuf, buf, (size_t) n);
    self->rlen = (size_t) n;
    self->rpos = 0;
    return s_take_lines(ctx, self);
}

// Runs the script lines read so far, until the crypto workers have a full
// window; then stdin is left unread (the writer blocks, nothing is dealt
// out ahead) until a CLI_DONE frees the window.
static int
s_take_lines(socp_actor_ctx_t *ctx, s_ui_t *self)
{
    while (self->rpos < self->rlen) {
        if (socp_client_route_busy(&self->route, self->args->crypto_workers)) {
            if (!self->in_paused) {
                socp_actor_unwatch_fd(ctx, self->args->in_fd);
                self->in_paused = true;
            }
            return 0;
        }
        char c = self->rbuf[self->rpos++];
        if (c == '\n') {
            self->inbuf[self->inlen] = '\0';
            self->inlen = 0;
            int rc = socp_ui_command(ctx, self, self->inbuf);
            if (rc != 0) {
                return rc;
            }
        } else if (self->inlen < sizeof self->inbuf - 1) {
            self->inbuf[self->inlen++] = c;
        } else {
            socp_ui_print(self, "error: line too long (64 KiB max); ignored");
            self->inlen = 0;
        }
    }
    if (self->in_paused) {
        socp_actor_watch_fd(ctx, self->args->in_fd, ZMQ_POLLIN, s_on_input, self);
        self->in_paused = false;
    }
    return 0;
}

static int
s_on_drain(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    SOCP_UNUSED(ctx);
    SOCP_UNUSED(timer_id);
    s_ui_t *self = arg;
    if (s_idle(self)) {
        return SOCP_ACTOR_STOP;
    }
    if (socp_now_ms() - self->eof_ms > S_DRAIN_MS) {
        uint64_t unsent = self->pending == UINT64_MAX ? 0 : self->pending;
        if (unsent || self->ngroups || self->out.fd >= 0) {
            socp_ui_print(self,
                          "warning: %llu message(s) not sent yet; they stay in the outbox and go "
                          "out next time",
                          (unsigned long long) unsent);
        } else {
            socp_warn("stdout was not read for %d s; the rest of the output is dropped",
                      S_DRAIN_MS / 1000);
        }
        return SOCP_ACTOR_STOP;
    }
    return 0;
}

// ---- messages from the other actors -------------------------------------------------

static void
s_on_accepted(s_ui_t *self, const socp_msg_cli_accepted_t *a)
{
    if (a->local_id == 0 && a->seq == 0 && a->status == 0) {
        self->pending = a->pending; // outbox status
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
        if (a->status != 0 && !g->failed) {
            g->failed = (int) a->status;
        }
        if (g->done >= g->count || (self->out.fd < 0 && g->done >= g->count)) {
            char t[16];
            s_clock(socp_wall_ms(), t);
            if (g->failed) {
                socp_ui_print(self, "[%s] NOT SENT (%s): %s", t,
                              g->failed == SOCP_EBADKEY ? "the recipient's key is unusable"
                                                        : socp_strerror(g->failed),
                              g->line);
            } else {
                socp_ui_print(self, "[%s] %s", t, g->line);
            }
            free(g->line);
            self->groups[i] = self->groups[--self->ngroups];
        }
        return;
    }
}

// Sent in clear and its content_sig did not verify (no form recorded).
static bool
s_clear_unverified(const socp_msg_cli_show_t *s)
{
    return s->status == SOCP_CLIENT_TRUST_PLAINTEXT && !s->outgoing && (!s->form || !*s->form);
}

// unsigned_clear: a message in clear whose signature did not verify gets
// both marks.
static void
s_show_line(s_ui_t *self,
            const socp_msg_cli_show_t *s,
            int64_t ts,
            uint8_t status,
            bool unsigned_clear,
            const char *extra,
            const char *text,
            int tl)
{
    char t[16];
    s_clock(ts, t);
    const char *mark = "";
    switch (status) {
        case SOCP_CLIENT_TRUST_UNVERIFIED:
            mark = "[UNVERIFIED] ";
            break;
        case SOCP_CLIENT_TRUST_PLAINTEXT:
            mark = unsigned_clear ? "[NOT ENCRYPTED] [UNVERIFIED] " : "[NOT ENCRYPTED] ";
            break;
        case SOCP_CLIENT_TRUST_UNREADABLE:
            mark = "[UNREADABLE] ";
            break;
        default:
            break;
    }
    const char *where = s->kind == SOCP_CLIENT_KIND_PUBLIC ? "all" : "you";
    const char *hist = s->history ? "  " : "";
    char lb[S_LABEL_MAX];
    if (s->outgoing) {
        // What became of a DM held for a user who was not online.
        const char *fate = status == SOCP_CLIENT_OUT_PENDING  ? "  [HELD: not online yet]"
                           : status == SOCP_CLIENT_OUT_FAILED ? "  [NOT DELIVERED: given up]"
                                                              : "";
        socp_ui_print(self, "%s[%s] %syou -> %s: %.*s%s", hist, t, extra,
                      s->kind == SOCP_CLIENT_KIND_PUBLIC
                          ? "all"
                          : socp_ui_label(self, s->peer, lb, sizeof lb),
                      tl, text, fate);
    } else if (status == SOCP_CLIENT_TRUST_UNREADABLE) {
        socp_ui_print(self, "%s[%s] %s%s%s -> %s: (message could not be decrypted)", hist, t, extra,
                      mark, socp_ui_label(self, s->from, lb, sizeof lb), where);
    } else {
        socp_ui_print(self, "%s[%s] %s%s%s -> %s: %.*s", hist, t, extra, mark,
                      socp_ui_label(self, s->from, lb, sizeof lb), where, tl, text);
    }
}

static void
s_join_flush(s_ui_t *self, s_join_t *j, const char *extra)
{
    socp_msg_cli_show_t s = {.kind = j->kind,
                             .outgoing = j->outgoing,
                             .peer = j->peer,
                             .from = j->from,
                             .history = j->history};
    s_show_line(self, &s, j->ts_first, j->status, j->unsigned_clear, extra, j->buf ? j->buf : "",
                (int) j->len);
    free(j->buf);
    memset(j, 0, sizeof *j);
}

static s_join_t *
s_join_find(s_ui_t *self, const socp_msg_cli_show_t *s)
{
    for (size_t i = 0; i < S_JOINS; i++) {
        s_join_t *j = &self->joins[i];
        if (j->used && j->kind == s->kind && j->history == s->history &&
            j->outgoing == s->outgoing && strcmp(j->from, s->from) == 0 &&
            strcmp(j->peer, s->peer) == 0) {
            return j;
        }
    }
    return NULL;
}

static void
s_on_show(s_ui_t *self, const socp_msg_cli_show_t *s)
{
    int tl = (int) s->text.len;
    const char *text = s->text.len ? (const char *) s->text.data : "";
    bool textual = (s->kind == SOCP_CLIENT_KIND_DM || s->kind == SOCP_CLIENT_KIND_PUBLIC) &&
                   s->status != SOCP_CLIENT_TRUST_UNREADABLE;
    s_join_t *j = textual ? s_join_find(self, s) : NULL;
    if (j && s->ts != j->ts_last + 1) {
        s_join_flush(self, j, "[INCOMPLETE] "); // the rest never came
        j = NULL;
    }
    bool more =
        textual && tl >= S_MORE_LEN && memcmp(text + tl - S_MORE_LEN, S_MORE, S_MORE_LEN) == 0;
    if (more) {
        tl -= S_MORE_LEN;
        if (j && j->len + (size_t) tl > S_LINE_MAX) {
            s_join_flush(self, j, "[INCOMPLETE] "); // too long: show what we have
            j = NULL;
        }
        if (!j) {
            size_t oldest = 0;
            for (size_t i = 0; i < S_JOINS; i++) {
                if (!self->joins[i].used) {
                    oldest = i;
                    break;
                }
                if (self->joins[i].since_ms < self->joins[oldest].since_ms) {
                    oldest = i;
                }
            }
            j = &self->joins[oldest];
            if (j->used) {
                s_join_flush(self, j, "[INCOMPLETE] ");
            }
            *j = (s_join_t){.used = true,
                            .history = s->history,
                            .outgoing = s->outgoing,
                            .kind = s->kind,
                            .ts_first = s->ts,
                            .since_ms = socp_now_ms()};
            snprintf(j->from, sizeof j->from, "%s", s->from ? s->from : "");
            snprintf(j->peer, sizeof j->peer, "%s", s->peer ? s->peer : "");
        }
        j->buf = socp_realloc(j->buf, j->len + (size_t) tl + 1);
        memcpy(j->buf + j->len, text, (size_t) tl);
        j->len += (size_t) tl;
        j->ts_last = s->ts;
        j->status = s->status > j->status ? s->status : j->status;
        j->unsigned_clear |= s_clear_unverified(s);
        return;
    }
    if (j) {
        j->buf = socp_realloc(j->buf, j->len + (size_t) tl + 1);
        memcpy(j->buf + j->len, text, (size_t) tl);
        j->len += (size_t) tl;
        j->status = s->status > j->status ? s->status : j->status;
        j->unsigned_clear |= s_clear_unverified(s);
        s_join_flush(self, j, "");
        return;
    }
    s_show_line(self, s, s->ts, s->status, s_clear_unverified(s), "", text, tl);
}

// Shows long messages whose last piece did not come in time.
static int
s_on_join_tick(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    SOCP_UNUSED(ctx);
    SOCP_UNUSED(timer_id);
    s_ui_t *self = arg;
    uint64_t now = socp_now_ms();
    for (size_t i = 0; i < S_JOINS; i++) {
        if (self->joins[i].used && now - self->joins[i].since_ms > S_JOIN_STALE_MS) {
            s_join_flush(self, &self->joins[i], "[INCOMPLETE] ");
        }
    }
    return 0;
}

static void
s_on_file(s_ui_t *self, const socp_msg_cli_file_t *f)
{
    char t[16];
    s_clock(socp_wall_ms(), t);
    char lb[S_LABEL_MAX];
    const char *who = socp_ui_label(self, f->peer, lb, sizeof lb);
    if (f->status == 1) {
        socp_ui_print(self, "[%s] received file %s (%llu bytes, sha256 ok) from %s: saved as %s", t,
                      f->name, (unsigned long long) f->total, who, f->path);
        self->last_in_pct = 0;
    } else if (f->status < 0) {
        socp_ui_print(self, "[%s] file %s from %s FAILED: %s (nothing saved)", t, f->name, who,
                      f->detail);
    } else if (f->done == 0) {
        socp_ui_print(self, "[%s] receiving file %s (%llu bytes) from %s ...", t, f->name,
                      (unsigned long long) f->total, who);
    } else if (self->raw && f->total) {
        unsigned pct = (unsigned) (f->done * 100 / f->total);
        char bar[120];
        snprintf(bar, sizeof bar, "\r\x1b[Kreceiving %.40s [%-20.*s] %3u%%", f->name,
                 (int) (pct / 5), "####################", pct);
        socp_ui_write(self, bar, strlen(bar));
    }
}

// The server says we exceed its rate limit (it drops what is over): halve
// the file rate. Frames already dropped are lost: the receiver's size and
// sha256 check fails and the user is told to send the file again.
static void
s_on_rate(s_ui_t *self)
{
    uint64_t now = socp_now_ms();
    bool first = socp_client_pacer_slow_down(&self->pacer, now);
    s_outfile_t *o = &self->out;
    if (o->fd < 0) {
        if (!first) {
            return;
        }
        if (o->name[0] && socp_client_pacer_recent(&self->pacer, now)) {
            // The file went out faster than the server takes it in.
            socp_ui_print(self,
                          "warning: the server is rate-limiting us: %s went out faster than it "
                          "accepts and may arrive late; the next file starts at %u frames/s",
                          o->name, (unsigned) self->pacer.rate);
        } else {
            socp_ui_print(self,
                          "warning: the server is rate-limiting us: messages may be delayed or "
                          "dropped");
        }
        return;
    }
    socp_ui_print(self,
                  "warning: the server is rate-limiting us: sending %s at %u frames/s (if the "
                  "transfer fails, send it again)",
                  o->name, (unsigned) self->pacer.rate);
}

// Script mode: starts reading the commands (once).
static void
s_script_start(socp_actor_ctx_t *ctx, s_ui_t *self)
{
    if (!self->in_waiting) {
        return;
    }
    self->in_waiting = false;
    if (self->wait_timer) {
        socp_actor_timer_cancel(ctx, self->wait_timer);
        self->wait_timer = 0;
    }
    socp_actor_watch_fd(ctx, self->args->in_fd, ZMQ_POLLIN, s_on_input, self);
}

static int
s_on_script_wait(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    SOCP_UNUSED(timer_id);
    s_ui_t *self = arg;
    self->wait_timer = 0;
    s_script_start(ctx, self);
    return 0;
}

static int
s_on_msg(socp_actor_ctx_t *ctx, socp_msg_t *msg, void *arg)
{
    s_ui_t *self = arg;
    switch (msg->type) {
        case SOCP_MSG_CLI_ACCEPTED:
            s_on_accepted(self, &msg->body.cli_accepted);
            break;
        case SOCP_MSG_CLI_DONE:
            socp_client_route_done(&self->route, msg->body.cli_done.worker);
            if (self->in_paused) {
                return s_take_lines(ctx, self);
            }
            break;
        case SOCP_MSG_CLI_SHOW:
            s_on_show(self, &msg->body.cli_show);
            break;
        case SOCP_MSG_CLI_PEER:
            s_on_peer(self, &msg->body.cli_peer);
            break;
        case SOCP_MSG_CLI_PEER_SIG:
            socp_client_peer_sig(self->peers, self->npeers, &msg->body.cli_peer_sig);
            break;
        case SOCP_MSG_CLI_RELEASE:
            (void) socp_client_release(ctx, &self->route, self->args->crypto_workers, self->peers,
                                       self->npeers, &msg->body.cli_release);
            break;
        case SOCP_MSG_CLI_NOTE: {
            static const char *const prefix[] = {"", "warning: ", "error: ", "!!! "};
            uint8_t lv = msg->body.cli_note.level < 4 ? msg->body.cli_note.level : 3;
            socp_ui_print(self, "%s%s", prefix[lv], msg->body.cli_note.text);
            break;
        }
        case SOCP_MSG_CLI_FILE:
            s_on_file(self, &msg->body.cli_file);
            break;
        case SOCP_MSG_CLI_RATE:
            s_on_rate(self);
            break;
        case SOCP_MSG_CLI_LINK:
            if (msg->body.cli_link.up != self->link_up) {
                self->link_up = msg->body.cli_link.up;
                if (self->link_up) {
                    socp_ui_print(self, "connected to %s as %s", msg->body.cli_link.detail,
                                  self->args->user_id);
                    // The presence net saw before the link went up came
                    // first (both pass through the store, in order): say
                    // who is online, then let a script's commands run.
                    char t[16];
                    s_clock(socp_wall_ms(), t);
                    for (size_t i = 0; i < self->npeers; i++) {
                        const s_peer_t *e = &self->peers[i];
                        if (e->online && strcmp(e->id, self->args->user_id) != 0) {
                            char lb[S_LABEL_MAX];
                            socp_ui_print(self, "[%s] * %s is online", t,
                                          socp_ui_peer_label(self, e, lb, sizeof lb));
                        }
                    }
                    s_script_start(ctx, self);
                } else {
                    socp_ui_print(self, "disconnected (%s); reconnecting ...",
                                  msg->body.cli_link.detail);
                    for (size_t i = 0; i < self->npeers; i++) {
                        self->peers[i].online = false;
                    }
                }
            } else if (!self->link_up) {
                socp_ui_print(self, "cannot reach %s (%s); retrying ...", self->args->server_url,
                              msg->body.cli_link.detail);
            }
            break;
        case SOCP_MSG_CLI_SETTING:
            if (strcmp(msg->body.cli_setting.key, "nick") == 0) {
                snprintf(self->nick, sizeof self->nick, "%s", msg->body.cli_setting.value);
            }
            break;
        default:
            break;
    }
    return 0;
}

int
socp_client_ui_actor(socp_actor_ctx_t *ctx, void *args)
{
    s_ui_t *self = socp_calloc(1, sizeof *self);
    self->args = args;
    self->next_local = 1;
    self->pending = UINT64_MAX;
    self->out.fd = -1;
    self->ctx = ctx;
    self->ed = socp_lineedit_new(S_LINE_MAX - 1, S_HIST_MAX);
    socp_client_pacer_init(&self->pacer, (double) self->args->file_rate);
    socp_client_out_init(&self->stdout_stream, self->args->out_fd,
                         !s_same_file(self->args->out_fd, STDERR_FILENO));
    if (self->args->interactive && tcgetattr(self->args->in_fd, &self->saved) == 0) {
        struct termios t = self->saved;
        t.c_lflag &= (tcflag_t) ~(ICANON | ECHO | ISIG | IEXTEN);
        t.c_iflag &= (tcflag_t) ~(IXON | ICRNL);
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        self->raw = tcsetattr(self->args->in_fd, TCSAFLUSH, &t) == 0;
    }
    if (self->raw) {
        socp_actor_watch_fd(ctx, self->args->in_fd, ZMQ_POLLIN, s_on_input, self);
    } else {
        // A script's commands run once the link is up and the server's list
        // of users is in (so "/tell bob" finds bob), or after S_SCRIPT_WAIT
        // without a link (what it sends then waits in the outbox).
        self->in_waiting = true;
        self->wait_timer = socp_actor_timer_add(ctx, S_SCRIPT_WAIT, 0, s_on_script_wait, self);
    }
    (void) socp_actor_timer_add(ctx, 1000, 1000, s_on_join_tick, self);
    socp_actor_ready(ctx, 0);
    if (self->args->display_name && *self->args->display_name) {
        snprintf(self->nick, sizeof self->nick, "%s", self->args->display_name);
        socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_SETTING);
        m.body.cli_setting.key = "nick";
        m.body.cli_setting.value = self->nick;
        (void) socp_actor_send(ctx, "store", &m);
    }
    if (self->raw) {
        socp_ui_print(self, "socp %s — type /help for commands, /quit to leave", SOCP_VERSION);
    }
    int rc = socp_actor_run(ctx, s_on_msg, self);
    if (self->raw) {
        socp_ui_write(self, "\r\x1b[K", 4);
        (void) tcsetattr(self->args->in_fd, TCSAFLUSH, &self->saved);
    }
    // What stdout has not taken yet, for a bounded time: a reader that
    // stopped reading cannot hold up the exit. At end of input the drain
    // above already waited for it; /quit allows 600 ms (exit within a
    // second); a stop from the supervisor (SIGTERM) 200 ms, since it waits
    // 300 ms for us.
    socp_client_out_fini(&self->stdout_stream, self->quitting ? 600 : 200);
    socp_client_outfile_fini(&self->out);
    socp_client_peers_fini(self->peers, self->npeers);
    for (size_t i = 0; i < self->ngroups; i++) {
        free(self->groups[i].line);
    }
    socp_lineedit_destroy(&self->ed);
    for (size_t i = 0; i < S_JOINS; i++) {
        free(self->joins[i].buf);
    }
    free(self);
    return rc;
}
