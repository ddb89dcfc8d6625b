// socp_tcp.c: non-blocking TCP sockets carrying a WebSocket session.
//
// DESIGN: not an actor but the shell a net actor wraps around socp_ws. It
// owns one fd per connection; reads go straight into the session with a
// per-call byte budget (so one busy peer cannot starve the others in the
// same poll turn); writes are partial-write aware and the unwritten output
// is bounded by the session's max_output. No blocking calls except
// getaddrinfo (name resolution) and the explicitly blocking helpers at the
// end (pump, ws_connect) meant for tests and tools.
#include "socp/socp_tcp.h"
#include "socp/socp_err.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

struct socp_tcp_conn {
    int fd;
    socp_ws_t *ws;
    bool eof;    // end of stream or socket error seen
    bool failed; // socket error
};

static int
s_set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        return SOCP_EIO;
    }
    int fdfl = fcntl(fd, F_GETFD, 0);
    if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0) {
        return SOCP_EIO;
    }
    return 0;
}

static void
s_nodelay(int fd)
{
    int one = 1;
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int
s_resolve(const char *host, uint16_t port, bool passive, struct addrinfo **res)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned) port);
    if (getaddrinfo(host, service, &hints, res) != 0 || !*res) {
        return SOCP_EINVAL;
    }
    return 0;
}

static void
s_format_addr(const struct sockaddr *sa, char out[SOCP_TCP_ADDR_MAX])
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) (const void *) sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        port = ntohs(in->sin_port);
        snprintf(out, SOCP_TCP_ADDR_MAX, "%s:%u", ip, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) (const void *) sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        port = ntohs(in6->sin6_port);
        snprintf(out, SOCP_TCP_ADDR_MAX, "[%s]:%u", ip, port);
    } else {
        snprintf(out, SOCP_TCP_ADDR_MAX, "?");
    }
}

int
socp_tcp_listen(const char *host, uint16_t port, int backlog, int *fd_out, uint16_t *port_out)
{
    *fd_out = -1;
    if (port_out) {
        *port_out = 0;
    }
    struct addrinfo *res = NULL;
    int rc = s_resolve(host, port, true, &res);
    if (rc != 0) {
        return rc;
    }
    rc = SOCP_EIO;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            continue;
        }
        int one = 1;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (s_set_flags(fd) != 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
            listen(fd, backlog > 0 ? backlog : 128) != 0) {
            int saved = errno;
            close(fd);
            errno = saved;
            continue;
        }
        if (port_out) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof ss;
            if (getsockname(fd, (struct sockaddr *) &ss, &sl) == 0) {
                if (ss.ss_family == AF_INET) {
                    *port_out = ntohs(((struct sockaddr_in *) &ss)->sin_port);
                } else if (ss.ss_family == AF_INET6) {
                    *port_out = ntohs(((struct sockaddr_in6 *) &ss)->sin6_port);
                }
            }
        }
        *fd_out = fd;
        rc = 0;
        break;
    }
    freeaddrinfo(res);
    return rc;
}

int
socp_tcp_accept(int listen_fd, int *fd_out, char peer[SOCP_TCP_ADDR_MAX])
{
    *fd_out = -1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = accept(listen_fd, (struct sockaddr *) &ss, &sl);
    if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) {
            return SOCP_EAGAIN;
        }
        return SOCP_EIO;
    }
    if (s_set_flags(fd) != 0) {
        close(fd);
        return SOCP_EIO;
    }
    s_nodelay(fd);
    if (peer) {
        s_format_addr((struct sockaddr *) &ss, peer);
    }
    *fd_out = fd;
    return 0;
}

int
socp_tcp_connect(const char *host, uint16_t port, int *fd_out)
{
    *fd_out = -1;
    struct addrinfo *res = NULL;
    int rc = s_resolve(host, port, false, &res);
    if (rc != 0) {
        return rc;
    }
    rc = SOCP_EIO;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            continue;
        }
        if (s_set_flags(fd) != 0) {
            close(fd);
            continue;
        }
        s_nodelay(fd);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
            *fd_out = fd;
            rc = 0;
            break;
        }
        close(fd);
    }
    freeaddrinfo(res);
    return rc;
}

int
socp_tcp_connect_result(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        return SOCP_EIO;
    }
    if (err == EINPROGRESS || err == EALREADY) {
        return SOCP_EAGAIN;
    }
    if (err != 0) {
        return SOCP_EIO;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(fd, (struct sockaddr *) &ss, &sl) != 0) {
        return errno == ENOTCONN ? SOCP_EAGAIN : SOCP_EIO;
    }
    return 0;
}

socp_tcp_conn_t *
socp_tcp_conn_new(int fd,
                  socp_ws_role_t role,
                  const socp_ws_opts_t *opts,
                  const char *host,
                  uint16_t port)
{
    socp_ws_t *ws = socp_ws_new(role, opts);
    if (!ws) {
        close(fd);
        return NULL;
    }
    if (role == SOCP_WS_CLIENT && socp_ws_request(ws, host ? host : "127.0.0.1", port, "/") != 0) {
        socp_ws_destroy(&ws);
        close(fd);
        return NULL;
    }
    socp_tcp_conn_t *self = socp_calloc(1, sizeof *self);
    self->fd = fd;
    self->ws = ws;
    return self;
}

void
socp_tcp_conn_destroy(socp_tcp_conn_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    socp_tcp_conn_t *self = *self_p;
    if (self->fd >= 0) {
        close(self->fd);
    }
    socp_ws_destroy(&self->ws);
    free(self);
    *self_p = NULL;
}

int
socp_tcp_conn_fd(const socp_tcp_conn_t *self)
{
    return self->fd;
}

socp_ws_t *
socp_tcp_conn_ws(socp_tcp_conn_t *self)
{
    return self->ws;
}

int
socp_tcp_conn_read(socp_tcp_conn_t *self, size_t budget)
{
    if (self->failed) {
        return SOCP_EIO;
    }
    if (self->eof) {
        return SOCP_ECLOSED;
    }
    if (budget == 0) {
        budget = 256u * 1024u;
    }
    uint8_t buf[65536];
    size_t total = 0;
    while (total < budget) {
        size_t want = budget - total < sizeof buf ? budget - total : sizeof buf;
        ssize_t n = recv(self->fd, buf, want, 0);
        if (n > 0) {
            total += (size_t) n;
            int rc = socp_ws_feed(self->ws, buf, (size_t) n);
            if (rc == SOCP_ECLOSED) {
                return 0; // bytes after the peer's close are ignored
            }
            if (rc != 0) {
                return rc;
            }
            if ((size_t) n < want) {
                break; // the kernel had no more for now
            }
            continue;
        }
        if (n == 0) {
            self->eof = true;
            return SOCP_ECLOSED;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        }
        self->eof = true;
        self->failed = true;
        return SOCP_EIO;
    }
    return 0;
}

int
socp_tcp_conn_next(socp_tcp_conn_t *self, socp_ws_msg_t *out)
{
    return socp_ws_next_message(self->ws, out);
}

int
socp_tcp_conn_flush(socp_tcp_conn_t *self)
{
    if (self->failed) {
        return SOCP_EIO;
    }
    for (;;) {
        size_t len = 0;
        const uint8_t *out = socp_ws_output(self->ws, &len);
        if (len == 0) {
            return 0;
        }
        ssize_t n = send(self->fd, out, len, MSG_NOSIGNAL);
        if (n > 0) {
            socp_ws_output_consumed(self->ws, (size_t) n);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        }
        self->failed = true;
        self->eof = true;
        return SOCP_EIO;
    }
}

int
socp_tcp_conn_send_text(socp_tcp_conn_t *self, const char *data, size_t len)
{
    if (self->failed) {
        return SOCP_EIO;
    }
    int rc = socp_ws_send_text(self->ws, data, len);
    if (rc == SOCP_EOVERFLOW) {
        // Give the kernel a chance first: the bound is on what it refuses.
        if (socp_tcp_conn_flush(self) != 0) {
            return SOCP_EIO;
        }
        rc = socp_ws_send_text(self->ws, data, len);
    }
    if (rc != 0) {
        return rc;
    }
    return socp_tcp_conn_flush(self);
}

bool
socp_tcp_conn_want_write(const socp_tcp_conn_t *self)
{
    return !self->failed && socp_ws_want_write(self->ws);
}

bool
socp_tcp_conn_done(const socp_tcp_conn_t *self)
{
    if (self->failed) {
        return true;
    }
    if (self->eof) {
        return true;
    }
    return !socp_ws_want_read(self->ws) && !socp_ws_want_write(self->ws);
}

void
socp_tcp_conn_close(socp_tcp_conn_t *self, uint16_t code, const char *reason)
{
    if (socp_ws_close(self->ws, code, reason) != 0) {
        return; // already closing or failed: nothing more to queue
    }
    if (socp_tcp_conn_flush(self) != 0) {
        return; // the socket failed: socp_tcp_conn_done() now says so
    }
}

int
socp_tcp_conn_pump(socp_tcp_conn_t *self, int timeout_ms)
{
    struct pollfd pfd = {.fd = self->fd, .events = POLLIN};
    if (socp_tcp_conn_want_write(self)) {
        pfd.events |= POLLOUT;
    }
    int n = poll(&pfd, 1, timeout_ms);
    if (n < 0) {
        return errno == EINTR ? 0 : SOCP_EIO;
    }
    if (n == 0) {
        return 0;
    }
    if (pfd.revents & POLLOUT) {
        int rc = socp_tcp_conn_flush(self);
        if (rc != 0) {
            return rc;
        }
    }
    if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
        int rc = socp_tcp_conn_read(self, 0);
        int frc = socp_tcp_conn_flush(self); // pongs, close echoes
        return rc != 0 ? rc : frc;
    }
    return 0;
}

int
socp_tcp_ws_connect(const char *host,
                    uint16_t port,
                    const socp_ws_opts_t *opts,
                    int timeout_ms,
                    socp_tcp_conn_t **out)
{
    *out = NULL;
    int fd = -1;
    int rc = socp_tcp_connect(host, port, &fd);
    if (rc != 0) {
        return rc;
    }
    uint64_t deadline = socp_now_ms() + (uint64_t) (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int left = (int) (deadline > socp_now_ms() ? deadline - socp_now_ms() : 0);
        if (poll(&pfd, 1, left) <= 0) {
            close(fd);
            return SOCP_ETIMEDOUT;
        }
        rc = socp_tcp_connect_result(fd);
        if (rc == 0) {
            break;
        }
        if (rc != SOCP_EAGAIN) {
            close(fd);
            return rc;
        }
    }
    socp_tcp_conn_t *conn = socp_tcp_conn_new(fd, SOCP_WS_CLIENT, opts, host, port);
    if (!conn) {
        return SOCP_EINVAL;
    }
    while (socp_ws_state(conn->ws) == SOCP_WS_CONNECTING) {
        int left = (int) (deadline > socp_now_ms() ? deadline - socp_now_ms() : 0);
        if (left == 0) {
            socp_tcp_conn_destroy(&conn);
            return SOCP_ETIMEDOUT;
        }
        rc = socp_tcp_conn_pump(conn, left);
        if (rc != 0) {
            socp_tcp_conn_destroy(&conn);
            return rc == SOCP_ECLOSED ? SOCP_EIO : rc;
        }
    }
    if (socp_ws_state(conn->ws) != SOCP_WS_OPEN) {
        socp_tcp_conn_destroy(&conn);
        return SOCP_EPROTO;
    }
    *out = conn;
    return 0;
}
