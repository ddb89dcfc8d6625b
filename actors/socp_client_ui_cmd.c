// socp_client_ui_cmd.c: the ui actor's commands (/tell /all /file /list
// /history /whoami /nick /help /quit) and how what the user sends goes out:
// split into 446-byte pieces, numbered and spread over the crypto workers
// (socp_client_route), echoed once every piece is durable (groups), files
// read and paced (socp_client_pacer) under the server's rate limit.
// Part of socp, a SOCP v1.3 client and server. The actor itself, the
// terminal and the messages from the other actors: socp_client_ui.c.
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
#include "socp_client_ui_int.h"

// ---- sending -------------------------------------------------------------------------

static s_group_t *
s_group_new(s_ui_t *self, uint64_t count, const char *line)
{
    if (self->ngroups == S_GROUPS_MAX) {
        socp_ui_print(self, "error: too many messages waiting to be saved; try again in a moment");
        return NULL;
    }
    s_group_t *g = &self->groups[self->ngroups++];
    *g = (s_group_t){self->next_local, count, 0, 0, socp_strdup(line)};
    self->next_local += count;
    return g;
}

static void
s_send(socp_actor_ctx_t *ctx,
       s_ui_t *self,
       uint8_t kind,
       uint64_t local_id,
       const s_peer_t *to,
       const char *pub,
       const void *data,
       size_t len,
       const char *meta,
       uint64_t index,
       int64_t ts)
{
    socp_client_piece_t piece = {kind, local_id, to->id, pub,     data, len,
                                 meta, index,    ts,     to->sig, 0};
    socp_client_send_piece(ctx, &self->route, self->args->crypto_workers, &piece);
}

static bool
s_usable(s_ui_t *self, const s_peer_t *p)
{
    char lb[S_LABEL_MAX];
    if (p->status == 2) {
        socp_ui_print(
            self, "error: %s's key changed and was refused; not sending (see the warning above)",
            socp_ui_peer_label(self, p, lb, sizeof lb));
        return false;
    }
    if (!p->pub || !*p->pub) {
        socp_ui_print(self, "error: no key known for %s",
                      socp_ui_peer_label(self, p, lb, sizeof lb));
        return false;
    }
    return true;
}

// Splits a message for sending: one piece when it fits one RSA block, else
// pieces of at most 443 bytes so every piece but the last has room for the
// "more follows" marker.
static int
s_split(const char *text, socp_text_pieces_t *pieces)
{
    size_t n = strlen(text);
    return socp_text_split(
        text, n, n <= SOCP_TEXT_PIECE_MAX ? SOCP_TEXT_PIECE_MAX : SOCP_TEXT_PIECE_MAX - S_MORE_LEN,
        pieces);
}

// Piece i of text as sent: with the marker unless it is the last one.
static size_t
s_piece(const char *text, const socp_text_pieces_t *pieces, size_t i, char out[SOCP_TEXT_PIECE_MAX])
{
    size_t n = pieces->items[i].len;
    memcpy(out, text + pieces->items[i].offset, n);
    if (i + 1 < pieces->count) {
        memcpy(out + n, S_MORE, S_MORE_LEN);
        n += S_MORE_LEN;
    }
    return n;
}

static void
s_cmd_tell(socp_actor_ctx_t *ctx, s_ui_t *self, const char *who, const char *text)
{
    s_peer_t *p = socp_ui_resolve(self, who);
    if (!p || !s_usable(self, p)) {
        return;
    }
    socp_text_pieces_t pieces = {0};
    if (s_split(text, &pieces) != 0 || pieces.count == 0) {
        socp_ui_print(self, "error: the message is empty or not valid UTF-8");
        return;
    }
    char lb[S_LABEL_MAX];
    socp_ui_peer_label(self, p, lb, sizeof lb);
    // Not online (or we are not connected, so nobody is known to be):
    // held by the store until they are, and sent then (never refused by
    // a server that does not know them, and lost).
    bool hold = !p->online && strcmp(p->id, self->args->user_id) != 0;
    char note[S_LABEL_MAX + 128] = "";
    if (hold) {
        snprintf(note, sizeof note, "  [HELD: %s; it is sent when %s is online, for up to %s]",
                 self->link_up ? "not online" : "not connected", lb, self->args->hold_text);
    }
    size_t lsize = strlen(text) + strlen(lb) + strlen(note) + 16;
    char *line = socp_malloc(lsize);
    snprintf(line, lsize, "you -> %s: %s%s", lb, text, note);
    s_group_t *g = s_group_new(self, pieces.count, line);
    free(line);
    int64_t ts = socp_wall_ms();
    for (size_t i = 0; g && i < pieces.count; i++) {
        char piece[SOCP_TEXT_PIECE_MAX];
        size_t n = s_piece(text, &pieces, i, piece);
        if (hold) {
            socp_client_hold_piece(ctx, g->first + i, p->id, piece, n, ts + (int64_t) i);
        } else {
            s_send(ctx, self, SOCP_CLIENT_KIND_DM, g->first + i, p, p->pub, piece, n, NULL, 0,
                   ts + (int64_t) i);
        }
        sodium_memzero(piece, sizeof piece);
    }
    socp_text_pieces_fini(&pieces);
}

static void
s_cmd_all(socp_actor_ctx_t *ctx, s_ui_t *self, const char *text)
{
    socp_text_pieces_t pieces = {0};
    if (s_split(text, &pieces) != 0 || pieces.count == 0) {
        socp_ui_print(self, "error: the message is empty or not valid UTF-8");
        return;
    }
    size_t members = 0;
    for (size_t i = 0; i < self->npeers; i++) {
        s_peer_t *p = &self->peers[i];
        members += p->online && p->status != 2 && strcmp(p->id, self->args->user_id) != 0 &&
                   p->pub && *p->pub;
    }
    size_t lsize = strlen(text) + 16;
    char *line = socp_malloc(lsize);
    snprintf(line, lsize, "you -> all: %s", text);
    if (members == 0) {
        socp_ui_print(self, "%s  (nobody else is online)", line);
        free(line);
        socp_text_pieces_fini(&pieces);
        return;
    }
    s_group_t *g = s_group_new(self, members * pieces.count, line);
    free(line);
    int64_t ts = socp_wall_ms();
    uint64_t id = g ? g->first : 0;
    for (size_t i = 0; g && i < self->npeers; i++) {
        s_peer_t *p = &self->peers[i];
        if (!p->online || p->status == 2 || strcmp(p->id, self->args->user_id) == 0 || !p->pub ||
            !*p->pub) {
            continue;
        }
        for (size_t k = 0; k < pieces.count; k++) {
            char piece[SOCP_TEXT_PIECE_MAX];
            size_t n = s_piece(text, &pieces, k, piece);
            s_send(ctx, self, SOCP_CLIENT_KIND_PUBLIC, id++, p, p->pub, piece, n, NULL, 0,
                   ts + (int64_t) k);
        }
    }
    socp_text_pieces_fini(&pieces);
}

static int s_on_file_tick(socp_actor_ctx_t *ctx, int timer_id, void *arg);

static void
s_cmd_file(socp_actor_ctx_t *ctx, s_ui_t *self, const char *who, const char *path)
{
    if (self->out.fd >= 0) {
        socp_ui_print(self, "error: a file is already being sent; wait for it to finish");
        return;
    }
    s_peer_t *p = socp_ui_resolve(self, who);
    if (!p || !s_usable(self, p)) {
        return;
    }
    socp_client_file_t file;
    char why[4200];
    if (socp_client_file_open(path, S_FILE_MAX, &file, why, sizeof why) != 0) {
        socp_ui_print(self, "error: %s", why);
        return;
    }
    uint64_t total = file.size;
    uint64_t chunks = (total + SOCP_TEXT_PIECE_MAX - 1) / SOCP_TEXT_PIECE_MAX;
    char line[512], lb[S_LABEL_MAX];
    socp_ui_peer_label(self, p, lb, sizeof lb);
    snprintf(line, sizeof line, "file %s (%llu bytes) sent to %s", file.name,
             (unsigned long long) total, lb);
    s_group_t *g = s_group_new(self, chunks + 2, line);
    if (!g) {
        close(file.fd);
        return;
    }
    s_outfile_t *o = &self->out;
    socp_client_outfile_start(o, &file, p->id, p->pub, g->first);
    s_send(ctx, self, SOCP_CLIENT_KIND_FILE_START, o->group, p, p->pub, NULL, 0, file.meta, 0,
           socp_wall_ms());
    socp_ui_print(self, "sending %s (%llu bytes) to %s ...", o->name, (unsigned long long) total,
                  lb);
    socp_client_pacer_start(&self->pacer, socp_now_ms());
    o->timer = socp_actor_timer_add(ctx, 0, 5, s_on_file_tick, self);
}

static int
s_on_file_tick(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    SOCP_UNUSED(timer_id);
    s_ui_t *self = arg;
    s_outfile_t *o = &self->out;
    bool read_error;
    uint64_t before = o->sent;
    bool done = socp_client_outfile_tick(o, ctx, &self->route, self->args->crypto_workers,
                                         &self->pacer, S_CHUNKS_TICK, &read_error);
    if (read_error) {
        socp_ui_print(self, "error: reading %s failed; transfer aborted", o->name);
    }
    if (self->raw && o->size > 0 && o->sent != before) {
        unsigned pct = (unsigned) (o->sent * 100 / o->size);
        char bar[128];
        int fill = (int) (pct / 5);
        snprintf(bar, sizeof bar, "\r\x1b[Ksending %.40s [%-20.*s] %3u%%", o->name, fill,
                 "####################", pct);
        socp_ui_write(self, bar, strlen(bar));
    }
    if (done) {
        // Unused ids of the group (a short read) count as done.
        for (size_t i = 0; i < self->ngroups; i++) {
            if (self->groups[i].first == o->group) {
                self->groups[i].count = o->index + 2;
            }
        }
        socp_ui_redraw(self);
    }
    return 0;
}

// ---- commands ------------------------------------------------------------------------

static int
s_peer_cmp(const void *a, const void *b)
{
    const s_peer_t *x = *(const s_peer_t *const *) a, *y = *(const s_peer_t *const *) b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->id, y->id);
}

static void
s_cmd_list(s_ui_t *self)
{
    const s_peer_t **on = socp_calloc(self->npeers + 1, sizeof *on);
    size_t n = 0;
    bool have_me = false;
    for (size_t i = 0; i < self->npeers; i++) {
        if (self->peers[i].online) {
            on[n++] = &self->peers[i];
            have_me = have_me || strcmp(self->peers[i].id, self->args->user_id) == 0;
        }
    }
    // We are online while the link is up, even before the server's
    // advertisement of us has come back.
    const char *me_name = self->nick[0] ? self->nick : self->args->user_id;
    s_peer_t self_peer = {
        .id = (char *) self->args->user_id, .name = (char *) me_name, .online = true};
    if (!have_me && self->link_up) {
        on[n++] = &self_peer;
    }
    qsort(on, n, sizeof *on, s_peer_cmp);
    socp_ui_print(self, "%zu user%s online:", n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        bool me = strcmp(on[i]->id, self->args->user_id) == 0;
        char lb[S_LABEL_MAX];
        socp_ui_print(self, "  %s  %s%s%s",
                      me ? on[i]->name : socp_ui_peer_label(self, on[i], lb, sizeof lb), on[i]->id,
                      me ? "  (you)" : "", on[i]->status == 2 ? "  [KEY CHANGED - BLOCKED]" : "");
    }
    free(on);
}

// Who a user really is: id, server, key fingerprint, key status.
static void
s_cmd_whois(s_ui_t *self, const char *who)
{
    if (!*who) {
        socp_ui_print(self, "usage: /whois <user>  (id, id prefix, name or name#fingerprint)");
        return;
    }
    const s_peer_t *p = socp_ui_resolve(self, who);
    if (!p) {
        return;
    }
    char lb[S_LABEL_MAX];
    socp_ui_print(self, "%s", socp_ui_peer_label(self, p, lb, sizeof lb));
    socp_ui_print(self, "  user id:     %s", p->id);
    socp_ui_print(self, "  name:        %s%s", p->name,
                  strcmp(lb, p->name) != 0 ? "  (also used by someone else: shown with the key)"
                                           : "");
    socp_ui_print(self, "  server:      %s", p->server && *p->server ? p->server : "(not known)");
    socp_ui_print(self, "  key:         SHA-256 fingerprint %s",
                  p->fp && *p->fp ? p->fp : "(not known)");
    socp_ui_print(self, "  status:      %s%s", p->online ? "online" : "offline",
                  p->status == 2 ? "; KEY CHANGED - the new key was refused, sending is blocked"
                                 : "; key pinned on first contact");
}

static void
s_help(s_ui_t *self)
{
    static const char *const lines[] = {
        "commands:",
        "  /list                     users online",
        "  /tell <user> <text>       direct message (user: id, id prefix or display name)",
        "  /all <text>               message everyone online (text without a command does the "
        "same)",
        "  /file <user> <path>       send a file (saved by the receiver under downloads/)",
        "  /history [user] [n]       the last n messages (default 20)",
        "  /whoami                   your id, key fingerprint, server and data directory",
        "  /whois <user>             a user's id, server and key fingerprint",
        "  /nick <name>              set your display name",
        "  /help                     this help",
        "  /quit                     leave (also Ctrl-D)",
        "keys: Left/Right, Home/End (Ctrl-A/E), Alt-B/F word, Up/Down history, Tab completes a "
        "name,",
        "  Ctrl-U/K delete to the start/end, Ctrl-W the word before the cursor, Ctrl-C quits",
        "marks: [UNVERIFIED] signature did not verify; [NOT ENCRYPTED] sent in clear; [UNREADABLE] "
        "cannot decrypt",
    };
    for (size_t i = 0; i < SOCP_ARRAY_LEN(lines); i++) {
        socp_ui_print(self, "%s", lines[i]);
    }
}

static bool
s_all_digits(const char *s)
{
    return *s && strspn(s, "0123456789") == strlen(s);
}

// Splits off the first word of *rest (modifies it). Returns NULL if none.
static char *
s_word(char **rest)
{
    char *s = *rest;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (!*s) {
        *rest = s;
        return NULL;
    }
    char *w = s;
    while (*s && *s != ' ' && *s != '\t') {
        s++;
    }
    if (*s) {
        *s++ = '\0';
    }
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    *rest = s;
    return w;
}

int
socp_ui_command(socp_actor_ctx_t *ctx, s_ui_t *self, char *line)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t')) {
        line[--n] = '\0';
    }
    char *rest = line;
    while (*rest == ' ' || *rest == '\t') {
        rest++;
    }
    if (!*rest) {
        return 0;
    }
    if (!socp_text_utf8_valid(rest, strlen(rest))) {
        socp_ui_print(self, "error: input is not valid UTF-8");
        return 0;
    }
    if (rest[0] != '/') {
        s_cmd_all(ctx, self, rest);
        return 0;
    }
    char *cmd = s_word(&rest);
    if (strcmp(cmd, "/quit") == 0 || strcmp(cmd, "/exit") == 0) {
        self->quitting = true;
        return SOCP_ACTOR_STOP;
    } else if (strcmp(cmd, "/help") == 0) {
        s_help(self);
    } else if (strcmp(cmd, "/list") == 0) {
        s_cmd_list(self);
    } else if (strcmp(cmd, "/tell") == 0 || strcmp(cmd, "/msg") == 0) {
        char *who = s_word(&rest);
        if (!who || !*rest) {
            socp_ui_print(self, "usage: /tell <user> <text>");
        } else {
            s_cmd_tell(ctx, self, who, rest);
        }
    } else if (strcmp(cmd, "/all") == 0) {
        if (!*rest) {
            socp_ui_print(self, "usage: /all <text>");
        } else {
            s_cmd_all(ctx, self, rest);
        }
    } else if (strcmp(cmd, "/file") == 0) {
        char *who = s_word(&rest);
        if (!who || !*rest) {
            socp_ui_print(self, "usage: /file <user> <path>");
        } else {
            s_cmd_file(ctx, self, who, rest);
        }
    } else if (strcmp(cmd, "/history") == 0) {
        char *a = s_word(&rest), *b = s_word(&rest);
        const char *peer = "";
        unsigned limit = 20;
        if (a && s_all_digits(a) && !b) {
            limit = (unsigned) strtoul(a, NULL, 10);
        } else if (a) {
            if (strcmp(a, "all") == 0 || strcmp(a, "public") == 0) {
                peer = "public";
            } else {
                s_peer_t *p = socp_ui_resolve(self, a);
                if (!p) {
                    return 0;
                }
                peer = p->id;
            }
            if (b && s_all_digits(b)) {
                limit = (unsigned) strtoul(b, NULL, 10);
            }
        }
        socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_HISTORY_REQ);
        m.body.cli_history_req.peer = peer;
        m.body.cli_history_req.limit = limit > 10000 ? 10000 : limit;
        (void) socp_actor_send(ctx, "store", &m);
    } else if (strcmp(cmd, "/whoami") == 0) {
        socp_ui_print(self, "user id:     %s", self->args->user_id);
        socp_ui_print(self, "name:        %s",
                      self->nick[0] ? self->nick : "(none; set with /nick)");
        socp_ui_print(self, "key:         RSA-4096, SHA-256 fingerprint %s",
                      self->args->fingerprint);
        socp_ui_print(self, "server:      %s (%s)", self->args->server_url,
                      self->link_up ? "connected" : "not connected");
        socp_ui_print(self, "data dir:    %s", self->args->data_dir);
    } else if (strcmp(cmd, "/whois") == 0) {
        s_cmd_whois(self, rest);
    } else if (strcmp(cmd, "/nick") == 0) {
        if (!*rest || strlen(rest) > 64 || !socp_uuid_is_peer_id(rest, strlen(rest))) {
            socp_ui_print(self, "usage: /nick <name>  (1-64 printable characters)");
        } else {
            snprintf(self->nick, sizeof self->nick, "%s", rest);
            socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_SETTING);
            m.body.cli_setting.key = "nick";
            m.body.cli_setting.value = rest;
            (void) socp_actor_send(ctx, "store", &m);
            socp_ui_print(self, "your display name is now %s", rest);
            // Others see a name that clashes with a fingerprint after it.
            s_peer_t me = {.id = (char *) self->args->user_id, .name = self->nick, .fp = NULL};
            if (socp_client_peer_clash(self->peers, self->npeers, &me, self->args->user_id, NULL)) {
                socp_ui_print(self,
                              "note: another user has that name (or it reads as a word the client "
                              "prints); others see it with your key fingerprint after it");
            }
        }
    } else {
        socp_ui_print(self, "unknown command %s (try /help)", cmd);
    }
    return 0;
}
