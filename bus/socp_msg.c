// socp_msg.c: the bus message codec, driven by the descriptors that
// socp_msg.def expands into. The msgpack writer and the bounds-checked reader
// are our own (see docs/adr/0002-bus-codec.md): msgpack-c's unpacker
// allocates whatever a length field claims (an array32 header asking for
// 2^32 elements makes it try ~64 GiB) before looking at the frame size, and
// its packer costs a callback per item. msgpack-c stays in the tests as the
// independent implementation our frames are checked against.
#include "socp/socp_msg.h"
#include "socp/socp_err.h"

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

#define S_MAX_TYPE 1023 // ids are below this (socp_msg.def id ranges)

// Position of each message in s_descs, in schema order.
enum {
#define SOCP_MSG(NAME, name, id, cls, from, to, doc) S_POS_##NAME,
#define SOCP_FIELD(name, TYPE, field, max, item_max, doc)
#define SOCP_END(NAME, name)
#include "socp/socp_msg.def"
#undef SOCP_MSG
#undef SOCP_FIELD
#undef SOCP_END
};

// O(1) by id: the compiler turns this switch into a jump table, and two
// rows with the same id fail to compile (duplicate case).
static const socp_msg_desc_t *
s_lookup(int type)
{
    switch (type) {
#define SOCP_MSG(NAME, name, id, cls, from, to, doc) \
    case id:                                         \
        return &s_descs[S_POS_##NAME];
#define SOCP_FIELD(name, TYPE, field, max, item_max, doc)
#define SOCP_END(NAME, name)
#include "socp/socp_msg.def"
#undef SOCP_MSG
#undef SOCP_FIELD
#undef SOCP_END
        default:
            return NULL;
    }
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
//
// Strings travel as msgpack str whose last byte is the NUL terminator, so a
// receiver can point into the frame without copying (socp_msg_decode_view).

static inline void
s_ensure(socp_buf_t *b, size_t n)
{
    if (b->cap - b->len < n) {
        socp_buf_reserve(b, n);
    }
}

static inline void
s_put_be(socp_buf_t *b, uint8_t tag, uint64_t v, size_t n)
{
    uint8_t *p = b->data + b->len;
    *p++ = tag;
    if (n == 1) {
        *p = (uint8_t) v;
    } else if (n == 2) {
        uint16_t x = __builtin_bswap16((uint16_t) v);
        memcpy(p, &x, 2);
    } else if (n == 4) {
        uint32_t x = __builtin_bswap32((uint32_t) v);
        memcpy(p, &x, 4);
    } else {
        uint64_t x = __builtin_bswap64(v);
        memcpy(p, &x, 8);
    }
    b->len += 1 + n;
}

static inline void
s_put_uint(socp_buf_t *b, uint64_t v)
{
    s_ensure(b, 9);
    if (v <= 0x7f) {
        b->data[b->len++] = (uint8_t) v;
    } else if (v <= UINT8_MAX) {
        s_put_be(b, 0xcc, v, 1);
    } else if (v <= UINT16_MAX) {
        s_put_be(b, 0xcd, v, 2);
    } else if (v <= UINT32_MAX) {
        s_put_be(b, 0xce, v, 4);
    } else {
        s_put_be(b, 0xcf, v, 8);
    }
}

static void
s_put_int(socp_buf_t *b, int64_t v)
{
    if (v >= 0) {
        s_put_uint(b, (uint64_t) v);
        return;
    }
    s_ensure(b, 9);
    if (v >= -32) {
        b->data[b->len++] = (uint8_t) (int8_t) v;
    } else {
        s_put_be(b, 0xd3, (uint64_t) v, 8);
    }
}

static void
s_put_array(socp_buf_t *b, size_t n)
{
    s_ensure(b, 5);
    if (n <= 15) {
        b->data[b->len++] = (uint8_t) (0x90 | n);
    } else if (n <= UINT16_MAX) {
        s_put_be(b, 0xdc, n, 2);
    } else {
        s_put_be(b, 0xdd, n, 4);
    }
}

// str (with its NUL) or bin.
static inline void
s_put_bytes(socp_buf_t *b, bool bin, const void *data, size_t n, bool nul)
{
    size_t total = n + (nul ? 1 : 0);
    s_ensure(b, 5 + total);
    if (!bin && total <= 31) {
        b->data[b->len++] = (uint8_t) (0xa0 | total);
    } else if (total <= UINT8_MAX) {
        s_put_be(b, bin ? 0xc4 : 0xd9, total, 1);
    } else if (total <= UINT16_MAX) {
        s_put_be(b, bin ? 0xc5 : 0xda, total, 2);
    } else {
        s_put_be(b, bin ? 0xc6 : 0xdb, total, 4);
    }
    if (n) {
        memcpy(b->data + b->len, data, n);
    }
    b->len += n;
    if (nul) {
        b->data[b->len++] = 0;
    }
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
    return socp_msg_encode_append(msg, out);
}

int
socp_msg_encode_append(const socp_msg_t *msg, socp_buf_t *out)
{
    const socp_msg_desc_t *d = s_lookup((int) msg->type);
    if (!d) {
        return SOCP_EINVAL;
    }
    size_t from_len = strnlen(msg->from, sizeof msg->from - 1);
    s_put_array(out, 5);
    s_put_uint(out, SOCP_MSG_SCHEMA_MAJOR);
    s_put_uint(out, (uint64_t) msg->type);
    s_put_uint(out, msg->corr_id);
    s_put_bytes(out, false, msg->from, from_len, true);
    size_t nfields = 0;
    while (d->fields[nfields].name) {
        nfields++;
    }
    s_put_array(out, nfields);
    for (const socp_field_desc_t *f = d->fields; f->name; f++) {
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
                s_put_int(out, *(const int64_t *) p);
                continue;
            case SOCP_FT_BOOL:
                s_ensure(out, 1);
                out->data[out->len++] = *(const bool *) p ? 0xc3 : 0xc2;
                continue;
            case SOCP_FT_STR: {
                const char *str = *(const char *const *) p;
                size_t n = str ? strlen(str) : 0;
                if (n > f->max) {
                    return SOCP_ETOOBIG;
                }
                s_put_bytes(out, false, str, n, true);
                continue;
            }
            case SOCP_FT_BIN: {
                const socp_bin_t *bin = p;
                if (bin->len > f->max) {
                    return SOCP_ETOOBIG;
                }
                s_put_bytes(out, true, bin->data, bin->len, false);
                continue;
            }
            case SOCP_FT_STRS: {
                const socp_strs_t *l = p;
                if (l->count > f->max) {
                    return SOCP_ETOOBIG;
                }
                s_put_array(out, l->count);
                for (size_t k = 0; k < l->count; k++) {
                    const char *str = l->items[k];
                    size_t n = str ? strlen(str) : 0;
                    if (n > f->item_max) {
                        return SOCP_ETOOBIG;
                    }
                    s_put_bytes(out, false, str, n, true);
                }
                continue;
            }
        }
        if (u > s_limit(f)) {
            return SOCP_ETOOBIG;
        }
        s_put_uint(out, u);
    }
    return 0;
}

// ---- decoder ----------------------------------------------------------------

typedef struct {
    const uint8_t *p;   // next byte
    const uint8_t *end; // one past the frame
} s_reader_t;

static inline size_t
s_left(const s_reader_t *r)
{
    return (size_t) (r->end - r->p);
}

#define S_HOT static inline __attribute__((always_inline))

S_HOT bool
s_be(s_reader_t *r, size_t n, uint64_t *v)
{
    if (s_left(r) < n) {
        return false;
    }
    switch (n) {
        case 1:
            *v = r->p[0];
            break;
        case 2: {
            uint16_t x;
            memcpy(&x, r->p, 2);
            *v = __builtin_bswap16(x);
            break;
        }
        case 4: {
            uint32_t x;
            memcpy(&x, r->p, 4);
            *v = __builtin_bswap32(x);
            break;
        }
        default: {
            uint64_t x;
            memcpy(&x, r->p, 8);
            *v = __builtin_bswap64(x);
            break;
        }
    }
    r->p += n;
    return true;
}

// Reads any msgpack integer: *neg tells the sign, *mag the magnitude.
S_HOT bool
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
        int64_t x;
        switch (n) {
            case 1:
                x = (int8_t) v;
                break;
            case 2:
                x = (int16_t) v;
                break;
            case 4:
                x = (int32_t) v;
                break;
            default:
                x = (int64_t) v;
                break;
        }
        *neg = x < 0;
        *mag = x < 0 ? (uint64_t) 0 - (uint64_t) x : (uint64_t) x;
        return true;
    }
    return false;
}

// Reads an array header; its count cannot exceed the bytes left (every
// element takes at least one), so callers may size allocations from it.
S_HOT bool
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
S_HOT bool
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

// Reads one of our strings: a str that ends with its NUL and holds no other,
// at most max bytes of text. *s points into the frame.
S_HOT bool
s_cstr(s_reader_t *r, uint64_t max, const char **s)
{
    const uint8_t *d;
    uint64_t n;
    if (!s_bytes(r, false, &d, &n) || n == 0 || n - 1 > max || d[n - 1] != 0 ||
        memchr(d, 0, n - 1) != NULL) {
        return false;
    }
    *s = (const char *) d;
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

// Pointer arrays of STRS fields come from a bump area. While measuring
// (`area` NULL) only `used` grows; the filling pass takes the same sizes.
typedef struct {
    const char **area; // NULL while measuring
    size_t used;       // pointers taken so far
    size_t cap;        // pointers the area holds (what the measuring pass counted)
} s_ptrs_t;

static bool
s_decode_field(s_reader_t *r, const socp_field_desc_t *f, void *dst, s_ptrs_t *ptrs)
{
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
            if (f->type == SOCP_FT_U8) {
                *(uint8_t *) dst = (uint8_t) v;
            } else if (f->type == SOCP_FT_U16) {
                *(uint16_t *) dst = (uint16_t) v;
            } else if (f->type == SOCP_FT_U32) {
                *(uint32_t *) dst = (uint32_t) v;
            } else {
                *(uint64_t *) dst = v;
            }
            return true;
        case SOCP_FT_I64:
            if (!s_int(r, &neg, &v) || (!neg && v > (uint64_t) INT64_MAX) ||
                (neg && v > (uint64_t) INT64_MAX + 1)) {
                return false;
            }
            *(int64_t *) dst = neg ? (int64_t) (0 - v) : (int64_t) v;
            return true;
        case SOCP_FT_BOOL:
            if (s_left(r) < 1 || (*r->p != 0xc2 && *r->p != 0xc3)) {
                return false;
            }
            *(bool *) dst = *r->p++ == 0xc3;
            return true;
        case SOCP_FT_STR:
            return s_cstr(r, f->max, (const char **) dst);
        case SOCP_FT_BIN:
            if (!s_bytes(r, true, &d, &n) || n > f->max) {
                return false;
            }
            *(socp_bin_t *) dst = (socp_bin_t){n ? d : NULL, n};
            return true;
        case SOCP_FT_STRS: {
            if (!s_array(r, &n) || n > f->max || (ptrs->area && n > ptrs->cap - ptrs->used)) {
                return false; // never past the area, whatever the frame says
            }
            const char **items = ptrs->area ? ptrs->area + ptrs->used : NULL;
            ptrs->used += n;
            const char *s;
            for (uint64_t i = 0; i < n; i++) {
                if (!s_cstr(r, f->item_max, &s)) {
                    return false;
                }
                if (items) {
                    items[i] = s;
                }
            }
            *(socp_strs_t *) dst = (socp_strs_t){n ? items : NULL, n};
            return true;
        }
    }
    return false;
}

// One pass over the frame; strings and bytes point into it.
static int
s_decode_pass(const uint8_t *data, size_t len, socp_msg_t *out, s_ptrs_t *ptrs, size_t *used)
{
    s_reader_t r = {data, data + len};
    uint64_t n, v, type, corr;
    bool neg;
    const char *from;
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
    if (!s_cstr(&r, SOCP_ACTOR_NAME_MAX, &from)) {
        return SOCP_EPROTO;
    }
    uint64_t nbody;
    if (!s_array(&r, &nbody)) {
        return SOCP_EPROTO;
    }
    out->type = (socp_msg_type_t) type;
    out->corr_id = (uint32_t) corr;
    memcpy(out->from, from, strlen(from) + 1);
    uint64_t i = 0;
    for (const socp_field_desc_t *f = d->fields; f->name; f++, i++) {
        void *dst = s_field_ptr(out, f);
        if (i < nbody) {
            if (!s_decode_field(&r, f, dst, ptrs)) {
                return SOCP_EPROTO;
            }
        } else if (f->type == SOCP_FT_STR) {
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
    if (used) { // a batch frame: the caller decodes the next message there
        *used = (size_t) (r.p - data);
        return 0;
    }
    return r.p == r.end ? 0 : SOCP_EPROTO; // trailing bytes are malformed
}

// Decodes pointing into `data`, or into a private copy of it (`copy`). List
// pointer arrays need one measuring pass first; other messages take one pass.
static int
s_decode(const uint8_t *data, size_t len, socp_msg_t *out, bool copy, size_t *used)
{
    memset(out, 0, sizeof *out);
    if (!data || len == 0) {
        return SOCP_EPROTO;
    }
    // Our encoder writes [fixarray(5), fixint major, fixint type, ...]. For
    // such a frame of a type without lists, one pass does; anything else is
    // measured first.
    // data[2] must be a positive fixint: any other byte (0xcc: a uint8
    // follows) does not name the type, and must not choose the pass.
    const socp_msg_desc_t *d =
        len >= 3 && data[0] == 0x95 && data[1] == SOCP_MSG_SCHEMA_MAJOR && data[2] < 0x80
            ? s_lookup(data[2])
            : NULL;
    bool one_pass = d != NULL;
    for (const socp_field_desc_t *f = d ? d->fields : NULL; f && f->name; f++) {
        one_pass &= f->type != SOCP_FT_STRS;
    }
    s_ptrs_t ptrs = {NULL, 0, 0};
    if (!one_pass) {
        // Measure the list pointers first: a validating pass over the frame.
        int rc = s_decode_pass(data, len, out, &ptrs, used);
        if (rc != 0) {
            memset(out, 0, sizeof *out);
            return rc;
        }
    }
    size_t ptr_bytes = ptrs.used * sizeof(char *);
    uint8_t *arena = NULL;
    const uint8_t *src = data;
    if (copy || ptr_bytes) {
        size_t front = copy ? (len + sizeof(char *) - 1) & ~(sizeof(char *) - 1) : 0;
        arena = socp_malloc(front + ptr_bytes);
        if (copy) {
            memcpy(arena, data, len);
            src = arena;
        }
        ptrs.area = (const char **) (void *) (arena + front);
    }
    size_t measured = ptrs.used;
    ptrs.used = 0;
    ptrs.cap = measured;
    int rc = s_decode_pass(src, len, out, &ptrs, used);
    if (rc != 0 || ptrs.used > measured) {
        free(arena);
        memset(out, 0, sizeof *out);
        return rc ? rc : SOCP_EPROTO;
    }
    out->arena = arena;
    return 0;
}

int
socp_msg_decode(const void *data, size_t len, socp_msg_t *out)
{
    return s_decode(data, len, out, true, NULL);
}

int
socp_msg_decode_view(const void *data, size_t len, socp_msg_t *out)
{
    return s_decode(data, len, out, false, NULL);
}

int
socp_msg_decode_view_next(const void *data, size_t len, size_t *used, socp_msg_t *out)
{
    *used = 0;
    return s_decode(data, len, out, false, used);
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
