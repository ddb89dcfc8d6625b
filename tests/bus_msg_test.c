// bus_msg_test.c: the bus message codec against its schema, msgpack-c and
// hostile frames.
#include "socp_test.h"
#include "socp/socp_msg.h"

#include <msgpack.h>
#include <sodium.h>

// Fills every field of `m` at its maximum (max = true) or leaves it empty.
// Storage for strings and bytes comes from `pool`, freed by the caller.
static void
s_fill(socp_msg_t *m, bool max, void ***pool, size_t *npool)
{
    const socp_msg_desc_t *d = socp_msg_desc(m->type);
    for (const socp_field_desc_t *f = d->fields; f->name; f++) {
        void *p = (uint8_t *) &m->body + f->offset;
        uint64_t lim = f->max;
        switch (f->type) {
            case SOCP_FT_U8:
                *(uint8_t *) p = max ? (uint8_t) (lim ? lim : UINT8_MAX) : 0;
                break;
            case SOCP_FT_U16:
                *(uint16_t *) p = max ? (uint16_t) (lim ? lim : UINT16_MAX) : 0;
                break;
            case SOCP_FT_U32:
                *(uint32_t *) p = max ? (uint32_t) (lim ? lim : UINT32_MAX) : 0;
                break;
            case SOCP_FT_U64:
                *(uint64_t *) p = max ? (lim ? lim : UINT64_MAX) : 0;
                break;
            case SOCP_FT_I64:
                *(int64_t *) p = max ? INT64_MIN : 0;
                break;
            case SOCP_FT_BOOL:
                *(bool *) p = max;
                break;
            case SOCP_FT_STR: {
                char *s = socp_malloc(lim + 1);
                memset(s, 'x', lim);
                s[max ? lim : 0] = '\0';
                *pool = socp_realloc(*pool, (*npool + 1) * sizeof **pool);
                (*pool)[(*npool)++] = s;
                *(const char **) p = s;
                break;
            }
            case SOCP_FT_BIN: {
                uint8_t *b = socp_malloc(lim);
                randombytes_buf(b, lim);
                *pool = socp_realloc(*pool, (*npool + 1) * sizeof **pool);
                (*pool)[(*npool)++] = b;
                *(socp_bin_t *) p = (socp_bin_t){b, max ? lim : 0};
                break;
            }
            case SOCP_FT_STRS: {
                const char **items = socp_calloc(lim ? lim : 1, sizeof *items);
                char *s = socp_malloc(f->item_max + 1);
                memset(s, 'y', f->item_max);
                s[f->item_max] = '\0';
                for (uint64_t i = 0; i < lim; i++) {
                    items[i] = s;
                }
                *pool = socp_realloc(*pool, (*npool + 2) * sizeof **pool);
                (*pool)[(*npool)++] = items;
                (*pool)[(*npool)++] = s;
                *(socp_strs_t *) p = (socp_strs_t){items, max ? lim : 0};
                break;
            }
        }
    }
}

SOCP_TEST(bus_msg_roundtrip_every_type_empty_and_max)
{
    CHECK(sodium_init() >= 0);
    socp_buf_t buf;
    socp_buf_init(&buf);
    size_t types = 0;
    for (size_t i = 0; socp_msg_desc_at(i); i++) {
        for (int max = 0; max <= 1; max++) {
            void **pool = NULL;
            size_t npool = 0;
            socp_msg_t m = socp_msg_make(socp_msg_desc_at(i)->type);
            m.corr_id = max ? UINT32_MAX : 0;
            snprintf(m.from, sizeof m.from, "%s", max ? "abcdefghijklmnopqrstuvwxyz01234" : "");
            s_fill(&m, max, &pool, &npool);
            CHECK_OK(socp_msg_encode(&m, &buf));
            socp_msg_t back;
            CHECK_OK(socp_msg_decode(buf.data, buf.len, &back));
            CHECK_MSG(socp_msg_equal(&m, &back), "%s (max=%d) did not round-trip",
                      socp_msg_desc_at(i)->name, max);
            socp_msg_fini(&back);
            for (size_t k = 0; k < npool; k++) {
                free(pool[k]);
            }
            free(pool);
        }
        types++;
    }
    CHECK(types >= 10);
    socp_buf_fini(&buf);
}

SOCP_TEST(bus_msg_encode_refuses_fields_over_their_limit)
{
    socp_buf_t buf;
    socp_buf_init(&buf);
    socp_msg_t m = socp_msg_make(SOCP_MSG_PROBE);
    m.body.probe.small = 201; // schema says <= 200
    CHECK_RC(socp_msg_encode(&m, &buf), SOCP_ETOOBIG);
    m.body.probe.small = 0;
    char name[130];
    memset(name, 'n', 129);
    name[129] = '\0';
    m.body.probe.name = name; // limit 128
    CHECK_RC(socp_msg_encode(&m, &buf), SOCP_ETOOBIG);
    m = socp_msg_make((socp_msg_type_t) 250);
    CHECK_RC(socp_msg_encode(&m, &buf), SOCP_EINVAL);
    socp_buf_fini(&buf);
}

// Encodes a PROBE with msgpack-c directly, so tests can break single fields.
typedef struct {
    int version;
    int type;
    int small;       // -1: send a string instead
    size_t name_len; // length of the name string
    int body_fields; // how many body fields to write (9 = all)
    bool extra;      // append an unknown field (a map)
} s_probe_spec_t;

static void
s_pack_probe(const s_probe_spec_t *spec, msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 5);
    msgpack_pack_int(&pk, spec->version);
    msgpack_pack_int(&pk, spec->type);
    msgpack_pack_uint32(&pk, 7);
    msgpack_pack_str_with_body(&pk, "peer", 5); // our strings carry their NUL
    msgpack_pack_array(&pk, (size_t) spec->body_fields + (spec->extra ? 1 : 0));
    for (int i = 0; i < spec->body_fields; i++) {
        switch (i) {
            case 0:
                if (spec->small < 0) {
                    msgpack_pack_str_with_body(&pk, "oops", 4);
                } else {
                    msgpack_pack_int(&pk, spec->small);
                }
                break;
            case 1:
                msgpack_pack_uint16(&pk, 8765);
                break;
            case 2:
                msgpack_pack_uint32(&pk, 3);
                break;
            case 3:
                msgpack_pack_uint64(&pk, UINT64_MAX);
                break;
            case 4:
                msgpack_pack_int64(&pk, -42);
                break;
            case 5:
                msgpack_pack_true(&pk);
                break;
            case 6: {
                char *s = socp_calloc(1, spec->name_len + 1);
                memset(s, 'a', spec->name_len);
                msgpack_pack_str_with_body(&pk, s, spec->name_len + 1);
                free(s);
                break;
            }
            case 7:
                msgpack_pack_bin_with_body(&pk, "\x00\x01\x02", 3);
                break;
            case 8:
                msgpack_pack_array(&pk, 2);
                msgpack_pack_str_with_body(&pk, "t1", 3);
                msgpack_pack_str_with_body(&pk, "t2", 3);
                break;
        }
    }
    if (spec->extra) {
        msgpack_pack_map(&pk, 1);
        msgpack_pack_str_with_body(&pk, "k", 1);
        msgpack_pack_double(&pk, 1.5);
    }
}

static int
s_decode_spec(const s_probe_spec_t *spec, socp_msg_t *out)
{
    msgpack_sbuffer sb;
    s_pack_probe(spec, &sb);
    int rc = socp_msg_decode(sb.data, sb.size, out);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

SOCP_TEST(bus_msg_decodes_what_msgpack_c_encodes)
{
    s_probe_spec_t spec = {SOCP_MSG_SCHEMA_MAJOR, SOCP_MSG_PROBE, 200, 128, 9, false};
    socp_msg_t m;
    CHECK_OK(s_decode_spec(&spec, &m));
    CHECK_EQ(m.type, SOCP_MSG_PROBE);
    CHECK_EQ(m.corr_id, 7);
    CHECK_STREQ(m.from, "peer");
    CHECK_EQ(m.body.probe.small, 200);
    CHECK_EQ(m.body.probe.port, 8765);
    CHECK(m.body.probe.big == UINT64_MAX);
    CHECK_EQ(m.body.probe.delta, -42);
    CHECK(m.body.probe.flag);
    CHECK_EQ(strlen(m.body.probe.name), 128);
    CHECK_EQ(m.body.probe.blob.len, 3);
    CHECK_EQ(m.body.probe.tags.count, 2);
    CHECK_STREQ(m.body.probe.tags.items[1], "t2");
    socp_msg_fini(&m);
}

SOCP_TEST(bus_msg_msgpack_c_reads_what_we_encode)
{
    socp_buf_t buf;
    socp_buf_init(&buf);
    socp_msg_t m = socp_msg_make(SOCP_MSG_PING);
    m.corr_id = 99;
    m.body.ping.seq = 1234567890123ull;
    m.body.ping.data = (socp_bin_t){(const uint8_t *) "hello", 5};
    snprintf(m.from, sizeof m.from, "net");
    CHECK_OK(socp_msg_encode(&m, &buf));
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    CHECK_EQ(msgpack_unpack_next(&u, (const char *) buf.data, buf.len, &off),
             MSGPACK_UNPACK_SUCCESS);
    CHECK_EQ(off, buf.len);
    msgpack_object o = u.data;
    CHECK_EQ(o.type, MSGPACK_OBJECT_ARRAY);
    CHECK_EQ(o.via.array.size, 5);
    CHECK_EQ(o.via.array.ptr[0].via.u64, SOCP_MSG_SCHEMA_MAJOR);
    CHECK_EQ(o.via.array.ptr[1].via.u64, SOCP_MSG_PING);
    CHECK_EQ(o.via.array.ptr[2].via.u64, 99);
    CHECK_EQ(o.via.array.ptr[3].via.str.size, 4); // "net" and its NUL
    CHECK_STREQ(o.via.array.ptr[3].via.str.ptr, "net");
    msgpack_object body = o.via.array.ptr[4];
    CHECK_EQ(body.via.array.size, 3);
    CHECK(body.via.array.ptr[0].via.u64 == 1234567890123ull);
    CHECK_EQ(body.via.array.ptr[2].type, MSGPACK_OBJECT_BIN);
    CHECK_MEMEQ(body.via.array.ptr[2].via.bin.ptr, "hello", 5);
    msgpack_unpacked_destroy(&u);
    socp_buf_fini(&buf);
}

SOCP_TEST(bus_msg_rejects_wrong_types_limits_versions)
{
    socp_msg_t m;
    s_probe_spec_t ok = {SOCP_MSG_SCHEMA_MAJOR, SOCP_MSG_PROBE, 5, 10, 9, false};
    s_probe_spec_t spec = ok;
    spec.small = -1; // a string where a u8 belongs
    CHECK_RC(s_decode_spec(&spec, &m), SOCP_EPROTO);
    spec = ok;
    spec.small = 201; // over the schema's range
    CHECK_RC(s_decode_spec(&spec, &m), SOCP_EPROTO);
    spec = ok;
    spec.name_len = 129; // over 128 bytes
    CHECK_RC(s_decode_spec(&spec, &m), SOCP_EPROTO);
    spec = ok;
    spec.version = SOCP_MSG_SCHEMA_MAJOR + 1;
    CHECK_RC(s_decode_spec(&spec, &m), SOCP_EVERSION);
    spec = ok;
    spec.type = 250; // unknown type
    CHECK_RC(s_decode_spec(&spec, &m), SOCP_EPROTO);
    // A newer sender's extra field is ignored; an older sender's short body
    // leaves defaults.
    spec = ok;
    spec.extra = true;
    CHECK_OK(s_decode_spec(&spec, &m));
    CHECK_EQ(m.body.probe.tags.count, 2);
    socp_msg_fini(&m);
    spec = ok;
    spec.body_fields = 2;
    CHECK_OK(s_decode_spec(&spec, &m));
    CHECK_EQ(m.body.probe.port, 8765);
    CHECK_STREQ(m.body.probe.name, "");
    CHECK_EQ(m.body.probe.blob.len, 0);
    socp_msg_fini(&m);
}

SOCP_TEST(bus_msg_rejects_truncated_and_trailing_bytes)
{
    socp_buf_t buf;
    socp_buf_init(&buf);
    socp_msg_t m = socp_msg_make(SOCP_MSG_PROBE);
    const char *tags[] = {"a", "bb"};
    m.body.probe.name = "name";
    m.body.probe.blob = (socp_bin_t){(const uint8_t *) "blob", 4};
    m.body.probe.tags = (socp_strs_t){tags, 2};
    CHECK_OK(socp_msg_encode(&m, &buf));
    socp_msg_t out;
    for (size_t n = 0; n < buf.len; n++) {
        int rc = socp_msg_decode(buf.data, n, &out);
        CHECK_MSG(rc == SOCP_EPROTO, "prefix of %zu/%zu bytes gave %d", n, buf.len, rc);
        CHECK(out.arena == NULL);
    }
    uint8_t extra = 0xc0;
    socp_buf_append(&buf, &extra, 1);
    CHECK_RC(socp_msg_decode(buf.data, buf.len, &out), SOCP_EPROTO);
    socp_buf_fini(&buf);
}

SOCP_TEST(bus_msg_length_fields_cannot_force_allocations)
{
    socp_msg_t out;
    // array32 claiming 2^32-1 entries, in the envelope and in a list field.
    const uint8_t huge_env[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    CHECK_RC(socp_msg_decode(huge_env, sizeof huge_env, &out), SOCP_EPROTO);
    const uint8_t huge_str[] = {0x95, 0x01, 0x0a, 0x00, 0xdb, 0xff, 0xff, 0xff, 0xff, 'x', 0};
    CHECK_RC(socp_msg_decode(huge_str, sizeof huge_str, &out), SOCP_EPROTO);
    // bin32 claiming 4 GiB inside a PING body.
    const uint8_t huge_bin[] = {0x95, 0x01, 0x0a, 0x00, 0xa0, 0x93, 0x01,
                                0x02, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x00};
    CHECK_RC(socp_msg_decode(huge_bin, sizeof huge_bin, &out), SOCP_EPROTO);
    // Nesting beyond the skip depth in an extra field.
    uint8_t deep[64];
    size_t n = 0;
    const uint8_t head[] = {0x95, 0x01, 0x02, 0x00, 0xa1, 0x00, 0x91};
    memcpy(deep, head, sizeof head);
    n = sizeof head;
    while (n < sizeof deep - 1) {
        deep[n++] = 0x91;
    }
    deep[n++] = 0xc0;
    CHECK_RC(socp_msg_decode(deep, n, &out), SOCP_EPROTO);
    CHECK_RC(socp_msg_decode(NULL, 0, &out), SOCP_EPROTO);
}

SOCP_TEST(bus_msg_random_frames_never_crash)
{
    CHECK(sodium_init() >= 0);
    uint8_t frame[512];
    size_t accepted = 0;
    for (int i = 0; i < 200000; i++) {
        size_t len = 1 + randombytes_uniform(sizeof frame);
        randombytes_buf(frame, len);
        if (i % 2 == 0) { // half of them start like a real envelope
            frame[0] = 0x95;
            if (len > 2) {
                frame[1] = SOCP_MSG_SCHEMA_MAJOR;
                frame[2] = (uint8_t) (1 + randombytes_uniform(13));
            }
        }
        socp_msg_t out;
        int rc = socp_msg_decode(frame, len, &out);
        CHECK(rc == 0 || rc == SOCP_EPROTO || rc == SOCP_EVERSION);
        if (rc == 0) {
            accepted++;
            socp_msg_fini(&out);
        }
    }
    CHECK(accepted < 200000);
}

SOCP_TEST(bus_msg_catalogue_matches_docs)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/messages.md", socp_test_srcdir());
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "docs/messages.md is missing: run make docs");
    char *committed = socp_malloc(1 << 20);
    size_t n = fread(committed, 1, (1 << 20) - 1, f);
    committed[n] = '\0';
    fclose(f);
    char *generated = NULL;
    size_t glen = 0;
    FILE *mem = open_memstream(&generated, &glen);
    socp_msg_print_catalogue(mem);
    fclose(mem);
    CHECK_MSG(glen == n && memcmp(generated, committed, n) == 0,
              "docs/messages.md is out of date with socp_msg.def: run make docs");
    free(generated);
    free(committed);
}

SOCP_TEST(bus_msg_names_and_classes)
{
    CHECK_STREQ(socp_msg_name(SOCP_MSG_PING), "PING");
    CHECK_STREQ(socp_msg_name((socp_msg_type_t) 999), "?");
    CHECK_EQ(socp_msg_class(SOCP_MSG_NOTICE), SOCP_CLASS_DROP);
    CHECK_EQ(socp_msg_class(SOCP_MSG_PING), SOCP_CLASS_MUST);
    CHECK(socp_msg_type_valid(SOCP_MSG_TERM));
    CHECK(!socp_msg_type_valid(0));
}

SOCP_TEST(bus_msg_strings_must_carry_exactly_one_trailing_nul)
{
    // [1, PROBE, 0, "p\0", [0, 0, 0, 0, 0, false, <name>]]
    uint8_t frame[32] = {0x95, 0x01, SOCP_MSG_PROBE, 0x00, 0xa2, 'p',  0x00,
                         0x97, 0x00, 0x00,           0x00, 0x00, 0x00, 0xc2};
    size_t n = 14;
    socp_msg_t m;
    const uint8_t good[] = {0xa3, 'a', 'b', 0x00};
    const uint8_t no_nul[] = {0xa2, 'a', 'b'};
    const uint8_t inner_nul[] = {0xa3, 'a', 0x00, 0x00};
    const uint8_t empty[] = {0xa0};
    memcpy(frame + n, good, sizeof good);
    CHECK_OK(socp_msg_decode_view(frame, n + sizeof good, &m));
    CHECK_STREQ(m.body.probe.name, "ab");
    CHECK(m.body.probe.name == (const char *) frame + n + 1); // no copy
    socp_msg_fini(&m);
    memcpy(frame + n, no_nul, sizeof no_nul);
    CHECK_RC(socp_msg_decode(frame, n + sizeof no_nul, &m), SOCP_EPROTO);
    memcpy(frame + n, inner_nul, sizeof inner_nul);
    CHECK_RC(socp_msg_decode(frame, n + sizeof inner_nul, &m), SOCP_EPROTO);
    memcpy(frame + n, empty, sizeof empty);
    CHECK_RC(socp_msg_decode(frame, n + sizeof empty, &m), SOCP_EPROTO);
}

SOCP_TEST(bus_msg_view_and_copy_decoders_agree)
{
    socp_buf_t buf;
    socp_buf_init(&buf);
    socp_msg_t m = socp_msg_make(SOCP_MSG_PROBE);
    const char *tags[] = {"x", "yy", "zzz"};
    m.body.probe.name = "name";
    m.body.probe.tags = (socp_strs_t){tags, 3};
    CHECK_OK(socp_msg_encode(&m, &buf));
    socp_msg_t a, b;
    CHECK_OK(socp_msg_decode(buf.data, buf.len, &a));
    CHECK_OK(socp_msg_decode_view(buf.data, buf.len, &b));
    CHECK(socp_msg_equal(&a, &b));
    // The copy survives the frame; the view points into it.
    memset(buf.data, 0, buf.len);
    CHECK_STREQ(a.body.probe.tags.items[2], "zzz");
    CHECK_STREQ(b.body.probe.tags.items[2], "");
    socp_msg_fini(&a);
    socp_msg_fini(&b);
    socp_buf_fini(&buf);
}

// Found by fuzz_bus_msg: the message type written as a uint8 (0xcc 0x0d)
// instead of a fixint made the decoder pick the one-pass path by the wrong
// byte, and the copying decoder wrote a string list past its arena (ASan).
// Both decoders must take it the same way, within bounds.
SOCP_TEST(bus_msg_type_as_uint8_stays_in_bounds)
{
    static const uint8_t frame[] = {0x95, 0x01, 0xcc, 0x0d, 0x00, 0xa1, 0x00, 0x99,
                                    0x00, 0x00, 0x00, 0x00, 0x7b, 0xc2, 0xa6, 0x70,
                                    0x72, 0x6f, 0x72, 0x65, 0x00, 0xc4, 0x00, 0x92,
                                    0xa2, 0x61, 0x00, 0xa3, 0x62, 0x62, 0x00};
    socp_msg_t copy, view;
    int rc_copy = socp_msg_decode(frame, sizeof frame, &copy);
    int rc_view = socp_msg_decode_view(frame, sizeof frame, &view);
    CHECK_EQ(rc_copy, rc_view);
    if (rc_copy == 0) {
        CHECK(socp_msg_equal(&copy, &view));
        socp_msg_fini(&copy);
        socp_msg_fini(&view);
    }
}
