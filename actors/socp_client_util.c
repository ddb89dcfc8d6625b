// socp_client_util.c: small helpers shared by the client's actors
// (socp_client.h): crypto shard choice, key fingerprints, file name sanitising.
// Part of socp, a SOCP v1.3 client and server.
#include "socp/socp_client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "socp/socp_b64.h"
#include "socp/socp_err.h"
#include "socp/socp_log.h"
#include "socp/socp_text.h"
#include "socp/socp_uuid.h"

unsigned
socp_client_shard(const char *conv, unsigned workers, char name[SOCP_ACTOR_NAME_MAX + 1])
{
    // FNV-1a: stable across runs, so a conversation always maps to one worker.
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *) (conv ? conv : ""); *p; p++) {
        h = (h ^ *p) * 16777619u;
    }
    unsigned n = workers ? h % workers : 0;
    snprintf(name, SOCP_ACTOR_NAME_MAX + 1, "crypto%u", n);
    return n;
}

uint64_t
socp_client_route(socp_client_route_t *self,
                  uint8_t kind,
                  const char *conv,
                  unsigned workers,
                  char name[SOCP_ACTOR_NAME_MAX + 1])
{
    unsigned w = workers == 0                       ? 1
                 : workers > SOCP_CLIENT_CRYPTO_MAX ? SOCP_CLIENT_CRYPTO_MAX
                                                    : workers;
    unsigned pick;
    if (kind == SOCP_CLIENT_KIND_DM || kind == SOCP_CLIENT_KIND_PUBLIC) {
        unsigned start = (unsigned) (self->rr++ % w);
        pick = start;
        for (unsigned i = 1; i < w; i++) {
            unsigned c = (start + i) % w;
            if (self->inflight[c] < self->inflight[pick]) {
                pick = c;
            }
        }
        snprintf(name, SOCP_ACTOR_NAME_MAX + 1, "crypto%u", pick);
    } else {
        pick = socp_client_shard(conv, w, name);
    }
    self->inflight[pick]++;
    return ++self->order;
}

#define S_BURST_FRAMES  200.0 // frames sent at once when the server's bucket is full
#define S_BURST_IDLE_MS 3000  // no file frames for this long: the bucket is full
#define S_RATE_STEP     20.0  // frames/s regained per second after a slow-down
#define S_RATE_MIN      20.0  // never slower than this
#define S_LEARNED_MS    60000 // a slow-down this recent sets the next start rate
#define S_RECENT_MS     5000  // a transfer this recent may still be what the server limits

void
socp_client_pacer_init(socp_client_pacer_t *self, double ceiling)
{
    *self = (socp_client_pacer_t){.ceiling = ceiling > 0 ? ceiling : 0};
}

void
socp_client_pacer_start(socp_client_pacer_t *self, uint64_t now_ms)
{
    self->active = true;
    self->last_ms = now_ms;
    self->rate = self->ceiling;
    if (self->learned > 0 && now_ms - self->err_ms < S_LEARNED_MS) {
        self->rate = self->learned; // the server limited us recently: start there
    }
    self->tokens =
        self->done_ms == 0 || now_ms - self->done_ms > S_BURST_IDLE_MS ? S_BURST_FRAMES : 0;
}

int
socp_client_pacer_take(socp_client_pacer_t *self, uint64_t now_ms, int max)
{
    if (self->rate <= 0) {
        return max;
    }
    double dt = (double) (now_ms - self->last_ms) / 1000.0;
    self->last_ms = now_ms;
    if (self->ceiling > 0 && self->rate < self->ceiling &&
        (self->err_ms == 0 || now_ms - self->err_ms > 2000)) {
        self->rate += S_RATE_STEP * dt;
        self->rate = self->rate > self->ceiling ? self->ceiling : self->rate;
    }
    double cap = self->tokens > max ? self->tokens : max; // a burst drains
    self->tokens += dt * self->rate;
    self->tokens = self->tokens > cap ? cap : self->tokens;
    int budget = (int) (self->tokens < max ? self->tokens : max);
    self->tokens -= budget;
    return budget;
}

bool
socp_client_pacer_slow_down(socp_client_pacer_t *self, uint64_t now_ms)
{
    bool first = self->err_ms == 0 || now_ms - self->err_ms > 5000;
    self->err_ms = now_ms;
    if (socp_client_pacer_recent(self, now_ms)) {
        self->rate = self->rate > 0 ? self->rate / 2 : 100;
        self->rate = self->rate < S_RATE_MIN ? S_RATE_MIN : self->rate;
        self->tokens = 0;
        self->learned = self->rate;
    }
    return first;
}

bool
socp_client_pacer_recent(const socp_client_pacer_t *self, uint64_t now_ms)
{
    return self->active || (self->done_ms && now_ms - self->done_ms < S_RECENT_MS);
}

void
socp_client_pacer_done(socp_client_pacer_t *self, uint64_t now_ms)
{
    self->active = false;
    self->done_ms = now_ms;
}

void
socp_client_history_key(const uint8_t *der, size_t len, uint8_t out[32])
{
    uint8_t master[crypto_kdf_KEYBYTES];
    crypto_generichash(master, sizeof master, der, len, NULL, 0);
    crypto_kdf_derive_from_key(out, 32, 1, "socphist", master);
    sodium_memzero(master, sizeof master);
}

void
socp_client_route_done(socp_client_route_t *self, unsigned worker)
{
    if (worker < SOCP_CLIENT_CRYPTO_MAX && self->inflight[worker] > 0) {
        self->inflight[worker]--;
    }
}

bool
socp_client_route_busy(const socp_client_route_t *self, unsigned workers)
{
    unsigned w = workers == 0                       ? 1
                 : workers > SOCP_CLIENT_CRYPTO_MAX ? SOCP_CLIENT_CRYPTO_MAX
                                                    : workers;
    uint64_t total = 0;
    for (unsigned i = 0; i < SOCP_CLIENT_CRYPTO_MAX; i++) {
        total += self->inflight[i];
    }
    return total >= (uint64_t) w * SOCP_CLIENT_SEND_WINDOW;
}

int
socp_client_key_fp(const socp_rsa_key_t *key, char out[65])
{
    out[0] = '\0';
    char *b64 = NULL;
    if (socp_rsa_public_export(key, SOCP_RSA_PUB_B64_DER, &b64) != 0) {
        return SOCP_ECRYPTO;
    }
    uint8_t *der = NULL;
    size_t len = 0;
    int rc = socp_b64_decode(b64, strlen(b64), SOCP_RSA_IMPORT_MAX, &der, &len);
    free(b64);
    if (rc != 0) {
        return SOCP_ECRYPTO;
    }
    uint8_t h[32];
    crypto_hash_sha256(h, der, len);
    free(der);
    sodium_bin2hex(out, 65, h, sizeof h);
    return 0;
}

void
socp_client_sanitize_name(const char *name, char *out, size_t size)
{
    size_t cap = size - 1 < 128 ? size - 1 : 128;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *) (name ? name : ""); *p && n < cap; p++) {
        unsigned char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-' || c == ' ' || c == '+';
        if (n == 0 && (c == '.' || c == ' ')) {
            continue; // no hidden files, no leading blanks
        }
        out[n++] = ok ? (char) c : '_';
    }
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '.')) {
        n--;
    }
    out[n] = '\0';
    if (n == 0) {
        snprintf(out, size, "file");
    }
}

socp_client_peer_t *
socp_client_peer_find(socp_client_peer_t *peers, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(peers[i].id, id) == 0) {
            return &peers[i];
        }
    }
    return NULL;
}

socp_client_peer_t *
socp_client_peer_update(socp_client_peer_t *peers,
                        size_t *n,
                        size_t max,
                        const socp_msg_cli_peer_t *p,
                        bool *was_online)
{
    socp_client_peer_t *e = socp_client_peer_find(peers, *n, p->user_id);
    if (!e) {
        if (*n == max) {
            return NULL;
        }
        e = &peers[(*n)++];
        memset(e, 0, sizeof *e);
        e->id = socp_strdup(p->user_id);
    }
    *was_online = e->online;
    free(e->name);
    free(e->pub);
    e->name = socp_strdup(p->name && *p->name ? p->name : p->user_id);
    e->pub = socp_strdup(p->pub);
    if (p->fp && *p->fp) {
        free(e->fp);
        e->fp = socp_strdup(p->fp);
    } else if (!e->fp) {
        e->fp = socp_strdup("");
    }
    if (p->server && *p->server) {
        free(e->server);
        e->server = socp_strdup(p->server);
    } else if (!e->server) {
        e->server = socp_strdup("");
    }
    e->online = p->online;
    e->status = p->status;
    e->sig = p->sig;
    return e;
}

void
socp_client_peer_sig(socp_client_peer_t *peers, size_t n, const socp_msg_cli_peer_sig_t *p)
{
    socp_client_peer_t *e = socp_client_peer_find(peers, n, p->user_id);
    if (e) {
        e->sig = p->sig;
    }
}

// Equal ignoring ASCII case and leading/trailing spaces.
static bool
s_same_name(const char *a, const char *b)
{
    if (!a || !b) {
        return false;
    }
    while (*a == ' ') {
        a++;
    }
    while (*b == ' ') {
        b++;
    }
    size_t la = strlen(a), lb = strlen(b);
    while (la && a[la - 1] == ' ') {
        la--;
    }
    while (lb && b[lb - 1] == ' ') {
        lb--;
    }
    if (la != lb || la == 0) {
        return false;
    }
    for (size_t i = 0; i < la; i++) {
        unsigned char x = (unsigned char) a[i], y = (unsigned char) b[i];
        if (x != y && !(x < 128 && y < 128 && (x | 0x20) == (y | 0x20) && (x | 0x20) >= 'a' &&
                        (x | 0x20) <= 'z')) {
            return false;
        }
    }
    return true;
}

bool
socp_client_peer_clash(const socp_client_peer_t *peers,
                       size_t n,
                       const socp_client_peer_t *e,
                       const char *my_id,
                       const char *my_name)
{
    static const char *const words[] = {"you", "me", "all", "public"};
    for (size_t i = 0; i < SOCP_ARRAY_LEN(words); i++) {
        if (s_same_name(e->name, words[i])) {
            return true;
        }
    }
    bool self = my_id && strcmp(e->id, my_id) == 0;
    if (!self && (s_same_name(e->name, my_id) || s_same_name(e->name, my_name))) {
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        const socp_client_peer_t *o = &peers[i];
        if (o == e || strcmp(o->id, e->id) == 0 || (my_id && strcmp(o->id, my_id) == 0)) {
            continue;
        }
        if (s_same_name(o->name, e->name) || s_same_name(o->id, e->name)) {
            return true;
        }
    }
    return false;
}

void
socp_client_peer_label(const socp_client_peer_t *peers,
                       size_t n,
                       const socp_client_peer_t *e,
                       const char *my_id,
                       const char *my_name,
                       char *out,
                       size_t size)
{
    if (e->fp && *e->fp && socp_client_peer_clash(peers, n, e, my_id, my_name)) {
        snprintf(out, size, "%s#%.*s", e->name, SOCP_CLIENT_FP_SHORT, e->fp);
    } else {
        snprintf(out, size, "%s", e->name);
    }
}

socp_client_peer_t *
socp_client_peer_resolve(socp_client_peer_t *peers, size_t n, const char *who, int *hits)
{
    socp_client_peer_t *hit = socp_client_peer_find(peers, n, who);
    *hits = hit ? 1 : 0;
    if (hit) {
        return hit;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(peers[i].name, who) == 0) {
            hit = &peers[i];
            (*hits)++;
        }
    }
    // "name#fp": the name, and a prefix (any case) of the key fingerprint.
    const char *hash = *hits == 0 ? strrchr(who, '#') : NULL;
    size_t fplen = hash ? strlen(hash + 1) : 0;
    if (hash && fplen >= 4 && fplen <= 64) {
        char fp[65];
        for (size_t i = 0; i <= fplen; i++) {
            char c = hash[1 + i];
            fp[i] = (char) (c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
        }
        for (size_t i = 0; i < n; i++) {
            if (strncmp(peers[i].name, who, (size_t) (hash - who)) == 0 &&
                peers[i].name[hash - who] == '\0' && peers[i].fp &&
                strncmp(peers[i].fp, fp, fplen) == 0) {
                hit = &peers[i];
                (*hits)++;
            }
        }
        if (*hits) {
            return *hits == 1 ? hit : NULL;
        }
    }
    if (*hits == 0 && *who) {
        size_t len = strlen(who);
        for (size_t i = 0; i < n; i++) {
            if (strncmp(peers[i].id, who, len) == 0 || strncmp(peers[i].name, who, len) == 0) {
                hit = &peers[i];
                (*hits)++;
            }
        }
    }
    return *hits == 1 ? hit : NULL;
}

socp_sig_emit_t
socp_client_sig_emit(const socp_client_wire_t *wire, uint8_t learned, const char *to)
{
    if (!wire->sig_auto) {
        return wire->sig_emit;
    }
    if (learned == SOCP_CLIENT_SIG_RAW) {
        return SOCP_SIG_EMIT_RAW;
    }
    if (learned == SOCP_CLIENT_SIG_STRING) {
        return SOCP_SIG_EMIT_STRING;
    }
    // A UUID in any letter case is a spec client's id.
    char low[SOCP_UUID_BUF] = "";
    size_t n = to ? strlen(to) : 0;
    for (size_t i = 0; i < n && i + 1 < sizeof low; i++) {
        low[i] = (char) (to[i] >= 'A' && to[i] <= 'F' ? to[i] - 'A' + 'a' : to[i]);
    }
    bool uuid = n == SOCP_UUID_BUF - 1 && socp_uuid_is_v4(low, n);
    return n > 0 && !uuid ? SOCP_SIG_EMIT_RAW : SOCP_SIG_EMIT_STRING;
}

uint8_t
socp_client_sig_learn(const char *form)
{
    if (!form) {
        return SOCP_CLIENT_SIG_UNKNOWN;
    }
    if (strcmp(form, socp_sig_form_name(SOCP_SIG_FORM_STRING)) == 0) {
        return SOCP_CLIENT_SIG_STRING;
    }
    if (strcmp(form, socp_sig_form_name(SOCP_SIG_FORM_RAW)) == 0) {
        return SOCP_CLIENT_SIG_RAW;
    }
    return SOCP_CLIENT_SIG_UNKNOWN;
}

void
socp_client_peers_fini(socp_client_peer_t *peers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(peers[i].id);
        free(peers[i].name);
        free(peers[i].pub);
        free(peers[i].fp);
        free(peers[i].server);
    }
}

// ---- output stream -------------------------------------------------------------------

void
socp_client_out_init(socp_client_out_t *self, int fd, bool nonblock)
{
    *self = (socp_client_out_t){.fd = fd, .saved_flags = -1};
    socp_buf_init(&self->buf);
    int fl = nonblock && !isatty(fd) ? fcntl(fd, F_GETFL) : -1;
    if (fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0) {
        self->saved_flags = fl;
    }
}

size_t
socp_client_out_pending(const socp_client_out_t *self)
{
    return self->buf.len - self->off;
}

// One write attempt loop: 0 when all written, 1 when the fd is full, -1
// when the reader is gone.
static int
s_out_write(socp_client_out_t *self)
{
    while (self->off < self->buf.len) {
        ssize_t w = write(self->fd, self->buf.data + self->off, self->buf.len - self->off);
        if (w > 0) {
            self->off += (size_t) w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 1;
        } else {
            if (!self->broken) {
                socp_warn("stdout: %s; output discarded", w < 0 ? strerror(errno) : "closed");
            }
            self->broken = true;
            return -1;
        }
    }
    return 0;
}

bool
socp_client_out_flush(socp_client_out_t *self)
{
    if (!self->broken) {
        (void) s_out_write(self);
    }
    if (self->broken || self->off == self->buf.len) {
        socp_buf_reset(&self->buf);
        self->off = 0;
    }
    return socp_client_out_pending(self) > 0;
}

void
socp_client_out_append(socp_client_out_t *self, const void *data, size_t len)
{
    if (self->broken || len == 0) {
        return;
    }
    socp_buf_append(&self->buf, data, len);
    if (self->saved_flags < 0) {
        (void) socp_client_out_flush(self); // blocking fd: write it now
    }
}

void
socp_client_out_fini(socp_client_out_t *self, int timeout_ms)
{
    uint64_t end = socp_now_ms() + (uint64_t) (timeout_ms > 0 ? timeout_ms : 0);
    while (!self->broken && socp_client_out_pending(self) > 0 && socp_now_ms() < end) {
        if (s_out_write(self) == 1) {
            struct pollfd p = {self->fd, POLLOUT, 0};
            (void) poll(&p, 1, 20);
        }
    }
    if (self->saved_flags >= 0) {
        (void) fcntl(self->fd, F_SETFL, self->saved_flags);
        self->saved_flags = -1;
    }
    socp_buf_fini(&self->buf); // leaves an empty buffer: a second fini is a no-op
    self->off = 0;
}

int
socp_client_file_open(const char *path,
                      uint64_t max,
                      socp_client_file_t *out,
                      char *why,
                      size_t why_size)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, why_size, "cannot read %.512s: %s", path,
                 fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    if ((uint64_t) st.st_size > max) {
        snprintf(why, why_size, "%.512s is larger than the %llu MiB limit", path,
                 (unsigned long long) (max >> 20));
        close(fd);
        return -1;
    }
    // One pass for the sha256 the receiver checks; the chunks are read later.
    crypto_hash_sha256_state sha;
    crypto_hash_sha256_init(&sha);
    uint8_t buf[65536];
    uint64_t total = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        crypto_hash_sha256_update(&sha, buf, (size_t) n);
        total += (uint64_t) n;
    }
    if (n < 0 || total != (uint64_t) st.st_size || lseek(fd, 0, SEEK_SET) != 0) {
        snprintf(why, why_size, "cannot read %.512s (changed while reading?)", path);
        close(fd);
        return -1;
    }
    uint8_t digest[32];
    crypto_hash_sha256_final(&sha, digest);
    sodium_bin2hex(out->sha_hex, sizeof out->sha_hex, digest, sizeof digest);
    out->fd = fd;
    out->size = total;
    socp_uuid_generate(out->file_id);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    socp_client_sanitize_name(base, out->name, sizeof out->name);
    snprintf(out->meta, sizeof out->meta,
             "{\"file_id\":\"%s\",\"name\":\"%s\",\"size\":%llu,\"sha256\":\"%s\"}", out->file_id,
             out->name, (unsigned long long) total, out->sha_hex);
    return 0;
}

void
socp_client_send_piece(socp_actor_ctx_t *ctx,
                       socp_client_route_t *route,
                       unsigned workers,
                       const socp_client_piece_t *p)
{
    // Every core signs, even for one recipient: the store restores the order.
    char worker[SOCP_ACTOR_NAME_MAX + 1];
    socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_SEND);
    m.body.cli_send.order = socp_client_route(route, p->kind, p->to, workers, worker);
    m.body.cli_send.kind = p->kind;
    m.body.cli_send.local_id = p->local_id;
    m.body.cli_send.to = p->to;
    m.body.cli_send.to_pub = p->pub;
    m.body.cli_send.data = (socp_bin_t){p->data, p->len};
    m.body.cli_send.meta = p->meta ? p->meta : "";
    m.body.cli_send.index = p->index;
    m.body.cli_send.ts = p->ts;
    m.body.cli_send.conv = p->kind == SOCP_CLIENT_KIND_PUBLIC ? "public" : p->to;
    m.body.cli_send.sig = p->sig;
    m.body.cli_send.pending = p->pending;
    (void) socp_actor_send(ctx, worker, &m);
}

void
socp_client_hold_piece(socp_actor_ctx_t *ctx,
                       uint64_t local_id,
                       const char *to,
                       const void *data,
                       size_t len,
                       int64_t ts)
{
    socp_msg_t m = socp_msg_make(SOCP_MSG_CLI_HOLD);
    m.body.cli_hold.local_id = local_id;
    m.body.cli_hold.to = to;
    m.body.cli_hold.data = (socp_bin_t){data, len};
    m.body.cli_hold.ts = ts;
    (void) socp_actor_send(ctx, "store", &m);
}

bool
socp_client_release(socp_actor_ctx_t *ctx,
                    socp_client_route_t *route,
                    unsigned workers,
                    socp_client_peer_t *peers,
                    size_t n,
                    const socp_msg_cli_release_t *r)
{
    const socp_client_peer_t *p = socp_client_peer_find(peers, n, r->to);
    if (!p || p->status == 2 || !p->pub || !*p->pub) {
        return false; // stays held (and expires if it never can go)
    }
    socp_client_piece_t piece = {SOCP_CLIENT_KIND_DM, 0,    p->id, p->pub, r->data.data,
                                 r->data.len,         NULL, 0,     r->ts,  p->sig,
                                 r->pending};
    socp_client_send_piece(ctx, route, workers, &piece);
    return true;
}

void
socp_client_outfile_start(socp_client_outfile_t *self,
                          const socp_client_file_t *file,
                          const char *to,
                          const char *pub,
                          uint64_t group)
{
    *self = (socp_client_outfile_t){.fd = file->fd, .size = file->size, .group = group};
    snprintf(self->file_id, sizeof self->file_id, "%s", file->file_id);
    snprintf(self->to, sizeof self->to, "%s", to);
    snprintf(self->name, sizeof self->name, "%s", file->name);
    self->to_pub = socp_strdup(pub);
}

bool
socp_client_outfile_tick(socp_client_outfile_t *self,
                         socp_actor_ctx_t *ctx,
                         socp_client_route_t *route,
                         unsigned workers,
                         socp_client_pacer_t *pacer,
                         int max,
                         bool *read_error)
{
    *read_error = false;
    if (self->fd < 0) {
        return false;
    }
    char worker[SOCP_ACTOR_NAME_MAX + 1];
    socp_client_shard(self->to, workers, worker);
    if (socp_actor_queued(ctx, worker) > 0) {
        return false; // the worker is busy: keep memory bounded
    }
    // Servers rate-limit users (socpd: 200 frames/s, bucket 400): stay under it.
    int budget = socp_client_pacer_take(pacer, socp_now_ms(), max);
    for (int i = 0; i < budget && self->sent < self->size; i++) {
        uint8_t buf[SOCP_TEXT_PIECE_MAX];
        uint64_t left = self->size - self->sent;
        ssize_t n = read(self->fd, buf, left < sizeof buf ? (size_t) left : sizeof buf);
        if (n <= 0) {
            *read_error = true;
            self->sent = self->size;
            break;
        }
        socp_client_piece_t chunk = {SOCP_CLIENT_KIND_FILE_CHUNK,
                                     self->group + 1 + self->index,
                                     self->to,
                                     self->to_pub,
                                     buf,
                                     (size_t) n,
                                     self->file_id,
                                     self->index,
                                     socp_wall_ms(),
                                     SOCP_CLIENT_SIG_UNKNOWN, // no content_sig on files
                                     0};
        socp_client_send_piece(ctx, route, workers, &chunk);
        sodium_memzero(buf, sizeof buf);
        self->index++;
        self->sent += (uint64_t) n;
    }
    if (self->sent < self->size) {
        return false;
    }
    socp_client_piece_t end = {SOCP_CLIENT_KIND_FILE_END,
                               self->group + 1 + self->index,
                               self->to,
                               self->to_pub,
                               NULL,
                               0,
                               self->file_id,
                               0,
                               socp_wall_ms(),
                               SOCP_CLIENT_SIG_UNKNOWN,
                               0};
    socp_client_send_piece(ctx, route, workers, &end);
    socp_actor_timer_cancel(ctx, self->timer);
    self->timer = 0;
    socp_client_outfile_fini(self);
    socp_client_pacer_done(pacer, socp_now_ms());
    return true;
}

void
socp_client_outfile_fini(socp_client_outfile_t *self)
{
    if (self->fd >= 0) {
        close(self->fd);
        self->fd = -1;
    }
    free(self->to_pub);
    self->to_pub = NULL;
}
