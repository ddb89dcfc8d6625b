// fuzz_key_import.c: libFuzzer target for the public key importer (every
// accepted encoding: base64url/base64 of DER SPKI, DER PKCS#1 or PEM text,
// and raw PEM) and, on the same bytes, the private key importer.
// Part of socp, a SOCP v1.3 client and server.
#include "socp/socp_err.h"
#include "socp/socp_rsa.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    socp_rsa_key_t *key = NULL;
    int rc = socp_rsa_public_import((const char *) data, size, &key);
    if (rc == 0) {
        // Whatever was accepted must be a valid SOCP key that round-trips.
        if (socp_rsa_bits(key) != SOCP_RSA_BITS || socp_rsa_is_private(key)) {
            abort();
        }
        char *text = NULL;
        if (socp_rsa_public_export(key, SOCP_RSA_PUB_B64_DER, &text) != 0) {
            abort();
        }
        socp_rsa_key_t *again = NULL;
        if (socp_rsa_public_import(text, strlen(text), &again) != 0 ||
            !socp_rsa_public_equal(key, again)) {
            abort();
        }
        socp_rsa_destroy(&again);
        free(text);
    } else if (rc != SOCP_EBADKEY || key != NULL) {
        abort();
    }
    socp_rsa_destroy(&key);
    rc = socp_rsa_private_import(data, size, &key);
    if ((rc == 0) != (key != NULL) || (rc != 0 && rc != SOCP_EBADKEY)) {
        abort();
    }
    socp_rsa_destroy(&key);
    return 0;
}
