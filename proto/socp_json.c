// socp_json.c: canonical JSON (the bytes SOCP signs) and a strict JSON parser.
// Part of socp, a SOCP v1.3 client and server.
#include "socp/socp_json.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socp/socp_err.h"
#include "socp/socp_text.h"

#define S_KNOWN_FLAGS  (SOCP_JSON_CANON_UTF8 | SOCP_JSON_CANON_SPACED)
#define S_SMALL_OBJECT 8 // objects up to this many keys sort on the stack

// One object member, for sorting.
typedef struct {
    const char *key; // key bytes (not NUL-terminated for our purposes)
    size_t len;      // key length in bytes
    json_t *value;   // member value (borrowed)
} s_member_t;

// State of one canonicalisation.
typedef struct {
    socp_buf_t *out; // destination
    size_t start;    // out->len on entry, for the size limit and rollback
    bool utf8;       // SOCP_JSON_CANON_UTF8
    bool spaced;     // SOCP_JSON_CANON_SPACED
} s_canon_t;

// ---------------------------------------------------------------------------
// Strings

static const char s_hex[] = "0123456789abcdef";

static void
s_append_u16(socp_buf_t *out, uint32_t unit)
{
    char esc[6] = {'\\',
                   'u',
                   s_hex[(unit >> 12) & 0xF],
                   s_hex[(unit >> 8) & 0xF],
                   s_hex[(unit >> 4) & 0xF],
                   s_hex[unit & 0xF]};
    socp_buf_append(out, esc, sizeof esc);
}

// Escapes one ASCII byte that is not copied as is.
static void
s_append_escaped_byte(socp_buf_t *out, uint8_t b)
{
    const char *short_form = NULL;
    switch (b) {
        case '"':
            short_form = "\\\"";
            break;
        case '\\':
            short_form = "\\\\";
            break;
        case '\n':
            short_form = "\\n";
            break;
        case '\r':
            short_form = "\\r";
            break;
        case '\t':
            short_form = "\\t";
            break;
        case '\b':
            short_form = "\\b";
            break;
        case '\f':
            short_form = "\\f";
            break;
        default:
            break;
    }
    if (short_form) {
        socp_buf_append(out, short_form, 2);
    } else {
        s_append_u16(out, b); // other C0 controls, and DEL in ASCII mode
    }
}

// Appends the literal; on EPROTO the caller rolls `out` back.
static int
s_string(socp_buf_t *out, const char *str, size_t len, bool utf8)
{
    const uint8_t *s = (const uint8_t *) str;
    if (utf8 && socp_text_utf8_check(s, len, NULL) != 0) {
        return SOCP_EPROTO;
    }
    // Bytes copied as is: printable ASCII except quote and backslash; in UTF-8
    // mode also DEL and every byte of a (validated) multi-byte character.
    uint8_t plain_top = utf8 ? 0xFF : 0x7E;
    socp_buf_reserve(out, len + 2);
    socp_buf_append(out, "\"", 1);
    size_t i = 0;
    while (i < len) {
        size_t run = i;
        while (run < len && s[run] >= 0x20 && s[run] <= plain_top && s[run] != '"' &&
               s[run] != '\\') {
            run++;
        }
        socp_buf_append(out, s + i, run - i);
        i = run;
        if (i == len) {
            break;
        }
        if (s[i] < 0x80) {
            s_append_escaped_byte(out, s[i]);
            i++;
            continue;
        }
        uint32_t cp;
        size_t n = socp_text_utf8_decode(s + i, len - i, &cp);
        if (n == 0) {
            return SOCP_EPROTO;
        }
        if (cp > 0xFFFF) {
            cp -= 0x10000;
            s_append_u16(out, 0xD800 + (cp >> 10));
            s_append_u16(out, 0xDC00 + (cp & 0x3FF));
        } else {
            s_append_u16(out, cp);
        }
        i += n;
    }
    socp_buf_append(out, "\"", 1);
    return 0;
}

int
socp_json_append_string(const char *s, size_t len, unsigned flags, socp_buf_t *out)
{
    if ((flags & ~S_KNOWN_FLAGS) != 0 || (!s && len)) {
        return SOCP_EINVAL;
    }
    size_t start = out->len;
    int rc = s_string(out, s ? s : "", len, (flags & SOCP_JSON_CANON_UTF8) != 0);
    if (rc != 0) {
        out->len = start;
    }
    return rc;
}

// ---------------------------------------------------------------------------
// Numbers

static void
s_append_int(socp_buf_t *out, json_int_t value)
{
    char digits[24];
    size_t n = 0;
    // Work with the magnitude as unsigned so INT64_MIN is fine.
    unsigned long long mag =
        value < 0 ? 0ull - (unsigned long long) value : (unsigned long long) value;
    do {
        digits[sizeof digits - 1 - n] = (char) ('0' + mag % 10);
        mag /= 10;
        n++;
    } while (mag);
    if (value < 0) {
        digits[sizeof digits - 1 - n] = '-';
        n++;
    }
    socp_buf_append(out, digits + sizeof digits - n, n);
}

// |v| without libm (the build links no -lm).
static double
s_abs(double v)
{
    return signbit(v) ? -v : v;
}

// True when the decimal M * 10^E reads back as exactly v. Written without a
// decimal point so it does not depend on the locale.
static bool
s_reads_back(unsigned long long mantissa, int exp10, double v)
{
    char text[48];
    snprintf(text, sizeof text, "%llue%d", mantissa, exp10);
    return strtod(text, NULL) == s_abs(v);
}

static unsigned long long
s_pow10(int n)
{
    unsigned long long p = 1;
    while (n-- > 0) {
        p *= 10;
    }
    return p;
}

// The prec-significant-digit decimal nearest |v|, as mantissa * 10^exp10.
static void
s_nearest(double mag, int prec, unsigned long long *mantissa, int *exp10)
{
    char text[48];
    // "%.*e" rounds correctly to prec significant digits: d[.ddd]e[+-]xx.
    snprintf(text, sizeof text, "%.*e", prec - 1, mag);
    unsigned long long m = 0;
    const char *p = text;
    while (*p && *p != 'e') {
        if (*p >= '0' && *p <= '9') {
            m = m * 10 + (unsigned long long) (*p - '0');
        }
        p++; // skips the locale's decimal point, whatever it is
    }
    *mantissa = m;
    *exp10 = (*p == 'e') ? atoi(p + 1) - (prec - 1) : 0;
}

// Is there a prec-digit decimal that reads back as v? If so, which one is
// closest to v. Near a power of two the round-trip interval is lopsided, so
// the nearest decimal can miss it while its neighbour hits: try both.
static bool
s_try_precision(double v, int prec, unsigned long long *mantissa_out, int *exp10_out)
{
    unsigned long long m;
    int exp10;
    s_nearest(s_abs(v), prec, &m, &exp10);
    if (s_reads_back(m, exp10, v)) {
        *mantissa_out = m;
        *exp10_out = exp10;
        return true;
    }
    if (s_reads_back(m + 1, exp10, v)) {
        *mantissa_out = m + 1;
        *exp10_out = exp10;
        return true;
    }
    // The lower neighbour of 10^(prec-1) (e.g. 1.0e5 at prec 2) is 9.9e4.
    unsigned long long low = m - 1;
    int low_exp = exp10;
    if (m == s_pow10(prec - 1)) {
        low = m * 10 - 1;
        low_exp = exp10 - 1;
    }
    if (low > 0 && s_reads_back(low, low_exp, v)) {
        *mantissa_out = low;
        *exp10_out = low_exp;
        return true;
    }
    return false;
}

// Shortest decimal that reads back as |v|: v ~= mantissa * 10^exp10, with the
// fewest digits and, among those, the closest to v (what Python's repr does).
// "Some prec-digit decimal reads back" is monotonic in prec (a p-digit
// decimal is also a (p+1)-digit one), so binary search; 17 digits always do.
static void
s_shortest(double v, unsigned long long *mantissa_out, int *exp10_out)
{
    int lo = 1, hi = 17;
    s_nearest(s_abs(v), 17, mantissa_out, exp10_out);
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        unsigned long long m;
        int exp10;
        if (s_try_precision(v, mid, &m, &exp10)) {
            hi = mid;
            *mantissa_out = m;
            *exp10_out = exp10;
        } else {
            lo = mid + 1;
        }
    }
    if (hi == 17) {
        (void) s_try_precision(v, 17, mantissa_out, exp10_out); // 17 digits always read back
    }
}

static void
s_append_zeros(socp_buf_t *out, size_t n)
{
    static const char zeros[] = "0000000000000000";
    while (n > 0) {
        size_t k = n < sizeof zeros - 1 ? n : sizeof zeros - 1;
        socp_buf_append(out, zeros, k);
        n -= k;
    }
}

// Python repr(float) for a finite double.
static int
s_append_real(socp_buf_t *out, double v)
{
    if (!isfinite(v)) {
        return SOCP_EPROTO; // Python would write NaN/Infinity: not JSON
    }
    if (signbit(v)) {
        socp_buf_append(out, "-", 1);
    }
    if (v == 0) {
        socp_buf_append(out, "0.0", 3);
        return 0;
    }
    unsigned long long m;
    int exp10;
    s_shortest(v, &m, &exp10);
    while (m % 10 == 0) {
        m /= 10;
        exp10++;
    }
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%llu", m);
    int decpt = n + exp10; // the value is 0.DIGITS * 10^decpt
    if (decpt <= -4 || decpt > 16) {
        // d[.ddd]e+XX, at least two exponent digits (Python's float_repr_style)
        socp_buf_append(out, digits, 1);
        if (n > 1) {
            socp_buf_append(out, ".", 1);
            socp_buf_append(out, digits + 1, (size_t) n - 1);
        }
        char exp_text[8];
        int e = decpt - 1;
        int k = snprintf(exp_text, sizeof exp_text, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
        socp_buf_append(out, exp_text, (size_t) k);
    } else if (decpt <= 0) {
        socp_buf_append(out, "0.", 2);
        s_append_zeros(out, (size_t) -decpt);
        socp_buf_append(out, digits, (size_t) n);
    } else if (decpt >= n) {
        socp_buf_append(out, digits, (size_t) n);
        s_append_zeros(out, (size_t) (decpt - n));
        socp_buf_append(out, ".0", 2);
    } else {
        socp_buf_append(out, digits, (size_t) decpt);
        socp_buf_append(out, ".", 1);
        socp_buf_append(out, digits + decpt, (size_t) (n - decpt));
    }
    return 0;
}

// ---------------------------------------------------------------------------
// Values

static int
s_member_cmp(const void *a, const void *b)
{
    const s_member_t *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    if (c != 0) {
        return c;
    }
    return (x->len > y->len) - (x->len < y->len);
}

static void
s_sort_members(s_member_t *m, size_t n)
{
    if (n > 16) {
        qsort(m, n, sizeof *m, s_member_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        s_member_t cur = m[i];
        size_t j = i;
        while (j > 0 && s_member_cmp(&m[j - 1], &cur) > 0) {
            m[j] = m[j - 1];
            j--;
        }
        m[j] = cur;
    }
}

static int s_value(s_canon_t *self, const json_t *value, size_t depth);

static int
s_object(s_canon_t *self, const json_t *object, size_t depth)
{
    size_t n = json_object_size(object);
    s_member_t small[S_SMALL_OBJECT];
    s_member_t *members = n <= S_SMALL_OBJECT ? small : socp_calloc(n, sizeof *members);
    size_t count = 0;
    // json_object_iter takes a non-const object but does not modify it.
    for (void *it = json_object_iter((json_t *) object); it && count < n;
         it = json_object_iter_next((json_t *) object, it)) {
        members[count].key = json_object_iter_key(it);
        members[count].len = json_object_iter_key_len(it);
        members[count].value = json_object_iter_value(it);
        count++;
    }
    s_sort_members(members, count);
    int rc = 0;
    socp_buf_append(self->out, "{", 1);
    for (size_t i = 0; i < count && rc == 0; i++) {
        if (i > 0) {
            socp_buf_append(self->out, self->spaced ? ", " : ",", self->spaced ? 2 : 1);
        }
        rc = s_string(self->out, members[i].key, members[i].len, self->utf8);
        if (rc == 0) {
            socp_buf_append(self->out, self->spaced ? ": " : ":", self->spaced ? 2 : 1);
            rc = s_value(self, members[i].value, depth + 1);
        }
    }
    if (rc == 0) {
        socp_buf_append(self->out, "}", 1);
    }
    if (members != small) {
        free(members);
    }
    return rc;
}

static int
s_array(s_canon_t *self, const json_t *array, size_t depth)
{
    size_t n = json_array_size(array);
    socp_buf_append(self->out, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            socp_buf_append(self->out, self->spaced ? ", " : ",", self->spaced ? 2 : 1);
        }
        int rc = s_value(self, json_array_get(array, i), depth + 1);
        if (rc != 0) {
            return rc;
        }
    }
    socp_buf_append(self->out, "]", 1);
    return 0;
}

static int
s_value(s_canon_t *self, const json_t *value, size_t depth)
{
    if (!value) {
        return SOCP_EINVAL;
    }
    if (depth > SOCP_JSON_MAX_DEPTH) {
        return SOCP_ETOOBIG;
    }
    // A bound on output also stops a (forbidden but constructible) cyclic value.
    if (self->out->len - self->start > SOCP_JSON_CANON_MAX_BYTES) {
        return SOCP_ETOOBIG;
    }
    switch (json_typeof(value)) {
        case JSON_OBJECT:
            return s_object(self, value, depth);
        case JSON_ARRAY:
            return s_array(self, value, depth);
        case JSON_STRING:
            return s_string(self->out, json_string_value(value), json_string_length(value),
                            self->utf8);
        case JSON_INTEGER:
            s_append_int(self->out, json_integer_value(value));
            return 0;
        case JSON_REAL:
            return s_append_real(self->out, json_real_value(value));
        case JSON_TRUE:
            socp_buf_append(self->out, "true", 4);
            return 0;
        case JSON_FALSE:
            socp_buf_append(self->out, "false", 5);
            return 0;
        case JSON_NULL:
            socp_buf_append(self->out, "null", 4);
            return 0;
    }
    return SOCP_EPROTO;
}

int
socp_json_canonical(const json_t *value, unsigned flags, socp_buf_t *out)
{
    if (!value || (flags & ~S_KNOWN_FLAGS) != 0) {
        return SOCP_EINVAL;
    }
    s_canon_t self = {
        .out = out,
        .start = out->len,
        .utf8 = (flags & SOCP_JSON_CANON_UTF8) != 0,
        .spaced = (flags & SOCP_JSON_CANON_SPACED) != 0,
    };
    int rc = s_value(&self, value, 1);
    if (rc == 0 && out->len - self.start > SOCP_JSON_CANON_MAX_BYTES) {
        rc = SOCP_ETOOBIG;
    }
    if (rc != 0) {
        out->len = self.start;
    }
    return rc;
}

// ---------------------------------------------------------------------------
// Parsing

static bool
s_is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Nesting depth of arrays/objects, ignoring brackets inside strings. Returns
// the offset of the first bracket that goes deeper than max_depth, or len.
// Malformed text is left for the real parser to reject.
static size_t
s_depth_scan(const char *text, size_t len, size_t max_depth)
{
    size_t depth = 0;
    for (size_t i = 0; i < len; i++) {
        switch (text[i]) {
            case '"':
                for (i++; i < len && text[i] != '"'; i++) {
                    if (text[i] == '\\') {
                        i++;
                    }
                }
                break;
            case '[':
            case '{':
                if (++depth > max_depth) {
                    return i;
                }
                break;
            case ']':
            case '}':
                if (depth > 0) {
                    depth--;
                }
                break;
            default:
                break;
        }
    }
    return len;
}

// Writes a printable-ASCII detail string.
static void
s_detail(char *detail, size_t size, const char *prefix, const char *text, size_t offset)
{
    if (!detail || size == 0) {
        return;
    }
    char raw[256];
    if (text && text[0]) {
        snprintf(raw, sizeof raw, "%s at byte %zu: %s", prefix, offset, text);
    } else {
        snprintf(raw, sizeof raw, "%s at byte %zu", prefix, offset);
    }
    size_t i = 0;
    for (; raw[i] && i + 1 < size; i++) {
        unsigned char c = (unsigned char) raw[i];
        detail[i] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
    }
    detail[i] = '\0';
}

static int
s_fail(socp_json_error_t error,
       int rc,
       socp_json_error_t *why,
       char *detail,
       size_t detail_size,
       const char *text,
       size_t offset)
{
    if (why) {
        *why = error;
    }
    s_detail(detail, detail_size, socp_json_error_text(error), text, offset);
    return rc;
}

int
socp_json_parse_ex(const char *text,
                   size_t len,
                   size_t max_depth,
                   json_t **out,
                   socp_json_error_t *why,
                   char *detail,
                   size_t detail_size)
{
    *out = NULL;
    if (why) {
        *why = SOCP_JSON_ERROR_NONE;
    }
    if (detail && detail_size) {
        detail[0] = '\0';
    }
    if (!text || max_depth == 0) {
        return s_fail(SOCP_JSON_ERROR_ARGUMENT, SOCP_EINVAL, why, detail, detail_size, NULL, 0);
    }
    if (max_depth > SOCP_JSON_MAX_DEPTH) {
        max_depth = SOCP_JSON_MAX_DEPTH;
    }
    while (len > 0 && s_is_ws(text[len - 1])) {
        len--;
    }
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        return s_fail(SOCP_JSON_ERROR_NUL, SOCP_EPROTO, why, detail, detail_size, NULL,
                      (size_t) (nul - text));
    }
    size_t bad;
    if (socp_text_utf8_check(text, len, &bad) != 0) {
        return s_fail(SOCP_JSON_ERROR_UTF8, SOCP_EPROTO, why, detail, detail_size, NULL, bad);
    }
    size_t deep = s_depth_scan(text, len, max_depth);
    if (deep < len) {
        return s_fail(SOCP_JSON_ERROR_DEPTH, SOCP_ETOOBIG, why, detail, detail_size, NULL, deep);
    }
    json_error_t error;
    json_t *value = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
    if (value) {
        *out = value;
        return 0;
    }
    size_t offset = error.position > 0 ? (size_t) error.position : 0;
    switch (json_error_code(&error)) {
        case json_error_duplicate_key:
            return s_fail(SOCP_JSON_ERROR_DUPLICATE, SOCP_EPROTO, why, detail, detail_size, NULL,
                          offset);
        case json_error_end_of_input_expected:
            return s_fail(SOCP_JSON_ERROR_TRAILING, SOCP_EPROTO, why, detail, detail_size, NULL,
                          offset);
        case json_error_null_character:
        case json_error_null_byte_in_key:
            return s_fail(SOCP_JSON_ERROR_NUL, SOCP_EPROTO, why, detail, detail_size, NULL, offset);
        case json_error_numeric_overflow:
            return s_fail(SOCP_JSON_ERROR_NUMBER, SOCP_EPROTO, why, detail, detail_size, error.text,
                          offset);
        case json_error_invalid_utf8:
            return s_fail(SOCP_JSON_ERROR_UTF8, SOCP_EPROTO, why, detail, detail_size, NULL,
                          offset);
        case json_error_stack_overflow:
            return s_fail(SOCP_JSON_ERROR_DEPTH, SOCP_ETOOBIG, why, detail, detail_size, NULL,
                          offset);
        case json_error_out_of_memory:
        case json_error_unknown:
            // jansson reports allocation failure this way.
            return s_fail(SOCP_JSON_ERROR_SYNTAX, SOCP_ENOMEM, why, detail, detail_size,
                          "out of memory", offset);
        default:
            return s_fail(SOCP_JSON_ERROR_SYNTAX, SOCP_EPROTO, why, detail, detail_size, error.text,
                          offset);
    }
}

int
socp_json_parse(const char *text, size_t len, size_t max_depth, json_t **out)
{
    return socp_json_parse_ex(text, len, max_depth, out, NULL, NULL, 0);
}

const char *
socp_json_error_text(socp_json_error_t error)
{
    switch (error) {
        case SOCP_JSON_ERROR_NONE:
            return "no error";
        case SOCP_JSON_ERROR_SYNTAX:
            return "invalid JSON";
        case SOCP_JSON_ERROR_UTF8:
            return "invalid UTF-8";
        case SOCP_JSON_ERROR_NUL:
            return "NUL character";
        case SOCP_JSON_ERROR_DEPTH:
            return "nested too deep";
        case SOCP_JSON_ERROR_DUPLICATE:
            return "duplicate object key";
        case SOCP_JSON_ERROR_TRAILING:
            return "data after the JSON value";
        case SOCP_JSON_ERROR_NUMBER:
            return "number out of range";
        case SOCP_JSON_ERROR_ARGUMENT:
            return "invalid argument";
    }
    return "unknown JSON error";
}
