// bench_wire.c: the non-RSA work on one DM frame, against one RSA-4096 PSS verify.
// Part of socp, a SOCP v1.3 client and server.
//
//   bench_wire [-s SECONDS] [-r ROUNDS] [FIXTURE_DIR]   (defaults: 1 s, 3 rounds)
//
// The frame is a USER_DELIVER as our server sends it: payload {ciphertext
// (683 base64url chars of a real 512-byte block), sender, sender_pub (734),
// content_sig (683), ts, to} and a 683-char transport sig: about 3 KB. Per
// frame the receive path does, apart from RSA: parse the envelope, build the
// canonical payload (the bytes the transport sig covers), base64url-decode
// the ciphertext, and a seen-cache check (SHA-256 of the canonical payload,
// then lookup+insert into a full cache of 100k entries). Each step is also
// timed alone. In the same run: RSA-4096 PSS-SHA256 verify (salt auto) via
// OpenSSL EVP with the 2-prime fixture key (or a freshly generated one).
// Target: the non-RSA work costs less than 1/4 of one verify.
// Rates are per CPU second of this process (like `openssl speed`), median of
// the rounds, single thread.
#include "socp/socp_b64.h"
#include "socp/socp_envelope.h"
#include "socp/socp_err.h"
#include "socp/socp_json.h"
#include "socp/socp_seen.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef SOCP_SRCDIR
#define SOCP_SRCDIR "."
#endif

#define S_MAX_ROUNDS 15

// What one benchmark step needs.
typedef struct {
    const char *frame;   // the frame text
    size_t frame_len;    // its length
    socp_envelope_t env; // a parsed copy, for the single-step loops
    socp_buf_t canon;    // scratch for canonical JSON
    socp_seen_t *seen;   // the cache under test
    int64_t counter;     // makes every seen key new
    EVP_PKEY *key;       // RSA-4096 key
    uint8_t sig[512];    // PSS signature of the canonical payload
    size_t sig_len;      // its length
} s_ctx_t;

typedef void(s_step_fn)(s_ctx_t *ctx);

static void
s_die(const char *what, int rc)
{
    fprintf(stderr, "bench_wire: %s: %s\n", what, socp_strerror(rc));
    exit(2);
}

static uint64_t
s_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

// ---- the steps ---------------------------------------------------------------

static void
s_step_parse(s_ctx_t *ctx)
{
    socp_envelope_t env;
    int rc = socp_envelope_parse(ctx->frame, ctx->frame_len, &env, NULL);
    if (rc != 0) {
        s_die("parse", rc);
    }
    socp_envelope_fini(&env);
}

static void
s_step_canonical(s_ctx_t *ctx)
{
    socp_buf_reset(&ctx->canon);
    int rc = socp_json_canonical(ctx->env.payload, SOCP_JSON_CANON_ASCII, &ctx->canon);
    if (rc != 0) {
        s_die("canonical", rc);
    }
}

static void
s_decode_ciphertext(const json_t *payload)
{
    const json_t *ct = json_object_get(payload, "ciphertext");
    uint8_t raw[512];
    size_t raw_len;
    int rc = socp_b64_decode_to(json_string_value(ct), json_string_length(ct), raw, sizeof raw,
                                &raw_len);
    if (rc != 0 || raw_len != sizeof raw) {
        s_die("base64url decode", rc ? rc : SOCP_EPROTO);
    }
}

static void
s_step_b64(s_ctx_t *ctx)
{
    s_decode_ciphertext(ctx->env.payload);
}

// Hash the canonical payload already in ctx->canon, then lookup + insert.
static void
s_seen_from_canon(s_ctx_t *ctx, const socp_envelope_t *env)
{
    uint8_t hash[SOCP_SEEN_HASH_BYTES];
    socp_seen_hash_bytes(ctx->canon.data, ctx->canon.len, hash);
    ctx->counter++;
    int rc = socp_seen_check_and_add(ctx->seen, env->ts + ctx->counter, env->from, env->to, hash,
                                     ctx->counter);
    if (rc != 0) {
        s_die("seen", rc);
    }
}

static void
s_step_seen(s_ctx_t *ctx)
{
    s_seen_from_canon(ctx, &ctx->env);
}

// Everything a receiver does per frame except RSA.
static void
s_step_all(s_ctx_t *ctx)
{
    socp_envelope_t env;
    int rc = socp_envelope_parse(ctx->frame, ctx->frame_len, &env, NULL);
    if (rc != 0) {
        s_die("parse", rc);
    }
    socp_buf_reset(&ctx->canon);
    rc = socp_json_canonical(env.payload, SOCP_JSON_CANON_ASCII, &ctx->canon);
    if (rc != 0) {
        s_die("canonical", rc);
    }
    s_decode_ciphertext(env.payload);
    s_seen_from_canon(ctx, &env);
    socp_envelope_fini(&env);
}

static void
s_step_verify(s_ctx_t *ctx)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = md && EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, ctx->key) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1 &&
             EVP_DigestVerify(md, ctx->sig, ctx->sig_len, ctx->canon.data, ctx->canon.len) == 1;
    EVP_MD_CTX_free(md);
    if (!ok) {
        s_die("verify", SOCP_EBADSIG);
    }
}

// ---- timing --------------------------------------------------------------------

static int
s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

// Median over rounds of operations per CPU second.
static double
s_rate(s_ctx_t *ctx, s_step_fn *fn, double seconds, int rounds)
{
    for (int i = 0; i < 3; i++) {
        fn(ctx); // warm-up
    }
    double rates[S_MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        uint64_t budget = (uint64_t) (seconds * 1e9);
        uint64_t start = s_cpu_ns(), now = start;
        uint64_t n = 0;
        while (now - start < budget) {
            for (int k = 0; k < 16; k++) {
                fn(ctx);
            }
            n += 16;
            now = s_cpu_ns();
        }
        rates[r] = (double) n / ((double) (now - start) / 1e9);
    }
    qsort(rates, (size_t) rounds, sizeof rates[0], s_cmp_double);
    return rates[rounds / 2];
}

// ---- setup -----------------------------------------------------------------------

static EVP_PKEY *
s_load_key(const char *dir, const char **source)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/rsa4096_2p_a.pem", dir);
    FILE *f = fopen(path, "rb");
    if (f) {
        EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        if (key && EVP_PKEY_get_bits(key) == 4096) {
            *source = "fixture rsa4096_2p_a.pem";
            return key;
        }
        EVP_PKEY_free(key);
    }
    *source = "generated 2-prime RSA-4096 (no fixture)";
    EVP_PKEY *key = EVP_RSA_gen(4096);
    if (!key) {
        s_die("RSA-4096 keygen", SOCP_ECRYPTO);
    }
    return key;
}

static char *
s_b64(const uint8_t *data, size_t len)
{
    char *out = NULL;
    int rc = socp_b64_encode(data, len, &out);
    if (rc != 0) {
        s_die("base64url encode", rc);
    }
    return out;
}

static void
s_sign(s_ctx_t *ctx)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    ctx->sig_len = sizeof ctx->sig;
    int ok = md && EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, ctx->key) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_MAX) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1 &&
             EVP_DigestSign(md, ctx->sig, &ctx->sig_len, ctx->canon.data, ctx->canon.len) == 1;
    EVP_MD_CTX_free(md);
    if (!ok) {
        s_die("sign", SOCP_ECRYPTO);
    }
}

// Builds the USER_DELIVER frame with realistic field sizes.
static char *
s_build_frame(s_ctx_t *ctx, size_t *len)
{
    uint8_t block[512], spki[550], sig[512];
    randombytes_buf(block, sizeof block);
    randombytes_buf(spki, sizeof spki);
    randombytes_buf(sig, sizeof sig);
    char *ct = s_b64(block, sizeof block);  // 683 characters
    char *pub = s_b64(spki, sizeof spki);   // 734 characters
    char *content = s_b64(sig, sizeof sig); // 683 characters
    json_t *payload =
        json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}", "ciphertext", ct, "sender",
                  "4f1c2a9e-8d3b-4c7a-9e21-5b6d7f8a9c0d", "sender_pub", pub, "content_sig", content,
                  "ts", (json_int_t) 1700000400000, "to", "0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b");
    socp_envelope_t env;
    int rc = socp_envelope_init(&env, "USER_DELIVER", "7d3e2f1a-0b9c-4d8e-a7f6-5e4d3c2b1a09",
                                "0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b", 1700000400100, payload);
    if (rc != 0) {
        s_die("envelope init", rc);
    }
    socp_buf_reset(&ctx->canon);
    rc = socp_json_canonical(payload, SOCP_JSON_CANON_ASCII, &ctx->canon);
    if (rc != 0) {
        s_die("canonical", rc);
    }
    s_sign(ctx);
    char *sig_text = s_b64(ctx->sig, ctx->sig_len);
    rc = socp_envelope_set_sig(&env, sig_text);
    if (rc != 0) {
        s_die("set sig", rc);
    }
    socp_buf_t frame;
    socp_buf_init(&frame);
    rc = socp_envelope_emit(&env, &frame);
    if (rc != 0) {
        s_die("emit", rc);
    }
    socp_envelope_fini(&env);
    json_decref(payload);
    free(ct);
    free(pub);
    free(content);
    free(sig_text);
    *len = frame.len;
    socp_buf_append(&frame, "", 1); // NUL for printing; not part of len
    return (char *) frame.data;
}

int
main(int argc, char **argv)
{
    double seconds = 1.0;
    int rounds = 3;
    const char *dir = SOCP_SRCDIR "/tests/fixtures";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else {
            dir = argv[i];
        }
    }
    if (seconds <= 0 || rounds < 1 || rounds > S_MAX_ROUNDS) {
        fprintf(stderr, "usage: bench_wire [-s SECONDS] [-r ROUNDS 1..%d] [FIXTURE_DIR]\n",
                S_MAX_ROUNDS);
        return 2;
    }
    if (sodium_init() < 0) {
        s_die("sodium_init", SOCP_EINIT);
    }
    s_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    socp_buf_init(&ctx.canon);
    const char *key_source;
    ctx.key = s_load_key(dir, &key_source);
    char *frame = s_build_frame(&ctx, &ctx.frame_len);
    ctx.frame = frame;
    int rc = socp_envelope_parse(ctx.frame, ctx.frame_len, &ctx.env, NULL);
    if (rc != 0) {
        s_die("parse", rc);
    }
    // A full cache, as on a busy server: every check evicts the oldest entry.
    ctx.seen = socp_seen_new(100000, SOCP_SEEN_TTL_DEFAULT_MS * 1000);
    for (int i = 0; i < 100000; i++) {
        s_seen_from_canon(&ctx, &ctx.env);
    }
    s_step_canonical(&ctx);

    printf("bench_wire: USER_DELIVER frame of %zu bytes (canonical payload %zu bytes), key: %s\n",
           ctx.frame_len, ctx.canon.len, key_source);
    printf("  %.1f s x %d rounds per figure, median, per CPU second, one thread\n", seconds,
           rounds);
    struct {
        const char *name;
        s_step_fn *fn;
    } steps[] = {
        {"envelope parse", s_step_parse},
        {"canonical payload", s_step_canonical},
        {"base64url decode ciphertext", s_step_b64},
        {"seen check (sha256 + insert)", s_step_seen},
    };
    for (size_t i = 0; i < SOCP_ARRAY_LEN(steps); i++) {
        double r = s_rate(&ctx, steps[i].fn, seconds, rounds);
        printf("  %-30s %12.0f /s  %8.2f us\n", steps[i].name, r, 1e6 / r);
    }
    double all = s_rate(&ctx, s_step_all, seconds, rounds);
    s_step_canonical(&ctx); // the verify below needs the canonical payload
    double verify = s_rate(&ctx, s_step_verify, seconds, rounds);
    printf("  %-30s %12.0f /s  %8.2f us\n", "all non-RSA work per frame", all, 1e6 / all);
    printf("  %-30s %12.0f /s  %8.2f us\n", "RSA-4096 PSS verify", verify, 1e6 / verify);
    double ratio = verify / all; // (time per frame) / (time per verify)
    printf("  ratio non-RSA / verify: %.3f (target < 0.25): %s\n", ratio,
           ratio < 0.25 ? "OK" : "MISSED");

    socp_envelope_fini(&ctx.env);
    socp_seen_destroy(&ctx.seen);
    socp_buf_fini(&ctx.canon);
    EVP_PKEY_free(ctx.key);
    free(frame);
    return ratio < 0.25 ? 0 : 1;
}
