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

// Eight bytes at a time (SWAR): SOCP payloads are mostly long base64url
// strings, so both the parser and the canonicaliser skip plain runs by word.
#define S_ONES  UINT64_C(0x0101010101010101)
#define S_HIGHS UINT64_C(0x8080808080808080)

// Non-zero when some byte of w is '"', '\\' or below 0x20. Exact as a
// yes/no answer: (x - 0x01..) & ~x & 0x80.. has a bit set iff a byte of x is
// zero, and (w - 0x20..) & ~w & 0x80.. iff a byte of w is below 0x20.
static uint64_t
s_word_special(uint64_t w)
{
    uint64_t quote = w ^ (S_ONES * '"');
    uint64_t backslash = w ^ (S_ONES * '\\');
    return (((quote - S_ONES) & ~quote) | ((backslash - S_ONES) & ~backslash) |
            ((w - S_ONES * 0x20) & ~w)) &
           S_HIGHS;
}

// Non-zero when some byte of w is 0x7f or above (DEL or non-ASCII). A carry
// out of one byte can only add a false "yes", never hide a real one.
static uint64_t
s_word_high(uint64_t w)
{
    return (w | (w + S_ONES)) & S_HIGHS;
}

static uint64_t
s_load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

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
    static const char raw[] = "\"\\\n\r\t\b\f", escaped[] = "\"\\nrtbf";
    const char *hit = b ? memchr(raw, b, sizeof raw - 1) : NULL;
    if (hit) {
        char two[2] = {'\\', escaped[hit - raw]};
        socp_buf_append(out, two, 2);
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
        for (;;) {
            if (len - run >= 8) {
                uint64_t w = s_load64(s + run);
                if (!s_word_special(w) && (utf8 || !s_word_high(w))) {
                    run += 8;
                    continue;
                }
            }
            if (run < len && s[run] >= 0x20 && s[run] <= plain_top && s[run] != '"' &&
                s[run] != '\\') {
                run++;
                continue;
            }
            break;
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
    int n = snprintf(digits, sizeof digits, "%lld", (long long) value);
    socp_buf_append(out, digits, (size_t) n);
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
//
// A strict RFC 8259 recursive-descent parser that builds jansson values.
// jansson's own parser reads one byte at a time through a callback and costs
// ~12 ns per byte; this one scans string runs in tight loops and is several
// times faster on SOCP frames, which are mostly long base64url strings
// (bench/bench_wire.c). Semantics match json_loadb(JSON_REJECT_DUPLICATES |
// JSON_DECODE_ANY), which the tests and the fuzz target use as an oracle;
// reals are even converted by jansson itself (locale-independent, same
// overflow rule). The whole input is checked for NUL and UTF-8 first, so
// string bytes can be copied without decoding.

// State of one parse.
typedef struct {
    const char *start;     // first byte of the text
    const char *p;         // cursor
    const char *end;       // one past the last byte
    size_t depth;          // arrays/objects open
    size_t max_depth;      // limit on depth
    socp_json_error_t why; // first error, SOCP_JSON_ERROR_NONE while fine
    int rc;                // its return code
    size_t at;             // its byte offset
    const char *what;      // its description, for the detail
    socp_buf_t scratch;    // unescaped string bytes
} s_parser_t;

static bool
s_is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void
s_skip_ws(s_parser_t *self)
{
    while (self->p < self->end && s_is_ws(*self->p)) {
        self->p++;
    }
}

// Records the first error; returns NULL for convenience.
static json_t *
s_error(s_parser_t *self, socp_json_error_t why, int rc, const char *what)
{
    if (self->why == SOCP_JSON_ERROR_NONE) {
        self->why = why;
        self->rc = rc;
        self->at = (size_t) (self->p - self->start);
        self->what = what;
    }
    return NULL;
}

static json_t *
s_syntax(s_parser_t *self, const char *what)
{
    return s_error(self, SOCP_JSON_ERROR_SYNTAX, SOCP_EPROTO, what);
}

static int
s_hex4(const char *p, uint32_t *out)
{
    static const char digits[] = "0123456789abcdef0123456789ABCDEF";
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        const char *hit = p[i] ? memchr(digits, p[i], sizeof digits - 1) : NULL;
        if (!hit) {
            return -1;
        }
        v = (v << 4) | (uint32_t) ((hit - digits) & 15);
    }
    *out = v;
    return 0;
}

static void
s_append_utf8(socp_buf_t *out, uint32_t cp)
{
    uint8_t b[4];
    size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    static const uint8_t lead[5] = {0, 0x00, 0xC0, 0xE0, 0xF0};
    for (size_t i = n - 1; i > 0; i--) {
        b[i] = (uint8_t) (0x80 | (cp & 0x3F));
        cp >>= 6;
    }
    b[0] = (uint8_t) (lead[n] | cp);
    socp_buf_append(out, b, n);
}

// One escape after the backslash (self->p is on the character after it).
static bool
s_unescape(s_parser_t *self)
{
    char c = *self->p;
    const char *simple = "\"\\/bfnrt";
    const char *decoded = "\"\\/\b\f\n\r\t";
    const char *hit = strchr(simple, c);
    if (c != '\0' && hit) {
        socp_buf_append(&self->scratch, decoded + (hit - simple), 1);
        self->p++;
        return true;
    }
    uint32_t cp, low;
    if (c != 'u' || self->end - self->p < 5 || s_hex4(self->p + 1, &cp) != 0) {
        s_syntax(self, "invalid escape");
        return false;
    }
    self->p += 5;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        s_syntax(self, "lone low surrogate escape");
        return false;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (self->end - self->p < 6 || self->p[0] != '\\' || self->p[1] != 'u' ||
            s_hex4(self->p + 2, &low) != 0 || low < 0xDC00 || low > 0xDFFF) {
            s_syntax(self, "lone high surrogate escape");
            return false;
        }
        self->p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    if (cp == 0) {
        s_error(self, SOCP_JSON_ERROR_NUL, SOCP_EPROTO, "\\u0000 in a string");
        return false;
    }
    s_append_utf8(&self->scratch, cp);
    return true;
}

// Parses the string literal at self->p (on the opening quote). Its bytes are
// either a slice of the input (no escapes) or self->scratch, valid until the
// next string is parsed.
static bool
s_parse_string(s_parser_t *self, const char **out, size_t *len)
{
    self->p++;
    const char *run = self->p;
    while (self->end - self->p >= 8 && !s_word_special(s_load64((const uint8_t *) self->p))) {
        self->p += 8;
    }
    while (self->p < self->end) {
        unsigned char c = (unsigned char) *self->p;
        if (c == '"') {
            *out = run;
            *len = (size_t) (self->p - run);
            self->p++;
            return true;
        }
        if (c == '\\' || c < 0x20) {
            break;
        }
        self->p++;
    }
    socp_buf_reset(&self->scratch);
    socp_buf_append(&self->scratch, run, (size_t) (self->p - run));
    while (self->p < self->end) {
        unsigned char c = (unsigned char) *self->p;
        if (c == '"') {
            self->p++;
            *out = (const char *) self->scratch.data;
            *len = self->scratch.len;
            return true;
        }
        if (c < 0x20) {
            s_syntax(self, "control character in a string");
            return false;
        }
        if (c == '\\') {
            self->p++;
            if (self->p == self->end || !s_unescape(self)) {
                s_syntax(self, "invalid escape");
                return false;
            }
            continue;
        }
        run = self->p;
        while (self->p < self->end && *self->p != '"' && *self->p != '\\' &&
               (unsigned char) *self->p >= 0x20) {
            self->p++;
        }
        socp_buf_append(&self->scratch, run, (size_t) (self->p - run));
    }
    s_syntax(self, "unterminated string");
    return false;
}

static bool
s_is_digit(const s_parser_t *self)
{
    return self->p < self->end && *self->p >= '0' && *self->p <= '9';
}

static json_t *
s_parse_number(s_parser_t *self)
{
    const char *token = self->p;
    bool negative = *self->p == '-';
    bool integer = true;
    if (negative) {
        self->p++;
    }
    if (!s_is_digit(self)) {
        return s_syntax(self, "invalid number");
    }
    if (*self->p == '0') {
        self->p++;
        if (s_is_digit(self)) {
            return s_syntax(self, "leading zero in a number");
        }
    }
    while (s_is_digit(self)) {
        self->p++;
    }
    if (self->p < self->end && *self->p == '.') {
        integer = false;
        self->p++;
        if (!s_is_digit(self)) {
            return s_syntax(self, "invalid number");
        }
        while (s_is_digit(self)) {
            self->p++;
        }
    }
    if (self->p < self->end && (*self->p == 'e' || *self->p == 'E')) {
        integer = false;
        self->p++;
        if (self->p < self->end && (*self->p == '+' || *self->p == '-')) {
            self->p++;
        }
        if (!s_is_digit(self)) {
            return s_syntax(self, "invalid number");
        }
        while (s_is_digit(self)) {
            self->p++;
        }
    }
    if (!integer) {
        // jansson converts reals independently of the C locale.
        json_error_t error;
        json_t *real = json_loadb(token, (size_t) (self->p - token), JSON_DECODE_ANY, &error);
        if (!real) {
            self->p = token;
            return s_error(self, SOCP_JSON_ERROR_NUMBER, SOCP_EPROTO, "real out of range");
        }
        return real;
    }
    uint64_t mag = 0;
    uint64_t limit = negative ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
    for (const char *d = token + negative; d < self->p; d++) {
        uint64_t digit = (uint64_t) (*d - '0');
        if (mag > (limit - digit) / 10) {
            self->p = token;
            return s_error(self, SOCP_JSON_ERROR_NUMBER, SOCP_EPROTO, "integer outside int64");
        }
        mag = mag * 10 + digit;
    }
    json_int_t value = negative ? (json_int_t) (0 - mag) : (json_int_t) mag;
    json_t *v = json_integer(value);
    return v ? v : s_error(self, SOCP_JSON_ERROR_SYNTAX, SOCP_ENOMEM, "out of memory");
}

static json_t *s_parse_value(s_parser_t *self);

static json_t *
s_parse_array(s_parser_t *self)
{
    self->p++;
    json_t *array = json_array();
    if (!array) {
        return s_error(self, SOCP_JSON_ERROR_SYNTAX, SOCP_ENOMEM, "out of memory");
    }
    s_skip_ws(self);
    if (self->p < self->end && *self->p == ']') {
        self->p++;
        return array;
    }
    for (;;) {
        json_t *item = s_parse_value(self);
        if (!item || json_array_append_new(array, item) != 0) {
            json_decref(array);
            return item ? s_error(self, SOCP_JSON_ERROR_SYNTAX, SOCP_ENOMEM, "out of memory")
                        : NULL;
        }
        s_skip_ws(self);
        if (self->p < self->end && *self->p == ',') {
            self->p++;
            continue;
        }
        if (self->p < self->end && *self->p == ']') {
            self->p++;
            return array;
        }
        json_decref(array);
        return s_syntax(self, "',' or ']' expected");
    }
}

static json_t *
s_parse_object(s_parser_t *self)
{
    self->p++;
    json_t *object = json_object();
    if (!object) {
        return s_error(self, SOCP_JSON_ERROR_SYNTAX, SOCP_ENOMEM, "out of memory");
    }
    s_skip_ws(self);
    if (self->p < self->end && *self->p == '}') {
        self->p++;
        return object;
    }
    char small[128];
    for (;;) {
        s_skip_ws(self);
        if (self->p == self->end || *self->p != '"') {
            json_decref(object);
            return s_syntax(self, "object key expected");
        }
        const char *key_at = self->p, *key;
        size_t key_len;
        if (!s_parse_string(self, &key, &key_len)) {
            json_decref(object);
            return NULL;
        }
        if (json_object_getn(object, key, key_len)) {
            self->p = key_at;
            json_decref(object);
            return s_error(self, SOCP_JSON_ERROR_DUPLICATE, SOCP_EPROTO, "duplicate key");
        }
        // The key may live in scratch, which the value reuses: keep a copy.
        char *copy = key_len < sizeof small ? small : socp_malloc(key_len);
        memcpy(copy, key, key_len);
        s_skip_ws(self);
        json_t *value = NULL;
        if (self->p < self->end && *self->p == ':') {
            self->p++;
            value = s_parse_value(self);
        } else {
            s_syntax(self, "':' expected");
        }
        int set = value ? json_object_setn_new_nocheck(object, copy, key_len, value) : -1;
        if (copy != small) {
            free(copy);
        }
        if (set != 0) {
            json_decref(object);
            return value ? s_error(self, SOCP_JSON_ERROR_SYNTAX, SOCP_ENOMEM, "out of memory")
                         : NULL;
        }
        s_skip_ws(self);
        if (self->p < self->end && *self->p == ',') {
            self->p++;
            continue;
        }
        if (self->p < self->end && *self->p == '}') {
            self->p++;
            return object;
        }
        json_decref(object);
        return s_syntax(self, "',' or '}' expected");
    }
}

static json_t *
s_literal(s_parser_t *self, const char *word, json_t *value)
{
    size_t n = strlen(word);
    if ((size_t) (self->end - self->p) < n || memcmp(self->p, word, n) != 0) {
        return s_syntax(self, "invalid literal");
    }
    self->p += n;
    return value;
}

static json_t *
s_parse_value(s_parser_t *self)
{
    s_skip_ws(self);
    if (self->p == self->end) {
        return s_syntax(self, "value expected");
    }
    switch (*self->p) {
        case '{':
        case '[': {
            if (++self->depth > self->max_depth) {
                return s_error(self, SOCP_JSON_ERROR_DEPTH, SOCP_ETOOBIG, NULL);
            }
            json_t *v = *self->p == '{' ? s_parse_object(self) : s_parse_array(self);
            self->depth--;
            return v;
        }
        case '"': {
            const char *s;
            size_t len;
            if (!s_parse_string(self, &s, &len)) {
                return NULL;
            }
            // The whole input is valid UTF-8 and escapes decode to whole
            // characters, so the bytes need no second check.
            json_t *v = json_stringn_nocheck(len ? s : "", len);
            return v ? v : s_error(self, SOCP_JSON_ERROR_SYNTAX, SOCP_ENOMEM, "out of memory");
        }
        case 't':
            return s_literal(self, "true", json_true());
        case 'f':
            return s_literal(self, "false", json_false());
        case 'n':
            return s_literal(self, "null", json_null());
        default:
            if (*self->p == '-' || (*self->p >= '0' && *self->p <= '9')) {
                return s_parse_number(self);
            }
            return s_syntax(self, "invalid token");
    }
}

// Sets the reason and a detail (all our own ASCII text, never input bytes).
static int
s_fail(socp_json_error_t error,
       int rc,
       socp_json_error_t *why,
       char *detail,
       size_t detail_size,
       const char *what,
       size_t offset)
{
    if (why) {
        *why = error;
    }
    if (detail && detail_size) {
        snprintf(detail, detail_size, "%s at byte %zu%s%s", socp_json_error_text(error), offset,
                 what ? ": " : "", what ? what : "");
    }
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
    s_parser_t self = {
        .start = text,
        .p = text,
        .end = text + len,
        .max_depth = max_depth,
    };
    socp_buf_init(&self.scratch);
    json_t *value = s_parse_value(&self);
    if (value) {
        s_skip_ws(&self);
        if (self.p != self.end) {
            json_decref(value);
            value = s_error(&self, SOCP_JSON_ERROR_TRAILING, SOCP_EPROTO, NULL);
        }
    }
    socp_buf_fini(&self.scratch);
    if (!value) {
        return s_fail(self.why, self.rc, why, detail, detail_size, self.what, self.at);
    }
    *out = value;
    return 0;
}

int
socp_json_parse(const char *text, size_t len, size_t max_depth, json_t **out)
{
    return socp_json_parse_ex(text, len, max_depth, out, NULL, NULL, 0);
}

const char *
socp_json_error_text(socp_json_error_t error)
{
    static const char *const texts[] = {
        [SOCP_JSON_ERROR_NONE] = "no error",
        [SOCP_JSON_ERROR_SYNTAX] = "invalid JSON",
        [SOCP_JSON_ERROR_UTF8] = "invalid UTF-8",
        [SOCP_JSON_ERROR_NUL] = "NUL character",
        [SOCP_JSON_ERROR_DEPTH] = "nested too deep",
        [SOCP_JSON_ERROR_DUPLICATE] = "duplicate object key",
        [SOCP_JSON_ERROR_TRAILING] = "data after the JSON value",
        [SOCP_JSON_ERROR_NUMBER] = "number out of range",
        [SOCP_JSON_ERROR_ARGUMENT] = "invalid argument",
    };
    if ((unsigned) error >= SOCP_ARRAY_LEN(texts)) {
        return "unknown JSON error";
    }
    return texts[error];
}
