// socp_store_test.c: the client's LMDB store: outbox, history, pinning,
// settings, reopen after kill -9 in the middle of a burst.
#include "socp/socp_client_store.h"

#include <lmdb.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "socp/socp_client.h"
#include "socp_test.h"

static const char S_FP_A[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char S_FP_B[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

static char *
s_db(void)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/db", socp_test_tmpdir());
    return path;
}

typedef struct {
    uint64_t seqs[4096];
    char frames[4096][64];
    size_t n;
} s_unsent_t;

static int
s_collect(uint64_t seq, const char *frame, size_t len, void *arg)
{
    s_unsent_t *u = arg;
    CHECK(u->n < 4096 && len < 64);
    u->seqs[u->n] = seq;
    memcpy(u->frames[u->n], frame, len);
    u->frames[u->n][len] = '\0';
    u->n++;
    return 0;
}

SOCP_TEST(socp_store_outbox_reopen)
{
    socp_cstore_t *st;
    CHECK_OK(socp_cstore_open(s_db(), 0, &st, NULL));
    struct stat sb;
    CHECK(stat(s_db(), &sb) == 0 && (sb.st_mode & 077) == 0);
    uint64_t seq[3];
    CHECK_OK(socp_cstore_outbox_put(st, "bob", "{\"f\":1}", 7, &seq[0]));
    CHECK_OK(socp_cstore_outbox_put(st, "bob", "{\"f\":2}", 7, &seq[1]));
    CHECK_OK(socp_cstore_outbox_put(st, "carol", "{\"f\":3}", 7, &seq[2]));
    CHECK(socp_cstore_dirty(st));
    CHECK_EQ(socp_cstore_outbox_pending(st), 3);
    CHECK_OK(socp_cstore_commit(st));
    CHECK_OK(socp_cstore_outbox_mark_sent(st, seq[1]));
    CHECK_OK(socp_cstore_commit(st));
    CHECK_EQ(socp_cstore_outbox_pending(st), 2);
    // An aborted batch is forgotten, counters included.
    CHECK_OK(socp_cstore_outbox_put(st, "bob", "{\"f\":4}", 7, NULL));
    socp_cstore_abort(st);
    CHECK_EQ(socp_cstore_outbox_pending(st), 2);
    socp_cstore_destroy(&st);

    CHECK_OK(socp_cstore_open(s_db(), 0, &st, NULL));
    CHECK_EQ(socp_cstore_outbox_pending(st), 2);
    s_unsent_t *u = socp_calloc(1, sizeof *u);
    CHECK_OK(socp_cstore_outbox_each_unsent(st, 0, s_collect, u));
    CHECK_EQ(u->n, 2);
    CHECK_EQ(u->seqs[0], seq[0]);
    CHECK_STREQ(u->frames[0], "{\"f\":1}");
    CHECK_STREQ(u->frames[1], "{\"f\":3}");
    // From a given seq on: only what lies above it.
    memset(u, 0, sizeof *u);
    CHECK_OK(socp_cstore_outbox_each_unsent(st, seq[0], s_collect, u));
    CHECK_EQ(u->n, 1);
    CHECK_EQ(u->seqs[0], seq[2]);
    uint64_t next;
    CHECK_OK(socp_cstore_outbox_put(st, "bob", "{\"f\":5}", 7, &next));
    CHECK(next > seq[2]);
    // A frame of the open batch is not durable yet: never handed out.
    memset(u, 0, sizeof *u);
    CHECK_EQ(socp_cstore_outbox_each_unsent(st, 0, s_collect, u), SOCP_EAGAIN);
    CHECK_EQ(u->n, 2);
    CHECK_OK(socp_cstore_commit(st));
    memset(u, 0, sizeof *u);
    CHECK_OK(socp_cstore_outbox_each_unsent(st, seq[2], s_collect, u));
    CHECK_EQ(u->n, 1);
    CHECK_EQ(u->seqs[0], next);
    free(u);
    socp_cstore_destroy(&st);
}

typedef struct {
    char texts[16][64];
    size_t n;
} s_hist_t;

static int
s_hist(const socp_cstore_msg_t *m, void *arg)
{
    s_hist_t *h = arg;
    CHECK(h->n < 16 && m->text_len < 64);
    memcpy(h->texts[h->n], m->text, m->text_len);
    h->texts[h->n][m->text_len] = '\0';
    h->n++;
    return 0;
}

SOCP_TEST(socp_store_history_and_settings)
{
    socp_cstore_t *st;
    CHECK_OK(socp_cstore_open(s_db(), 0, &st, NULL));
    const char *texts[] = {"one", "two", "three", "four", "h\xc3\xa9llo"};
    for (size_t i = 0; i < 5; i++) {
        socp_cstore_msg_t m = {.kind = SOCP_CLIENT_KIND_DM,
                               .conv = i % 2 ? "carol" : "bob",
                               .from = "bob",
                               .ts = 1000 + (int64_t) i,
                               .text = texts[i],
                               .text_len = strlen(texts[i])};
        CHECK_OK(socp_cstore_history_add(st, &m));
    }
    socp_cstore_msg_t bad = {.conv = "bob", .from = "bob", .text = "\xff", .text_len = 1};
    CHECK_RC(socp_cstore_history_add(st, &bad), SOCP_EINVAL);
    CHECK_OK(socp_cstore_commit(st));
    s_hist_t h = {0};
    CHECK_OK(socp_cstore_history_last(st, "bob", 2, s_hist, &h));
    CHECK_EQ(h.n, 2);
    CHECK_STREQ(h.texts[0], "three");
    CHECK_STREQ(h.texts[1], "h\xc3\xa9llo");
    memset(&h, 0, sizeof h);
    CHECK_OK(socp_cstore_history_last(st, NULL, 10, s_hist, &h));
    CHECK_EQ(h.n, 5);
    CHECK_STREQ(h.texts[0], "one");

    CHECK_OK(socp_cstore_setting_set(st, "nick", "Alice"));
    char v[64];
    CHECK_RC(socp_cstore_setting_get(st, "other", v, sizeof v), SOCP_ENOTFOUND);
    CHECK_OK(socp_cstore_setting_get(st, "nick", v, sizeof v));
    CHECK_STREQ(v, "Alice");
    CHECK_OK(socp_cstore_commit(st));

    uint8_t hash[32] = {1, 2, 3};
    CHECK_OK(socp_cstore_seen_add(st, "bob", 5, hash));
    CHECK_RC(socp_cstore_seen_add(st, "bob", 5, hash), SOCP_EREPLAY);
    CHECK_OK(socp_cstore_seen_add(st, "bob", 6, hash));
    CHECK_OK(socp_cstore_commit(st));
    socp_cstore_destroy(&st);
    CHECK_OK(socp_cstore_open(s_db(), 0, &st, NULL));
    CHECK_RC(socp_cstore_seen_add(st, "bob", 5, hash), SOCP_EREPLAY);
    CHECK_OK(socp_cstore_setting_get(st, "nick", v, sizeof v));
    CHECK_STREQ(v, "Alice");
    socp_cstore_destroy(&st);
}

SOCP_TEST(socp_store_key_change_refused)
{
    socp_cstore_t *st;
    CHECK_OK(socp_cstore_open(s_db(), 0, &st, NULL));
    int state = -1;
    CHECK_OK(socp_cstore_contact_pin(st, "bob", "Bob", "PUB-A", S_FP_A, 10, &state));
    CHECK_EQ(state, 1);
    CHECK_OK(socp_cstore_commit(st));
    CHECK_OK(socp_cstore_contact_pin(st, "bob", "Bobby", "PUB-A", S_FP_A, 20, &state));
    CHECK_EQ(state, 0);
    CHECK_RC(socp_cstore_contact_pin(st, "bob", "Mallory", "PUB-B", S_FP_B, 30, &state),
             SOCP_EBADKEY);
    CHECK_OK(socp_cstore_commit(st));
    socp_cstore_destroy(&st);
    CHECK_OK(socp_cstore_open(s_db(), 0, &st, NULL));
    socp_cstore_contact_t c;
    CHECK_OK(socp_cstore_contact_get(st, "bob", &c));
    CHECK_STREQ(c.pub, "PUB-A");
    CHECK_STREQ(c.fp, S_FP_A);
    CHECK_STREQ(c.name, "Bobby");
    CHECK_EQ(c.first_seen, 10);
    CHECK_EQ(c.last_seen, 20);
    CHECK_RC(socp_cstore_contact_pin(st, "bob", NULL, "PUB-B", S_FP_B, 40, NULL), SOCP_EBADKEY);
    CHECK_RC(socp_cstore_contact_get(st, "nobody", &c), SOCP_ENOTFOUND);
    socp_cstore_destroy(&st);
}

// The content_sig form learned for a contact: kept by later pins (a
// presence update must not forget it), across a reopen, and only 0-2.
SOCP_TEST(socp_store_contact_sig_form)
{
    socp_cstore_t *st;
    CHECK_OK(socp_cstore_open(s_db(), 0, &st, NULL));
    bool changed = true;
    CHECK_RC(socp_cstore_contact_set_sig(st, "bob", 2, &changed), SOCP_ENOTFOUND);
    CHECK(!changed);
    CHECK_OK(socp_cstore_contact_pin(st, "bob", "Bob", "PUB-A", S_FP_A, 10, NULL));
    socp_cstore_contact_t c;
    CHECK_OK(socp_cstore_contact_get(st, "bob", &c));
    CHECK_EQ(c.sig, 0);
    CHECK_OK(socp_cstore_contact_set_sig(st, "bob", 2, &changed));
    CHECK(changed);
    CHECK_OK(socp_cstore_contact_set_sig(st, "bob", 2, &changed));
    CHECK(!changed);
    CHECK_RC(socp_cstore_contact_set_sig(st, "bob", 3, &changed), SOCP_EINVAL);
    CHECK_OK(socp_cstore_contact_pin(st, "bob", "Bobby", "PUB-A", S_FP_A, 20, NULL));
    CHECK_OK(socp_cstore_commit(st));
    socp_cstore_destroy(&st);
    CHECK_OK(socp_cstore_open(s_db(), 0, &st, NULL));
    CHECK_OK(socp_cstore_contact_get(st, "bob", &c));
    CHECK_EQ(c.sig, 2);
    CHECK_STREQ(c.name, "Bobby");
    CHECK_STREQ(c.pub, "PUB-A");
    CHECK_EQ(c.first_seen, 10);
    CHECK_EQ(c.last_seen, 20);
    socp_cstore_destroy(&st);
}

// A child writes bursts of outbox entries and history, committing each burst
// and reporting the committed count on a pipe, and is SIGKILLed mid-burst.
// Everything reported committed must be there, whole; nothing half-written.
SOCP_TEST(socp_store_kill9_mid_burst)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        socp_cstore_t *st;
        if (socp_cstore_open(s_db(), 0, &st, NULL) != 0) {
            _exit(2);
        }
        for (uint32_t burst = 0;; burst++) {
            for (uint32_t i = 0; i < 50; i++) {
                char frame[64];
                int n = snprintf(frame, sizeof frame, "{\"burst\":%u,\"i\":%u}", burst, i);
                if (socp_cstore_outbox_put(st, "bob", frame, (size_t) n, NULL) != 0) {
                    _exit(3);
                }
            }
            if (socp_cstore_commit(st) != 0) {
                _exit(4);
            }
            uint32_t done = burst + 1;
            if (write(fds[1], &done, sizeof done) != sizeof done) {
                _exit(5);
            }
        }
    }
    close(fds[1]);
    uint32_t committed = 0, v;
    while (committed < 20 && read(fds[0], &v, sizeof v) == sizeof v) {
        committed = v;
    }
    CHECK(kill(pid, SIGKILL) == 0);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    while (read(fds[0], &v, sizeof v) == sizeof v) {
        committed = v; // reports written before the kill
    }
    close(fds[0]);
    CHECK(WIFSIGNALED(status));

    socp_cstore_t *st;
    CHECK_OK(socp_cstore_open(s_db(), 0, &st, NULL));
    s_unsent_t *u = socp_calloc(1, sizeof *u);
    // Up to 4096 entries are collected; the child wrote bursts of 50.
    int rc = socp_cstore_outbox_each_unsent(st, 0, s_collect, u);
    CHECK(rc == 0 || u->n == 4096);
    CHECK(u->n >= (size_t) committed * 50 || u->n == 4096);
    CHECK(u->n % 50 == 0); // whole bursts only
    for (size_t i = 0; i < u->n; i++) {
        char want[64];
        snprintf(want, sizeof want, "{\"burst\":%zu,\"i\":%zu}", i / 50, i % 50);
        CHECK_STREQ(u->frames[i], want);
        CHECK_EQ(u->seqs[i], i + 1);
    }
    free(u);
    socp_cstore_destroy(&st);
}

// A schema-1 database (seen table keyed by the digest alone) is converted
// on open: a message seen before the upgrade is still a replay after it.
SOCP_TEST(socp_store_schema1_seen_migrates)
{
    CHECK(mkdir(s_db(), 0700) == 0);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, seen;
    CHECK(mdb_env_create(&env) == 0);
    CHECK(mdb_env_set_maxdbs(env, 8) == 0);
    CHECK(mdb_env_open(env, s_db(), MDB_NOTLS, 0600) == 0);
    CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    CHECK(mdb_dbi_open(txn, "meta", MDB_CREATE, &meta) == 0);
    CHECK(mdb_dbi_open(txn, "seen", MDB_CREATE, &seen) == 0);
    MDB_val k = {6, (void *) "schema"}, v = {1, (void *) "1"};
    CHECK(mdb_put(txn, meta, &k, &v, 0) == 0);
    // Schema 1: key SHA-256("bob\0" "5\0" digest), value be64(5).
    uint8_t hash[32] = {7, 7, 7};
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *) "bob", 4);
    crypto_hash_sha256_update(&st, (const uint8_t *) "5", 2);
    crypto_hash_sha256_update(&st, hash, 32);
    uint8_t key[32], val[8] = {0, 0, 0, 0, 0, 0, 0, 5};
    crypto_hash_sha256_final(&st, key);
    k = (MDB_val){32, key};
    v = (MDB_val){8, val};
    CHECK(mdb_put(txn, seen, &k, &v, 0) == 0);
    CHECK(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);

    socp_cstore_t *store = NULL;
    CHECK_OK(socp_cstore_open(s_db(), 0, &store, NULL));
    CHECK_RC(socp_cstore_seen_add(store, "bob", 5, hash), SOCP_EREPLAY);
    CHECK_OK(socp_cstore_seen_add(store, "bob", 6, hash));
    CHECK_OK(socp_cstore_commit(store));
    socp_cstore_destroy(&store);
    // Reopened at the current schema: nothing to convert, the facts still hold.
    CHECK_OK(socp_cstore_open(s_db(), 0, &store, NULL));
    CHECK_RC(socp_cstore_seen_add(store, "bob", 5, hash), SOCP_EREPLAY);
    CHECK_RC(socp_cstore_seen_add(store, "bob", 6, hash), SOCP_EREPLAY);
    socp_cstore_destroy(&store);
}

// True if the database file holds `needle` anywhere (free pages included).
static bool
s_db_has(const char *needle)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/data.mdb", s_db());
    return socp_test_file_has(path, needle);
}

static void
s_add_text(socp_cstore_t *st, const char *text)
{
    socp_cstore_msg_t m = {.kind = SOCP_CLIENT_KIND_DM,
                           .conv = "bob",
                           .from = "bob",
                           .ts = 1700000000000,
                           .status = SOCP_CLIENT_TRUST_VERIFIED,
                           .text = text,
                           .text_len = strlen(text)};
    CHECK_OK(socp_cstore_history_add(st, &m));
}

#define S_ROWS 5000

// Counts history rows; in_order counts the "row-NNNNN" ones in sequence.
typedef struct {
    size_t n, in_order;
} s_rows_t;

static int
s_rows(const socp_cstore_msg_t *m, void *arg)
{
    s_rows_t *r = arg;
    char want[32];
    snprintf(want, sizeof want, "row-%05zu", r->in_order);
    if (m->text_len == strlen(want) && memcmp(m->text, want, m->text_len) == 0) {
        r->in_order++;
    }
    r->n++;
    return 0;
}

// With a key set, history and file records are sealed on disk: what was
// there is sealed at once, new records are written sealed, the same key
// reads them back, another key is refused without touching anything, and a
// record that was altered or moved to another key is skipped, not trusted.
SOCP_TEST(socp_store_history_sealed_at_rest)
{
    uint8_t key[32], other[32];
    memset(key, 0x11, sizeof key);
    memset(other, 0x22, sizeof other);
    socp_cstore_t *st;
    CHECK_OK(socp_cstore_open(s_db(), 0, &st, NULL));
    // Enough records to fill several pages and cross a sealing chunk.
    for (int i = 0; i < S_ROWS; i++) {
        char text[32];
        snprintf(text, sizeof text, "row-%05d", i);
        s_add_text(st, text);
    }
    s_add_text(st, "written-before-the-key");
    CHECK_OK(socp_cstore_file_put(st, "file-1", "{\"name\":\"holiday-plans.txt\"}"));
    CHECK_OK(socp_cstore_commit(st));
    socp_cstore_destroy(&st);
    CHECK(s_db_has("written-before-the-key")); // plain: what the test must change

    CHECK_OK(socp_cstore_open(s_db(), 0, &st, NULL));
    CHECK_OK(socp_cstore_set_key(st, key, NULL));
    CHECK_RC(socp_cstore_set_key(st, key, NULL), SOCP_EINVAL); // once
    s_add_text(st, "written-after-the-key");
    CHECK_OK(socp_cstore_commit(st));
    s_hist_t h = {0};
    CHECK_OK(socp_cstore_history_last(st, "bob", 2, s_hist, &h));
    CHECK_EQ(h.n, 2u);
    CHECK_STREQ(h.texts[0], "written-before-the-key");
    CHECK_STREQ(h.texts[1], "written-after-the-key");
    // Every earlier record came through the sealing whole and in order.
    s_rows_t rows = {0};
    CHECK_OK(socp_cstore_history_last(st, "bob", S_ROWS + 10, s_rows, &rows));
    CHECK_EQ(rows.n, (size_t) S_ROWS + 2);
    CHECK_EQ(rows.in_order, (size_t) S_ROWS);
    socp_cstore_destroy(&st);
    // The compacted file kept its mode, and no compaction is owed.
    char path[4200];
    snprintf(path, sizeof path, "%s/data.mdb", s_db());
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    CHECK(!s_db_has("written-after-the-key"));
    CHECK(!s_db_has("written-before-the-key")); // not even in a free page
    CHECK(!s_db_has("holiday-plans"));

    // Another key: refused with a sentence, and the history is untouched.
    CHECK_OK(socp_cstore_open(s_db(), 0, &st, NULL));
    const char *why = NULL;
    CHECK_RC(socp_cstore_set_key(st, other, &why), SOCP_EBADKEY);
    CHECK(why && strstr(why, "another key"));
    socp_cstore_destroy(&st);

    // Alter one record and move another onto a third key: both are skipped.
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi hist;
    CHECK(mdb_env_create(&env) == 0);
    CHECK(mdb_env_set_maxdbs(env, 8) == 0);
    CHECK(mdb_env_open(env, s_db(), MDB_NOTLS, 0600) == 0);
    CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    CHECK(mdb_dbi_open(txn, "history", 0, &hist) == 0);
    uint8_t k1[8] = {0, 0, 0, 0, 0, 0, 0, 1}, k3[8] = {0, 0, 0, 0, 0, 0, 0, 3};
    MDB_val k = {8, k1}, v;
    CHECK(mdb_get(txn, hist, &k, &v) == 0);
    CHECK(v.mv_size > 40 && ((const uint8_t *) v.mv_data)[0] == 0x01);
    uint8_t *copy = socp_malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    MDB_val moved = {v.mv_size, copy}, k3v = {8, k3};
    CHECK(mdb_put(txn, hist, &k3v, &moved, 0) == 0); // record 1's bytes under key 3
    copy[v.mv_size - 1] ^= 1;
    MDB_val altered = {v.mv_size, copy};
    CHECK(mdb_put(txn, hist, &k, &altered, 0) == 0); // record 1 with one bit flipped
    // A plain record put into a sealed history, claiming to be verified.
    const char *fake = "{\"k\":1,\"o\":false,\"c\":\"bob\",\"f\":\"bob\",\"t\":1,\"s\":1,"
                       "\"m\":\"\",\"x\":\"planted-by-someone\"}";
    uint8_t k9[8] = {0, 0, 0, 0, 0, 0, 0x7f, 0};
    MDB_val k9v = {8, k9}, fv = {strlen(fake), (void *) fake};
    CHECK(mdb_put(txn, hist, &k9v, &fv, 0) == 0);
    MDB_dbi meta;
    CHECK(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
    MDB_val mk = {7, (void *) "compact"};
    CHECK(mdb_get(txn, meta, &mk, &v) == MDB_NOTFOUND); // no compaction owed
    CHECK(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
    free(copy);

    CHECK_OK(socp_cstore_open(s_db(), 0, &st, NULL));
    CHECK_OK(socp_cstore_set_key(st, key, NULL));
    memset(&h, 0, sizeof h);
    CHECK_OK(socp_cstore_history_last(st, NULL, 2, s_hist, &h));
    CHECK_EQ(h.n, 2u);
    CHECK_STREQ(h.texts[0], "written-before-the-key"); // not the planted one
    CHECK_STREQ(h.texts[1], "written-after-the-key");
    memset(&rows, 0, sizeof rows);
    CHECK_OK(socp_cstore_history_last(st, NULL, S_ROWS + 10, s_rows, &rows));
    // Of S_ROWS + 2: record 1 (altered) and record 3 (replaced by record 1's
    // bytes) are skipped, and so is the planted one.
    CHECK_EQ(rows.n, (size_t) S_ROWS);
    CHECK_EQ(rows.in_order, 0u);
    socp_cstore_destroy(&st);
}

// A write that fails in the middle of a batch (the map is full) drops the
// batch: the commit then fails too, so the store actor reports every item of
// the batch as not saved instead of acknowledging frames that are gone; and
// no outbox seq is given twice, so a late report about a lost frame can
// never match another one.
SOCP_TEST(socp_store_failed_write_fails_the_whole_batch)
{
    socp_cstore_t *st;
    CHECK_OK(socp_cstore_open(s_db(), 1u << 20, &st, NULL));
    uint64_t first, seq = 0, last = 0;
    CHECK_OK(socp_cstore_outbox_put(st, "bob", "{\"f\":1}", 7, &first));
    CHECK_OK(socp_cstore_commit(st));
    static char big[64 * 1024];
    memset(big, 'x', sizeof big);
    int rc = 0;
    for (int i = 0; i < 64 && rc == 0; i++) { // 4 MiB into a 1 MiB map
        rc = socp_cstore_outbox_put(st, "bob", big, sizeof big, &seq);
        last = rc == 0 ? seq : last;
    }
    CHECK_EQ(rc, SOCP_ESTORE);
    uint64_t after;
    CHECK_OK(socp_cstore_outbox_put(st, "bob", "{\"f\":2}", 7, &after));
    CHECK(after > last); // not a seq the lost frames had
    CHECK_EQ(socp_cstore_commit(st), SOCP_ESTORE);
    CHECK_OK(socp_cstore_commit(st)); // the next batch is a new one
    s_unsent_t *u = socp_calloc(1, sizeof *u);
    CHECK_OK(socp_cstore_outbox_each_unsent(st, 0, s_collect, u));
    CHECK_EQ(u->n, 1); // only what was committed before
    CHECK_EQ(u->seqs[0], first);
    CHECK_EQ(socp_cstore_outbox_pending(st), 1);
    free(u);
    socp_cstore_destroy(&st);
}
