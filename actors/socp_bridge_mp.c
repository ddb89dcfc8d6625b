// socp_bridge_mp.c: msgpack <-> JSON values for the bridge's ZeroMQ front end.
// Part of socp, a SOCP v1.3 client and server.
#include <string.h>

#include "socp/socp_bridge.h"
#include "socp/socp_text.h"

#define S_DEPTH_MAX 64

void
socp_bridge_mp_pack(msgpack_packer *pk, const json_t *v)
{
    switch (json_typeof(v)) {
        case JSON_OBJECT: {
            msgpack_pack_map(pk, json_object_size(v));
            const char *k;
            json_t *x;
            json_object_foreach((json_t *) v, k, x)
            {
                size_t n = strlen(k);
                msgpack_pack_str(pk, n);
                msgpack_pack_str_body(pk, k, n);
                socp_bridge_mp_pack(pk, x);
            }
            break;
        }
        case JSON_ARRAY: {
            msgpack_pack_array(pk, json_array_size(v));
            size_t i;
            json_t *x;
            json_array_foreach(v, i, x)
            {
                socp_bridge_mp_pack(pk, x);
            }
            break;
        }
        case JSON_STRING: {
            size_t n = json_string_length(v);
            msgpack_pack_str(pk, n);
            msgpack_pack_str_body(pk, json_string_value(v), n);
            break;
        }
        case JSON_INTEGER:
            msgpack_pack_int64(pk, (int64_t) json_integer_value(v));
            break;
        case JSON_REAL:
            msgpack_pack_double(pk, json_real_value(v));
            break;
        case JSON_TRUE:
            msgpack_pack_true(pk);
            break;
        case JSON_FALSE:
            msgpack_pack_false(pk);
            break;
        default:
            msgpack_pack_nil(pk);
            break;
    }
}

static json_t *
s_conv(const msgpack_object *o, int depth)
{
    if (depth > S_DEPTH_MAX) {
        return NULL;
    }
    switch (o->type) {
        case MSGPACK_OBJECT_NIL:
            return json_null();
        case MSGPACK_OBJECT_BOOLEAN:
            return json_boolean(o->via.boolean);
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            return o->via.u64 > (uint64_t) INT64_MAX ? NULL : json_integer((json_int_t) o->via.u64);
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            return json_integer((json_int_t) o->via.i64);
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            return json_real(o->via.f64);
        case MSGPACK_OBJECT_STR:
        case MSGPACK_OBJECT_BIN: {
            const char *p = o->type == MSGPACK_OBJECT_STR ? o->via.str.ptr : o->via.bin.ptr;
            size_t n = o->type == MSGPACK_OBJECT_STR ? o->via.str.size : o->via.bin.size;
            p = n ? p : ""; // msgpack-c leaves ptr NULL for an empty fixstr (0xa0)
            if (!socp_text_utf8_valid(p, n)) {
                return NULL;
            }
            return json_stringn(p, n);
        }
        case MSGPACK_OBJECT_ARRAY: {
            json_t *a = json_array();
            for (uint32_t i = 0; a && i < o->via.array.size; i++) {
                json_t *x = s_conv(&o->via.array.ptr[i], depth + 1);
                if (!x || json_array_append_new(a, x) != 0) {
                    json_decref(a);
                    return NULL;
                }
            }
            return a;
        }
        case MSGPACK_OBJECT_MAP: {
            json_t *m = json_object();
            for (uint32_t i = 0; m && i < o->via.map.size; i++) {
                const msgpack_object *k = &o->via.map.ptr[i].key;
                if (k->type != MSGPACK_OBJECT_STR || k->via.str.size > 256) {
                    json_decref(m);
                    return NULL;
                }
                const char *kp = k->via.str.size ? k->via.str.ptr : ""; // NULL when empty
                if (memchr(kp, 0, k->via.str.size) || !socp_text_utf8_valid(kp, k->via.str.size)) {
                    json_decref(m);
                    return NULL;
                }
                char key[257];
                memcpy(key, kp, k->via.str.size);
                key[k->via.str.size] = '\0';
                json_t *x = s_conv(&o->via.map.ptr[i].val, depth + 1);
                if (!x || json_object_set_new(m, key, x) != 0) {
                    json_decref(m);
                    return NULL;
                }
            }
            return m;
        }
        default:
            return NULL;
    }
}

json_t *
socp_bridge_mp_to_json(const msgpack_object *o)
{
    return s_conv(o, 0);
}

static uint64_t
s_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

bool
socp_bridge_mp_check(const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t pos = 0;
    uint64_t pending = 1; // values still expected; each takes at least one byte
    while (pending > 0) {
        if (pos >= len || pending > len - pos) {
            return false;
        }
        uint8_t b = p[pos++];
        pending--;
        uint64_t skip = 0, items = 0;
        size_t hdr = 0; // length bytes that follow the type byte
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            // fixint, nil, bool: nothing more
        } else if (b >= 0x80 && b <= 0x8f) {
            items = 2u * (b & 0x0fu);
        } else if (b >= 0x90 && b <= 0x9f) {
            items = b & 0x0fu;
        } else if (b >= 0xa0 && b <= 0xbf) {
            skip = b & 0x1fu;
        } else {
            switch (b) {
                case 0xc4:
                case 0xd9:
                    hdr = 1;
                    break; // bin8, str8
                case 0xc5:
                case 0xda:
                    hdr = 2;
                    break; // bin16, str16
                case 0xc6:
                case 0xdb:
                    hdr = 4;
                    break; // bin32, str32
                case 0xc7:
                    hdr = 1;
                    skip = 1;
                    break; // ext8 (+type)
                case 0xc8:
                    hdr = 2;
                    skip = 1;
                    break; // ext16
                case 0xc9:
                    hdr = 4;
                    skip = 1;
                    break; // ext32
                case 0xca:
                    skip = 4;
                    break; // float32
                case 0xcb:
                    skip = 8;
                    break; // float64
                case 0xcc:
                case 0xd0:
                    skip = 1;
                    break; // (u)int8
                case 0xcd:
                case 0xd1:
                    skip = 2;
                    break; // (u)int16
                case 0xce:
                case 0xd2:
                    skip = 4;
                    break; // (u)int32
                case 0xcf:
                case 0xd3:
                    skip = 8;
                    break; // (u)int64
                case 0xd4:
                    skip = 2;
                    break; // fixext1
                case 0xd5:
                    skip = 3;
                    break; // fixext2
                case 0xd6:
                    skip = 5;
                    break; // fixext4
                case 0xd7:
                    skip = 9;
                    break; // fixext8
                case 0xd8:
                    skip = 17;
                    break; // fixext16
                case 0xdc:
                    hdr = 2;
                    items = 1;
                    break; // array16 (count below)
                case 0xdd:
                    hdr = 4;
                    items = 1;
                    break; // array32
                case 0xde:
                    hdr = 2;
                    items = 2;
                    break; // map16
                case 0xdf:
                    hdr = 4;
                    items = 2;
                    break; // map32
                default:
                    return false; // 0xc1: never used
            }
            if (hdr) {
                if (len - pos < hdr) {
                    return false;
                }
                uint64_t n = s_be(p + pos, hdr);
                pos += hdr;
                if (b >= 0xdc) {
                    items *= n; // n <= 2^32: no overflow
                } else {
                    skip += n;
                }
            }
        }
        if (skip > len - pos) {
            return false;
        }
        pos += (size_t) skip;
        pending += items;
    }
    return pos == len;
}
