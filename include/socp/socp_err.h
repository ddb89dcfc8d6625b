// socp_err.h: the project's error codes and socp_strerror().
// Every fallible function returns 0 on success or one of these negative codes
// (the LMDB / nng shape). The list is an X-macro so the strings cannot drift.
#ifndef SOCP_ERR_H
#define SOCP_ERR_H

#define SOCP_ERRORS(E)                                      \
    E(SOCP_ENOMEM, -1, "out of memory")                     \
    E(SOCP_EINVAL, -2, "invalid argument")                  \
    E(SOCP_EPROTO, -3, "malformed message")                 \
    E(SOCP_ETIMEDOUT, -4, "timed out")                      \
    E(SOCP_ETERM, -5, "terminated")                         \
    E(SOCP_ESTORE, -6, "storage error")                     \
    E(SOCP_ECRYPTO, -7, "cryptographic operation failed")   \
    E(SOCP_EAGAIN, -8, "resource temporarily unavailable")  \
    E(SOCP_EOVERFLOW, -9, "queue overflow")                 \
    E(SOCP_EIO, -10, "input/output error")                  \
    E(SOCP_ELEAK, -11, "resources still open at shutdown")  \
    E(SOCP_ENOTFOUND, -12, "not found")                     \
    E(SOCP_EVERSION, -13, "unsupported version")            \
    E(SOCP_EBADKEY, -14, "bad key")                         \
    E(SOCP_EBADSIG, -15, "invalid signature")               \
    E(SOCP_ETOOBIG, -16, "too large")                       \
    E(SOCP_EPERM, -17, "permission denied")                 \
    E(SOCP_EEXIST, -18, "already exists")                   \
    E(SOCP_EAUTH, -19, "wrong passphrase or tampered data") \
    E(SOCP_EINIT, -20, "initialisation failed")             \
    E(SOCP_EDROPPED, -21, "message dropped")                \
    E(SOCP_ECLOSED, -22, "connection closed")               \
    E(SOCP_EREPLAY, -23, "replayed message")                \
    E(SOCP_EUNSUPPORTED, -24, "not supported")              \
    E(SOCP_EMODE, -25, "unsafe file permissions")

enum {
    SOCP_OK = 0,
#define SOCP_ERR_ENUM(name, value, text) name = value,
    SOCP_ERRORS(SOCP_ERR_ENUM)
#undef SOCP_ERR_ENUM
};

// Returns a static, human-readable string for any code (unknown codes too).
const char *socp_strerror(int code);

// Returns the code's symbolic name ("SOCP_EPROTO"), or "SOCP_OK"/"?".
const char *socp_errname(int code);

#endif
