// socp_store_seal_test.c: the client store's records at rest (ADR 0011,
// ADR 0016): contacts and outbox sealed like the history, the upgrade of a
// schema-3 database (plain contacts and outbox), records planted in a
// sealed database, and the uniqueness of every nonce the store ever used.
#include "socp/socp_client_store.h"

#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "socp/socp_client.h"
#include "socp_test.h"

#define S_BOB   "b0b0b0b0-1111-4000-8000-00000000b0b0"
#define S_CAROL "ca401ca4-2222-4000-8000-0000000ca401"

static const char S_FP_A[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char S_FP_B[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

static char *
s_db(void)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/db", socp_test_tmpdir());
    return path;
}

static bool
s_db_has(const char *needle)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/data.mdb", s_db());
    return socp_test_file_has(path, needle);
}

static socp_cstore_t *
s_open(const uint8_t *key)
{
    socp_cstore_t *st = NULL;
    CHECK_OK(socp_cstore_open(s_db(), 0, &st, NULL));
    if (key) {
        CHECK_OK(socp_cstore_set_key(st, key, NULL));
    }
    return st;
}

// Raw access to the database file, as someone who has it but not the key.
typedef struct {
    MDB_env *env;
    MDB_txn *txn;
} s_raw_t;

static MDB_dbi
s_raw_open(s_raw_t *r, const char *table, bool write)
{
    if (!r->env) {
        CHECK(mdb_env_create(&r->env) == 0);
        CHECK(mdb_env_set_maxdbs(r->env, 8) == 0);
        CHECK(mdb_env_open(r->env, s_db(), MDB_NOTLS, 0600) == 0);
        CHECK(mdb_txn_begin(r->env, NULL, write ? 0 : MDB_RDONLY, &r->txn) == 0);
    }
    MDB_dbi dbi;
    CHECK(mdb_dbi_open(r->txn, table, write ? MDB_CREATE : 0, &dbi) == 0);
    return dbi;
}

static void
s_raw_put(s_raw_t *r, const char *table, const void *k, size_t klen, const void *v, size_t vlen)
{
    MDB_dbi dbi = s_raw_open(r, table, true);
    MDB_val kk = {klen, (void *) k}, vv = {vlen, (void *) v};
    CHECK(mdb_put(r->txn, dbi, &kk, &vv, 0) == 0);
}

static void
s_raw_close(s_raw_t *r)
{
    CHECK(mdb_txn_commit(r->txn) == 0);
    mdb_env_close(r->env);
    memset(r, 0, sizeof *r);
}

typedef struct {
    uint64_t seqs[64];
    char frames[64][128];
    size_t n;
} s_unsent_t;

static int
s_collect(uint64_t seq, const char *frame, size_t len, void *arg)
{
    s_unsent_t *u = arg;
    CHECK(u->n < 64 && len < 128);
    u->seqs[u->n] = seq;
    memcpy(u->frames[u->n], frame, len);
    u->frames[u->n][len] = '\0';
    u->n++;
    return 0;
}

typedef struct {
    char ids[8][64];
    char names[8][64];
    size_t n;
} s_contacts_t;

static int
s_contact_row(const socp_cstore_contact_t *c, void *arg)
{
    s_contacts_t *cs = arg;
    CHECK(cs->n < 8);
    snprintf(cs->ids[cs->n], sizeof cs->ids[0], "%s", c->user_id);
    snprintf(cs->names[cs->n], sizeof cs->names[0], "%s", c->name);
    cs->n++;
    return 0;
}

static bool
s_listed(const s_contacts_t *cs, const char *id)
{
    for (size_t i = 0; i < cs->n; i++) {
        if (strcmp(cs->ids[i], id) == 0) {
            return true;
        }
    }
    return false;
}

// With a key, a contact's id, name, key and times, and an outbox frame with
// its from, to and ts, never reach the file in clear; they read back, the
// outbox replays in order and is marked sent as before, and another key is
// refused.
SOCP_TEST(socp_store_seal_contacts_and_outbox_at_rest)
{
    uint8_t key[32], other[32];
    memset(key, 0x31, sizeof key);
    memset(other, 0x32, sizeof other);
    socp_cstore_t *st = s_open(key);
    int state = -1;
    CHECK_OK(socp_cstore_contact_pin(st, S_BOB, "Bobby-Tables", "PUB-OF-BOB", S_FP_A, 11, &state));
    CHECK_EQ(state, 1);
    CHECK_OK(socp_cstore_contact_pin(st, S_CAROL, NULL, "PUB-OF-CAROL", S_FP_B, 12, NULL));
    CHECK_OK(socp_cstore_contact_set_sig(st, S_BOB, 2, NULL));
    uint64_t seq[3];
    const char *frames[3] = {"{\"to\":\"" S_BOB "\",\"ts\":1700000000001}",
                             "{\"to\":\"" S_CAROL "\",\"ts\":1700000000002}",
                             "{\"to\":\"" S_BOB "\",\"ts\":1700000000003}"};
    for (int i = 0; i < 3; i++) {
        CHECK_OK(socp_cstore_outbox_put(st, i == 1 ? S_CAROL : S_BOB, frames[i], strlen(frames[i]),
                                        &seq[i]));
    }
    CHECK_OK(socp_cstore_commit(st));
    CHECK_OK(socp_cstore_outbox_mark_sent(st, seq[1]));
    CHECK_OK(socp_cstore_commit(st));
    socp_cstore_destroy(&st);
    CHECK(!s_db_has(S_BOB));
    CHECK(!s_db_has(S_CAROL));
    CHECK(!s_db_has("Bobby-Tables"));
    CHECK(!s_db_has("PUB-OF-BOB"));
    CHECK(!s_db_has("1700000000001"));
    CHECK(!s_db_has(S_FP_A));

    st = s_open(key);
    CHECK_EQ(socp_cstore_outbox_pending(st), 2);
    socp_cstore_contact_t c;
    CHECK_OK(socp_cstore_contact_get(st, S_BOB, &c));
    CHECK_STREQ(c.user_id, S_BOB);
    CHECK_STREQ(c.name, "Bobby-Tables");
    CHECK_STREQ(c.pub, "PUB-OF-BOB");
    CHECK_STREQ(c.fp, S_FP_A);
    CHECK_EQ(c.first_seen, 11);
    CHECK_EQ(c.sig, 2);
    CHECK_OK(socp_cstore_contact_get(st, S_CAROL, &c));
    CHECK_STREQ(c.name, S_CAROL); // no name given: the id
    CHECK_RC(socp_cstore_contact_pin(st, S_BOB, "Mallory", "PUB-X", S_FP_B, 13, NULL),
             SOCP_EBADKEY);
    CHECK_RC(socp_cstore_contact_get(st, "nobody", &c), SOCP_ENOTFOUND);
    s_contacts_t cs = {0};
    CHECK_OK(socp_cstore_contacts_each(st, s_contact_row, &cs));
    CHECK_EQ(cs.n, 2);
    CHECK(s_listed(&cs, S_BOB) && s_listed(&cs, S_CAROL));
    s_unsent_t *u = socp_calloc(1, sizeof *u);
    CHECK_OK(socp_cstore_outbox_each_unsent(st, 0, s_collect, u));
    CHECK_EQ(u->n, 2);
    CHECK_EQ(u->seqs[0], seq[0]);
    CHECK_STREQ(u->frames[0], frames[0]);
    CHECK_EQ(u->seqs[1], seq[2]);
    CHECK_STREQ(u->frames[1], frames[2]);
    CHECK_OK(socp_cstore_outbox_mark_sent(st, seq[0]));
    CHECK_OK(socp_cstore_commit(st));
    socp_cstore_destroy(&st);

    st = s_open(NULL);
    const char *why = NULL;
    CHECK_RC(socp_cstore_set_key(st, other, &why), SOCP_EBADKEY);
    CHECK(why && strstr(why, "another key"));
    socp_cstore_destroy(&st);
    st = s_open(key);
    CHECK_EQ(socp_cstore_outbox_pending(st), 1);
    memset(u, 0, sizeof *u);
    CHECK_OK(socp_cstore_outbox_each_unsent(st, 0, s_collect, u));
    CHECK_EQ(u->n, 1);
    CHECK_STREQ(u->frames[0], frames[2]);
    free(u);
    socp_cstore_destroy(&st);
}

// Plain records put into a sealed database (a pinned key for a new user, an
// outbox frame to replay) are not trusted: never returned, never sent. The
// same when the check record was removed first (so that the next start
// would take the database for one never sealed and seal them in).
SOCP_TEST(socp_store_seal_planted_plain_records_refused)
{
    uint8_t key[32];
    memset(key, 0x41, sizeof key);
    socp_cstore_t *st = s_open(key);
    CHECK_OK(socp_cstore_contact_pin(st, S_BOB, "Bob", "PUB-OF-BOB", S_FP_A, 1, NULL));
    uint64_t seq;
    CHECK_OK(socp_cstore_outbox_put(st, S_BOB, "{\"f\":\"ours\"}", 12, &seq));
    CHECK_OK(socp_cstore_commit(st));
    socp_cstore_destroy(&st);

    for (int round = 0; round < 2; round++) {
        s_raw_t r = {0};
        const char *planted =
            "{\"name\":\"Carol\",\"pub\":\"PUB-OF-MALLORY\",\"fp\":"
            "\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\","
            "\"first\":1,\"last\":1}";
        s_raw_put(&r, "contacts", S_CAROL, strlen(S_CAROL), planted, strlen(planted));
        uint8_t k[8] = {0, 0, 0, 0, 0, 0, 0x10, 0}, v[64];
        int n = snprintf((char *) v + 2, sizeof v - 2, "{\"f\":\"planted\"}");
        v[0] = 'U';
        v[1] = 0; // conv ""
        s_raw_put(&r, "outbox", k, 8, v, (size_t) n + 2);
        if (round == 1) {
            MDB_dbi meta = s_raw_open(&r, "meta", true);
            MDB_val mk = {4, (void *) "seal"};
            CHECK(mdb_del(r.txn, meta, &mk, NULL) == 0);
        }
        s_raw_close(&r);

        st = s_open(key);
        socp_cstore_contact_t c;
        CHECK_RC(socp_cstore_contact_get(st, S_CAROL, &c), SOCP_ENOTFOUND);
        CHECK_OK(socp_cstore_contact_get(st, S_BOB, &c));
        s_contacts_t cs = {0};
        CHECK_OK(socp_cstore_contacts_each(st, s_contact_row, &cs));
        CHECK_EQ(cs.n, 1);
        CHECK_STREQ(cs.ids[0], S_BOB);
        CHECK_EQ(socp_cstore_outbox_pending(st), 1);
        s_unsent_t *u = socp_calloc(1, sizeof *u);
        CHECK_OK(socp_cstore_outbox_each_unsent(st, 0, s_collect, u));
        CHECK_EQ(u->n, 1);
        CHECK_STREQ(u->frames[0], "{\"f\":\"ours\"}");
        free(u);
        socp_cstore_destroy(&st);
    }
    // Without its check record, the database still refuses another key.
    s_raw_t r = {0};
    MDB_dbi meta = s_raw_open(&r, "meta", true);
    MDB_val mk = {4, (void *) "seal"};
    CHECK(mdb_del(r.txn, meta, &mk, NULL) == 0);
    s_raw_close(&r);
    uint8_t other[32];
    memset(other, 0x42, sizeof other);
    st = s_open(NULL);
    CHECK_RC(socp_cstore_set_key(st, other, NULL), SOCP_EBADKEY);
    socp_cstore_destroy(&st);
}

// Seals `text` as the schema-3 store did: 0x01, nonce, XChaCha20-Poly1305
// with the table letter and record key as associated data.
static size_t
s_v3_seal(const uint8_t key[32],
          char table,
          const void *k,
          size_t klen,
          const char *text,
          uint8_t *out)
{
    uint8_t ad[1 + 64];
    ad[0] = (uint8_t) table;
    memcpy(ad + 1, k, klen);
    out[0] = 0x01;
    randombytes_buf(out + 1, 24);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + 25, &clen, (const uint8_t *) text,
                                               strlen(text), ad, 1 + klen, NULL, out + 1, key);
    return 25 + (size_t) clen;
}

// A database of schema 3 (history sealed, contacts keyed by id and the
// outbox in clear) is upgraded when the key is set: contacts and outbox are
// sealed, the outbox still replays in order, the pins and learned forms
// hold, and the old plain bytes are gone from the file (compacted).
SOCP_TEST(socp_store_seal_schema3_upgrade)
{
    uint8_t key[32];
    memset(key, 0x51, sizeof key);
    CHECK(mkdir(s_db(), 0700) == 0);
    s_raw_t r = {0};
    uint8_t buf[1024];
    s_raw_put(&r, "meta", "schema", 6, "3", 1);
    size_t n = s_v3_seal(key, 'm', "seal", 4, "socp history key check", buf);
    s_raw_put(&r, "meta", "seal", 4, buf, n);
    uint8_t h1[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    n = s_v3_seal(key, 'h', h1, 8,
                  "{\"k\":1,\"o\":false,\"c\":\"" S_BOB "\",\"f\":\"" S_BOB "\",\"t\":5,\"s\":1,"
                  "\"m\":\"\",\"x\":\"sealed-in-schema-3\"}",
                  buf);
    s_raw_put(&r, "history", h1, 8, buf, n);
    const char *bob = "{\"name\":\"Bob-From-V3\",\"pub\":\"PUB-OF-BOB\",\"fp\":"
                      "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
                      "\"first\":3,\"last\":4,\"sig\":2}";
    s_raw_put(&r, "contacts", S_BOB, strlen(S_BOB), bob, strlen(bob));
    for (int i = 1; i <= 4; i++) {
        uint8_t k[8] = {0, 0, 0, 0, 0, 0, 0, (uint8_t) i};
        int len = snprintf((char *) buf + 2 + strlen(S_BOB), 128, "{\"v3-frame\":%d}", i);
        buf[0] = i == 2 ? 'S' : 'U';
        buf[1] = (uint8_t) strlen(S_BOB);
        memcpy(buf + 2, S_BOB, strlen(S_BOB));
        s_raw_put(&r, "outbox", k, 8, buf, 2 + strlen(S_BOB) + (size_t) len);
    }
    s_raw_close(&r);
    CHECK(s_db_has("Bob-From-V3"));
    CHECK(s_db_has("{\"v3-frame\":3}"));

    socp_cstore_t *st = s_open(key);
    CHECK_EQ(socp_cstore_outbox_pending(st), 3);
    s_unsent_t *u = socp_calloc(1, sizeof *u);
    CHECK_OK(socp_cstore_outbox_each_unsent(st, 0, s_collect, u));
    CHECK_EQ(u->n, 3);
    CHECK_STREQ(u->frames[0], "{\"v3-frame\":1}");
    CHECK_STREQ(u->frames[1], "{\"v3-frame\":3}");
    CHECK_STREQ(u->frames[2], "{\"v3-frame\":4}");
    CHECK_EQ(u->seqs[2], 4);
    socp_cstore_contact_t c;
    CHECK_OK(socp_cstore_contact_get(st, S_BOB, &c));
    CHECK_STREQ(c.name, "Bob-From-V3");
    CHECK_EQ(c.sig, 2);
    CHECK_EQ(c.first_seen, 3);
    CHECK_RC(socp_cstore_contact_pin(st, S_BOB, NULL, "PUB-X", S_FP_B, 9, NULL), SOCP_EBADKEY);
    uint64_t next;
    CHECK_OK(socp_cstore_outbox_put(st, S_BOB, "{\"v4\":5}", 8, &next));
    CHECK_EQ(next, 5);
    CHECK_OK(socp_cstore_commit(st));
    socp_cstore_destroy(&st);
    CHECK(!s_db_has("Bob-From-V3"));
    CHECK(!s_db_has("v3-frame"));
    CHECK(!s_db_has(S_BOB));

    // Reopened: nothing left to migrate, everything still there.
    st = s_open(key);
    CHECK_EQ(socp_cstore_outbox_pending(st), 4);
    memset(u, 0, sizeof *u);
    CHECK_OK(socp_cstore_outbox_each_unsent(st, 3, s_collect, u));
    CHECK_EQ(u->n, 2);
    CHECK_STREQ(u->frames[1], "{\"v4\":5}");
    free(u);
    socp_cstore_destroy(&st);
    // Schema 4 now: what an older socp refuses to open.
    r = (s_raw_t){0};
    MDB_dbi meta = s_raw_open(&r, "meta", false);
    MDB_val k = {6, (void *) "schema"}, v;
    CHECK(mdb_get(r.txn, meta, &k, &v) == 0 && v.mv_size == 1 && *(char *) v.mv_data == '4');
    mdb_txn_abort(r.txn);
    mdb_env_close(r.env);
}

static int
s_cmp24(const void *a, const void *b)
{
    return memcmp(a, b, 24);
}

// Every sealed value in the file (history, files, contacts, outbox, the
// check record), written over several sessions, has a nonce of its own:
// XChaCha20-Poly1305 under one key must never see a nonce twice.
SOCP_TEST(socp_store_seal_nonces_never_repeat)
{
    uint8_t key[32];
    memset(key, 0x61, sizeof key);
    for (int session = 0; session < 3; session++) {
        socp_cstore_t *st = s_open(key);
        for (int i = 0; i < 40; i++) {
            char text[64], id[64];
            snprintf(text, sizeof text, "msg-%d-%d", session, i);
            socp_cstore_msg_t m = {.kind = SOCP_CLIENT_KIND_DM,
                                   .conv = S_BOB,
                                   .from = S_BOB,
                                   .ts = i,
                                   .text = text,
                                   .text_len = strlen(text)};
            CHECK_OK(socp_cstore_history_add(st, &m));
            CHECK_OK(socp_cstore_outbox_put(st, S_BOB, text, strlen(text), NULL));
            snprintf(id, sizeof id, "file-%d-%d", session, i);
            CHECK_OK(socp_cstore_file_put(st, id, "{\"name\":\"x\"}"));
            snprintf(id, sizeof id, "user-%d-%d", session, i);
            CHECK_OK(socp_cstore_contact_pin(st, id, "Name", "PUB", S_FP_A, i, NULL));
        }
        CHECK_OK(socp_cstore_commit(st));
        socp_cstore_destroy(&st);
    }
    s_raw_t r = {0};
    size_t cap = 1024, n = 0;
    uint8_t(*nonces)[24] = socp_malloc(cap * sizeof *nonces);
    const char *tables[] = {"history", "outbox", "files", "contacts", "meta"};
    for (size_t t = 0; t < SOCP_ARRAY_LEN(tables); t++) {
        MDB_dbi dbi = s_raw_open(&r, tables[t], false);
        MDB_cursor *cur;
        CHECK(mdb_cursor_open(r.txn, dbi, &cur) == 0);
        MDB_val k, v;
        for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
             g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            const uint8_t *p = v.mv_data;
            size_t skip = t == 1 ? 1 : 0; // the outbox's state letter
            if (v.mv_size < skip + 25 || p[skip] != 0x01) {
                CHECK_MSG(t == 4, "a plain value in %s", tables[t]); // meta: schema, ...
                continue;
            }
            CHECK(n < cap);
            memcpy(nonces[n++], p + skip + 1, 24);
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(r.txn);
    mdb_env_close(r.env);
    CHECK_EQ(n, 3 * 40 * 3 + 120 + 1); // history, outbox, files; contacts; the check record
    qsort(nonces, n, sizeof *nonces, s_cmp24);
    for (size_t i = 1; i < n; i++) {
        CHECK_MSG(memcmp(nonces[i - 1], nonces[i], 24) != 0, "nonce used twice (%zu of %zu)", i, n);
    }
    free(nonces);
}
