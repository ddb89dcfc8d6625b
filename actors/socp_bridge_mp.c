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
                if (k->type != MSGPACK_OBJECT_STR || k->via.str.size > 256 ||
                    memchr(k->via.str.ptr, 0, k->via.str.size) ||
                    !socp_text_utf8_valid(k->via.str.ptr, k->via.str.size)) {
                    json_decref(m);
                    return NULL;
                }
                char key[257];
                memcpy(key, k->via.str.ptr, k->via.str.size);
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
