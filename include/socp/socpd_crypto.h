// socpd_crypto.h: the server's signing actors ("socpd_crypto0", "socpd_crypto1", ...).
//
// Each worker holds its own copy of the server private key (imported in its
// own thread from a PKCS#8 DER buffer the caller keeps in sodium_malloc
// memory and wipes after start). Input: SOCPD_SIGN (an unsigned frame and the
// connections to write it to); output: SOCPD_SEND to socpd_net with the frame
// signed (PSS over the canonical payload). The router shards frames by
// destination connection, so frames towards one connection keep their order.
#ifndef SOCPD_CRYPTO_H
#define SOCPD_CRYPTO_H

#include "socp/socp_actor.h"
#include "socp/socp_rsa.h"

typedef struct {
    const uint8_t *key_der; // PKCS#8 DER (borrowed until socp_actor_start returns)
    size_t key_len;
    socp_rsa_salt_t salt; // PSS signing salt
} socpd_crypto_args_t;

int socpd_crypto_actor(socp_actor_ctx_t *ctx, void *args);

#endif
