// json_test.c: canonical JSON against Python's json.dumps, and the strict parser.
// Part of socp, a SOCP v1.3 client and server.
#include "socp_test.h"

#include "socp/socp_json.h"

#include <jansson.h>

static const struct {
    const char *key; // field in the vector file
    unsigned flags;  // socp_json_canonical flags
} s_variants[] = {
    {"ascii", SOCP_JSON_CANON_ASCII},
    {"utf8", SOCP_JSON_CANON_UTF8},
    {"spaced", SOCP_JSON_CANON_SPACED},
    {"utf8_spaced", SOCP_JSON_CANON_UTF8 | SOCP_JSON_CANON_SPACED},
};

// Checks every case of a vector file written by tests/py/json_canon.py:
// parse "input", canonicalise in the four forms, compare byte for byte, and
// check that the canonical form is a fixed point. Returns the case count.
static size_t
s_check_vector_file(const char *path, const char *context)
{
    json_error_t error;
    json_t *cases = json_load_file(path, 0, &error);
    CHECK_MSG(cases != NULL, "cannot load %s: %s (line %d)", path, error.text, error.line);
    CHECK(json_is_array(cases));
    socp_buf_t got;
    socp_buf_init(&got);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const json_t *input = json_object_get(c, "input");
        CHECK(name && json_is_string(input));
        json_t *value = NULL;
        int rc = socp_json_parse(json_string_value(input), json_string_length(input),
                                 SOCP_JSON_MAX_DEPTH, &value);
        CHECK_MSG(rc == 0, "%s %s: parse failed: %s", context, name, socp_strerror(rc));
        for (size_t v = 0; v < SOCP_ARRAY_LEN(s_variants); v++) {
            const json_t *want = json_object_get(c, s_variants[v].key);
            CHECK(json_is_string(want));
            socp_buf_reset(&got);
            rc = socp_json_canonical(value, s_variants[v].flags, &got);
            CHECK_MSG(rc == 0, "%s %s/%s: %s", context, name, s_variants[v].key, socp_strerror(rc));
            CHECK_MSG(got.len == json_string_length(want) &&
                          memcmp(got.data, json_string_value(want), got.len) == 0,
                      "%s %s/%s:\n  python: %.300s\n  socp:   %.*s", context, name,
                      s_variants[v].key, json_string_value(want),
                      (int) (got.len > 300 ? 300 : got.len), (const char *) got.data);
        }
        // The canonical text parses back to a value with the same canonical text.
        socp_buf_reset(&got);
        CHECK_OK(socp_json_canonical(value, SOCP_JSON_CANON_ASCII, &got));
        json_t *again = NULL;
        CHECK_OK(socp_json_parse((const char *) got.data, got.len, SOCP_JSON_MAX_DEPTH, &again));
        socp_buf_t twice;
        socp_buf_init(&twice);
        CHECK_OK(socp_json_canonical(again, SOCP_JSON_CANON_ASCII, &twice));
        CHECK_MSG(twice.len == got.len && memcmp(twice.data, got.data, got.len) == 0,
                  "%s %s: canonical form is not a fixed point", context, name);
        socp_buf_fini(&twice);
        json_decref(again);
        json_decref(value);
    }
    size_t n = json_array_size(cases);
    socp_buf_fini(&got);
    json_decref(cases);
    return n;
}

static void
s_expect_canon(const json_t *value, unsigned flags, const char *want)
{
    socp_buf_t b;
    socp_buf_init(&b);
    CHECK_OK(socp_json_canonical(value, flags, &b));
    CHECK_MSG(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0, "want %s\n  got %.*s",
              want, (int) b.len, (const char *) b.data);
    socp_buf_fini(&b);
}

SOCP_TEST(json_canonical_golden_vectors)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/vectors/json_canonical.json", socp_test_srcdir());
    size_t n = s_check_vector_file(path, "golden");
    CHECK(n >= 80);
    if (socp_test_verbose()) {
        printf("    %zu golden cases, 4 forms each\n", n);
    }
}

SOCP_TEST(json_canonical_matches_python_live)
{
    // Python generates random values (every kind of character, int64 edges,
    // random-bit doubles, every power of two) and its own json.dumps outputs
    // right now; we must agree byte for byte.
    char path[4096];
    snprintf(path, sizeof path, "%s/live.json", socp_test_tmpdir());
    char seed[32];
    snprintf(seed, sizeof seed, "%lld", (long long) (socp_wall_ms() % 1000000007));
    const char *args[] = {"live", seed, "600", path, NULL};
    char out[64];
    int rc = socp_test_python("json_canon.py", args, out, sizeof out);
    CHECK_MSG(rc == 0, "json_canon.py live failed (%d)", rc);
    char context[64];
    snprintf(context, sizeof context, "live seed %s:", seed);
    size_t n = s_check_vector_file(path, context);
    CHECK(n >= 600);
    if (socp_test_verbose()) {
        printf("    seed %s: %zu live cases agree with Python\n", seed, n);
    }
    remove(path);
}

SOCP_TEST(json_canonical_known_answers)
{
    // Code point order, not UTF-16 order: U+FF61 sorts before U+1F600.
    json_t *v = json_pack("{s:i,s:i}", "\xf0\x9f\x98\x80", 1, "\xef\xbd\xa1", 2);
    s_expect_canon(v, SOCP_JSON_CANON_ASCII, "{\"\\uff61\":2,\"\\ud83d\\ude00\":1}");
    s_expect_canon(v, SOCP_JSON_CANON_UTF8, "{\"\xef\xbd\xa1\":2,\"\xf0\x9f\x98\x80\":1}");
    json_decref(v);
    // Sorting is on the raw key, not its escaped text: "\u00e9" > "z".
    v = json_pack("{s:i,s:i,s:i}", "\xc3\xa9", 1, "z", 2, "\\", 3);
    s_expect_canon(v, SOCP_JSON_CANON_ASCII, "{\"\\\\\":3,\"z\":2,\"\\u00e9\":1}");
    json_decref(v);
    // DEL: escaped in the ASCII form (Python's ensure_ascii), raw in UTF-8.
    v = json_string("a\x7f/");
    s_expect_canon(v, SOCP_JSON_CANON_ASCII, "\"a\\u007f/\"");
    s_expect_canon(v, SOCP_JSON_CANON_UTF8, "\"a\x7f/\"");
    json_decref(v);
    // A NUL inside a string built in memory is escaped, never written raw.
    v = json_stringn("a\0b", 3);
    s_expect_canon(v, SOCP_JSON_CANON_ASCII, "\"a\\u0000b\"");
    json_decref(v);
    v = json_pack("{s:[I,f,b,n],s:{}}", "b", (json_int_t) (-9223372036854775807LL - 1), 0.1, 1,
                  "a");
    s_expect_canon(v, SOCP_JSON_CANON_ASCII,
                   "{\"a\":{},\"b\":[-9223372036854775808,0.1,true,null]}");
    s_expect_canon(v, SOCP_JSON_CANON_SPACED,
                   "{\"a\": {}, \"b\": [-9223372036854775808, 0.1, true, null]}");
    json_decref(v);
}

SOCP_TEST(json_canonical_appends_and_rolls_back_on_error)
{
    socp_buf_t b;
    socp_buf_init(&b);
    socp_buf_append(&b, "prefix:", 7);
    json_t *ok = json_pack("{s:s}", "k", "v");
    CHECK_OK(socp_json_canonical(ok, SOCP_JSON_CANON_ASCII, &b));
    CHECK_EQ(b.len, 7 + 9);
    CHECK_MEMEQ(b.data, "prefix:{\"k\":\"v\"}", b.len);
    // Invalid UTF-8 smuggled in without jansson's check: no canonical form,
    // and the buffer is left exactly as it was.
    json_t *bad = json_pack("{s:[s,o]}", "a", "fine", json_stringn_nocheck("\xff\xfe", 2));
    CHECK_RC(socp_json_canonical(bad, SOCP_JSON_CANON_ASCII, &b), SOCP_EPROTO);
    CHECK_RC(socp_json_canonical(bad, SOCP_JSON_CANON_UTF8, &b), SOCP_EPROTO);
    CHECK_EQ(b.len, 16);
    json_t *overlong = json_stringn_nocheck("\xc0\xaf", 2);
    CHECK_RC(socp_json_canonical(overlong, SOCP_JSON_CANON_ASCII, &b), SOCP_EPROTO);
    CHECK_EQ(b.len, 16);
    CHECK_RC(socp_json_canonical(ok, 4u, &b), SOCP_EINVAL);
    CHECK_RC(socp_json_canonical(NULL, SOCP_JSON_CANON_ASCII, &b), SOCP_EINVAL);
    CHECK_EQ(b.len, 16);
    json_decref(overlong);
    json_decref(bad);
    json_decref(ok);
    socp_buf_fini(&b);
}

SOCP_TEST(json_canonical_depth_limit)
{
    // A value built in memory SOCP_JSON_MAX_DEPTH deep is fine; one more is ETOOBIG.
    json_t *inner = json_array();
    json_t *root = inner;
    for (size_t d = 1; d < SOCP_JSON_MAX_DEPTH; d++) {
        json_t *next = json_array();
        json_array_append_new(inner, next);
        inner = next;
    }
    socp_buf_t b;
    socp_buf_init(&b);
    CHECK_OK(socp_json_canonical(root, SOCP_JSON_CANON_ASCII, &b));
    CHECK_EQ(b.len, 2 * SOCP_JSON_MAX_DEPTH);
    json_array_append_new(inner, json_array());
    socp_buf_reset(&b);
    CHECK_RC(socp_json_canonical(root, SOCP_JSON_CANON_ASCII, &b), SOCP_ETOOBIG);
    CHECK_EQ(b.len, 0);
    socp_buf_fini(&b);
    json_decref(root);
}

SOCP_TEST(json_append_string_escapes_like_python)
{
    socp_buf_t b;
    socp_buf_init(&b);
    CHECK_OK(socp_json_append_string("\"\\\n\r\t\b\f\x01\x1f/", 10, SOCP_JSON_CANON_ASCII, &b));
    const char *want = "\"\\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u001f/\"";
    CHECK_EQ(b.len, strlen(want));
    CHECK_MEMEQ(b.data, want, b.len);
    socp_buf_reset(&b);
    CHECK_OK(socp_json_append_string("\xf4\x8f\xbf\xbf", 4, SOCP_JSON_CANON_ASCII, &b));
    CHECK_EQ(b.len, 14);
    CHECK_MEMEQ(b.data, "\"\\udbff\\udfff\"", 14);
    socp_buf_reset(&b);
    CHECK_RC(socp_json_append_string("\xed\xa0\x80", 3, SOCP_JSON_CANON_UTF8, &b), SOCP_EPROTO);
    CHECK_EQ(b.len, 0);
    socp_buf_fini(&b);
}

// Parses text and checks the return code and reason.
static void
s_expect_parse(const char *text, size_t len, size_t depth, int rc, socp_json_error_t why)
{
    json_t *v = (json_t *) 1;
    socp_json_error_t got_why;
    char detail[128];
    int got = socp_json_parse_ex(text, len, depth, &v, &got_why, detail, sizeof detail);
    CHECK_MSG(got == rc && got_why == why, "\"%.40s\": rc %s why %s (%s), expected %s / %s", text,
              socp_errname(got), socp_json_error_text(got_why), detail, socp_errname(rc),
              socp_json_error_text(why));
    for (const char *p = detail; *p; p++) {
        CHECK_MSG(*p >= 0x20 && *p < 0x7f, "detail is not printable ASCII: %s", detail);
    }
    if (rc == 0) {
        CHECK(v != NULL);
        CHECK_EQ(detail[0], '\0');
        json_decref(v);
    } else {
        CHECK(v == NULL);
        CHECK(detail[0] != '\0');
    }
}

#define S_PARSE(lit, depth, rc, why) s_expect_parse((lit), sizeof(lit) - 1, (depth), (rc), (why))

SOCP_TEST(json_parse_rejections)
{
    S_PARSE("{\"a\":1}", 8, 0, SOCP_JSON_ERROR_NONE);
    S_PARSE("  {\"a\":1} \r\n\t\n", 8, 0, SOCP_JSON_ERROR_NONE);
    S_PARSE("5", 8, 0, SOCP_JSON_ERROR_NONE);
    S_PARSE("", 8, SOCP_EPROTO, SOCP_JSON_ERROR_SYNTAX);
    S_PARSE("   ", 8, SOCP_EPROTO, SOCP_JSON_ERROR_SYNTAX);
    S_PARSE("{\"a\":}", 8, SOCP_EPROTO, SOCP_JSON_ERROR_SYNTAX);
    S_PARSE("{\"a\":1,}", 8, SOCP_EPROTO, SOCP_JSON_ERROR_SYNTAX);
    S_PARSE("[NaN]", 8, SOCP_EPROTO, SOCP_JSON_ERROR_SYNTAX);
    S_PARSE("[\"\\ud800\"]", 8, SOCP_EPROTO, SOCP_JSON_ERROR_SYNTAX);
    S_PARSE("{\"a\":1}x", 8, SOCP_EPROTO, SOCP_JSON_ERROR_TRAILING);
    S_PARSE("{\"a\":1} {}", 8, SOCP_EPROTO, SOCP_JSON_ERROR_TRAILING);
    S_PARSE("{\"a\":1,\"a\":1}", 8, SOCP_EPROTO, SOCP_JSON_ERROR_DUPLICATE);
    S_PARSE("[{\"b\":{\"x\":1,\"x\":2}}]", 8, SOCP_EPROTO, SOCP_JSON_ERROR_DUPLICATE);
    S_PARSE("{\"a\":\"x\0y\"}", 8, SOCP_EPROTO, SOCP_JSON_ERROR_NUL);
    S_PARSE("{\"a\":1}\0", 8, SOCP_EPROTO, SOCP_JSON_ERROR_NUL);
    S_PARSE("2\0", 8, SOCP_EPROTO, SOCP_JSON_ERROR_NUL); // jansson itself accepts this one
    S_PARSE("[\"\\u0000\"]", 8, SOCP_EPROTO, SOCP_JSON_ERROR_NUL);
    S_PARSE("{\"\\u0000\":1}", 8, SOCP_EPROTO, SOCP_JSON_ERROR_NUL);
    S_PARSE("[\"\xff\"]", 8, SOCP_EPROTO, SOCP_JSON_ERROR_UTF8);
    S_PARSE("[\"\xc0\x80\"]", 8, SOCP_EPROTO, SOCP_JSON_ERROR_UTF8);
    S_PARSE("[\"\xed\xbf\xbf\"]", 8, SOCP_EPROTO, SOCP_JSON_ERROR_UTF8);
    S_PARSE("[9223372036854775807,-9223372036854775808]", 8, 0, SOCP_JSON_ERROR_NONE);
    S_PARSE("[9223372036854775808]", 8, SOCP_EPROTO, SOCP_JSON_ERROR_NUMBER);
    S_PARSE("[-9223372036854775809]", 8, SOCP_EPROTO, SOCP_JSON_ERROR_NUMBER);
    S_PARSE("[1e999]", 8, SOCP_EPROTO, SOCP_JSON_ERROR_NUMBER);
    S_PARSE("[1]", 0, SOCP_EINVAL, SOCP_JSON_ERROR_ARGUMENT);
}

SOCP_TEST(json_parse_depth_counts_containers_only)
{
    S_PARSE("[[1]]", 2, 0, SOCP_JSON_ERROR_NONE);
    S_PARSE("[[1]]", 1, SOCP_ETOOBIG, SOCP_JSON_ERROR_DEPTH);
    S_PARSE("{\"a\":{\"b\":[]}}", 3, 0, SOCP_JSON_ERROR_NONE);
    S_PARSE("{\"a\":{\"b\":[]}}", 2, SOCP_ETOOBIG, SOCP_JSON_ERROR_DEPTH);
    // Brackets inside strings (escaped quotes included) do not count.
    S_PARSE("[\"[[[[{{{{\\\"[[[[\"]", 1, 0, SOCP_JSON_ERROR_NONE);
    S_PARSE("1", 1, 0, SOCP_JSON_ERROR_NONE);
    // Far beyond jansson's own 2048 limit: stopped by our pre-scan, no recursion.
    size_t n = 100000;
    char *deep = socp_malloc(n);
    memset(deep, '[', n);
    json_t *v = NULL;
    CHECK_RC(socp_json_parse(deep, n, 32, &v), SOCP_ETOOBIG);
    CHECK_RC(socp_json_parse(deep, n, 100000, &v), SOCP_ETOOBIG); // clamped to the ceiling
    CHECK(v == NULL);
    free(deep);
}

SOCP_TEST(json_parse_does_not_read_past_len)
{
    // The buffer is not NUL-terminated and has garbage after len.
    char buf[16];
    memcpy(buf, "{\"a\":[1,2]}GARBAGE", 16);
    json_t *v = NULL;
    CHECK_OK(socp_json_parse(buf, 11, 8, &v));
    CHECK_EQ(json_array_size(json_object_get(v, "a")), 2);
    json_decref(v);
}

// jansson's parser, with the flags whose semantics socp_json_parse promises.
static json_t *
s_oracle(const char *text, size_t len)
{
    return json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
}

// Our parser and jansson accept exactly the same texts and build equal values.
static void
s_differential(const char *text, size_t len, const char *what)
{
    json_t *ours = NULL;
    int rc = socp_json_parse(text, len, SOCP_JSON_MAX_DEPTH, &ours);
    json_t *theirs = s_oracle(text, len);
    CHECK_MSG((rc == 0) == (theirs != NULL), "%s: socp %s, jansson %s on \"%.*s\"", what,
              socp_errname(rc), theirs ? "accepts" : "rejects", (int) (len > 200 ? 200 : len),
              text);
    if (theirs) {
        CHECK_MSG(json_equal(ours, theirs), "%s: different values for \"%.*s\"", what,
                  (int) (len > 200 ? 200 : len), text);
    }
    json_decref(ours);
    json_decref(theirs);
}

SOCP_TEST(json_parse_agrees_with_jansson_on_mutated_inputs)
{
    // Seeds: every golden input (canonical vectors and envelope cases).
    const char *files[] = {"json_canonical.json", "envelope_cases.json"};
    json_t *seeds = json_array();
    for (size_t f = 0; f < SOCP_ARRAY_LEN(files); f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/tests/vectors/%s", socp_test_srcdir(), files[f]);
        json_t *cases = json_load_file(path, 0, NULL);
        CHECK(cases);
        size_t i;
        json_t *c;
        json_array_foreach(cases, i, c)
        {
            json_t *in = json_object_get(c, "input");
            if (in && json_string_length(in) < 4096) {
                json_array_append(seeds, in);
            }
        }
        json_decref(cases);
    }
    static const char extra[][24] = {
        "[1,]",
        "{\"a\":1,}",
        "[01]",
        "-0",
        "-",
        "1.",
        ".5",
        "1e",
        "1e+",
        "1E-2",
        "[1.5e3]",
        "\"\\u00e9\\ud83d\\ude00\"",
        "\"\\ud83d\"",
        "\"\\ude00\"",
        "\"\\uD83D\\uDE00\"",
        "\"\\x\"",
        "\"\\u12g4\"",
        "tru",
        "nul",
        "[true false]",
        "{\"a\" 1}",
        "{1:2}",
        "[\"a\"\"b\"]",
        "\t[ ]\r\n",
        "[-9223372036854775808]",
        "[9223372036854775807]",
        "[1e308]",
        "[1e-400]",
        "{\"\":\"\"}",
        "[\"\\/\"]",
        "\"\x7f\"",
        "\"\x01\"",
    };
    for (size_t i = 0; i < SOCP_ARRAY_LEN(extra); i++) {
        json_array_append_new(seeds, json_string(extra[i]));
    }
    static const char interesting[] = "\"\\{}[],:u0-e.+ \ntfn9\x80\xc3\xff\x01/E";
    uint64_t state = 0x9e3779b97f4a7c15u;
    char *buf = socp_malloc(8192);
    size_t checked = 0;
    size_t n = json_array_size(seeds);
    for (size_t i = 0; i < n; i++) {
        const char *seed = json_string_value(json_array_get(seeds, i));
        size_t seed_len = json_string_length(json_array_get(seeds, i));
        s_differential(seed, seed_len, "seed");
        checked++;
        for (int m = 0; m < 100; m++) {
            memcpy(buf, seed, seed_len);
            size_t len = seed_len;
            int edits = 1 + m % 3;
            for (int e = 0; e < edits && len > 0; e++) {
                state = state * 6364136223846793005u + 1442695040888963407u;
                size_t pos = (size_t) (state >> 33) % len;
                char ch = interesting[(state >> 20) % (sizeof interesting - 1)];
                switch ((state >> 8) % 4) {
                    case 0: // replace
                        buf[pos] = ch;
                        break;
                    case 1: // delete
                        memmove(buf + pos, buf + pos + 1, len - pos - 1);
                        len--;
                        break;
                    case 2: // insert
                        if (len < 8000) {
                            memmove(buf + pos + 1, buf + pos, len - pos);
                            buf[pos] = ch;
                            len++;
                        }
                        break;
                    default: // truncate
                        len = pos;
                        break;
                }
            }
            s_differential(buf, len, "mutation");
            checked++;
        }
    }
    free(buf);
    json_decref(seeds);
    if (socp_test_verbose()) {
        printf("    %zu inputs: same verdict and value as jansson\n", checked);
    }
}

// Byte-wise reference escaper (Python's rules), for checking the word-at-a-time code.
static void
s_reference_escape(const char *s, size_t len, bool utf8, socp_buf_t *out)
{
    socp_buf_append(out, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        char tmp[16];
        int n = 0;
        if (c == '"' || c == '\\') {
            n = snprintf(tmp, sizeof tmp, "\\%c", c);
        } else if (c == '\n') {
            n = snprintf(tmp, sizeof tmp, "\\n");
        } else if (c < 0x20 || (c == 0x7f && !utf8)) {
            n = snprintf(tmp, sizeof tmp, "\\u%04x", c);
        } else if (c >= 0x80 && !utf8) {
            // only U+00E9 (c3 a9) is used below
            n = snprintf(tmp, sizeof tmp, "\\u00e9");
            i++;
        } else {
            tmp[0] = (char) c;
            n = 1;
        }
        socp_buf_append(out, tmp, (size_t) n);
    }
    socp_buf_append(out, "\"", 1);
}

SOCP_TEST(json_string_specials_at_every_offset)
{
    static const char *const specials[] = {"\"",   "\\",       "\n", "\x01", "\x1f",
                                           "\x7f", "\xc3\xa9", " ",  "~",    "/"};
    char text[64];
    socp_buf_t got, want;
    socp_buf_init(&got);
    socp_buf_init(&want);
    for (size_t k = 0; k < SOCP_ARRAY_LEN(specials); k++) {
        size_t slen = strlen(specials[k]);
        for (size_t pos = 0; pos < 24; pos++) {
            for (size_t tail = 0; tail < 10; tail += 3) {
                memset(text, 'a', pos);
                memcpy(text + pos, specials[k], slen);
                memset(text + pos + slen, 'b', tail);
                size_t len = pos + slen + tail;
                for (int utf8 = 0; utf8 < 2; utf8++) {
                    socp_buf_reset(&got);
                    socp_buf_reset(&want);
                    CHECK_OK(
                        socp_json_append_string(text, len, utf8 ? SOCP_JSON_CANON_UTF8 : 0, &got));
                    s_reference_escape(text, len, utf8, &want);
                    CHECK_MSG(got.len == want.len && memcmp(got.data, want.data, got.len) == 0,
                              "special %zu at %zu: %.*s vs %.*s", k, pos, (int) got.len,
                              (const char *) got.data, (int) want.len, (const char *) want.data);
                    // And the parser reads the literal back to the original bytes.
                    json_t *v = NULL;
                    CHECK_OK(socp_json_parse((const char *) got.data, got.len, 1, &v));
                    CHECK_EQ(json_string_length(v), len);
                    CHECK_MEMEQ(json_string_value(v), text, len);
                    json_decref(v);
                }
            }
        }
    }
    // A raw control character inside a literal is rejected wherever it sits.
    for (size_t pos = 0; pos < 20; pos++) {
        char lit[32];
        lit[0] = '"';
        memset(lit + 1, 'x', 24);
        lit[1 + pos] = '\t';
        lit[25] = '"';
        json_t *v = NULL;
        CHECK_RC(socp_json_parse(lit, 26, 1, &v), SOCP_EPROTO);
    }
    socp_buf_fini(&got);
    socp_buf_fini(&want);
}
