// socp_bridge_sec.c: who can reach the bridge's ZeroMQ endpoints. Which
// endpoints stay on this host (loopback tcp, ipc) and which are exposed,
// CURVE key files (read, create), the allow-list of client keys answered
// over ZAP, and binding (ipc sockets made private to the user).
// Part of socp, a SOCP v1.3 client and server. Decisions: docs/bridge.md,
// "Exposure and authentication".
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "socp/socp_bridge.h"
#include "socp/socp_err.h"

#define S_KEYFILE_MAX (64u << 10) // a key file or allow-list larger than this is refused
#define S_CLIENTS_MAX 4096        // keys in an allow-list (socp_bridge_clients_t)
#define S_HOST_MAX    1025        // a host name or numeric address, NUL included (NI_MAXHOST)

static int s_err(char *err, size_t size, int code, const char *fmt, ...) SOCP_PRINTF(4, 5);

static int
s_err(char *err, size_t size, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return code;
}

// ---- endpoints -----------------------------------------------------------------------

// 127.0.0.0/8, ::1, and IPv4-mapped 127.0.0.0/8 (::ffff:127.x.y.z).
static bool
s_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *) sa)->sin6_addr;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        return IN6_IS_ADDR_LOOPBACK(a) ||
               (memcmp(a->s6_addr, mapped, 12) == 0 && a->s6_addr[12] == 127);
    }
    return false;
}

// Writes tcp://ADDR:PORT (IPv6 in brackets) for a numeric address.
static int
s_numeric(const struct sockaddr *sa, socklen_t len, const char *port, socp_bridge_ep_t *out)
{
    char host[S_HOST_MAX];
    if (getnameinfo(sa, len, host, sizeof host, NULL, 0, NI_NUMERICHOST) != 0) {
        return SOCP_EINVAL;
    }
    out->ipv6 = sa->sa_family == AF_INET6;
    out->exposed = !s_loopback(sa);
    int n = snprintf(out->endpoint, sizeof out->endpoint,
                     out->ipv6 ? "tcp://[%s]:%s" : "tcp://%s:%s", host, port);
    return n > 0 && (size_t) n < sizeof out->endpoint ? 0 : SOCP_EINVAL;
}

// The first IPv4 address of network interface `name` (what libzmq binds for
// tcp://NAME:PORT). Returns 0, SOCP_ENOTFOUND (no such interface, or none
// with an IPv4 address), or SOCP_EIO.
static int
s_interface(const char *name, struct sockaddr_in *out)
{
    struct ifaddrs *all = NULL;
    if (getifaddrs(&all) != 0) {
        return SOCP_EIO;
    }
    int rc = SOCP_ENOTFOUND;
    for (struct ifaddrs *i = all; i && rc != 0; i = i->ifa_next) {
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && strcmp(i->ifa_name, name) == 0) {
            memcpy(out, i->ifa_addr, sizeof *out);
            rc = 0;
        }
    }
    freeifaddrs(all);
    return rc;
}

int
socp_bridge_ep_resolve(const char *ep, socp_bridge_ep_t *out, char *err, size_t errsize)
{
    assert(ep);
    assert(out);
    assert(err);
    memset(out, 0, sizeof *out);
    if (strlen(ep) >= sizeof out->endpoint - 16) {
        return s_err(err, errsize, SOCP_EINVAL, "endpoint too long");
    }
    if (strncmp(ep, "ipc://", 6) == 0) {
        if (!ep[6]) {
            return s_err(err, errsize, SOCP_EINVAL, "%s: no path", ep);
        }
        out->ipc = true;
        snprintf(out->endpoint, sizeof out->endpoint, "%s", ep);
        return 0;
    }
    if (strncmp(ep, "tcp://", 6) != 0) {
        return s_err(err, errsize, SOCP_EINVAL, "%s: only tcp:// and ipc:// endpoints", ep);
    }
    const char *colon = strrchr(ep + 6, ':');
    if (!colon || colon == ep + 6 || !colon[1]) {
        return s_err(err, errsize, SOCP_EINVAL, "%s: not tcp://HOST:PORT", ep);
    }
    const char *port = colon + 1;
    char host[S_HOST_MAX];
    size_t hlen = (size_t) (colon - (ep + 6));
    const char *h = ep + 6;
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof host) {
        return s_err(err, errsize, SOCP_EINVAL, "%s: bad host", ep);
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (strcmp(host, "*") == 0) {
        out->exposed = true; // every interface
        snprintf(out->endpoint, sizeof out->endpoint, "%s", ep);
        return 0;
    }
    // "localhost" is loopback by definition (RFC 6761), whatever a resolver
    // says; libzmq does not resolve names when binding, so bind 127.0.0.1.
    if (strcasecmp(host, "localhost") == 0) {
        snprintf(host, sizeof host, "127.0.0.1");
    }
    // An address in any form getaddrinfo reads without a lookup (libzmq
    // reads it the same way): 127.0.0.1, 127.1, 0x7f.1, ::1, ...
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_family = AF_UNSPEC};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, NULL, &hints, &ai) == 0 && ai) {
        int rc = s_numeric(ai->ai_addr, ai->ai_addrlen, port, out);
        freeaddrinfo(ai);
        return rc == 0 ? 0 : s_err(err, errsize, rc, "%s: bad address", ep);
    }
    // A network interface: bind its address, so what is checked is what is bound.
    struct sockaddr_in in;
    int rc = s_interface(host, &in);
    if (rc == 0) {
        rc = s_numeric((const struct sockaddr *) &in, sizeof in, port, out);
        return rc == 0 ? 0 : s_err(err, errsize, rc, "%s: bad address", ep);
    }
    return s_err(err, errsize, SOCP_EINVAL,
                 "%s: \"%s\" is not an IP address, a network interface with an IPv4 address or "
                 "localhost (host names are not resolved for binding)",
                 ep, host);
}

// ---- CURVE keys ----------------------------------------------------------------------

// Reads a small text file the user alone may read (key files) or any small
// text file (allow-lists: public keys only). Returns a NUL-terminated
// buffer in sodium memory (free with sodium_free) or NULL with err set.
static char *
s_read(const char *path, bool secret, const char *what, char *err, size_t errsize, int *rc)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        *rc = s_err(err, errsize, errno == ENOENT ? SOCP_ENOTFOUND : SOCP_EIO, "%s %s: %s", what,
                    path, strerror(errno));
        return NULL;
    }
    struct stat st;
    *rc = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        *rc = s_err(err, errsize, SOCP_EIO, "%s %s is not a regular file", what, path);
    } else if (secret && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        *rc = s_err(err, errsize, SOCP_EMODE,
                    "%s %s is accessible by group or others (chmod 600 it)", what, path);
    } else if (st.st_size > (off_t) S_KEYFILE_MAX) {
        *rc = s_err(err, errsize, SOCP_ETOOBIG, "%s %s is larger than %u bytes", what, path,
                    S_KEYFILE_MAX);
    }
    char *buf = *rc == 0 ? sodium_malloc((size_t) st.st_size + 1) : NULL;
    size_t got = 0;
    while (buf && got < (size_t) st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t) st.st_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += (size_t) n;
    }
    close(fd);
    if (*rc == 0 && !buf) {
        *rc = s_err(err, errsize, SOCP_ENOMEM, "%s", "out of memory");
    } else if (buf && got != (size_t) st.st_size) {
        *rc = s_err(err, errsize, SOCP_EIO, "cannot read %s %s", what, path);
    }
    if (*rc != 0) {
        if (buf) {
            sodium_free(buf);
        }
        return NULL;
    }
    buf[got] = '\0';
    return buf;
}

static bool
s_z85_key(const char *s, size_t n, uint8_t key[32])
{
    char z[SOCP_BRIDGE_Z85_LEN + 1];
    if (n != SOCP_BRIDGE_Z85_LEN) {
        return false;
    }
    memcpy(z, s, n);
    z[n] = '\0';
    bool ok = zmq_z85_decode(key, z) != NULL;
    sodium_memzero(z, sizeof z);
    return ok;
}

// Whether [s, s+n) is exactly word.
static bool
s_is(const char *s, size_t n, const char *word)
{
    return n == strlen(word) && memcmp(s, word, n) == 0;
}

// A line `NAME = "Z85"` (quotes optional; NAME NULL: the key alone) with
// blanks around: *val points at the 40 characters of the key.
static bool
s_key_line(const char *line, size_t len, const char *name, const char **val)
{
    *val = NULL;
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t')) {
        i++;
    }
    size_t end = len;
    while (end > i && (line[end - 1] == ' ' || line[end - 1] == '\t' || line[end - 1] == '\r')) {
        end--;
    }
    if (name) {
        size_t nl = strlen(name);
        if (end - i < nl || memcmp(line + i, name, nl) != 0) {
            return false;
        }
        i += nl;
        while (i < end && (line[i] == ' ' || line[i] == '\t')) {
            i++;
        }
        if (i == end || line[i] != '=') {
            return false;
        }
        i++;
        while (i < end && (line[i] == ' ' || line[i] == '\t')) {
            i++;
        }
    }
    if (end - i == SOCP_BRIDGE_Z85_LEN + 2 && (line[i] == '"' || line[i] == '\'') &&
        line[end - 1] == line[i]) {
        i++;
        end--;
    }
    if (end - i != SOCP_BRIDGE_Z85_LEN) {
        return false;
    }
    *val = line + i;
    return true;
}

int
socp_bridge_curve_load(const char *path,
                       char secret[SOCP_BRIDGE_Z85_LEN + 1],
                       char *err,
                       size_t errsize)
{
    assert(path);
    assert(secret);
    memset(secret, 0, SOCP_BRIDGE_Z85_LEN + 1);
    int rc;
    char *text = s_read(path, true, "CURVE key file", err, errsize, &rc);
    if (!text) {
        return rc;
    }
    const char *sec = NULL, *pub = NULL;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t) (nl - line) : strlen(line);
        const char *v;
        if (s_key_line(line, len, "secret-key", &v)) {
            sec = v;
        } else if (s_key_line(line, len, "public-key", &v)) {
            pub = v;
        }
        line += len + (nl ? 1 : 0);
    }
    uint8_t key[32];
    char derived[SOCP_BRIDGE_Z85_LEN + 1];
    rc = 0;
    if (!sec || !s_z85_key(sec, SOCP_BRIDGE_Z85_LEN, key)) {
        rc = s_err(err, errsize, SOCP_EBADKEY,
                   "CURVE key file %s has no valid secret-key line (see --zmq-curve-keygen)", path);
    } else {
        memcpy(secret, sec, SOCP_BRIDGE_Z85_LEN);
        if (zmq_curve_public(derived, secret) != 0) {
            rc = s_err(err, errsize, SOCP_EUNSUPPORTED, "%s", "libzmq was built without CURVE");
        } else if (pub && memcmp(pub, derived, SOCP_BRIDGE_Z85_LEN) != 0) {
            rc = s_err(err, errsize, SOCP_EBADKEY,
                       "CURVE key file %s: public-key does not match secret-key", path);
        }
    }
    sodium_memzero(key, sizeof key);
    sodium_free(text);
    if (rc != 0) {
        sodium_memzero(secret, SOCP_BRIDGE_Z85_LEN + 1);
    }
    return rc;
}

int
socp_bridge_curve_keygen(const char *path,
                         char public_key[SOCP_BRIDGE_Z85_LEN + 1],
                         char *err,
                         size_t errsize)
{
    assert(path);
    assert(public_key);
    char *secret = sodium_malloc(SOCP_BRIDGE_Z85_LEN + 1);
    if (!secret) {
        return s_err(err, errsize, SOCP_ENOMEM, "%s", "out of memory");
    }
    if (zmq_curve_keypair(public_key, secret) != 0) {
        sodium_free(secret);
        return s_err(err, errsize, SOCP_EUNSUPPORTED, "%s", "libzmq was built without CURVE");
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        int e = errno;
        sodium_free(secret);
        return s_err(err, errsize, e == EEXIST ? SOCP_EEXIST : SOCP_EIO, "cannot create %s: %s%s",
                     path, strerror(e), e == EEXIST ? " (not overwritten)" : "");
    }
    char *text = sodium_malloc(512);
    int n = text ? snprintf(text, 512,
                            "#   socp bridge: ZeroMQ CURVE secret key (a ZeroMQ certificate, as\n"
                            "#   zmakecert and pyzmq write them). Keep it private (mode 0600);\n"
                            "#   clients need only the public key.\n"
                            "\n"
                            "metadata\n"
                            "curve\n"
                            "    public-key = \"%s\"\n"
                            "    secret-key = \"%s\"\n",
                            public_key, secret)
                 : -1;
    bool ok = n > 0 && n < 512 && fchmod(fd, 0600) == 0;
    for (size_t done = 0; ok && done < (size_t) n;) {
        ssize_t w = write(fd, text + done, (size_t) n - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        ok = w > 0;
        done += ok ? (size_t) w : 0;
    }
    ok = ok && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (text) {
        sodium_free(text);
    }
    sodium_free(secret);
    if (!ok) {
        unlink(path);
        return s_err(err, errsize, SOCP_EIO, "cannot write %s", path);
    }
    return 0;
}

int
socp_bridge_curve_clients(const char *path, socp_bridge_clients_t *out, char *err, size_t errsize)
{
    assert(path);
    assert(out);
    memset(out, 0, sizeof *out);
    int rc;
    char *text = s_read(path, false, "client key list", err, errsize, &rc);
    if (!text) {
        return rc;
    }
    unsigned lineno = 0;
    bool metadata = false; // in a certificate's metadata section (skipped)
    rc = 0;
    for (char *line = text; *line && rc == 0;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t) (nl - line) : strlen(line);
        lineno++;
        size_t i = 0, end = len;
        while (i < end && (line[i] == ' ' || line[i] == '\t')) {
            i++;
        }
        while (end > i &&
               (line[end - 1] == ' ' || line[end - 1] == '\t' || line[end - 1] == '\r')) {
            end--;
        }
        const char *v = NULL;
        if (s_is(line + i, end - i, "metadata") || s_is(line + i, end - i, "curve")) {
            metadata = line[i] == 'm'; // the section lines of a ZeroMQ certificate
        } else if (i == end || line[i] == '#' || (metadata && i > 0)) {
            // blank, a comment, or an (indented) entry of the metadata section
        } else if (s_key_line(line, len, "secret-key", &v)) {
            rc = s_err(err, errsize, SOCP_EBADKEY,
                       "%s line %u: a secret key has no place in a list of clients", path, lineno);
        } else if (!(s_key_line(line, len, NULL, &v) || s_key_line(line, len, "public-key", &v)) ||
                   out->n == S_CLIENTS_MAX ||
                   !s_z85_key(v, SOCP_BRIDGE_Z85_LEN, out->keys[out->n])) {
            rc = s_err(err, errsize, SOCP_EBADKEY,
                       out->n == S_CLIENTS_MAX ? "%s line %u: more keys than the bridge takes"
                                               : "%s line %u: not a Z85 public key (40 characters)",
                       path, lineno);
        } else {
            out->n++;
        }
        line += len + (nl ? 1 : 0);
    }
    sodium_free(text);
    if (rc == 0 && out->n == 0) {
        rc = s_err(err, errsize, SOCP_EBADKEY, "%s holds no client key", path);
    }
    return rc;
}

bool
socp_bridge_clients_has(const socp_bridge_clients_t *list, const void *key, size_t len)
{
    assert(list);
    if (len != 32) {
        return false;
    }
    for (size_t i = 0; i < list->n; i++) {
        if (sodium_memcmp(list->keys[i], key, 32) == 0) {
            return true;
        }
    }
    return false;
}

// ---- ZAP (RFC 27) --------------------------------------------------------------------

int
socp_bridge_zap_serve(void *zap, const socp_bridge_clients_t *list, uint64_t *refused)
{
    assert(zap);
    assert(list);
    int served = 0;
    for (;;) {
        zmq_msg_t f[8];
        int n = 0, more = 1;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, zap, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            more = zmq_msg_more(&m);
            if (n < 8) {
                f[n++] = m;
            } else {
                zmq_msg_close(&m);
            }
        }
        if (n == 0) {
            return served;
        }
        // version, request id, domain, address, identity, mechanism, key
        bool ok = n == 7 && zmq_msg_size(&f[0]) == 3 &&
                  memcmp(zmq_msg_data(&f[0]), "1.0", 3) == 0 && zmq_msg_size(&f[5]) == 5 &&
                  memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0 &&
                  socp_bridge_clients_has(list, zmq_msg_data(&f[6]), zmq_msg_size(&f[6]));
        if (!ok) {
            (*refused)++;
        }
        // The reply: version, request id, status code and text, user id, metadata.
        const char *code = ok ? "200" : "400";
        const char *text = ok ? "OK" : "client key not allowed";
        bool sent = zmq_send(zap, "1.0", 3, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 3;
        sent = sent && zmq_send(zap, n > 1 ? zmq_msg_data(&f[1]) : "",
                                n > 1 ? zmq_msg_size(&f[1]) : 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0;
        sent = sent && zmq_send(zap, code, 3, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 3;
        sent = sent && zmq_send(zap, text, strlen(text), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0;
        sent = sent && zmq_send(zap, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 0;
        sent = sent && zmq_send(zap, "", 0, ZMQ_DONTWAIT) == 0;
        for (int i = 0; i < n; i++) {
            zmq_msg_close(&f[i]);
        }
        if (!sent) {
            return SOCP_EIO;
        }
        served++;
    }
}

// ---- binding -------------------------------------------------------------------------

int
socp_bridge_bind(void *sock,
                 const socp_bridge_ep_t *ep,
                 const char *curve_secret,
                 char *err,
                 size_t errsize)
{
    assert(sock);
    assert(ep);
    int one = 1;
    if (ep->ipv6 && zmq_setsockopt(sock, ZMQ_IPV6, &one, sizeof one) != 0) {
        return s_err(err, errsize, SOCP_EINIT, "%s: %s", ep->endpoint, zmq_strerror(errno));
    }
    if (curve_secret &&
        (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
         zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, curve_secret, SOCP_BRIDGE_Z85_LEN + 1) != 0)) {
        return s_err(err, errsize, SOCP_EINIT, "%s: CURVE: %s", ep->endpoint, zmq_strerror(errno));
    }
    // An ipc socket is created private (umask 077; the mask is the
    // process's, and only ever narrows what another thread creates meanwhile)
    // and then set to 0600, so nobody else can connect in between.
    mode_t mask = ep->ipc ? umask(077) : 0;
    int rc = zmq_bind(sock, ep->endpoint);
    int e = errno;
    if (ep->ipc) {
        umask(mask);
    }
    if (rc != 0) {
        return s_err(err, errsize, SOCP_EIO, "cannot bind %s: %s", ep->endpoint, zmq_strerror(e));
    }
    char last[SOCP_BRIDGE_EP_MAX];
    size_t size = sizeof last;
    if (!ep->ipc || zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, last, &size) != 0 ||
        strncmp(last, "ipc://", 6) != 0 || last[6] == '@') {
        return 0; // tcp, or an abstract socket (no file; no permissions either)
    }
    struct stat st;
    if (chmod(last + 6, 0600) != 0 || stat(last + 6, &st) != 0 || (st.st_mode & 0777) != 0600) {
        return s_err(err, errsize, SOCP_EMODE, "cannot make %s private (mode 0600)", last + 6);
    }
    return 0;
}
