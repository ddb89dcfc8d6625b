// socp_client_store_actor.c: the client's store actor.
// Part of socp, a SOCP v1.3 client and server.
//
// DESIGN
// Owns: the LMDB database (socp_client_store.c; the only thread touching it)
// and the files being received (temp files under DATA_DIR/downloads).
// In:  CLI_FRAME (crypto: a signed outgoing frame -> outbox, in CLI_SEND.order:
//      frames signed in parallel are held until the earlier ones arrive, 5 s at
//      most), CLI_SENT (net: written -> mark sent, room for one more frame),
//      CLI_LINK (net: up -> replay every unsent frame with the new link
//      generation), CLI_PLAIN (crypto: a received item -> pin check, dedupe,
//      history / file assembly; in CLI_INBOUND.order, held like frames, since
//      net spreads received frames over every worker; kind NONE only fills a
//      number), CLI_PRESENCE (net: TOFU pinning), CLI_HISTORY_REQ,
//      CLI_SETTING (ui: nick; net: pub_format, kept per server).
// Out: CLI_ACCEPTED, CLI_SHOW, CLI_PEER, CLI_NOTE, CLI_FILE, CLI_LINK (ui,
//      handed on from net after the presence before it); CLI_WIRE,
//      CLI_SETTING (net).
// Group commit: every write goes into one open transaction; a timer commits
// it S_COMMIT_MS after the first write, and only then are the replies
// that depend on it (ACCEPTED, WIRE, SHOW...) sent: what the ui reports as
// accepted is durable, and a frame reaches the wire only once it is stored.
// Flow to net: at most S_WIRE_WINDOW outbox frames are on their way to the
// socket (handed on, no CLI_SENT yet); the others wait in the outbox and are
// handed on in seq order as CLI_SENT comes back, so a slow server slows the
// link down instead of overflowing it, and a replay of a long outbox goes
// out at the pace the server reads.
// Blocking calls: LMDB commits (fsync, bounded by the batch size of the
// actor loop) and file writes of at most 446 bytes per chunk.
// Shutdown: TERM ends the loop; received items held for order are handed on,
// the open batch is committed (its replies are dropped with the bus), partial
// downloads are deleted.
#include "socp/socp_client.h"
#include "socp/socp_client_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "socp/socp_err.h"
#include "socp/socp_log.h"
#include "socp/socp_platform.h"
#include "socp/socp_reorder.h"
#include "socp/socp_text.h"

#define S_FILES_MAX      16             // transfers received at once, from everyone
#define S_FILES_PER_PEER 4              // ... and from one sender (so one cannot take them all)
#define S_FILE_IDLE_MS   60000          // a transfer with no data this long is dropped (default)
#define S_FILE_SIZE_MAX  (256ull << 20) // largest file accepted: 256 MiB
#define S_PROGRESS_STEP  (64u * 1024u)
#define S_HOLD_MS        5000 // longest wait for an earlier item from crypto
// A batch stays open this long after its first write, so a burst shares one
// commit (one fsync) instead of one per inbox turn; invisible to a person.
// Received-only batches wait longer: nobody waits for their echo.
#define S_COMMIT_MS    10
#define S_COMMIT_RX_MS 25
// Outbox frames handed to net and not yet written to the socket, at most:
// a server that reads slowly makes the rest wait here, in the outbox, rather
// than in memory (where they would overflow the session and drop the link).
#define S_WIRE_WINDOW 256
// DMs for users who are not online are held (sealed) until they are: this
// many pieces at most, and this many per recipient, for at most hold_ms.
#define S_HELD_MAX        2000
#define S_HELD_PER_USER   500
#define S_HOLD_DEFAULT_MS (7ull * 24 * 3600 * 1000)
#define S_HELD_SWEEP_MS   60000

typedef struct {
    char to[SOCP_ACTOR_NAME_MAX + 1];
    socp_buf_t bytes;
} s_deferred_t;

typedef struct {
    bool used;
    char file_id[129];
    char peer[129];
    char name[160];
    char sha_hex[65];
    char tmp[4200];
    int fd;
    uint64_t size, received, next_index, last_progress;
    uint64_t last_ms; // monotonic time of the last FILE_START / FILE_CHUNK
    crypto_hash_sha256_state sha;
} s_file_t;

typedef struct {
    socp_client_store_args_t *args;
    socp_cstore_t *db;
    bool link_up;
    uint64_t gen;
    // Flow towards net on this link: frames up to wire_after were handed
    // on; wire_credit more may be; wire_behind: unsent frames above
    // wire_after wait in the outbox (pumped as credit comes back).
    uint64_t wire_after;
    unsigned wire_credit;
    bool wire_behind;
    unsigned wires_in_batch; // credit taken by frames of the open batch
    int pump_timer;          // retries a pump the outbox could not be read for
    int commit_timer;
    uint64_t commit_due_ms; // when the armed commit fires
    s_deferred_t *deferred;
    size_t ndeferred, cap;
    uint64_t *batch_ids; // local ids accepted in this batch
    size_t nbatch, batch_cap;
    bool sent_in_batch;
    char downloads[4096];
    s_file_t files[S_FILES_MAX];
    // Work done by the crypto workers in parallel comes back out of order:
    // held until every earlier number has arrived (S_HOLD_MS at most).
    socp_reorder_t out_order; // CLI_FRAME by CLI_SEND.order
    socp_reorder_t in_order;  // CLI_PLAIN by CLI_INBOUND.order
    // Held pieces handed to the ui to send (CLI_RELEASE) and not yet back
    // as a CLI_FRAME: not released twice.
    struct {
        uint64_t seq, history_seq;
    } * released;
    size_t nreleased, released_cap;
    uint64_t held_swept_ms; // last expiry sweep (monotonic)
    // Users the server announced on this link: a piece held just as its
    // recipient's announcement went by is released at once.
    char **online;
    size_t nonline, online_cap;
} s_store_t;

// ---- deferred replies ----------------------------------------------------------------

static int s_on_commit(socp_actor_ctx_t *ctx, int timer_id, void *arg);
static void s_pump(socp_actor_ctx_t *ctx, s_store_t *self);
static int s_on_pump_retry(socp_actor_ctx_t *ctx, int timer_id, void *arg);

static void
s_schedule(socp_actor_ctx_t *ctx, s_store_t *self)
{
    // Someone waits for an accepted message's echo: the short window. A
    // batch of received items only (nobody waits) can gather longer.
    uint64_t wait = self->nbatch ? S_COMMIT_MS : S_COMMIT_RX_MS;
    uint64_t due = socp_now_ms() + wait;
    if (self->commit_timer && due < self->commit_due_ms) {
        socp_actor_timer_cancel(ctx, self->commit_timer); // an outgoing item joined
        self->commit_timer = 0;
    }
    if (!self->commit_timer) {
        self->commit_timer = socp_actor_timer_add(ctx, (int) wait, 0, s_on_commit, self);
        self->commit_due_ms = due;
    }
}

static void
s_defer(socp_actor_ctx_t *ctx, s_store_t *self, const char *to, socp_msg_t *msg)
{
    if (self->ndeferred == self->cap) {
        self->cap = self->cap ? self->cap * 2 : 64;
        self->deferred = socp_realloc(self->deferred, self->cap * sizeof *self->deferred);
    }
    s_deferred_t *d = &self->deferred[self->ndeferred];
    snprintf(d->to, sizeof d->to, "%s", to);
    socp_buf_init(&d->bytes);
    if (socp_msg_encode(msg, &d->bytes) != 0) {
        socp_error("store: cannot encode a %s", socp_msg_name(msg->type));
        socp_buf_fini(&d->bytes);
        return;
    }
    self->ndeferred++;
    s_schedule(ctx, self);
}

static void s_note(socp_actor_ctx_t *ctx, uint8_t level, const char *fmt, ...) SOCP_PRINTF(3, 4);

static void
s_note(socp_actor_ctx_t *ctx, uint8_t level, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_NOTE);
    m.body.cli_note.level = level;
    m.body.cli_note.text = text;
    (void) socp_actor_send(ctx, "ui", &m);
}

static void
s_send_pending(socp_actor_ctx_t *ctx, s_store_t *self)
{
    socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_ACCEPTED);
    m.body.cli_accepted.pending = socp_cstore_outbox_pending(self->db);
    (void) socp_actor_send(ctx, "ui", &m);
}

static int
s_on_commit(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    SOCP_UNUSED(timer_id);
    s_store_t *self = arg;
    self->commit_timer = 0;
    int rc = socp_cstore_commit(self->db);
    if (rc == 0) {
        for (size_t i = 0; i < self->ndeferred; i++) {
            socp_msg_t m;
            s_deferred_t *d = &self->deferred[i];
            if (socp_msg_decode(d->bytes.data, d->bytes.len, &m) == 0) {
                (void) socp_actor_send(ctx, d->to, &m);
                socp_msg_fini(&m);
            }
        }
    } else {
        // Nothing of this batch is durable: say so for every outgoing item.
        // Its frames were never handed on: their credit comes back (their
        // seqs are never given again, so wire_after stays valid).
        self->wire_credit += self->wires_in_batch;
        for (size_t i = 0; i < self->nbatch; i++) {
            socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_ACCEPTED);
            m.body.cli_accepted.local_id = self->batch_ids[i];
            m.body.cli_accepted.status = rc;
            (void) socp_actor_send(ctx, "ui", &m);
        }
        s_note(ctx, 2, "cannot save to the database (disk full?): the last changes were not saved");
    }
    for (size_t i = 0; i < self->ndeferred; i++) {
        socp_buf_fini(&self->deferred[i].bytes);
    }
    self->ndeferred = 0;
    self->nbatch = 0;
    self->wires_in_batch = 0;
    if (self->sent_in_batch) {
        self->sent_in_batch = false;
        s_send_pending(ctx, self);
    }
    s_pump(ctx, self);
    return 0;
}

// ---- outgoing ------------------------------------------------------------------------

static void
s_wire(socp_actor_ctx_t *ctx, s_store_t *self, uint64_t seq, const char *frame, bool defer)
{
    socp_msg_t w = socp_msg_make(SOCP_MSG_CLI_WIRE);
    w.body.cli_wire.seq = seq;
    w.body.cli_wire.gen = self->gen;
    w.body.cli_wire.frame = frame;
    if (defer) {
        s_defer(ctx, self, "net", &w);
    } else {
        (void) socp_actor_send(ctx, "net", &w);
    }
}

// Answers an outgoing item: a failure at once; a success (the item joins
// the open batch) once the batch is committed. Returns true on success.
static bool
s_accepted(socp_actor_ctx_t *ctx, s_store_t *self, socp_msg_t *a, int rc)
{
    if (rc != 0) {
        a->body.cli_accepted.status = rc;
        (void) socp_actor_send(ctx, "ui", a);
        return false;
    }
    if (self->nbatch == self->batch_cap) {
        self->batch_cap = self->batch_cap ? self->batch_cap * 2 : 64;
        self->batch_ids = socp_realloc(self->batch_ids, self->batch_cap * sizeof *self->batch_ids);
    }
    self->batch_ids[self->nbatch++] = a->body.cli_accepted.local_id;
    a->body.cli_accepted.pending = socp_cstore_outbox_pending(self->db);
    s_defer(ctx, self, "ui", a);
    return true;
}

// The set of users announced on this link.
static bool
s_online_has(const s_store_t *self, const char *id)
{
    for (size_t i = 0; i < self->nonline; i++) {
        if (strcmp(self->online[i], id) == 0) {
            return true;
        }
    }
    return false;
}

static void
s_online_set(s_store_t *self, const char *id, bool on)
{
    for (size_t i = 0; i < self->nonline; i++) {
        if (strcmp(self->online[i], id) == 0) {
            if (!on) {
                free(self->online[i]);
                self->online[i] = self->online[--self->nonline];
            }
            return;
        }
    }
    if (on) {
        if (self->nonline == self->online_cap) {
            self->online_cap = self->online_cap ? self->online_cap * 2 : 64;
            self->online = socp_realloc(self->online, self->online_cap * sizeof *self->online);
        }
        self->online[self->nonline++] = socp_strdup(id);
    }
}

static void
s_online_clear(s_store_t *self)
{
    for (size_t i = 0; i < self->nonline; i++) {
        free(self->online[i]);
    }
    self->nonline = 0;
}

// The history record of released piece `seq` (0: not released), forgotten.
static uint64_t
s_released_take(s_store_t *self, uint64_t seq)
{
    for (size_t i = 0; seq && i < self->nreleased; i++) {
        if (self->released[i].seq == seq) {
            uint64_t h = self->released[i].history_seq;
            self->released[i] = self->released[--self->nreleased];
            return h;
        }
    }
    return 0;
}

static void
s_on_frame(socp_actor_ctx_t *ctx, s_store_t *self, const socp_msg_cli_frame_t *f)
{
    socp_msg_t a = socp_msg_make(SOCP_MSG_CLI_ACCEPTED);
    a.body.cli_accepted.local_id = f->local_id;
    if (f->status != 0) {
        (void) s_released_take(self, f->pending); // still held: released again later
        a.body.cli_accepted.status = f->status;
        (void) socp_actor_send(ctx, "ui", &a);
        return;
    }
    uint64_t seq = 0;
    uint64_t held_history = s_released_take(self, f->pending);
    int rc = socp_cstore_outbox_put(self->db, f->conv, f->frame, strlen(f->frame), &seq);
    if (rc == 0 && f->pending && held_history) {
        // A held DM goes out: its history entry was written when it was held.
        rc = socp_cstore_held_del(self->db, f->pending);
        if (rc == 0 || rc == SOCP_ENOTFOUND) {
            rc = socp_cstore_history_set_status(self->db, held_history, SOCP_CLIENT_OUT_SENT);
            rc = rc == SOCP_ENOTFOUND ? 0 : rc;
        }
    } else if (rc == 0 && (f->kind == SOCP_CLIENT_KIND_DM || f->kind == SOCP_CLIENT_KIND_PUBLIC) &&
               f->text.len > 0) {
        socp_cstore_msg_t h = {.kind = f->kind,
                               .outgoing = true,
                               .conv = f->conv,
                               .from = "me",
                               .ts = f->ts,
                               .status = SOCP_CLIENT_TRUST_VERIFIED,
                               .form = "",
                               .text = (const char *) f->text.data,
                               .text_len = f->text.len};
        if (socp_text_utf8_valid(h.text, h.text_len)) {
            rc = socp_cstore_history_add(self->db, &h);
        }
    }
    a.body.cli_accepted.seq = seq;
    if (!s_accepted(ctx, self, &a, rc)) {
        return;
    }
    if (!self->link_up) {
        return; // replayed when it comes up
    }
    if (self->wire_behind || self->wire_credit == 0) {
        self->wire_behind = true; // waits its turn in the outbox
        return;
    }
    self->wire_credit--;
    self->wires_in_batch++;
    self->wire_after = seq;
    s_wire(ctx, self, seq, f->frame, true);
}

// ---- order of work done in parallel ---------------------------------------------------

typedef struct {
    socp_actor_ctx_t *ctx;
    s_store_t *self;
} s_order_ctx_t;

static void s_on_plain(socp_actor_ctx_t *ctx, s_store_t *self, const socp_msg_cli_plain_t *p);

static void
s_frame_in_order(socp_msg_t *msg, void *arg)
{
    s_order_ctx_t *o = arg;
    s_on_frame(o->ctx, o->self, &msg->body.cli_frame);
}

static void
s_plain_in_order(socp_msg_t *msg, void *arg)
{
    s_order_ctx_t *o = arg;
    s_on_plain(o->ctx, o->self, &msg->body.cli_plain);
}

// Frames and received items come back from the crypto workers out of
// order; they are handled in the order the ui (CLI_SEND.order) and net
// (CLI_INBOUND.order) gave them.
static void
s_on_ordered(socp_actor_ctx_t *ctx, s_store_t *self, socp_msg_t *msg)
{
    s_order_ctx_t o = {ctx, self};
    bool out = msg->type == SOCP_MSG_CLI_FRAME;
    int rc = out ? socp_reorder_push(&self->out_order, msg->body.cli_frame.order, msg,
                                     s_frame_in_order, &o)
                 : socp_reorder_push(&self->in_order, msg->body.cli_plain.order, msg,
                                     s_plain_in_order, &o);
    if (rc != 0) {
        socp_error("store: cannot hold a %s: %s", socp_msg_name(msg->type), socp_strerror(rc));
    }
}

// An item lost between the ui or net and the store must not stall the
// others forever.
static void s_files_expire(socp_actor_ctx_t *ctx, s_store_t *self, uint64_t now);
static void s_held_expire(socp_actor_ctx_t *ctx, s_store_t *self);

static int
s_on_hold_tick(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    SOCP_UNUSED(timer_id);
    s_store_t *self = arg;
    s_order_ctx_t o = {ctx, self};
    uint64_t now = socp_now_ms();
    uint64_t lost = socp_reorder_expire(&self->out_order, now, S_HOLD_MS, s_frame_in_order, &o);
    if (lost) {
        socp_warn("store: %llu outgoing item(s) never came back from crypto",
                  (unsigned long long) lost);
    }
    lost = socp_reorder_expire(&self->in_order, now, S_HOLD_MS, s_plain_in_order, &o);
    if (lost) {
        socp_warn("store: %llu received item(s) never came back from crypto",
                  (unsigned long long) lost);
    }
    s_files_expire(ctx, self, now);
    uint64_t hold = self->args->hold_ms ? self->args->hold_ms : S_HOLD_DEFAULT_MS;
    uint64_t sweep = hold / 2 < S_HELD_SWEEP_MS ? hold / 2 : S_HELD_SWEEP_MS;
    if (now - self->held_swept_ms >= sweep || !self->held_swept_ms) {
        self->held_swept_ms = now;
        s_held_expire(ctx, self);
    }
    return 0;
}

static int
s_pump_one(uint64_t seq, const char *frame, size_t len, void *arg)
{
    void **pair = arg;
    socp_actor_ctx_t *ctx = pair[0];
    s_store_t *self = pair[1];
    if (self->wire_credit == 0) {
        return 1; // the link is full: the rest waits for CLI_SENT
    }
    char *copy = socp_malloc(len + 1);
    memcpy(copy, frame, len);
    copy[len] = '\0';
    s_wire(ctx, self, seq, copy, false); // committed: no need to wait
    free(copy);
    self->wire_credit--;
    self->wire_after = seq;
    return 0;
}

// Hands net the frames that wait in the outbox, oldest first, as far as
// the link has room; the ones of the open batch go after its commit.
static void
s_pump(socp_actor_ctx_t *ctx, s_store_t *self)
{
    if (!self->link_up || !self->wire_behind || self->wire_credit == 0) {
        return;
    }
    void *pair[2] = {ctx, self};
    int rc = socp_cstore_outbox_each_unsent(self->db, self->wire_after, s_pump_one, pair);
    if (rc == 0) {
        self->wire_behind = false; // caught up: new frames go straight on
    } else if (rc < 0 && rc != SOCP_EAGAIN && !self->pump_timer) {
        s_note(ctx, 2, "cannot read the outbox: retrying in a second");
        self->pump_timer = socp_actor_timer_add(ctx, 1000, 0, s_on_pump_retry, self);
    }
}

static int
s_on_pump_retry(socp_actor_ctx_t *ctx, int timer_id, void *arg)
{
    SOCP_UNUSED(timer_id);
    s_store_t *self = arg;
    self->pump_timer = 0;
    s_pump(ctx, self);
    return 0;
}

static void
s_on_link(socp_actor_ctx_t *ctx, s_store_t *self, const socp_msg_cli_link_t *l)
{
    // Flush the batch first so no frame is both deferred and replayed.
    if (self->commit_timer) {
        socp_actor_timer_cancel(ctx, self->commit_timer);
        self->commit_timer = 0;
    }
    self->link_up = false; // the commit pumps nothing for the link that ended
    (void) s_on_commit(ctx, 0, self);
    self->link_up = l->up;
    self->gen = l->gen;
    if (!l->up) {
        s_online_clear(self);
    }
    // A new link: every unsent frame goes again, from the oldest.
    self->wire_after = 0;
    self->wire_credit = S_WIRE_WINDOW;
    self->wire_behind = true;
    s_pump(ctx, self);
    // The ui hears of the link from here, after every presence update net
    // sent before it (CLI_PEER): at link-up it knows who is online.
    socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_LINK);
    m.body.cli_link = *l;
    (void) socp_actor_send(ctx, "ui", &m);
}

// ---- received files ------------------------------------------------------------------

static s_file_t *
s_file_find(s_store_t *self, const char *file_id)
{
    for (size_t i = 0; i < S_FILES_MAX; i++) {
        if (self->files[i].used && strcmp(self->files[i].file_id, file_id) == 0) {
            return &self->files[i];
        }
    }
    return NULL;
}

// after_commit: sent once the open batch is committed (the "saved" line
// must not come before the file's record is durable); NULL: now.
static void
s_file_event(socp_actor_ctx_t *ctx,
             s_store_t *after_commit,
             const s_file_t *f,
             int64_t status,
             const char *path,
             const char *detail)
{
    socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_FILE);
    m.body.cli_file.file_id = f->file_id;
    m.body.cli_file.name = f->name;
    m.body.cli_file.peer = f->peer;
    m.body.cli_file.done = f->received;
    m.body.cli_file.total = f->size;
    m.body.cli_file.status = status;
    m.body.cli_file.path = path ? path : "";
    m.body.cli_file.detail = detail ? detail : "";
    if (after_commit) {
        s_defer(ctx, after_commit, "ui", &m);
    } else {
        (void) socp_actor_send(ctx, "ui", &m);
    }
}

static void
s_file_drop(s_file_t *f)
{
    if (f->fd >= 0) {
        close(f->fd);
    }
    (void) unlink(f->tmp);
    f->used = false;
    f->fd = -1;
}

static void
s_file_fail(socp_actor_ctx_t *ctx, s_file_t *f, const char *why)
{
    s_file_event(ctx, NULL, f, SOCP_EPROTO, NULL, why);
    s_file_drop(f);
}

static bool
s_is_hex64(const char *s)
{
    if (strlen(s) != 64) {
        return false;
    }
    for (size_t i = 0; i < 64; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F'))) {
            return false;
        }
    }
    return true;
}

// A transfer that stopped sending holds a slot and a .part file: both go.
static void
s_files_expire(socp_actor_ctx_t *ctx, s_store_t *self, uint64_t now)
{
    uint64_t idle = self->args->file_idle_ms ? self->args->file_idle_ms : S_FILE_IDLE_MS;
    for (size_t i = 0; i < S_FILES_MAX; i++) {
        s_file_t *f = &self->files[i];
        if (f->used && now - f->last_ms >= idle) {
            char why[96];
            snprintf(why, sizeof why, "stalled: nothing received for %llu s; partial file removed",
                     (unsigned long long) (idle / 1000));
            s_file_fail(ctx, f, why);
        }
    }
}

// Partial files left by a run that was killed: transfers never resume
// across a restart, so they only take space.
static void
s_remove_parts(const char *downloads)
{
    DIR *d = opendir(downloads);
    if (!d) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, ".part-", 6) == 0) {
            (void) unlinkat(dirfd(d), e->d_name, 0);
        }
    }
    closedir(d);
}

static void
s_file_start(socp_actor_ctx_t *ctx, s_store_t *self, const socp_msg_cli_plain_t *p)
{
    // Refusals name the sender as the ui shows them.
    char who[300];
    socp_cstore_contact_t contact;
    snprintf(who, sizeof who, "%s",
             socp_cstore_contact_get(self->db, p->from, &contact) == 0 ? contact.name : p->from);
    json_t *meta = json_loads(p->meta, JSON_REJECT_DUPLICATES, NULL);
    json_t *id = json_object_get(meta, "file_id"), *name = json_object_get(meta, "name"),
           *size = json_object_get(meta, "size"), *sha = json_object_get(meta, "sha256");
    if (!json_is_string(id) || !json_is_string(name) || !json_is_integer(size) ||
        !json_is_string(sha) || json_integer_value(size) < 0 ||
        !s_is_hex64(json_string_value(sha)) || json_string_length(id) == 0 ||
        json_string_length(id) > 128) {
        s_note(ctx, 2, "refused a file offer from %s: malformed FILE_START", who);
        json_decref(meta);
        return;
    }
    if (s_file_find(self, json_string_value(id))) {
        json_decref(meta); // a re-sent FILE_START: keep the transfer going
        return;
    }
    if ((uint64_t) json_integer_value(size) > S_FILE_SIZE_MAX) {
        s_note(ctx, 2, "refused a file from %s: %lld bytes is over the 256 MiB limit", who,
               (long long) json_integer_value(size));
        json_decref(meta);
        return;
    }
    s_file_t *f = NULL;
    unsigned theirs = 0;
    for (size_t i = 0; i < S_FILES_MAX; i++) {
        if (!self->files[i].used) {
            f = f ? f : &self->files[i];
        } else if (strcmp(self->files[i].peer, p->from) == 0) {
            theirs++;
        }
    }
    if (theirs >= S_FILES_PER_PEER) {
        s_note(ctx, 2, "refused a file from %s: %u of their files are still coming in", who,
               theirs);
        json_decref(meta);
        return;
    }
    if (!f) {
        s_note(ctx, 2, "refused a file from %s: too many transfers at once", who);
        json_decref(meta);
        return;
    }
    memset(f, 0, sizeof *f);
    f->fd = -1;
    snprintf(f->file_id, sizeof f->file_id, "%s", json_string_value(id));
    snprintf(f->peer, sizeof f->peer, "%s", p->from);
    socp_client_sanitize_name(json_string_value(name), f->name, sizeof f->name);
    snprintf(f->sha_hex, sizeof f->sha_hex, "%s", json_string_value(sha));
    for (char *c = f->sha_hex; *c; c++) {
        if (*c >= 'A' && *c <= 'F') {
            *c = (char) (*c - 'A' + 'a');
        }
    }
    f->size = (uint64_t) json_integer_value(size);
    json_decref(meta);
    uint8_t h[32];
    crypto_generichash(h, 8, (const uint8_t *) f->file_id, strlen(f->file_id), NULL, 0);
    snprintf(f->tmp, sizeof f->tmp, "%s/.part-%02x%02x%02x%02x%02x%02x%02x%02x", self->downloads,
             h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (f->fd < 0) {
        s_note(ctx, 2, "cannot receive %s: cannot create a file in %s", f->name, self->downloads);
        f->used = false;
        return;
    }
    f->used = true;
    f->last_ms = socp_now_ms();
    crypto_hash_sha256_init(&f->sha);
    s_file_event(ctx, NULL, f, 0, NULL, NULL);
}

static void
s_file_chunk(socp_actor_ctx_t *ctx, s_store_t *self, const socp_msg_cli_plain_t *p)
{
    s_file_t *f = s_file_find(self, p->meta);
    if (!f) {
        return; // unknown or already failed transfer: ignore quietly
    }
    if (strcmp(f->peer, p->from) != 0) {
        s_note(ctx, 1, "ignored a FILE_CHUNK for %s from %s (not the sender)", f->name, p->from);
        return;
    }
    if (p->status != SOCP_CLIENT_TRUST_VERIFIED && p->status != SOCP_CLIENT_TRUST_UNVERIFIED) {
        s_file_fail(ctx, f, "a chunk could not be decrypted");
        return;
    }
    if (p->index < f->next_index) {
        return; // duplicate
    }
    if (p->index > f->next_index) {
        s_file_fail(ctx, f, "chunks missing");
        return;
    }
    if (f->received + p->text.len > f->size) {
        s_file_fail(ctx, f, "more data than announced");
        return;
    }
    size_t off = 0;
    while (off < p->text.len) {
        ssize_t n = write(f->fd, p->text.data + off, p->text.len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            s_file_fail(ctx, f, "cannot write (disk full?)");
            return;
        }
        off += (size_t) n;
    }
    crypto_hash_sha256_update(&f->sha, p->text.data, p->text.len);
    f->received += p->text.len;
    f->next_index++;
    f->last_ms = socp_now_ms();
    if (f->received - f->last_progress >= S_PROGRESS_STEP) {
        f->last_progress = f->received;
        s_file_event(ctx, NULL, f, 0, NULL, NULL);
    }
}

static void
s_file_end(socp_actor_ctx_t *ctx, s_store_t *self, const socp_msg_cli_plain_t *p)
{
    s_file_t *f = s_file_find(self, p->meta);
    if (!f || strcmp(f->peer, p->from) != 0) {
        return;
    }
    if (f->received != f->size) {
        s_file_fail(ctx, f, "size mismatch: file incomplete");
        return;
    }
    uint8_t digest[32];
    char hex[65];
    crypto_hash_sha256_final(&f->sha, digest);
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    if (strcmp(hex, f->sha_hex) != 0) {
        s_file_fail(ctx, f, "sha256 mismatch: file corrupted");
        return;
    }
    if (fsync(f->fd) != 0) {
        s_file_fail(ctx, f, "cannot flush the file (disk full?)");
        return;
    }
    close(f->fd);
    f->fd = -1;
    // link() never replaces an existing file: pick the first free name.
    char path[4096 + 200];
    bool done = false;
    for (int n = 0; n < 1000 && !done; n++) {
        if (n == 0) {
            snprintf(path, sizeof path, "%s/%s", self->downloads, f->name);
        } else {
            snprintf(path, sizeof path, "%s/%d-%s", self->downloads, n, f->name);
        }
        if (link(f->tmp, path) == 0) {
            done = true;
        } else if (errno != EEXIST) {
            break;
        }
    }
    if (!done) {
        s_file_fail(ctx, f, "cannot save under downloads/");
        return;
    }
    (void) unlink(f->tmp);
    json_t *rec = json_pack("{s:s, s:s, s:s, s:I, s:s, s:I}", "from", f->peer, "name", f->name,
                            "path", path, "size", (json_int_t) f->size, "sha256", f->sha_hex, "ts",
                            (json_int_t) socp_wall_ms());
    char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    json_decref(rec);
    bool recorded = false;
    if (text) {
        recorded = socp_cstore_file_put(self->db, f->file_id, text) == 0;
        if (!recorded) {
            socp_warn("store: file record not saved");
        }
        free(text);
        s_schedule(ctx, self);
    }
    s_file_event(ctx, recorded ? self : NULL, f, 1, path, NULL);
    f->used = false;
}

// ---- received messages ---------------------------------------------------------------

// The form a contact's content_sig verified in is the form we answer in
// (ADR 0014): kept with the contact, and the ui told when it changes. Only
// a signature that verified under their pinned key teaches anything.
static void
s_learn_sig(socp_actor_ctx_t *ctx, s_store_t *self, const socp_msg_cli_plain_t *p)
{
    uint8_t sig = socp_client_sig_learn(p->form);
    bool changed = false;
    if (sig == SOCP_CLIENT_SIG_UNKNOWN ||
        socp_cstore_contact_set_sig(self->db, p->from, sig, &changed) != 0 || !changed) {
        return;
    }
    socp_debug("store: %s signs in the %s form; answering in it", p->from, p->form);
    socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_PEER_SIG);
    m.body.cli_peer_sig.user_id = p->from;
    m.body.cli_peer_sig.sig = sig;
    (void) socp_actor_send(ctx, "ui", &m);
}

static void
s_on_plain(socp_actor_ctx_t *ctx, s_store_t *self, const socp_msg_cli_plain_t *p)
{
    if (p->kind == SOCP_CLIENT_KIND_NONE) {
        return; // crypto refused the frame; it only keeps the numbering whole
    }
    // A key other than the pinned one is refused, loudly.
    if (p->sender_fp && *p->sender_fp) {
        socp_cstore_contact_t c;
        if (socp_cstore_contact_get(self->db, p->from, &c) == 0 &&
            strcmp(c.fp, p->sender_fp) != 0) {
            s_note(ctx, 3,
                   "WARNING: a message claiming to be from %s (%s) was signed with a DIFFERENT key "
                   "than "
                   "the one pinned for them. It was refused. Their key may have been replaced.",
                   c.name, p->from);
            return;
        }
    }
    switch (p->kind) {
        case SOCP_CLIENT_KIND_FILE_START:
            s_file_start(ctx, self, p);
            return;
        case SOCP_CLIENT_KIND_FILE_CHUNK:
            s_file_chunk(ctx, self, p);
            return;
        case SOCP_CLIENT_KIND_FILE_END:
            s_file_end(ctx, self, p);
            return;
        default:
            break;
    }
    if (p->dedupe.len == 32) {
        int rc = socp_cstore_seen_add(self->db, p->from, p->ts, p->dedupe.data);
        if (rc == SOCP_EREPLAY) {
            socp_debug("store: duplicate message from %s dropped", p->from);
            return;
        }
    }
    s_learn_sig(ctx, self, p);
    const char *conv = p->kind == SOCP_CLIENT_KIND_PUBLIC ? "public" : p->from;
    socp_cstore_msg_t h = {.kind = p->kind,
                           .outgoing = false,
                           .conv = conv,
                           .from = p->from,
                           .ts = p->ts,
                           .status = p->status,
                           .form = p->form ? p->form : "",
                           .text = (const char *) p->text.data,
                           .text_len = p->text.len};
    if (socp_text_utf8_valid(h.text, h.text_len)) {
        if (socp_cstore_history_add(self->db, &h) != 0) {
            socp_warn("store: history entry not saved");
        }
    }
    s_schedule(ctx, self);
    socp_msg_t s = socp_msg_make(SOCP_MSG_CLI_SHOW);
    s.body.cli_show.kind = p->kind;
    s.body.cli_show.peer = conv;
    s.body.cli_show.from = p->from;
    s.body.cli_show.ts = p->ts;
    s.body.cli_show.text = p->text;
    s.body.cli_show.status = p->status;
    s.body.cli_show.form = p->form;
    s_defer(ctx, self, "ui", &s);
}

// ---- DMs held for users who are not online --------------------------------------------

typedef struct {
    const char *to; // count / release for this user (NULL: count all)
    size_t total, theirs;
    socp_actor_ctx_t *ctx;
    s_store_t *self;
    bool release;
    size_t released;
    int64_t base; // wall-clock ms of the first released piece
} s_held_scan_t;

static bool
s_is_released(const s_store_t *self, uint64_t seq)
{
    for (size_t i = 0; i < self->nreleased; i++) {
        if (self->released[i].seq == seq) {
            return true;
        }
    }
    return false;
}

static int
s_held_visit(const socp_cstore_held_t *h, void *arg)
{
    s_held_scan_t *s = arg;
    s->total++;
    if (!s->to || strcmp(h->to, s->to) != 0) {
        return 0;
    }
    s->theirs++;
    if (!s->release || s_is_released(s->self, h->seq)) {
        return 0;
    }
    s_store_t *self = s->self;
    if (self->nreleased == self->released_cap) {
        self->released_cap = self->released_cap ? self->released_cap * 2 : 16;
        self->released = socp_realloc(self->released, self->released_cap * sizeof *self->released);
    }
    self->released[self->nreleased].seq = h->seq;
    self->released[self->nreleased++].history_seq = h->history_seq;
    socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_RELEASE);
    m.body.cli_release.pending = h->seq;
    m.body.cli_release.to = h->to;
    m.body.cli_release.data = (socp_bin_t){h->data, h->len};
    // Consecutive ts: the receiver rejoins a long message's pieces by them.
    m.body.cli_release.ts = s->base + (int64_t) s->released;
    (void) socp_actor_send(s->ctx, "ui", &m);
    s->released++;
    return 0;
}

static void
s_release(socp_actor_ctx_t *ctx, s_store_t *self, const char *user_id, const char *name);

// A DM piece for a user who is not online: kept, sealed, until they are.
static void
s_on_hold(socp_actor_ctx_t *ctx, s_store_t *self, const socp_msg_cli_hold_t *h)
{
    socp_msg_t a = socp_msg_make(SOCP_MSG_CLI_ACCEPTED);
    a.body.cli_accepted.local_id = h->local_id;
    s_held_scan_t scan = {.to = h->to};
    int rc = socp_cstore_held_each(self->db, s_held_visit, &scan);
    if (rc == 0 && (scan.total >= S_HELD_MAX || scan.theirs >= S_HELD_PER_USER)) {
        rc = SOCP_EOVERFLOW; // shown as "queue overflow"
    }
    socp_cstore_msg_t m = {.kind = SOCP_CLIENT_KIND_DM,
                           .outgoing = true,
                           .conv = h->to,
                           .from = "me",
                           .ts = h->ts,
                           .status = SOCP_CLIENT_OUT_PENDING,
                           .form = "",
                           .text = (const char *) h->data.data,
                           .text_len = h->data.len};
    if (rc == 0 && !socp_text_utf8_valid(m.text, m.text_len)) {
        rc = SOCP_EINVAL;
    }
    uint64_t seq = 0;
    if (rc == 0 && (rc = socp_cstore_history_add(self->db, &m)) == 0) {
        rc = socp_cstore_held_put(self->db, h->to, h->data.data, h->data.len, h->ts, m.seq, &seq);
    }
    if (s_accepted(ctx, self, &a, rc)) {
        s_schedule(ctx, self);
        if (self->link_up && s_online_has(self, h->to)) {
            s_release(ctx, self, h->to, h->to); // announced meanwhile: goes now
        }
    }
}

// `user_id` is online: what was held for them goes out (through the ui,
// which encrypts and signs it now, with a fresh ts).
static void
s_release(socp_actor_ctx_t *ctx, s_store_t *self, const char *user_id, const char *name)
{
    s_held_scan_t scan = {
        .to = user_id, .ctx = ctx, .self = self, .release = true, .base = socp_wall_ms()};
    if (socp_cstore_held_each(self->db, s_held_visit, &scan) != 0) {
        socp_warn("store: cannot read the held messages");
        return;
    }
    if (scan.released) {
        s_note(ctx, 0, "%s is online: sending %zu held message piece%s", name, scan.released,
               scan.released == 1 ? "" : "s");
    }
}

typedef struct {
    uint64_t seq, history_seq;
    char to[129];
} s_expired_t;

typedef struct {
    int64_t before; // wall-clock ms: held before this expires
    s_expired_t *items;
    size_t n, cap;
} s_expiry_t;

static int
s_expiry_visit(const socp_cstore_held_t *h, void *arg)
{
    s_expiry_t *e = arg;
    if (h->ts >= e->before) {
        return 0;
    }
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->items = socp_realloc(e->items, e->cap * sizeof *e->items);
    }
    e->items[e->n].seq = h->seq;
    e->items[e->n].history_seq = h->history_seq;
    snprintf(e->items[e->n++].to, sizeof e->items[0].to, "%s", h->to);
    return 0;
}

// Held pieces older than hold_ms are given up: failed in the history, and
// the user told, once per recipient.
static void
s_held_expire(socp_actor_ctx_t *ctx, s_store_t *self)
{
    uint64_t hold = self->args->hold_ms ? self->args->hold_ms : S_HOLD_DEFAULT_MS;
    s_expiry_t e = {.before = socp_wall_ms() - (int64_t) hold};
    if (socp_cstore_held_each(self->db, s_expiry_visit, &e) != 0) {
        return;
    }
    for (size_t i = 0; i < e.n; i++) {
        if (s_is_released(self, e.items[i].seq)) {
            continue; // going out right now
        }
        if (socp_cstore_held_del(self->db, e.items[i].seq) != 0 ||
            socp_cstore_history_set_status(self->db, e.items[i].history_seq,
                                           SOCP_CLIENT_OUT_FAILED) != 0) {
            socp_warn("store: cannot give up a held message");
            continue;
        }
        bool first = true;
        for (size_t j = 0; j < i && first; j++) {
            first = strcmp(e.items[j].to, e.items[i].to) != 0;
        }
        if (first) {
            socp_cstore_contact_t c;
            const char *who =
                socp_cstore_contact_get(self->db, e.items[i].to, &c) == 0 ? c.name : e.items[i].to;
            char span[32];
            if (hold >= 3600000) {
                snprintf(span, sizeof span, "%llu h", (unsigned long long) (hold / 3600000));
            } else {
                snprintf(span, sizeof span, "%llu s", (unsigned long long) (hold / 1000));
            }
            s_note(ctx, 2,
                   "NOT DELIVERED: %s was not online for %s; what you sent them while they were "
                   "away was given up (see /history)",
                   who, span);
        }
    }
    if (e.n) {
        s_schedule(ctx, self);
    }
    free(e.items);
}

static void
s_peer(socp_actor_ctx_t *ctx,
       const char *user_id,
       const char *name,
       const char *pub,
       bool online,
       uint8_t status,
       const socp_cstore_contact_t *c,
       const char *server)
{
    socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_PEER);
    m.body.cli_peer.user_id = user_id;
    m.body.cli_peer.name = name;
    m.body.cli_peer.pub = pub;
    m.body.cli_peer.online = online;
    m.body.cli_peer.status = status;
    m.body.cli_peer.sig = c ? c->sig : 0;
    m.body.cli_peer.fp = c ? c->fp : "";
    m.body.cli_peer.server = server ? server : "";
    (void) socp_actor_send(ctx, "ui", &m);
}

static void
s_on_presence(socp_actor_ctx_t *ctx, s_store_t *self, const socp_msg_cli_presence_t *p)
{
    socp_cstore_contact_t c;
    s_online_set(self, p->user_id, p->kind != 2);
    if (p->kind == 2) {
        if (socp_cstore_contact_get(self->db, p->user_id, &c) == 0) {
            s_peer(ctx, p->user_id, c.name, c.pub, false, 0, &c, p->server);
        }
        return;
    }
    int state = 0;
    int rc = socp_cstore_contact_pin(self->db, p->user_id, p->name, p->pub, p->fp, socp_wall_ms(),
                                     &state);
    if (rc == SOCP_EBADKEY) {
        if (socp_cstore_contact_get(self->db, p->user_id, &c) == 0) {
            s_note(ctx, 3,
                   "WARNING: the server announced a NEW KEY for %s (%s). The key pinned on first "
                   "contact "
                   "was kept and the new one refused: messages to or from the new key are blocked.",
                   c.name, p->user_id);
            s_peer(ctx, p->user_id, c.name, c.pub, true, 2, &c, p->server);
        }
        return;
    }
    if (rc != 0) {
        return;
    }
    s_schedule(ctx, self);
    bool known = socp_cstore_contact_get(self->db, p->user_id, &c) == 0;
    s_peer(ctx, p->user_id, p->name && *p->name ? p->name : p->user_id, p->pub, true,
           (uint8_t) state, known ? &c : NULL, p->server);
    s_release(ctx, self, p->user_id, p->name && *p->name ? p->name : p->user_id);
}

// ---- history and settings ----------------------------------------------------------

// The database key of a setting: pub_format belongs to the server it was
// learned from ("pub_format@" + BLAKE2b-128 of "host:port", in hex).
static const char *
s_setting_key(const s_store_t *self, const char *name, char out[65])
{
    if (strcmp(name, "pub_format") != 0 || !self->args->server) {
        return name;
    }
    uint8_t h[16];
    char hex[33];
    crypto_generichash(h, sizeof h, (const uint8_t *) self->args->server,
                       strlen(self->args->server), NULL, 0);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(out, 65, "pub_format@%s", hex);
    return out;
}


static int
s_history_row(const socp_cstore_msg_t *m, void *arg)
{
    socp_actor_ctx_t *ctx = arg;
    socp_msg_t s = socp_msg_make(SOCP_MSG_CLI_SHOW);
    s.body.cli_show.kind = m->kind;
    s.body.cli_show.outgoing = m->outgoing;
    s.body.cli_show.peer = m->conv;
    s.body.cli_show.from = m->from;
    s.body.cli_show.ts = m->ts;
    s.body.cli_show.text =
        (socp_bin_t){(const uint8_t *) m->text, m->text_len > 446 ? 446 : m->text_len};
    s.body.cli_show.status = m->status;
    s.body.cli_show.form = m->form;
    s.body.cli_show.history = true;
    (void) socp_actor_send(ctx, "ui", &s);
    return 0;
}

static int
s_peer_row(const socp_cstore_contact_t *c, void *arg)
{
    s_peer(arg, c->user_id, c->name, c->pub, false, 0, c, NULL);
    return 0;
}

static int
s_on_msg(socp_actor_ctx_t *ctx, socp_msg_t *msg, void *arg)
{
    s_store_t *self = arg;
    switch (msg->type) {
        case SOCP_MSG_CLI_FRAME:
            s_on_ordered(ctx, self, msg);
            break;
        case SOCP_MSG_CLI_HOLD:
            s_on_hold(ctx, self, &msg->body.cli_hold);
            break;
        case SOCP_MSG_CLI_SENT:
            if (socp_cstore_outbox_mark_sent(self->db, msg->body.cli_sent.seq) == 0) {
                self->sent_in_batch = true;
                s_schedule(ctx, self);
            }
            if (self->link_up && msg->body.cli_sent.gen == self->gen &&
                self->wire_credit < S_WIRE_WINDOW) {
                self->wire_credit++;
                s_pump(ctx, self);
            }
            break;
        case SOCP_MSG_CLI_LINK:
            s_on_link(ctx, self, &msg->body.cli_link);
            break;
        case SOCP_MSG_CLI_PLAIN:
            s_on_ordered(ctx, self, msg);
            break;
        case SOCP_MSG_CLI_PRESENCE:
            s_on_presence(ctx, self, &msg->body.cli_presence);
            break;
        case SOCP_MSG_CLI_HISTORY_REQ: {
            const char *peer = msg->body.cli_history_req.peer;
            if (socp_cstore_history_last(self->db, peer, msg->body.cli_history_req.limit,
                                         s_history_row, ctx) != 0) {
                s_note(ctx, 2, "cannot read the history");
            }
            s_note(ctx, 0, "-- end of history --");
            break;
        }
        case SOCP_MSG_CLI_SETTING: {
            char key[65];
            if (socp_cstore_setting_set(self->db,
                                        s_setting_key(self, msg->body.cli_setting.key, key),
                                        msg->body.cli_setting.value) == 0) {
                s_defer(ctx, self, "net", msg);
            }
            break;
        }
        default:
            socp_warn("store: unexpected %s", socp_msg_name(msg->type));
            break;
    }
    return 0;
}

int
socp_client_store_actor(socp_actor_ctx_t *ctx, void *args)
{
    s_store_t *self = socp_calloc(1, sizeof *self);
    self->args = args;
    for (size_t i = 0; i < S_FILES_MAX; i++) {
        self->files[i].fd = -1;
    }
    char db[4096];
    snprintf(db, sizeof db, "%s/db", self->args->data_dir);
    snprintf(self->downloads, sizeof self->downloads, "%s/downloads", self->args->data_dir);
    if (mkdir(self->downloads, 0700) == 0) {
        (void) socp_platform_sync_parent(self->downloads);
    } else if (errno != EEXIST) {
        socp_error("store: cannot create %s", self->downloads);
        free(self);
        return SOCP_EIO;
    }
    s_remove_parts(self->downloads);
    const char *why = NULL;
    int rc = socp_cstore_open(db, self->args->map_size, &self->db, &why);
    if (rc != 0) {
        socp_error("store: %s: %s", db, why);
        free(self);
        return rc;
    }
    if (self->args->history_key &&
        (rc = socp_cstore_set_key(self->db, self->args->history_key, &why)) != 0) {
        socp_error("store: %s: %s", db, why);
        socp_cstore_destroy(&self->db);
        free(self);
        return rc;
    }
    // A received file is linked into downloads/: the store syncs the
    // directory before the file's record (and the "saved" line) go out.
    socp_cstore_set_files_dir(self->db, self->downloads);
    socp_reorder_init(&self->out_order);
    socp_reorder_init(&self->in_order);
    (void) socp_actor_timer_add(ctx, 1000, 1000, s_on_hold_tick, self);
    socp_actor_ready(ctx, 0);
    // Tell the ui the contacts we know, and net our display name.
    if (socp_cstore_contacts_each(self->db, s_peer_row, ctx) != 0) {
        socp_warn("store: cannot list contacts");
    }
    char nick[257];
    if (socp_cstore_setting_get(self->db, "nick", nick, sizeof nick) == 0) {
        socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_SETTING);
        m.body.cli_setting.key = "nick";
        m.body.cli_setting.value = nick;
        (void) socp_actor_send(ctx, "net", &m);
        (void) socp_actor_send(ctx, "ui", &m);
    }
    char fmt[16], key[65];
    if (socp_cstore_setting_get(self->db, s_setting_key(self, "pub_format", key), fmt,
                                sizeof fmt) == 0) {
        socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_SETTING);
        m.body.cli_setting.key = "pub_format";
        m.body.cli_setting.value = fmt;
        (void) socp_actor_send(ctx, "net", &m); // before net's first hello
    }
    s_send_pending(ctx, self);
    rc = socp_actor_run(ctx, s_on_msg, self);
    {
        // Received items still waiting for an earlier one are kept, not lost.
        s_order_ctx_t o = {ctx, self};
        while (socp_reorder_held(&self->in_order)) {
            (void) socp_reorder_expire(&self->in_order, UINT64_MAX, 0, s_plain_in_order, &o);
        }
    }
    if (socp_cstore_commit(self->db) != 0) {
        socp_warn("store: the last batch could not be saved");
    }
    for (size_t i = 0; i < S_FILES_MAX; i++) {
        if (self->files[i].used) {
            s_file_drop(&self->files[i]);
        }
    }
    for (size_t i = 0; i < self->ndeferred; i++) {
        socp_buf_fini(&self->deferred[i].bytes);
    }
    // Held frames were never reported accepted: dropping them at exit breaks
    // no promise (the ui did not echo them).
    socp_reorder_fini(&self->out_order);
    socp_reorder_fini(&self->in_order);
    free(self->deferred);
    free(self->batch_ids);
    free(self->released);
    s_online_clear(self);
    free(self->online);
    socp_cstore_destroy(&self->db);
    free(self);
    return rc;
}
