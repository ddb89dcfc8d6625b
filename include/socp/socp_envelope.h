// socp_envelope.h: the SOCP JSON envelope {type, from, to, ts, payload, sig}.
// Part of socp, a SOCP v1.3 client and server.
//
// Parsing is strict on structure and lenient where our profile says so
// (docs/protocol.md, "Envelope"):
//   - one JSON object of at most SOCP_ENVELOPE_MAX_BYTES; trailing whitespace
//     and newlines are stripped first; nesting at most SOCP_ENVELOPE_MAX_DEPTH
//     (the envelope object is depth 1, its payload depth 2);
//   - required: type (1..64 printable ASCII), from and to (peer ids:
//     1..128 bytes, no control characters), ts (Unix ms >= 0: an integer, a
//     digit string, or an integral real), payload (an object);
//   - sig: missing, null and "" all mean "unsigned"; otherwise a base64 or
//     base64url string of at most SOCP_ENVELOPE_SIG_MAX characters (only the
//     alphabet is checked here, not the signature);
//   - unknown top-level keys are ignored; duplicate keys are rejected;
//   - an unknown type name parses fine (kind SOCP_ENVELOPE_TYPE_UNKNOWN): the
//     caller decides whether to answer ERROR UNKNOWN_TYPE or relay it;
//   - CTRL_CLOSE may be the bare {"type":"CTRL_CLOSE"} of the standard: its
//     missing from/to become "", ts 0 and payload {}.
// Every rejection carries a reason, which maps to one of the six standard
// wire error codes and has a human-readable detail.
//
// Emitting writes compact JSON in the order type, from, to, ts, payload, sig,
// with the payload in canonical form (socp_json_canonical, ASCII), ts as an
// integer, no trailing newline and no "sig":"" (the key is left out instead).
//
// Pure functions; an envelope is owned by one thread at a time.
#ifndef SOCP_ENVELOPE_H
#define SOCP_ENVELOPE_H

#include "socp/socp_common.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SOCP_ENVELOPE_MAX_BYTES      (1024u * 1024u) // largest frame accepted (WS close 1009 above)
#define SOCP_ENVELOPE_MAX_SEND_BYTES (256u * 1024u)  // largest frame we emit
#define SOCP_ENVELOPE_MAX_DEPTH      32u             // JSON nesting, envelope object included
#define SOCP_ENVELOPE_TYPE_MAX       64u             // bytes in a type name
#define SOCP_ENVELOPE_ID_MAX         128u            // bytes in from / to
#define SOCP_ENVELOPE_SIG_MAX        4096u           // characters in sig
#define SOCP_ENVELOPE_DETAIL_MAX     160u            // bytes in an error detail, NUL included

// Every v1.3 message type, the list pair our profile adds, and the account
// profile of Impl14 (USER_REGISTER ... USER_REMOVED; docs/protocol.md).
#define SOCP_ENVELOPE_TYPES(T)  \
    T(USER_HELLO)               \
    T(SERVER_HELLO_JOIN)        \
    T(SERVER_WELCOME)           \
    T(SERVER_ANNOUNCE)          \
    T(SERVER_HELLO_LINK)        \
    T(USER_ADVERTISE)           \
    T(USER_REMOVE)              \
    T(SERVER_DELIVER)           \
    T(HEARTBEAT)                \
    T(MSG_DIRECT)               \
    T(USER_DELIVER)             \
    T(MSG_PUBLIC_CHANNEL)       \
    T(PUBLIC_CHANNEL_ADD)       \
    T(PUBLIC_CHANNEL_UPDATED)   \
    T(PUBLIC_CHANNEL_KEY_SHARE) \
    T(FILE_START)               \
    T(FILE_CHUNK)               \
    T(FILE_END)                 \
    T(ACK)                      \
    T(ERROR)                    \
    T(CTRL_CLOSE)               \
    T(LIST_REQUEST)             \
    T(LIST_RESPONSE)            \
    T(USER_REGISTER)            \
    T(USER_REGISTERED)          \
    T(USER_LOGIN)               \
    T(USER_LOGGED_IN)           \
    T(USER_HELLO_ACK)           \
    T(USER_ADDED)               \
    T(USER_REMOVED)

// Names deployed peers use for the same messages: A(alias, canonical type).
#define SOCP_ENVELOPE_ALIASES(A)      \
    A(CMD_LIST, LIST_REQUEST)         \
    A(USER_LIST_REQ, LIST_REQUEST)    \
    A(USER_LIST, LIST_RESPONSE)       \
    A(MSG_PRIVATE, MSG_DIRECT)        \
    A(FILE_START_DELIVER, FILE_START) \
    A(FILE_CHUNK_DELIVER, FILE_CHUNK) \
    A(FILE_END_DELIVER, FILE_END)

typedef enum {
    SOCP_ENVELOPE_TYPE_UNKNOWN = 0, // a name not in the table
#define SOCP_ENVELOPE_TYPE_ENUM(name) SOCP_ENVELOPE_TYPE_##name,
    SOCP_ENVELOPE_TYPES(SOCP_ENVELOPE_TYPE_ENUM)
#undef SOCP_ENVELOPE_TYPE_ENUM
        SOCP_ENVELOPE_TYPE_COUNT // number of values, UNKNOWN included
} socp_envelope_type_t;

// The six standard SOCP wire error codes (ERROR payload "code").
#define SOCP_ENVELOPE_CODES(C) \
    C(USER_NOT_FOUND)          \
    C(INVALID_SIG)             \
    C(BAD_KEY)                 \
    C(TIMEOUT)                 \
    C(UNKNOWN_TYPE)            \
    C(NAME_IN_USE)

typedef enum {
    SOCP_ENVELOPE_CODE_NONE = 0, // not a standard code / no error
#define SOCP_ENVELOPE_CODE_ENUM(name) SOCP_ENVELOPE_CODE_##name,
    SOCP_ENVELOPE_CODES(SOCP_ENVELOPE_CODE_ENUM)
#undef SOCP_ENVELOPE_CODE_ENUM
} socp_envelope_code_t;

// Why a frame was rejected: R(name, wire code, text). The standard has no
// "malformed" code, so structural problems answer UNKNOWN_TYPE ("not a
// message we understand"); a malformed `to` is USER_NOT_FOUND (no user can
// have that id); a malformed `sig` is INVALID_SIG; a stale ts is TIMEOUT.
#define SOCP_ENVELOPE_REASONS(R)                                                            \
    R(OK, NONE, "well-formed")                                                              \
    R(TOO_BIG, UNKNOWN_TYPE, "frame larger than 1 MiB")                                     \
    R(NUL_BYTE, UNKNOWN_TYPE, "NUL character in frame")                                     \
    R(BAD_UTF8, UNKNOWN_TYPE, "frame is not valid UTF-8")                                   \
    R(TOO_DEEP, UNKNOWN_TYPE, "JSON nested too deep")                                       \
    R(BAD_JSON, UNKNOWN_TYPE, "frame is not valid JSON")                                    \
    R(DUPLICATE_KEY, UNKNOWN_TYPE, "duplicate key in a JSON object")                        \
    R(TRAILING_DATA, UNKNOWN_TYPE, "data after the JSON object")                            \
    R(BAD_NUMBER, UNKNOWN_TYPE, "number out of range")                                      \
    R(NOT_OBJECT, UNKNOWN_TYPE, "frame is not a JSON object")                               \
    R(TYPE_MISSING, UNKNOWN_TYPE, "missing \"type\"")                                       \
    R(TYPE_BAD, UNKNOWN_TYPE, "\"type\" is not a name of 1-64 printable ASCII characters")  \
    R(FROM_MISSING, UNKNOWN_TYPE, "missing \"from\"")                                       \
    R(FROM_BAD, UNKNOWN_TYPE, "\"from\" is not an id of 1-128 printable bytes")             \
    R(TO_MISSING, UNKNOWN_TYPE, "missing \"to\"")                                           \
    R(TO_BAD, USER_NOT_FOUND, "\"to\" is not an id of 1-128 printable bytes")               \
    R(TS_MISSING, UNKNOWN_TYPE, "missing \"ts\"")                                           \
    R(TS_BAD, UNKNOWN_TYPE, "\"ts\" is not a non-negative integer of milliseconds")         \
    R(PAYLOAD_MISSING, UNKNOWN_TYPE, "missing \"payload\"")                                 \
    R(PAYLOAD_BAD, UNKNOWN_TYPE, "\"payload\" is not a JSON object")                        \
    R(SIG_BAD, INVALID_SIG, "\"sig\" is not a base64url string of at most 4096 characters") \
    R(TS_SKEW, TIMEOUT, "\"ts\" is too far from the local clock")

typedef enum {
#define SOCP_ENVELOPE_REASON_ENUM(name, code, text) SOCP_ENVELOPE_REASON_##name,
    SOCP_ENVELOPE_REASONS(SOCP_ENVELOPE_REASON_ENUM)
#undef SOCP_ENVELOPE_REASON_ENUM
        SOCP_ENVELOPE_REASON_COUNT
} socp_envelope_reason_t;

// A parsed or to-be-emitted envelope. Zero it (or socp_envelope_init it)
// before use; release with socp_envelope_fini.
typedef struct {
    socp_envelope_type_t kind;             // type looked up in the table (aliases resolved)
    char type[SOCP_ENVELOPE_TYPE_MAX + 1]; // type name as received, NUL-terminated
    char from[SOCP_ENVELOPE_ID_MAX + 1];   // sender id, NUL-terminated
    char to[SOCP_ENVELOPE_ID_MAX + 1];     // recipient id / "*" / "host:port", NUL-terminated
    int64_t ts;                            // Unix time in milliseconds, >= 0
    json_t *payload;                       // owned reference to a JSON object
    char *sig;                             // owned base64url signature; NULL when unsigned
} socp_envelope_t;

// Why a frame was rejected.
typedef struct {
    socp_envelope_reason_t reason;         // SOCP_ENVELOPE_REASON_OK on success
    char detail[SOCP_ENVELOPE_DETAIL_MAX]; // printable ASCII for people (ERROR "detail")
} socp_envelope_error_t;

// Parses one WebSocket text message.
// @param text  the frame's bytes (need not be NUL-terminated)
// @param out   zeroed on entry; filled on success, left zeroed on failure
// @param err   may be NULL; receives the reason and a detail
// @return 0; SOCP_ETOOBIG (frame > SOCP_ENVELOPE_MAX_BYTES or nested too
//         deep); SOCP_EPROTO (any other rejection); SOCP_EINVAL (text NULL).
// Ownership: on success the caller owns *out and calls socp_envelope_fini.
SOCP_NODISCARD int
socp_envelope_parse(const char *text, size_t len, socp_envelope_t *out, socp_envelope_error_t *err);

// What socp_envelope_parse_ex may accept beyond the rules above.
#define SOCP_ENVELOPE_PARSE_EMPTY_TO \
    1u // "to": "" (out->to is then ""): a server
       // addressing a socket it has not authenticated
#define SOCP_ENVELOPE_PARSE_NO_ADDR \
    2u // "from", "to" (or "to": "") and "payload" may be
       // missing ("" / empty object): Impl14's account
       // frames (USER_REGISTER, USER_LOGIN, its MSG_DIRECT)

// socp_envelope_parse with `flags` (SOCP_ENVELOPE_PARSE_*; 0 = the same rules).
SOCP_NODISCARD int socp_envelope_parse_ex(const char *text,
                                          size_t len,
                                          unsigned flags,
                                          socp_envelope_t *out,
                                          socp_envelope_error_t *err);

// Fills a new envelope for sending. Copies the strings, takes a new
// reference to payload (NULL means an empty object). sig starts NULL.
// @return 0, or SOCP_EINVAL when a field breaks the rules above (type not a
//         1-64 character printable-ASCII name, from/to not peer ids, ts < 0,
//         payload not an object); *self is then zeroed.
SOCP_NODISCARD int socp_envelope_init(socp_envelope_t *self,
                                      const char *type,
                                      const char *from,
                                      const char *to,
                                      int64_t ts,
                                      json_t *payload);

// Sets (copies) or clears (NULL or "") the signature.
// @return 0, or SOCP_EINVAL if sig is not base64/base64url of at most
//         SOCP_ENVELOPE_SIG_MAX characters (the old value is then kept).
SOCP_NODISCARD int socp_envelope_set_sig(socp_envelope_t *self, const char *sig);

// Releases the payload reference and the signature and zeroes *self.
// Safe on a zeroed envelope and idempotent.
void socp_envelope_fini(socp_envelope_t *self);

// Appends the frame text to out (compact, no newline, no NUL).
// @return 0; SOCP_EINVAL if the envelope breaks the rules of
//         socp_envelope_init; SOCP_ETOOBIG if the frame would exceed
//         SOCP_ENVELOPE_MAX_SEND_BYTES; SOCP_EPROTO if the payload has no
//         canonical form (socp_json_canonical). On error out is unchanged.
SOCP_NODISCARD int socp_envelope_emit(const socp_envelope_t *self, socp_buf_t *out);

// Freshness check: fails when |ts - now_ms| > max_skew_ms.
// @param err  may be NULL; gets SOCP_ENVELOPE_REASON_TS_SKEW on failure
// @return 0, SOCP_ETIMEDOUT, or SOCP_EINVAL (max_skew_ms < 0).
SOCP_NODISCARD int socp_envelope_check_ts(const socp_envelope_t *self,
                                          int64_t now_ms,
                                          int64_t max_skew_ms,
                                          socp_envelope_error_t *err);

// Looks up a type name (aliases included); SOCP_ENVELOPE_TYPE_UNKNOWN if absent.
socp_envelope_type_t socp_envelope_type_lookup(const char *name, size_t len);

// The canonical name of a type ("MSG_DIRECT"), or NULL for UNKNOWN / out of range.
const char *socp_envelope_type_name(socp_envelope_type_t type);

// The reason's symbolic name ("TO_BAD"), its text, and its wire error code.
// Out-of-range values give "?", "unknown reason" and SOCP_ENVELOPE_CODE_UNKNOWN_TYPE.
const char *socp_envelope_reason_name(socp_envelope_reason_t reason);
const char *socp_envelope_reason_text(socp_envelope_reason_t reason);
socp_envelope_code_t socp_envelope_reason_code(socp_envelope_reason_t reason);

// The wire spelling of a code ("USER_NOT_FOUND"), or NULL for NONE / out of range.
const char *socp_envelope_code_name(socp_envelope_code_t code);

// Looks up a wire code string (exact, case-sensitive); NONE if not standard.
socp_envelope_code_t socp_envelope_code_lookup(const char *name, size_t len);

#endif
