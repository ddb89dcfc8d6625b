// socpd_crypto.c: a signing worker of the server.
//
// DESIGN
//   Owns: one copy of the server private key (OpenSSL's copy, made from a DER
//   buffer in sodium_malloc memory that the supervisor wipes after start).
//   In:   SOCPD_SIGN {conns, unsigned frame text, close, seq}.
//   Out:  SOCPD_SEND {conns, signed frame text, close, seq} to socpd_net (every
//         seq is passed on, as an empty frame if signing failed: net writes in
//         seq order and must not wait for a number forever); with a
//         cache key, SOCPD_SIGNED {cache, text} to socpd_router as well.
//   Blocking: one RSA private operation per frame (~1.5 ms for a 4-prime
//   RSA-4096 key); the inbox bounds the backlog (MUST class: the router's
//   outbox holds what does not fit, so nothing is lost).
//   Shutdown: TERM from the supervisor; the key is destroyed (OpenSSL clears it).
#include "socp/socpd_crypto.h"
#include "socp/socp_envelope.h"
#include "socp/socp_err.h"
#include "socp/socp_log.h"
#include "socp/socp_sig.h"

#include <stdlib.h>

typedef struct {
    socp_rsa_key_t *key;
    socp_rsa_salt_t salt;
    uint64_t signed_count;
    uint64_t failed;
    socp_buf_t out;
} s_self_t;

static int
s_on_msg(socp_actor_ctx_t *ctx, socp_msg_t *msg, void *arg)
{
    s_self_t *self = arg;
    if (msg->type != SOCP_MSG_SOCPD_SIGN) {
        return 0;
    }
    const socp_msg_socpd_sign_t *req = &msg->body.socpd_sign;
    if (req->raw) {
        // Relayed frames pass through the same worker as the signed ones
        // towards the same connection, so their order is kept.
        socp_msg_t fwd = socp_msg_make(SOCP_MSG_SOCPD_SEND);
        fwd.body.socpd_send.conns = req->conns;
        fwd.body.socpd_send.text = req->text;
        fwd.body.socpd_send.close = req->close;
        fwd.body.socpd_send.seq = req->seq;
        int frc = socp_actor_send(ctx, "socpd_net", &fwd);
        if (frc != 0 && frc != SOCP_ETERM) {
            socp_error("cannot hand a relayed frame to net: %s", socp_strerror(frc));
        }
        return 0;
    }
    socp_envelope_t env;
    int rc = socp_envelope_parse((const char *) req->text.data, req->text.len, &env, NULL);
    char *sig = NULL;
    if (rc == 0) {
        rc = socp_sig_sign_payload(self->key, self->salt, env.payload, &sig);
    }
    if (rc == 0) {
        rc = socp_envelope_set_sig(&env, sig);
    }
    socp_buf_reset(&self->out);
    if (rc == 0) {
        rc = socp_envelope_emit(&env, &self->out);
    }
    free(sig);
    socp_envelope_fini(&env);
    if (rc != 0) {
        self->failed++;
        socp_error("cannot sign a frame: %s", socp_strerror(rc));
        if (req->seq) {
            // Net writes in seq order: tell it this number is void.
            socp_msg_t skip = socp_msg_make(SOCP_MSG_SOCPD_SEND);
            skip.body.socpd_send.seq = req->seq;
            (void) socp_actor_send(ctx, "socpd_net", &skip);
        }
        return 0;
    }
    self->signed_count++;
    socp_msg_t send = socp_msg_make(SOCP_MSG_SOCPD_SEND);
    send.body.socpd_send.conns = req->conns;
    send.body.socpd_send.text.data = self->out.data;
    send.body.socpd_send.text.len = self->out.len;
    send.body.socpd_send.close = req->close;
    send.body.socpd_send.seq = req->seq;
    if (req->conns.len > 0 || req->seq) {
        rc = socp_actor_send(ctx, "socpd_net", &send);
    } else {
        rc = 0;
    }
    if (rc != 0 && rc != SOCP_ETERM && req->seq) {
        // Net writes in seq order: void this number (see the router).
        socp_error("cannot hand a signed frame to net: %s", socp_strerror(rc));
        socp_msg_t skip = socp_msg_make(SOCP_MSG_SOCPD_SEND);
        skip.body.socpd_send.seq = req->seq;
        (void) socp_actor_send(ctx, "socpd_net", &skip);
        return 0;
    }
    if (rc == 0 && req->cache && req->cache[0]) {
        socp_msg_t copy = socp_msg_make(SOCP_MSG_SOCPD_SIGNED);
        copy.body.socpd_signed.cache = req->cache;
        copy.body.socpd_signed.text.data = self->out.data;
        copy.body.socpd_signed.text.len = self->out.len;
        rc = socp_actor_send(ctx, "socpd_router", &copy);
    }
    if (rc != 0 && rc != SOCP_ETERM) {
        socp_error("cannot hand a signed frame on: %s", socp_strerror(rc));
    }
    return 0;
}

int
socpd_crypto_actor(socp_actor_ctx_t *ctx, void *args)
{
    const socpd_crypto_args_t *a = args;
    s_self_t self = {.salt = a->salt};
    socp_log_set_thread_name(socp_actor_name(ctx));
    int rc = socp_rsa_private_import(a->key_der, a->key_len, &self.key);
    if (rc != 0) {
        return rc;
    }
    socp_buf_init(&self.out);
    socp_actor_ready(ctx, 0);
    rc = socp_actor_run(ctx, s_on_msg, &self);
    socp_debug("signed %llu frames (%llu failed)", (unsigned long long) self.signed_count,
               (unsigned long long) self.failed);
    socp_buf_fini(&self.out);
    socp_rsa_destroy(&self.key);
    return rc;
}
