// socp_msg.c: the bus message codec, driven by the descriptors that
// socp_msg.def expands into. Encoding uses msgpack-c's packer; decoding uses
// a small bounds-checked reader of our own, because msgpack-c's unpacker
// allocates whatever a length field claims (an array32 header asking for
// 2^32 elements makes it try ~64 GiB) before looking at the frame size.
#include "socp/socp_msg.h"
#include "socp/socp_err.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

// ---- descriptors, expanded from the schema --------------------------------

#define SOCP_MSG(NAME, name, id, cls, from, to, doc) \
    static const socp_field_desc_t s_fields_##name[] = {
#define SOCP_FIELD(name, TYPE, field, max, item_max, doc) \
    {#field, SOCP_FT_##TYPE, offsetof(socp_msg_##name##_t, field), max, item_max, doc},
#define SOCP_END(NAME, name)            \
    {                                   \
        NULL, SOCP_FT_U8, 0, 0, 0, NULL \
    }                                   \
    }                                   \
    ;
#include "socp/socp_msg.def"
#undef SOCP_MSG
#undef SOCP_FIELD
#undef SOCP_END

static const socp_msg_desc_t s_descs[] = {
#define SOCP_MSG(NAME, name, id, cls, from, to, doc) \
    {#NAME, SOCP_MSG_##NAME, SOCP_CLASS_##cls, from, to, doc, s_fields_##name},
#define SOCP_FIELD(name, TYPE, field, max, item_max, doc)
#define SOCP_END(NAME, name)
#include "socp/socp_msg.def"
#undef SOCP_MSG
#undef SOCP_FIELD
#undef SOCP_END
};

#define S_MAX_TYPE 256
static const socp_msg_desc_t *
s_lookup(int type)
{
    // The schema is small: a linear scan costs less than a cache miss on a
    // sparse table, and ids stay free-form.
    for (size_t i = 0; i < SOCP_ARRAY_LEN(s_descs); i++) {
        if ((int) s_descs[i].type == type) {
            return &s_descs[i];
        }
    }
    return NULL;
}

const socp_msg_desc_t *
socp_msg_desc(socp_msg_type_t type)
{
    return s_lookup((int) type);
}

const socp_msg_desc_t *
socp_msg_desc_at(size_t index)
{
    return index < SOCP_ARRAY_LEN(s_descs) ? &s_descs[index] : NULL;
}

const char *
socp_msg_name(socp_msg_type_t type)
{
    const socp_msg_desc_t *d = s_lookup((int) type);
    return d ? d->name : "?";
}

socp_msg_class_t
socp_msg_class(socp_msg_type_t type)
{
    const socp_msg_desc_t *d = s_lookup((int) type);
    return d ? d->cls : SOCP_CLASS_MUST;
}

bool
socp_msg_type_valid(int type)
{
    return s_lookup(type) != NULL;
}

socp_msg_t
socp_msg_make(socp_msg_type_t type)
{
    socp_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = type;
    return m;
}

void
socp_msg_fini(socp_msg_t *self)
{
    if (!self) {
        return;
    }
    free(self->arena);
    memset(self, 0, sizeof *self);
}

static void *
s_field_ptr(socp_msg_t *msg, const socp_field_desc_t *f)
{
    return (uint8_t *) &msg->body + f->offset;
}

static const void *
s_field_cptr(const socp_msg_t *msg, const socp_field_desc_t *f)
{
    return (const uint8_t *) &msg->body + f->offset;
}

// ---- encoder ----------------------------------------------------------------

static int
s_write(void *data, const char *buf, size_t len)
{
    socp_buf_append(data, buf, len);
    return 0;
}

static uint64_t
s_type_limit(socp_field_type_t t)
{
    switch (t) {
        case SOCP_FT_U8:
            return UINT8_MAX;
        case SOCP_FT_U16:
            return UINT16_MAX;
        case SOCP_FT_U32:
            return UINT32_MAX;
        default:
            return UINT64_MAX;
    }
}

static uint64_t
s_limit(const socp_field_desc_t *f)
{
    return f->max ? f->max : s_type_limit(f->type);
}

int
socp_msg_encode(const socp_msg_t *msg, socp_buf_t *out)
{
    socp_buf_reset(out);
    const socp_msg_desc_t *d = s_lookup((int) msg->type);
    if (!d) {
        return SOCP_EINVAL;
    }
    size_t nfields = 0;
    while (d->fields[nfields].name) {
        nfields++;
    }
    size_t from_len = strnlen(msg->from, sizeof msg->from);
    socp_buf_reserve(out, 16 + from_len);
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, s_write);
    msgpack_pack_array(&pk, 5);
    msgpack_pack_uint8(&pk, SOCP_MSG_SCHEMA_MAJOR);
    msgpack_pack_uint16(&pk, (uint16_t) msg->type);
    msgpack_pack_uint32(&pk, msg->corr_id);
    msgpack_pack_str_with_body(&pk, msg->from, from_len);
    msgpack_pack_array(&pk, nfields);
    for (size_t i = 0; i < nfields; i++) {
        const socp_field_desc_t *f = &d->fields[i];
        const void *p = s_field_cptr(msg, f);
        uint64_t u = 0;
        switch (f->type) {
            case SOCP_FT_U8:
                u = *(const uint8_t *) p;
                break;
            case SOCP_FT_U16:
                u = *(const uint16_t *) p;
                break;
            case SOCP_FT_U32:
                u = *(const uint32_t *) p;
                break;
            case SOCP_FT_U64:
                u = *(const uint64_t *) p;
                break;
            case SOCP_FT_I64:
                msgpack_pack_int64(&pk, *(const int64_t *) p);
                continue;
            case SOCP_FT_BOOL:
                if (*(const bool *) p) {
                    msgpack_pack_true(&pk);
                } else {
                    msgpack_pack_false(&pk);
                }
                continue;
            case SOCP_FT_STR: {
                const char *s = *(const char *const *) p;
                size_t n = s ? strlen(s) : 0;
                if (n > f->max) {
                    return SOCP_ETOOBIG;
                }
                msgpack_pack_str_with_body(&pk, s ? s : "", n);
                continue;
            }
            case SOCP_FT_BIN: {
                const socp_bin_t *b = p;
                if (b->len > f->max) {
                    return SOCP_ETOOBIG;
                }
                msgpack_pack_bin_with_body(&pk, b->data, b->len);
                continue;
            }
            case SOCP_FT_STRS: {
                const socp_strs_t *l = p;
                if (l->count > f->max) {
                    return SOCP_ETOOBIG;
                }
                msgpack_pack_array(&pk, l->count);
                for (size_t k = 0; k < l->count; k++) {
                    const char *s = l->items[k];
                    size_t n = s ? strlen(s) : 0;
                    if (n > f->item_max) {
                        return SOCP_ETOOBIG;
                    }
                    msgpack_pack_str_with_body(&pk, s ? s : "", n);
                }
                continue;
            }
        }
        if (u > s_limit(f)) {
            return SOCP_ETOOBIG;
        }
        msgpack_pack_uint64(&pk, u);
    }
    return 0;
}

// ---- decoder ----------------------------------------------------------------

typedef struct {
    const uint8_t *p;   // next byte
    const uint8_t *end; // one past the frame
} s_reader_t;

static size_t
s_left(const s_reader_t *r)
{
    return (size_t) (r->end - r->p);
}

static bool
s_be(s_reader_t *r, size_t n, uint64_t *v)
{
    if (s_left(r) < n) {
        return false;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        x = (x << 8) | r->p[i];
    }
    r->p += n;
    *v = x;
    return true;
}

// Reads any msgpack integer: *neg tells the sign, *mag the magnitude.
static bool
s_int(s_reader_t *r, bool *neg, uint64_t *mag)
{
    if (s_left(r) < 1) {
        return false;
    }
    uint8_t b = *r->p++;
    uint64_t v;
    *neg = false;
    if (b <= 0x7f) {
        *mag = b;
        return true;
    }
    if (b >= 0xe0) {
        *neg = true;
        *mag = (uint64_t) (256 - b);
        return true;
    }
    if (b >= 0xcc && b <= 0xcf) {
        if (!s_be(r, (size_t) 1 << (b - 0xcc), &v)) {
            return false;
        }
        *mag = v;
        return true;
    }
    if (b >= 0xd0 && b <= 0xd3) {
        size_t n = (size_t) 1 << (b - 0xd0);
        if (!s_be(r, n, &v)) {
            return false;
        }
        int64_t s;
        switch (n) {
            case 1:
                s = (int8_t) v;
                break;
            case 2:
                s = (int16_t) v;
                break;
            case 4:
                s = (int32_t) v;
                break;
            default:
                s = (int64_t) v;
                break;
        }
        *neg = s < 0;
        *mag = s < 0 ? (uint64_t) 0 - (uint64_t) s : (uint64_t) s;
        return true;
    }
    return false;
}

// Reads an array header; its count cannot exceed the bytes left (every
// element takes at least one), so callers may size allocations from it.
static bool
s_array(s_reader_t *r, uint64_t *n)
{
    if (s_left(r) < 1) {
        return false;
    }
    uint8_t b = *r->p++;
    if (b >= 0x90 && b <= 0x9f) {
        *n = b & 0x0f;
    } else if (b == 0xdc) {
        if (!s_be(r, 2, n)) {
            return false;
        }
    } else if (b == 0xdd) {
        if (!s_be(r, 4, n)) {
            return false;
        }
    } else {
        return false;
    }
    return *n <= s_left(r);
}

// Reads a str (want_bin false) or bin (true) header and body.
static bool
s_bytes(s_reader_t *r, bool want_bin, const uint8_t **data, uint64_t *len)
{
    if (s_left(r) < 1) {
        return false;
    }
    uint8_t b = *r->p++;
    uint64_t n;
    if (!want_bin && b >= 0xa0 && b <= 0xbf) {
        n = b & 0x1f;
    } else if ((!want_bin && b == 0xd9) || (want_bin && b == 0xc4)) {
        if (!s_be(r, 1, &n)) {
            return false;
        }
    } else if ((!want_bin && b == 0xda) || (want_bin && b == 0xc5)) {
        if (!s_be(r, 2, &n)) {
            return false;
        }
    } else if ((!want_bin && b == 0xdb) || (want_bin && b == 0xc6)) {
        if (!s_be(r, 4, &n)) {
            return false;
        }
    } else {
        return false;
    }
    if (n > s_left(r)) {
        return false;
    }
    *data = r->p;
    *len = n;
    r->p += n;
    return true;
}

#define S_SKIP_DEPTH 16

// Skips one well-formed msgpack object of any type (extra fields from a newer
// schema), bounded in depth.
static bool
s_skip(s_reader_t *r, int depth)
{
    if (depth > S_SKIP_DEPTH || s_left(r) < 1) {
        return false;
    }
    uint8_t b = *r->p;
    uint64_t n, v;
    bool neg;
    const uint8_t *d;
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3)) {
        return s_int(r, &neg, &v);
    }
    if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb)) {
        return s_bytes(r, false, &d, &n);
    }
    if (b >= 0xc4 && b <= 0xc6) {
        return s_bytes(r, true, &d, &n);
    }
    if ((b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd) {
        if (!s_array(r, &n)) {
            return false;
        }
        for (uint64_t i = 0; i < n; i++) {
            if (!s_skip(r, depth + 1)) {
                return false;
            }
        }
        return true;
    }
    if ((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf) {
        r->p++;
        if (b <= 0x8f) {
            n = b & 0x0f;
        } else if (!s_be(r, b == 0xde ? 2 : 4, &n)) {
            return false;
        }
        if (n > s_left(r) / 2) {
            return false;
        }
        for (uint64_t i = 0; i < 2 * n; i++) {
            if (!s_skip(r, depth + 1)) {
                return false;
            }
        }
        return true;
    }
    r->p++;
    switch (b) {
        case 0xc0: // nil
        case 0xc2: // false
        case 0xc3: // true
            return true;
        case 0xca: // float32
            return s_be(r, 4, &v);
        case 0xcb: // float64
            return s_be(r, 8, &v);
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8: { // fixext: type byte + 1..16 bytes
            size_t len = 1 + ((size_t) 1 << (b - 0xd4));
            if (s_left(r) < len) {
                return false;
            }
            r->p += len;
            return true;
        }
        case 0xc7:
        case 0xc8:
        case 0xc9: { // ext 8/16/32: length, type byte, body
            if (!s_be(r, (size_t) 1 << (b - 0xc7), &n) || s_left(r) < 1 || n > s_left(r) - 1) {
                return false;
            }
            r->p += 1 + n;
            return true;
        }
        default: // 0xc1 is never used
            return false;
    }
}

// Decoder state: in the measuring pass `arena` is NULL and only `used`
// grows; in the filling pass the same sequence of allocations lands in the
// arena, so both passes agree on the size.
typedef struct {
    uint8_t *arena; // NULL while measuring
    size_t used;    // bytes taken so far
} s_alloc_t;

static void *
s_take(s_alloc_t *a, size_t size, size_t align)
{
    a->used = (a->used + align - 1) & ~(align - 1);
    void *p = a->arena ? a->arena + a->used : NULL;
    a->used += size;
    return p;
}

static const char *
s_copy_str(s_alloc_t *a, const uint8_t *s, size_t n)
{
    char *p = s_take(a, n + 1, 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static bool
s_str_ok(const uint8_t *s, size_t n, uint64_t max)
{
    return n <= max && memchr(s, 0, n) == NULL;
}

static bool
s_decode_field(s_reader_t *r, const socp_field_desc_t *f, void *dst, s_alloc_t *a)
{
    bool fill = a->arena != NULL;
    bool neg;
    uint64_t v, n;
    const uint8_t *d;
    switch (f->type) {
        case SOCP_FT_U8:
        case SOCP_FT_U16:
        case SOCP_FT_U32:
        case SOCP_FT_U64:
            if (!s_int(r, &neg, &v) || neg || v > s_limit(f)) {
                return false;
            }
            if (fill) {
                if (f->type == SOCP_FT_U8) {
                    *(uint8_t *) dst = (uint8_t) v;
                } else if (f->type == SOCP_FT_U16) {
                    *(uint16_t *) dst = (uint16_t) v;
                } else if (f->type == SOCP_FT_U32) {
                    *(uint32_t *) dst = (uint32_t) v;
                } else {
                    *(uint64_t *) dst = v;
                }
            }
            return true;
        case SOCP_FT_I64:
            if (!s_int(r, &neg, &v) || (!neg && v > (uint64_t) INT64_MAX) ||
                (neg && v > (uint64_t) INT64_MAX + 1)) {
                return false;
            }
            if (fill) {
                *(int64_t *) dst = neg ? (int64_t) (0 - v) : (int64_t) v;
            }
            return true;
        case SOCP_FT_BOOL:
            if (s_left(r) < 1 || (*r->p != 0xc2 && *r->p != 0xc3)) {
                return false;
            }
            if (fill) {
                *(bool *) dst = *r->p == 0xc3;
            }
            r->p++;
            return true;
        case SOCP_FT_STR: {
            if (!s_bytes(r, false, &d, &n) || !s_str_ok(d, n, f->max)) {
                return false;
            }
            const char *s = s_copy_str(a, d, n);
            if (fill) {
                *(const char **) dst = s;
            }
            return true;
        }
        case SOCP_FT_BIN: {
            if (!s_bytes(r, true, &d, &n) || n > f->max) {
                return false;
            }
            uint8_t *p = s_take(a, n, 1);
            if (fill) {
                if (n) {
                    memcpy(p, d, n);
                }
                *(socp_bin_t *) dst = (socp_bin_t){n ? p : NULL, n};
            }
            return true;
        }
        case SOCP_FT_STRS: {
            if (!s_array(r, &n) || n > f->max) {
                return false;
            }
            const char **items = s_take(a, n * sizeof(char *), sizeof(char *));
            for (uint64_t i = 0; i < n; i++) {
                if (!s_bytes(r, false, &d, &v) || !s_str_ok(d, v, f->item_max)) {
                    return false;
                }
                const char *s = s_copy_str(a, d, v);
                if (fill) {
                    items[i] = s;
                }
            }
            if (fill) {
                *(socp_strs_t *) dst = (socp_strs_t){n ? items : NULL, n};
            }
            return true;
        }
    }
    return false;
}

// One pass over the frame; see s_alloc_t.
static int
s_decode_pass(const uint8_t *data, size_t len, socp_msg_t *out, s_alloc_t *a)
{
    s_reader_t r = {data, data + len};
    uint64_t n, v, type, corr, flen;
    bool neg;
    const uint8_t *from;
    if (!s_array(&r, &n) || n < 5) {
        return SOCP_EPROTO;
    }
    if (!s_int(&r, &neg, &v) || neg) {
        return SOCP_EPROTO;
    }
    if (v != SOCP_MSG_SCHEMA_MAJOR) {
        return SOCP_EVERSION;
    }
    if (!s_int(&r, &neg, &type) || neg || type > S_MAX_TYPE) {
        return SOCP_EPROTO;
    }
    const socp_msg_desc_t *d = s_lookup((int) type);
    if (!d || !s_int(&r, &neg, &corr) || neg || corr > UINT32_MAX) {
        return SOCP_EPROTO;
    }
    if (!s_bytes(&r, false, &from, &flen) || !s_str_ok(from, flen, SOCP_ACTOR_NAME_MAX)) {
        return SOCP_EPROTO;
    }
    uint64_t nbody;
    if (!s_array(&r, &nbody)) {
        return SOCP_EPROTO;
    }
    bool fill = a->arena != NULL;
    if (fill) {
        out->type = (socp_msg_type_t) type;
        out->corr_id = (uint32_t) corr;
        memcpy(out->from, from, flen);
        out->from[flen] = '\0';
    }
    uint64_t i = 0;
    for (const socp_field_desc_t *f = d->fields; f->name; f++, i++) {
        void *dst = s_field_ptr(out, f);
        if (i < nbody) {
            if (!s_decode_field(&r, f, dst, a)) {
                return SOCP_EPROTO;
            }
        } else if (fill && f->type == SOCP_FT_STR) {
            *(const char **) dst = ""; // declared default for a missing field
        }
    }
    for (; i < nbody; i++) { // fields from a newer schema: valid, ignored
        if (!s_skip(&r, 1)) {
            return SOCP_EPROTO;
        }
    }
    for (uint64_t k = 5; k < n; k++) { // envelope entries from a newer schema
        if (!s_skip(&r, 1)) {
            return SOCP_EPROTO;
        }
    }
    return r.p == r.end ? 0 : SOCP_EPROTO; // trailing bytes are malformed
}

int
socp_msg_decode(const void *data, size_t len, socp_msg_t *out)
{
    memset(out, 0, sizeof *out);
    if (!data || len == 0) {
        return SOCP_EPROTO;
    }
    s_alloc_t a = {NULL, 0};
    int rc = s_decode_pass(data, len, out, &a);
    if (rc != 0) {
        return rc;
    }
    // The arena holds at most the frame's bytes plus a NUL per string and a
    // pointer per list item; both are bounded by the frame length.
    a.arena = a.used ? socp_malloc(a.used) : NULL;
    size_t need = a.used;
    a.used = 0;
    if (a.arena) {
        rc = s_decode_pass(data, len, out, &a);
    } else {
        // Nothing to store: fill scalars with a one-byte dummy arena.
        uint8_t dummy;
        a.arena = &dummy;
        rc = s_decode_pass(data, len, out, &a);
        a.arena = NULL;
    }
    if (rc != 0 || a.used != need) {
        free(a.arena);
        memset(out, 0, sizeof *out);
        return SOCP_EPROTO;
    }
    out->arena = a.arena;
    return 0;
}

// ---- comparison and catalogue -------------------------------------------

static bool
s_str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

bool
socp_msg_equal(const socp_msg_t *a, const socp_msg_t *b)
{
    if (a->type != b->type || a->corr_id != b->corr_id || strcmp(a->from, b->from) != 0) {
        return false;
    }
    const socp_msg_desc_t *d = s_lookup((int) a->type);
    if (!d) {
        return false;
    }
    for (const socp_field_desc_t *f = d->fields; f->name; f++) {
        const void *pa = s_field_cptr(a, f), *pb = s_field_cptr(b, f);
        switch (f->type) {
            case SOCP_FT_U8:
                if (*(const uint8_t *) pa != *(const uint8_t *) pb) {
                    return false;
                }
                break;
            case SOCP_FT_U16:
                if (*(const uint16_t *) pa != *(const uint16_t *) pb) {
                    return false;
                }
                break;
            case SOCP_FT_U32:
                if (*(const uint32_t *) pa != *(const uint32_t *) pb) {
                    return false;
                }
                break;
            case SOCP_FT_U64:
            case SOCP_FT_I64:
                if (memcmp(pa, pb, 8) != 0) {
                    return false;
                }
                break;
            case SOCP_FT_BOOL:
                if (*(const bool *) pa != *(const bool *) pb) {
                    return false;
                }
                break;
            case SOCP_FT_STR:
                if (!s_str_eq(*(const char *const *) pa, *(const char *const *) pb)) {
                    return false;
                }
                break;
            case SOCP_FT_BIN: {
                const socp_bin_t *x = pa, *y = pb;
                if (x->len != y->len || (x->len && memcmp(x->data, y->data, x->len) != 0)) {
                    return false;
                }
                break;
            }
            case SOCP_FT_STRS: {
                const socp_strs_t *x = pa, *y = pb;
                if (x->count != y->count) {
                    return false;
                }
                for (size_t i = 0; i < x->count; i++) {
                    if (!s_str_eq(x->items[i], y->items[i])) {
                        return false;
                    }
                }
                break;
            }
        }
    }
    return true;
}

static const char *
s_type_name(socp_field_type_t t)
{
    static const char *const names[] = {"u8",   "u16", "u32", "u64",        "i64",
                                        "bool", "str", "bin", "list of str"};
    return names[t];
}

void
socp_msg_print_catalogue(FILE *out)
{
    fprintf(out,
            "# Bus message catalogue\n\n"
            "GENERATED from `include/socp/socp_msg.def` by `make docs`; DO NOT EDIT.\n"
            "A test checks that this file matches the schema.\n\n"
            "Schema major: %d. Frame: msgpack `[major, type, corr_id, from, [fields...]]`.\n"
            "Class MUST = must-deliver (queued and retried when the peer is full);\n"
            "DROP = droppable (counted and dropped when the peer is full).\n\n"
            "| id | message | class | from → to | purpose |\n|---|---|---|---|---|\n",
            SOCP_MSG_SCHEMA_MAJOR);
    for (size_t i = 0; i < SOCP_ARRAY_LEN(s_descs); i++) {
        const socp_msg_desc_t *d = &s_descs[i];
        fprintf(out, "| %d | %s | %s | %s → %s | %s |\n", (int) d->type, d->name,
                d->cls == SOCP_CLASS_DROP ? "DROP" : "MUST", d->from, d->to, d->doc);
    }
    for (size_t i = 0; i < SOCP_ARRAY_LEN(s_descs); i++) {
        const socp_msg_desc_t *d = &s_descs[i];
        fprintf(out, "\n## %s (%d)\n\n%s\n\n", d->name, (int) d->type, d->doc);
        if (!d->fields[0].name) {
            fprintf(out, "No fields.\n");
            continue;
        }
        fprintf(out, "| # | field | type | limit | meaning |\n|---|---|---|---|---|\n");
        int k = 0;
        for (const socp_field_desc_t *f = d->fields; f->name; f++, k++) {
            char limit[64] = "-";
            if (f->type == SOCP_FT_STR || f->type == SOCP_FT_BIN) {
                snprintf(limit, sizeof limit, "%llu bytes", (unsigned long long) f->max);
            } else if (f->type == SOCP_FT_STRS) {
                snprintf(limit, sizeof limit, "%llu × %llu bytes", (unsigned long long) f->max,
                         (unsigned long long) f->item_max);
            } else if (f->max) {
                snprintf(limit, sizeof limit, "≤ %llu", (unsigned long long) f->max);
            }
            fprintf(out, "| %d | %s | %s | %s | %s |\n", k, f->name, s_type_name(f->type), limit,
                    f->doc);
        }
    }
}
