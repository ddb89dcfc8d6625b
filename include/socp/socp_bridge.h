// socp_bridge.h: `socp bridge`, the headless client (issue #6).
// Part of socp, a SOCP v1.3 client and server.
//
// The bridge runs the client's actors (store, crypto0..N-1, net) unchanged
// and replaces the terminal ui actor by the bridge actor, started under the
// same name "ui" so the other actors need no change: it takes the same
// messages (CLI_ACCEPTED, CLI_SHOW, CLI_PEER, CLI_NOTE, CLI_FILE, CLI_LINK,
// CLI_SETTING) and sends the same ones (CLI_SEND, CLI_HISTORY_REQ,
// CLI_SETTING). Front ends: JSON-RPC 2.0 lines on stdin/stdout, and/or a
// ZeroMQ ROUTER (requests) + XPUB (events) pair, msgpack or JSON payloads.
// See docs/bridge.md for the protocol.
#ifndef SOCP_BRIDGE_H
#define SOCP_BRIDGE_H

#include <jansson.h>
#include <msgpack.h>

#include "socp/socp_actor.h"

#define SOCP_BRIDGE_LINE_MAX (1u << 20) // longest request accepted (bytes)

// JSON-RPC error codes (the standard ones and ours, -32000..-32099).
enum {
    SOCP_BRIDGE_PARSE_ERROR = -32700,
    SOCP_BRIDGE_INVALID_REQUEST = -32600,
    SOCP_BRIDGE_METHOD_NOT_FOUND = -32601,
    SOCP_BRIDGE_INVALID_PARAMS = -32602,
    SOCP_BRIDGE_INTERNAL = -32603,
    SOCP_BRIDGE_UNKNOWN_USER = -32001, // no such user (or ambiguous name)
    SOCP_BRIDGE_BUSY = -32002,         // cannot be queued now: retry later
    SOCP_BRIDGE_NO_KEY = -32003,       // recipient's key unknown or refused
    SOCP_BRIDGE_FILE = -32004,         // the file cannot be read / too large
    SOCP_BRIDGE_NOT_SENT = -32005,     // crypto or store refused the item
    SOCP_BRIDGE_NOBODY = -32006,       // broadcast: nobody else online
};

// The bridge actor's arguments (borrowed for the actor's lifetime).
typedef struct {
    const char *user_id;          // our id
    const char *data_dir;         // data directory
    const char *server_url;       // for whoami
    const char *fingerprint;      // our key fingerprint (hex)
    const char *display_name;     // --name: saved at start (NULL: keep)
    unsigned crypto_workers;      // number of crypto workers
    unsigned file_rate;           // file frames per second at most (0: unlimited)
    bool use_stdio;               // JSON-RPC on in_fd/out_fd
    int in_fd, out_fd;            // stdin / stdout
    const char *zmq_bind;         // ROUTER endpoint (NULL: none)
    const char *zmq_pub;          // XPUB endpoint (NULL with zmq_bind: derived)
    const char *zmq_curve_secret; // Z85 + NUL: both sockets are CURVE servers (NULL: none)
    const struct socp_bridge_clients *zmq_clients; // CURVE clients let in (NULL: any with our key)
    bool zmq_json;                                 // JSON payloads on ZeroMQ instead of msgpack
    int event_hwm;                                 // XPUB send HWM (messages per subscriber)
    size_t max_inflight;                           // pieces accepted but not yet durable (0: 4096)
} socp_bridge_args_t;

int socp_bridge_actor(socp_actor_ctx_t *ctx, void *args);

// `socp bridge ...` (argv[0] is "bridge"). Returns the process exit code.
int socp_bridge_main(int argc, char **argv);

// The events endpoint derived from a request endpoint: tcp://H:P -> tcp://H:P+1,
// ipc://PATH -> ipc://PATH.pub. Returns 0 or SOCP_EINVAL.
SOCP_NODISCARD int socp_bridge_pub_endpoint(const char *bind, char *out, size_t size);

// ---- the request reader (socp_bridge_req.c) --------------------------------
// Bytes in, one checked call or the error to answer out. Pure: no actor, no
// I/O; any bytes are safe (fuzzed).

typedef enum {
    SOCP_BRIDGE_M_NONE = 0,  // no call: answer `code` and `message`
    SOCP_BRIDGE_M_SEND,      // to, text
    SOCP_BRIDGE_M_BROADCAST, // text
    SOCP_BRIDGE_M_SEND_FILE, // to, path
    SOCP_BRIDGE_M_LIST_USERS,
    SOCP_BRIDGE_M_HISTORY, // peer ("" = all), limit
    SOCP_BRIDGE_M_WHOAMI,
    SOCP_BRIDGE_M_SET_DISPLAY_NAME, // name
    SOCP_BRIDGE_M_STATS,
} socp_bridge_method_t;

typedef struct {
    socp_bridge_method_t method; // the call, or NONE
    int code;                    // 0 with a call; else the JSON-RPC error code
    char message[256];           // the error's message (code != 0)
    json_t *id;                  // owned; NULL: a notification (no reply, except to -32700/-32600)
    const char *to;              // params, NUL-free strings; valid until socp_bridge_req_fini
    const char *text;            //
    const char *path;            //
    const char *peer;            //
    const char *name;            //
    json_int_t limit;            // history: 1..10000
    json_t *root;                // owned: the parsed request (NULL after a parse error)
} socp_bridge_req_t;

// Reads one JSON request (a ZeroMQ payload with --zmq-format json). Always
// fills *req (zeroed first); release it with socp_bridge_req_fini.
void socp_bridge_req_json(const void *data, size_t len, socp_bridge_req_t *req);

// Reads one msgpack request (a ZeroMQ payload): the same checks after the
// msgpack value is converted to JSON (socp_bridge_mp_check first, so what
// msgpack-c allocates is bounded by len). Parse errors: -32700.
void socp_bridge_req_msgpack(const void *data, size_t len, socp_bridge_req_t *req);

// Reads one stdin line (without its newline): surrounding blanks and a
// trailing CR are ignored. Returns false for a blank line (*req zeroed,
// nothing to answer), else true with *req filled as socp_bridge_req_json.
bool socp_bridge_req_line(const char *line, size_t len, socp_bridge_req_t *req);

// Releases what *req owns and zeroes it. Idempotent.
void socp_bridge_req_fini(socp_bridge_req_t *req);

// ---- msgpack <-> JSON values (socp_bridge_mp.c) ----------------------------

// Packs a JSON value as msgpack (objects -> maps, integers, reals, strings,
// booleans, null).
void socp_bridge_mp_pack(msgpack_packer *pk, const json_t *v);

// Converts a msgpack object to a new JSON value (map keys must be strings;
// bin is taken as a UTF-8 string; depth at most 64). NULL if not convertible.
json_t *socp_bridge_mp_to_json(const msgpack_object *o);

// Checks, before msgpack-c allocates anything, that data is exactly one
// well-formed msgpack value whose declared container sizes fit in the bytes
// that follow (a 5-byte "array of 4 billion" would otherwise make the
// unpacker reserve ~100 GB). Linear time, no allocation.
bool socp_bridge_mp_check(const void *data, size_t len);

// ---- exposure (socp_bridge_sec.c) ------------------------------------------
// Who can reach the ZeroMQ endpoints: docs/bridge.md, "Exposure and
// authentication".

#define SOCP_BRIDGE_EP_MAX  1024 // longest endpoint
#define SOCP_BRIDGE_Z85_LEN 40   // a CURVE key in Z85

// An endpoint to bind, as resolved by socp_bridge_ep_resolve.
typedef struct {
    char endpoint[SOCP_BRIDGE_EP_MAX]; // what to bind: tcp with a numeric host, or the ipc path
    bool exposed;                      // reachable from other hosts (tcp not on loopback)
    bool ipv6;                         // an IPv6 address: the socket needs ZMQ_IPV6
    bool ipc;                          // ipc://: made private (0600) when bound
} socp_bridge_ep_t;

// Resolves a bind endpoint so that what is checked is what is bound:
// ipc://PATH as given (local); tcp://HOST:PORT with HOST one of `*` (every
// interface: exposed), an IP address in any form getaddrinfo reads without
// a lookup (127.1, [::1], ...), `localhost` (127.0.0.1 by definition, the
// resolver is not asked), or a network interface name (its first IPv4
// address, as libzmq picks). Loopback, i.e. not exposed: 127.0.0.0/8, ::1,
// ::ffff:127.0.0.0/104. Other host names are refused (libzmq does not
// resolve names when binding). Returns 0, or an error (SOCP_EINVAL mostly)
// with a one-line reason in err. Thread-safe; reads the interface list.
SOCP_NODISCARD int
socp_bridge_ep_resolve(const char *ep, socp_bridge_ep_t *out, char *err, size_t errsize);

// Reads the secret key of a CURVE key file (a ZeroMQ certificate: the
// lines `secret-key = "Z85"` and, checked against it when present,
// `public-key = "Z85"`; other lines are ignored). The file must be regular
// and closed to group and others. Fills secret (Z85 + NUL; wipe it after
// use). Returns 0, or SOCP_ENOTFOUND, SOCP_EIO, SOCP_EMODE (group/others
// have access), SOCP_ETOOBIG, SOCP_EBADKEY with the reason in err.
SOCP_NODISCARD int socp_bridge_curve_load(const char *path,
                                          char secret[SOCP_BRIDGE_Z85_LEN + 1],
                                          char *err,
                                          size_t errsize);

// Creates a new CURVE key file at path (mode 0600; never overwrites:
// SOCP_EEXIST) in the format socp_bridge_curve_load reads, and writes its
// public key (Z85 + NUL). Returns 0 or an error with the reason in err.
SOCP_NODISCARD int socp_bridge_curve_keygen(const char *path,
                                            char public_key[SOCP_BRIDGE_Z85_LEN + 1],
                                            char *err,
                                            size_t errsize);

// The client keys allowed in (--zmq-curve-clients).
typedef struct socp_bridge_clients {
    size_t n;               // keys
    uint8_t keys[4096][32]; // CURVE public keys
} socp_bridge_clients_t;

// Reads an allow-list: one client public key per line, in Z85 (quotes
// optional) or as a certificate's `public-key = "Z85"` line; blank lines,
// `#` comments and a certificate's `metadata` section (its indented
// entries) and `curve` line are skipped, so public certificate files can be
// concatenated; anything else (a secret-key line included) is an error, as
// is a list without keys. Returns 0 or an error with the reason in err.
SOCP_NODISCARD int
socp_bridge_curve_clients(const char *path, socp_bridge_clients_t *out, char *err, size_t errsize);

// Whether key (len bytes) is on the list (constant time per key).
bool socp_bridge_clients_has(const socp_bridge_clients_t *list, const void *key, size_t len);

// Answers every ZAP request (RFC 27) waiting on zap, a REP socket bound at
// inproc://zeromq.zap.01: 200 for a CURVE client whose key is on the list,
// 400 otherwise (counted in *refused). Never blocks. Returns the number
// answered, or SOCP_EIO if a reply could not be sent. Owner's thread only.
int socp_bridge_zap_serve(void *zap, const socp_bridge_clients_t *list, uint64_t *refused);

// Binds sock at ep: ZMQ_IPV6 for an IPv6 address; a CURVE server with
// curve_secret (Z85 + NUL) unless NULL; an ipc socket is created under
// umask 077 and then set to mode 0600 (checked). Returns 0 or an error
// with the reason in err. Owner's thread only.
SOCP_NODISCARD int socp_bridge_bind(void *sock,
                                    const socp_bridge_ep_t *ep,
                                    const char *curve_secret,
                                    char *err,
                                    size_t errsize);

#endif
