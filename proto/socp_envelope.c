// socp_envelope.c: the SOCP JSON envelope {type, from, to, ts, payload, sig}.
// Part of socp, a SOCP v1.3 client and server.
#include "socp/socp_envelope.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socp/socp_err.h"
#include "socp/socp_json.h"
#include "socp/socp_uuid.h"

// ---------------------------------------------------------------------------
// Tables

typedef struct {
    const char *name;          // wire name
    size_t len;                // strlen(name)
    socp_envelope_type_t type; // what it means
} s_type_entry_t;

static const s_type_entry_t s_types[] = {
#define S_TYPE_ROW(name) {#name, sizeof(#name) - 1, SOCP_ENVELOPE_TYPE_##name},
    SOCP_ENVELOPE_TYPES(S_TYPE_ROW)
#undef S_TYPE_ROW
#define S_ALIAS_ROW(alias, name) {#alias, sizeof(#alias) - 1, SOCP_ENVELOPE_TYPE_##name},
        SOCP_ENVELOPE_ALIASES(S_ALIAS_ROW)
#undef S_ALIAS_ROW
};

static const char *const s_type_names[SOCP_ENVELOPE_TYPE_COUNT] = {NULL,
#define S_TYPE_NAME(name) #name,
                                                                   SOCP_ENVELOPE_TYPES(S_TYPE_NAME)
#undef S_TYPE_NAME
};

static const char *const s_code_names[] = {NULL,
#define S_CODE_NAME(name) #name,
                                           SOCP_ENVELOPE_CODES(S_CODE_NAME)
#undef S_CODE_NAME
};

typedef struct {
    const char *name;          // "TO_BAD"
    const char *text;          // for people
    socp_envelope_code_t code; // wire error code
} s_reason_entry_t;

static const s_reason_entry_t s_reasons[SOCP_ENVELOPE_REASON_COUNT] = {
#define S_REASON_ROW(name, code, text) {#name, text, SOCP_ENVELOPE_CODE_##code},
    SOCP_ENVELOPE_REASONS(S_REASON_ROW)
#undef S_REASON_ROW
};

socp_envelope_type_t
socp_envelope_type_lookup(const char *name, size_t len)
{
    if (!name) {
        return SOCP_ENVELOPE_TYPE_UNKNOWN;
    }
    for (size_t i = 0; i < SOCP_ARRAY_LEN(s_types); i++) {
        if (s_types[i].len == len && memcmp(s_types[i].name, name, len) == 0) {
            return s_types[i].type;
        }
    }
    return SOCP_ENVELOPE_TYPE_UNKNOWN;
}

const char *
socp_envelope_type_name(socp_envelope_type_t type)
{
    if ((int) type <= 0 || (int) type >= SOCP_ENVELOPE_TYPE_COUNT) {
        return NULL;
    }
    return s_type_names[type];
}

const char *
socp_envelope_reason_name(socp_envelope_reason_t reason)
{
    if ((int) reason < 0 || (int) reason >= SOCP_ENVELOPE_REASON_COUNT) {
        return "?";
    }
    return s_reasons[reason].name;
}

const char *
socp_envelope_reason_text(socp_envelope_reason_t reason)
{
    if ((int) reason < 0 || (int) reason >= SOCP_ENVELOPE_REASON_COUNT) {
        return "unknown reason";
    }
    return s_reasons[reason].text;
}

socp_envelope_code_t
socp_envelope_reason_code(socp_envelope_reason_t reason)
{
    if ((int) reason < 0 || (int) reason >= SOCP_ENVELOPE_REASON_COUNT) {
        return SOCP_ENVELOPE_CODE_UNKNOWN_TYPE;
    }
    return s_reasons[reason].code;
}

const char *
socp_envelope_code_name(socp_envelope_code_t code)
{
    if ((int) code <= 0 || (size_t) code >= SOCP_ARRAY_LEN(s_code_names)) {
        return NULL;
    }
    return s_code_names[code];
}

socp_envelope_code_t
socp_envelope_code_lookup(const char *name, size_t len)
{
    if (!name) {
        return SOCP_ENVELOPE_CODE_NONE;
    }
    for (size_t i = 1; i < SOCP_ARRAY_LEN(s_code_names); i++) {
        if (strlen(s_code_names[i]) == len && memcmp(s_code_names[i], name, len) == 0) {
            return (socp_envelope_code_t) i;
        }
    }
    return SOCP_ENVELOPE_CODE_NONE;
}

// ---------------------------------------------------------------------------
// Field rules

static bool
s_type_ok(const char *s, size_t len)
{
    if (len == 0 || len > SOCP_ENVELOPE_TYPE_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c < 0x21 || c > 0x7E) {
            return false;
        }
    }
    return true;
}

static bool
s_sig_ok(const char *s, size_t len)
{
    if (len > SOCP_ENVELOPE_SIG_MAX) {
        return false;
    }
    size_t pad = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '=') {
            pad++;
            continue;
        }
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (pad > 0 || !(alpha || c == '-' || c == '_' || c == '+' || c == '/')) {
            return false; // padding only at the end
        }
    }
    return pad <= 2;
}

// Copies a JSON string into a fixed field; false if it does not qualify.
static bool
s_take_id(const json_t *value, char *dst)
{
    if (!json_is_string(value)) {
        return false;
    }
    const char *s = json_string_value(value);
    size_t len = json_string_length(value);
    if (!socp_uuid_is_peer_id(s, len)) {
        return false;
    }
    memcpy(dst, s, len);
    dst[len] = '\0';
    return true;
}

// ts: a non-negative JSON integer, a string of 1..19 ASCII digits that fits
// int64, or an integral non-negative real below 2^63.
static bool
s_take_ts(const json_t *value, int64_t *ts)
{
    if (json_is_integer(value)) {
        json_int_t v = json_integer_value(value);
        if (v < 0) {
            return false;
        }
        *ts = (int64_t) v;
        return true;
    }
    if (json_is_string(value)) {
        const char *s = json_string_value(value);
        size_t len = json_string_length(value);
        if (len == 0 || len > 19) {
            return false;
        }
        uint64_t v = 0;
        for (size_t i = 0; i < len; i++) {
            if (s[i] < '0' || s[i] > '9') {
                return false;
            }
            v = v * 10 + (uint64_t) (s[i] - '0'); // 19 digits cannot overflow uint64
        }
        if (v > (uint64_t) INT64_MAX) {
            return false;
        }
        *ts = (int64_t) v;
        return true;
    }
    if (json_is_real(value)) {
        double v = json_real_value(value);
        // In range first, so the conversion is defined; integral if it converts back.
        if (!(v >= 0.0 && v < 9223372036854775808.0) || (double) (int64_t) v != v) {
            return false;
        }
        *ts = (int64_t) v;
        return true;
    }
    return false;
}

// ---------------------------------------------------------------------------
// Parse

// Appends src to dst[0..size) at *pos, truncating; dst stays NUL-terminated.
static void
s_put(char *dst, size_t size, size_t *pos, const char *src)
{
    while (*src && *pos + 1 < size) {
        dst[(*pos)++] = *src++;
    }
    dst[*pos] = '\0';
}

static int
s_reject(socp_envelope_error_t *err,
         socp_envelope_reason_t reason,
         int rc,
         const char *extra,
         json_t *root)
{
    json_decref(root);
    if (err) {
        err->reason = reason;
        size_t pos = 0;
        s_put(err->detail, sizeof err->detail, &pos, s_reasons[reason].text);
        if (extra && extra[0]) {
            s_put(err->detail, sizeof err->detail, &pos, " (");
            s_put(err->detail, sizeof err->detail, &pos, extra);
            s_put(err->detail, sizeof err->detail, &pos, ")");
        }
    }
    return rc;
}

static socp_envelope_reason_t
s_json_reason(socp_json_error_t why)
{
    switch (why) {
        case SOCP_JSON_ERROR_NUL:
            return SOCP_ENVELOPE_REASON_NUL_BYTE;
        case SOCP_JSON_ERROR_UTF8:
            return SOCP_ENVELOPE_REASON_BAD_UTF8;
        case SOCP_JSON_ERROR_DEPTH:
            return SOCP_ENVELOPE_REASON_TOO_DEEP;
        case SOCP_JSON_ERROR_DUPLICATE:
            return SOCP_ENVELOPE_REASON_DUPLICATE_KEY;
        case SOCP_JSON_ERROR_TRAILING:
            return SOCP_ENVELOPE_REASON_TRAILING_DATA;
        case SOCP_JSON_ERROR_NUMBER:
            return SOCP_ENVELOPE_REASON_BAD_NUMBER;
        default:
            return SOCP_ENVELOPE_REASON_BAD_JSON;
    }
}

int
socp_envelope_parse(const char *text, size_t len, socp_envelope_t *out, socp_envelope_error_t *err)
{
    return socp_envelope_parse_ex(text, len, 0, out, err);
}

int
socp_envelope_parse_ex(const char *text,
                       size_t len,
                       unsigned flags,
                       socp_envelope_t *out,
                       socp_envelope_error_t *err)
{
    memset(out, 0, sizeof *out);
    if (err) {
        err->reason = SOCP_ENVELOPE_REASON_OK;
        err->detail[0] = '\0';
    }
    if (!text) {
        return SOCP_EINVAL;
    }
    if (len > SOCP_ENVELOPE_MAX_BYTES) {
        return s_reject(err, SOCP_ENVELOPE_REASON_TOO_BIG, SOCP_ETOOBIG, NULL, NULL);
    }
    json_t *root = NULL;
    socp_json_error_t why;
    char detail[SOCP_ENVELOPE_DETAIL_MAX];
    int rc =
        socp_json_parse_ex(text, len, SOCP_ENVELOPE_MAX_DEPTH, &root, &why, detail, sizeof detail);
    if (rc == SOCP_ENOMEM) {
        return s_reject(err, SOCP_ENVELOPE_REASON_BAD_JSON, rc, "out of memory", NULL);
    }
    if (rc != 0) {
        return s_reject(err, s_json_reason(why), rc == SOCP_ETOOBIG ? SOCP_ETOOBIG : SOCP_EPROTO,
                        detail, NULL);
    }
    if (!json_is_object(root)) {
        return s_reject(err, SOCP_ENVELOPE_REASON_NOT_OBJECT, SOCP_EPROTO, NULL, root);
    }

    const json_t *type = json_object_get(root, "type");
    if (!type) {
        return s_reject(err, SOCP_ENVELOPE_REASON_TYPE_MISSING, SOCP_EPROTO, NULL, root);
    }
    if (!json_is_string(type) || !s_type_ok(json_string_value(type), json_string_length(type))) {
        return s_reject(err, SOCP_ENVELOPE_REASON_TYPE_BAD, SOCP_EPROTO, NULL, root);
    }
    memcpy(out->type, json_string_value(type), json_string_length(type) + 1);
    out->kind = socp_envelope_type_lookup(out->type, json_string_length(type));
    // The standard's CTRL_CLOSE example is {"type":"CTRL_CLOSE"}.
    bool bare_ok = out->kind == SOCP_ENVELOPE_TYPE_CTRL_CLOSE;
    // Impl14's clients leave from / to / payload out of account frames.
    bool no_addr = (flags & SOCP_ENVELOPE_PARSE_NO_ADDR) != 0;

    const json_t *from = json_object_get(root, "from");
    if (!from && !bare_ok && !no_addr) {
        memset(out, 0, sizeof *out);
        return s_reject(err, SOCP_ENVELOPE_REASON_FROM_MISSING, SOCP_EPROTO, NULL, root);
    }
    if (from && !s_take_id(from, out->from)) {
        memset(out, 0, sizeof *out);
        return s_reject(err, SOCP_ENVELOPE_REASON_FROM_BAD, SOCP_EPROTO, NULL, root);
    }

    const json_t *to = json_object_get(root, "to");
    if (!to && !bare_ok && !no_addr) {
        memset(out, 0, sizeof *out);
        return s_reject(err, SOCP_ENVELOPE_REASON_TO_MISSING, SOCP_EPROTO, NULL, root);
    }
    bool empty_to = (flags & (SOCP_ENVELOPE_PARSE_EMPTY_TO | SOCP_ENVELOPE_PARSE_NO_ADDR)) &&
                    json_is_string(to) && json_string_length(to) == 0;
    if (to && !empty_to && !s_take_id(to, out->to)) {
        memset(out, 0, sizeof *out);
        return s_reject(err, SOCP_ENVELOPE_REASON_TO_BAD, SOCP_EPROTO, NULL, root);
    }

    const json_t *ts = json_object_get(root, "ts");
    if (!ts && !bare_ok) {
        memset(out, 0, sizeof *out);
        return s_reject(err, SOCP_ENVELOPE_REASON_TS_MISSING, SOCP_EPROTO, NULL, root);
    }
    if (ts && !s_take_ts(ts, &out->ts)) {
        memset(out, 0, sizeof *out);
        return s_reject(err, SOCP_ENVELOPE_REASON_TS_BAD, SOCP_EPROTO, NULL, root);
    }

    json_t *payload = json_object_get(root, "payload");
    if (!payload && !bare_ok && !no_addr) {
        memset(out, 0, sizeof *out);
        return s_reject(err, SOCP_ENVELOPE_REASON_PAYLOAD_MISSING, SOCP_EPROTO, NULL, root);
    }
    if (payload && !json_is_object(payload)) {
        memset(out, 0, sizeof *out);
        return s_reject(err, SOCP_ENVELOPE_REASON_PAYLOAD_BAD, SOCP_EPROTO, NULL, root);
    }

    const json_t *sig = json_object_get(root, "sig");
    const char *sig_text = NULL;
    if (sig && !json_is_null(sig)) {
        if (!json_is_string(sig) || !s_sig_ok(json_string_value(sig), json_string_length(sig))) {
            memset(out, 0, sizeof *out);
            return s_reject(err, SOCP_ENVELOPE_REASON_SIG_BAD, SOCP_EPROTO, NULL, root);
        }
        if (json_string_length(sig) > 0) {
            sig_text = json_string_value(sig);
        }
    }

    out->payload = payload ? json_incref(payload) : json_object();
    if (!out->payload) {
        memset(out, 0, sizeof *out);
        return s_reject(err, SOCP_ENVELOPE_REASON_BAD_JSON, SOCP_ENOMEM, "out of memory", root);
    }
    out->sig = sig_text ? socp_strdup(sig_text) : NULL;
    json_decref(root);
    return 0;
}

// ---------------------------------------------------------------------------
// Build and emit

int
socp_envelope_init(socp_envelope_t *self,
                   const char *type,
                   const char *from,
                   const char *to,
                   int64_t ts,
                   json_t *payload)
{
    memset(self, 0, sizeof *self);
    if (!type || !from || !to || ts < 0 || (payload && !json_is_object(payload))) {
        return SOCP_EINVAL;
    }
    size_t type_len = strlen(type), from_len = strlen(from), to_len = strlen(to);
    if (!s_type_ok(type, type_len) || !socp_uuid_is_peer_id(from, from_len) ||
        !socp_uuid_is_peer_id(to, to_len)) {
        return SOCP_EINVAL;
    }
    memcpy(self->type, type, type_len + 1);
    memcpy(self->from, from, from_len + 1);
    memcpy(self->to, to, to_len + 1);
    self->kind = socp_envelope_type_lookup(type, type_len);
    self->ts = ts;
    self->payload = payload ? json_incref(payload) : json_object();
    if (!self->payload) {
        memset(self, 0, sizeof *self);
        return SOCP_ENOMEM;
    }
    return 0;
}

int
socp_envelope_set_sig(socp_envelope_t *self, const char *sig)
{
    if (sig && sig[0] && !s_sig_ok(sig, strlen(sig))) {
        return SOCP_EINVAL;
    }
    free(self->sig);
    self->sig = (sig && sig[0]) ? socp_strdup(sig) : NULL;
    return 0;
}

void
socp_envelope_fini(socp_envelope_t *self)
{
    json_decref(self->payload);
    free(self->sig);
    memset(self, 0, sizeof *self);
}

static void
s_append_cstr(socp_buf_t *out, const char *s)
{
    socp_buf_append(out, s, strlen(s));
}

int
socp_envelope_emit(const socp_envelope_t *self, socp_buf_t *out)
{
    size_t type_len = strnlen(self->type, sizeof self->type);
    size_t from_len = strnlen(self->from, sizeof self->from);
    size_t to_len = strnlen(self->to, sizeof self->to);
    if (type_len > SOCP_ENVELOPE_TYPE_MAX || !s_type_ok(self->type, type_len) ||
        from_len > SOCP_ENVELOPE_ID_MAX || !socp_uuid_is_peer_id(self->from, from_len) ||
        to_len > SOCP_ENVELOPE_ID_MAX || !socp_uuid_is_peer_id(self->to, to_len) || self->ts < 0 ||
        !json_is_object(self->payload) ||
        (self->sig && self->sig[0] && !s_sig_ok(self->sig, strlen(self->sig)))) {
        return SOCP_EINVAL;
    }
    size_t start = out->len;
    socp_buf_reserve(out, 256 + (self->sig ? strlen(self->sig) : 0));
    int rc = 0;
    s_append_cstr(out, "{\"type\":");
    rc = socp_json_append_string(self->type, type_len, SOCP_JSON_CANON_ASCII, out);
    if (rc == 0) {
        s_append_cstr(out, ",\"from\":");
        rc = socp_json_append_string(self->from, from_len, SOCP_JSON_CANON_ASCII, out);
    }
    if (rc == 0) {
        s_append_cstr(out, ",\"to\":");
        rc = socp_json_append_string(self->to, to_len, SOCP_JSON_CANON_ASCII, out);
    }
    if (rc == 0) {
        char ts_text[64]; // 36 bytes at most: 19 digits plus the keys
        int n =
            snprintf(ts_text, sizeof ts_text, ",\"ts\":%lld,\"payload\":", (long long) self->ts);
        socp_buf_append(out, ts_text, n > 0 && (size_t) n < sizeof ts_text ? (size_t) n : 0);
        rc = socp_json_canonical(self->payload, SOCP_JSON_CANON_ASCII, out);
    }
    if (rc == 0 && self->sig && self->sig[0]) {
        s_append_cstr(out, ",\"sig\":\"");
        s_append_cstr(out, self->sig); // checked alphabet: nothing to escape
        s_append_cstr(out, "\"");
    }
    if (rc == 0) {
        socp_buf_append(out, "}", 1);
        if (out->len - start > SOCP_ENVELOPE_MAX_SEND_BYTES) {
            rc = SOCP_ETOOBIG;
        }
    }
    if (rc != 0) {
        out->len = start;
    }
    return rc;
}

int
socp_envelope_check_ts(const socp_envelope_t *self,
                       int64_t now_ms,
                       int64_t max_skew_ms,
                       socp_envelope_error_t *err)
{
    if (err) {
        err->reason = SOCP_ENVELOPE_REASON_OK;
        err->detail[0] = '\0';
    }
    if (max_skew_ms < 0) {
        return SOCP_EINVAL;
    }
    // The true difference of two int64 values always fits in uint64.
    uint64_t diff = self->ts >= now_ms ? (uint64_t) self->ts - (uint64_t) now_ms
                                       : (uint64_t) now_ms - (uint64_t) self->ts;
    if (diff <= (uint64_t) max_skew_ms) {
        return 0;
    }
    if (err) {
        err->reason = SOCP_ENVELOPE_REASON_TS_SKEW;
        snprintf(err->detail, sizeof err->detail, "%s (off by %llu ms, limit %lld ms)",
                 s_reasons[SOCP_ENVELOPE_REASON_TS_SKEW].text, (unsigned long long) diff,
                 (long long) max_skew_ms);
    }
    return SOCP_ETIMEDOUT;
}
