// socp_ws_handshake.c: RFC 6455 opening handshake parsing and building. Part of socp.
#include "socp/socp_ws_handshake.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "socp/socp_err.h"

#define S_GUID       "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define S_FIELDS_MAX 100 // header lines accepted in one block
#define S_KEY_MAX    256 // longest key we hash (a valid one is 24 bytes)

// A slice of the header block.
typedef struct {
    const char *p; // first byte
    size_t n;      // length
} s_span_t;

// One "name: value" header line.
typedef struct {
    s_span_t name;  // field name, as sent
    s_span_t value; // value without surrounding spaces and tabs
} s_field_t;

// A split header block.
typedef struct {
    s_span_t start;                 // request or status line
    s_field_t fields[S_FIELDS_MAX]; // header lines in order
    size_t count;                   // entries used in fields
} s_head_t;

int
socp_ws_handshake_accept(const char *key, size_t key_len, char accept[SOCP_WS_ACCEPT_LEN + 1])
{
    if (accept) {
        memset(accept, 0, SOCP_WS_ACCEPT_LEN + 1);
    }
    if (!key || !accept || key_len > S_KEY_MAX) {
        return SOCP_EINVAL;
    }
    char input[S_KEY_MAX + sizeof(S_GUID)];
    memcpy(input, key, key_len);
    memcpy(input + key_len, S_GUID, sizeof(S_GUID) - 1);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if (EVP_Digest(input, key_len + sizeof(S_GUID) - 1, digest, &digest_len, EVP_sha1(), NULL) !=
            1 ||
        digest_len != 20) {
        return SOCP_ECRYPTO;
    }
    sodium_bin2base64(accept, SOCP_WS_ACCEPT_LEN + 1, digest, digest_len,
                      sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

int
socp_ws_handshake_scan(const uint8_t *data, size_t len, size_t from, bool request, size_t *end)
{
    if (end) {
        *end = 0;
    }
    if (!end || (!data && len > 0) || from > len) {
        return SOCP_EINVAL;
    }
    const char *prefix = request ? "GET " : "HTTP/1.1 ";
    size_t prefix_len = strlen(prefix);
    for (size_t i = from; i < len; i++) {
        uint8_t b = data[i];
        if (i < prefix_len && b != (uint8_t) prefix[i]) {
            return SOCP_EPROTO;
        }
        bool after_cr = i > 0 && data[i - 1] == '\r';
        if (after_cr != (b == '\n')) {
            return SOCP_EPROTO; // CR must be followed by LF and LF preceded by CR
        }
        if ((b < 0x20 && b != '\t' && b != '\r' && b != '\n') || b == 0x7f) {
            return SOCP_EPROTO;
        }
        if (b == '\n' && i >= 3 && data[i - 2] == '\n') {
            *end = i + 1; // data[i-3..i] is CR LF CR LF
            return 0;
        }
        if (i + 1 >= SOCP_WS_HEAD_MAX) {
            return SOCP_EPROTO;
        }
    }
    return SOCP_EAGAIN;
}

static bool
s_is_tchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool
s_span_ieq(s_span_t s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.n != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char a = s.p[i], b = lit[i];
        if (a >= 'A' && a <= 'Z') {
            a = (char) (a - 'A' + 'a');
        }
        if (b >= 'A' && b <= 'Z') {
            b = (char) (b - 'A' + 'a');
        }
        if (a != b) {
            return false;
        }
    }
    return true;
}

static s_span_t
s_trim(s_span_t s)
{
    while (s.n > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.n--;
    }
    while (s.n > 0 && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t')) {
        s.n--;
    }
    return s;
}

// True when the comma-separated list `value` holds `token` (case-insensitive).
static bool
s_list_has(s_span_t value, const char *token)
{
    size_t start = 0;
    for (size_t i = 0; i <= value.n; i++) {
        if (i == value.n || value.p[i] == ',') {
            s_span_t item = s_trim((s_span_t){value.p + start, i - start});
            if (s_span_ieq(item, token)) {
                return true;
            }
            start = i + 1;
        }
    }
    return false;
}

// Splits a block that socp_ws_handshake_scan accepted into its start line and
// fields. Rejects folded lines, bad names and too many fields.
static int
s_split(const uint8_t *head, size_t len, s_head_t *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 4 || memcmp(head + len - 4, "\r\n\r\n", 4) != 0) {
        return SOCP_EPROTO;
    }
    const char *p = (const char *) head;
    size_t pos = 0;
    bool first = true;
    while (pos < len) {
        const char *eol = memchr(p + pos, '\r', len - pos);
        if (!eol || (size_t) (eol - p) + 1 >= len || eol[1] != '\n') {
            return SOCP_EPROTO;
        }
        s_span_t line = {p + pos, (size_t) (eol - (p + pos))};
        pos = (size_t) (eol - p) + 2;
        if (first) {
            out->start = line;
            first = false;
            continue;
        }
        if (line.n == 0) {
            return pos == len ? 0 : SOCP_EPROTO;
        }
        if (line.p[0] == ' ' || line.p[0] == '\t' || out->count == S_FIELDS_MAX) {
            return SOCP_EPROTO; // obsolete line folding, or too many fields
        }
        const char *colon = memchr(line.p, ':', line.n);
        if (!colon || colon == line.p) {
            return SOCP_EPROTO;
        }
        s_field_t *f = &out->fields[out->count++];
        f->name = (s_span_t){line.p, (size_t) (colon - line.p)};
        for (size_t i = 0; i < f->name.n; i++) {
            if (!s_is_tchar(f->name.p[i])) {
                return SOCP_EPROTO;
            }
        }
        f->value = s_trim((s_span_t){colon + 1, line.n - f->name.n - 1});
    }
    return SOCP_EPROTO;
}

static bool
s_key_valid(s_span_t key)
{
    if (key.n != SOCP_WS_KEY_LEN) {
        return false;
    }
    unsigned char bin[18];
    size_t bin_len = 0;
    const char *b64_end = NULL;
    return sodium_base642bin(bin, sizeof(bin), key.p, key.n, NULL, &bin_len, &b64_end,
                             sodium_base64_VARIANT_ORIGINAL) == 0 &&
           bin_len == 16 && b64_end == key.p + key.n;
}

// Checks "GET <target> HTTP/1.1" and copies the target.
static int
s_request_line(s_span_t line, char path[SOCP_WS_PATH_MAX])
{
    static const char method[] = "GET ";
    static const char version[] = " HTTP/1.1";
    size_t mlen = sizeof(method) - 1, vlen = sizeof(version) - 1;
    if (line.n <= mlen + vlen || memcmp(line.p, method, mlen) != 0 ||
        memcmp(line.p + line.n - vlen, version, vlen) != 0) {
        return SOCP_EPROTO;
    }
    s_span_t target = {line.p + mlen, line.n - mlen - vlen};
    if (target.n == 0 || target.n >= SOCP_WS_PATH_MAX || target.p[0] != '/') {
        return SOCP_EPROTO;
    }
    for (size_t i = 0; i < target.n; i++) {
        unsigned char c = (unsigned char) target.p[i];
        if (c <= 0x20 || c >= 0x7f || c == '#') {
            return SOCP_EPROTO;
        }
    }
    memcpy(path, target.p, target.n);
    path[target.n] = '\0';
    return 0;
}

int
socp_ws_handshake_parse_request(const uint8_t *head, size_t len, socp_ws_request_t *out)
{
    if (out) {
        memset(out, 0, sizeof(*out));
    }
    if (!out || (!head && len > 0)) {
        return SOCP_EINVAL;
    }
    s_head_t h;
    if (s_split(head, len, &h) != 0 || s_request_line(h.start, out->path) != 0) {
        return SOCP_EPROTO;
    }
    int hosts = 0, keys = 0, versions = 0;
    bool upgrade = false, connection = false, version_ok = false, key_ok = false;
    s_span_t key = {NULL, 0};
    for (size_t i = 0; i < h.count; i++) {
        const s_field_t *f = &h.fields[i];
        if (s_span_ieq(f->name, "Host")) {
            hosts++;
            if (f->value.n > 0 && f->value.n < SOCP_WS_HOST_MAX) {
                memcpy(out->host, f->value.p, f->value.n);
            }
        } else if (s_span_ieq(f->name, "Upgrade")) {
            upgrade = upgrade || s_list_has(f->value, "websocket");
        } else if (s_span_ieq(f->name, "Connection")) {
            connection = connection || s_list_has(f->value, "upgrade");
        } else if (s_span_ieq(f->name, "Sec-WebSocket-Version")) {
            versions++;
            version_ok = f->value.n == 2 && memcmp(f->value.p, "13", 2) == 0;
        } else if (s_span_ieq(f->name, "Sec-WebSocket-Key")) {
            keys++;
            key = f->value;
            key_ok = s_key_valid(key);
        }
    }
    if (versions == 1 && !version_ok) {
        memset(out, 0, sizeof(*out));
        return SOCP_EVERSION;
    }
    if (hosts != 1 || out->host[0] == '\0' || !upgrade || !connection || versions != 1 ||
        keys != 1 || !key_ok || socp_ws_handshake_accept(key.p, key.n, out->accept) != 0) {
        memset(out, 0, sizeof(*out));
        return SOCP_EPROTO;
    }
    return 0;
}

static void
s_append_str(socp_buf_t *out, const char *s)
{
    socp_buf_append(out, s, strlen(s));
}

bool
socp_ws_handshake_server_id_ok(const char *id, size_t len)
{
    if (!id || len == 0 || len >= SOCP_WS_SERVER_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (id[i] <= 0x20 || id[i] >= 0x7f) {
            return false;
        }
    }
    return true;
}

void
socp_ws_handshake_response(socp_buf_t *out, int verdict, const char *accept)
{
    socp_ws_handshake_response_ex(out, verdict, accept, NULL);
}

void
socp_ws_handshake_response_ex(socp_buf_t *out,
                              int verdict,
                              const char *accept,
                              const char *server_id)
{
    if (verdict == 0) {
        s_append_str(out, "HTTP/1.1 101 Switching Protocols\r\n"
                          "Upgrade: websocket\r\n"
                          "Connection: Upgrade\r\n"
                          "Sec-WebSocket-Accept: ");
        s_append_str(out, accept);
        if (server_id && socp_ws_handshake_server_id_ok(server_id, strlen(server_id))) {
            s_append_str(out, "\r\n" SOCP_WS_SERVER_ID_HEADER ": ");
            s_append_str(out, server_id);
        }
        s_append_str(out, "\r\n\r\n");
    } else if (verdict == SOCP_EVERSION) {
        s_append_str(out, "HTTP/1.1 426 Upgrade Required\r\n"
                          "Sec-WebSocket-Version: 13\r\n"
                          "Connection: close\r\n"
                          "Content-Length: 0\r\n\r\n");
    } else {
        s_append_str(out, "HTTP/1.1 400 Bad Request\r\n"
                          "Connection: close\r\n"
                          "Content-Length: 0\r\n\r\n");
    }
}

int
socp_ws_handshake_request(socp_buf_t *out,
                          const char *host,
                          uint16_t port,
                          const char *path,
                          const char *key)
{
    if (!out || !host || !path || !key || strlen(key) != SOCP_WS_KEY_LEN) {
        return SOCP_EINVAL;
    }
    size_t host_len = strlen(host), path_len = strlen(path);
    if (host_len == 0 || host_len >= SOCP_WS_HOST_MAX || path_len == 0 ||
        path_len >= SOCP_WS_PATH_MAX || path[0] != '/') {
        return SOCP_EINVAL;
    }
    bool ipv6 = false;
    for (size_t i = 0; i < host_len; i++) {
        char c = host[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '.' || c == '-' || c == '_' || c == ':';
        if (!ok) {
            return SOCP_EINVAL;
        }
        ipv6 = ipv6 || c == ':';
    }
    for (size_t i = 0; i < path_len; i++) {
        unsigned char c = (unsigned char) path[i];
        if (c <= 0x20 || c >= 0x7f || c == '#') {
            return SOCP_EINVAL;
        }
    }
    char port_text[8] = "";
    if (port != 80) {
        snprintf(port_text, sizeof(port_text), ":%u", (unsigned) port);
    }
    s_append_str(out, "GET ");
    s_append_str(out, path);
    s_append_str(out, " HTTP/1.1\r\nHost: ");
    s_append_str(out, ipv6 ? "[" : "");
    s_append_str(out, host);
    s_append_str(out, ipv6 ? "]" : "");
    s_append_str(out, port_text);
    s_append_str(out, "\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\n"
                      "Sec-WebSocket-Key: ");
    s_append_str(out, key);
    s_append_str(out, "\r\nSec-WebSocket-Version: 13\r\n\r\n");
    return 0;
}

int
socp_ws_handshake_parse_response(const uint8_t *head, size_t len, const char *accept)
{
    return socp_ws_handshake_parse_response_ex(head, len, accept, NULL);
}

int
socp_ws_handshake_parse_response_ex(const uint8_t *head,
                                    size_t len,
                                    const char *accept,
                                    char server_id[SOCP_WS_SERVER_ID_MAX])
{
    if (server_id) {
        memset(server_id, 0, SOCP_WS_SERVER_ID_MAX);
    }
    if ((!head && len > 0) || !accept) {
        return SOCP_EINVAL;
    }
    s_head_t h;
    if (s_split(head, len, &h) != 0) {
        return SOCP_EPROTO;
    }
    static const char status[] = "HTTP/1.1 101";
    size_t slen = sizeof(status) - 1;
    if (h.start.n < slen || memcmp(h.start.p, status, slen) != 0 ||
        (h.start.n > slen && h.start.p[slen] != ' ')) {
        return SOCP_EPROTO;
    }
    bool upgrade = false, connection = false, extras = false;
    int accepts = 0, ids = 0;
    bool accept_ok = false;
    size_t accept_len = strlen(accept);
    s_span_t id = {NULL, 0};
    for (size_t i = 0; i < h.count; i++) {
        const s_field_t *f = &h.fields[i];
        if (s_span_ieq(f->name, SOCP_WS_SERVER_ID_HEADER)) {
            ids++;
            id = f->value;
        } else if (s_span_ieq(f->name, "Upgrade")) {
            upgrade = upgrade || s_list_has(f->value, "websocket");
        } else if (s_span_ieq(f->name, "Connection")) {
            connection = connection || s_list_has(f->value, "upgrade");
        } else if (s_span_ieq(f->name, "Sec-WebSocket-Accept")) {
            accepts++;
            accept_ok = accept_len > 0 && f->value.n == accept_len &&
                        memcmp(f->value.p, accept, accept_len) == 0;
        } else if (s_span_ieq(f->name, "Sec-WebSocket-Extensions") ||
                   s_span_ieq(f->name, "Sec-WebSocket-Protocol")) {
            extras = true;
        }
    }
    if (!upgrade || !connection || accepts != 1 || !accept_ok || extras) {
        return SOCP_EPROTO;
    }
    // The server's id is a hint, never a reason to refuse the upgrade: one
    // that is repeated or malformed is ignored.
    if (server_id && ids == 1 && socp_ws_handshake_server_id_ok(id.p, id.n)) {
        memcpy(server_id, id.p, id.n);
    }
    return 0;
}
