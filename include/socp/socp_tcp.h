// socp_tcp.h: non-blocking TCP sockets carrying one WebSocket session each.
// Part of socp, a SOCP v1.3 client and server.
//
// A thin shell around socp_ws (which is pure bytes in / bytes out): this
// module owns the file descriptor, reads what the kernel has into the
// session, and writes the session's output with partial writes. It is what
// a net actor (server or client) watches with socp_actor_watch_fd:
//
//     POLLIN  -> socp_tcp_conn_read, then socp_tcp_conn_next until EAGAIN
//     POLLOUT -> socp_tcp_conn_flush   (watch POLLOUT only while
//                                       socp_tcp_conn_want_write is true)
//     socp_tcp_conn_done -> destroy the connection
//
// Output is bounded: the session refuses to queue more than
// opts->max_output unwritten bytes (socp_tcp_conn_send_text returns
// SOCP_EOVERFLOW), which is how a slow reader is detected; the caller then
// drops the connection. Sockets get TCP_NODELAY, O_NONBLOCK and FD_CLOEXEC.
//
// Addresses: IPv4/IPv6 literals or names (resolved with getaddrinfo, which
// may block: resolve names once at start, not on a hot path).
//
// Thread-safety: a connection is used by one thread at a time; the module
// has no global state. SIGPIPE must be blocked or ignored (send uses
// MSG_NOSIGNAL where available anyway).
#ifndef SOCP_TCP_H
#define SOCP_TCP_H

#include "socp/socp_common.h"
#include "socp/socp_ws.h"

#define SOCP_TCP_ADDR_MAX 64 // "a.b.c.d:port" / "[v6]:port" text, NUL included

typedef struct socp_tcp_conn socp_tcp_conn_t;

// Opens a listening socket on host:port (port 0: the kernel picks one).
// @param fd_out    receives the non-blocking listening fd
// @param port_out  may be NULL; receives the bound port
// @return 0; SOCP_EINVAL (host does not resolve); SOCP_EIO (socket, bind or
//         listen failed: e.g. port in use; errno is left set).
SOCP_NODISCARD int
socp_tcp_listen(const char *host, uint16_t port, int backlog, int *fd_out, uint16_t *port_out);

// Accepts one pending connection from a listening fd.
// @param fd_out  receives a non-blocking, TCP_NODELAY fd the caller owns
// @param peer    may be NULL; receives "ip:port" of the peer
// @return 0; SOCP_EAGAIN when nothing is pending; SOCP_EIO on another error
//         (e.g. EMFILE: the caller should back off).
SOCP_NODISCARD int socp_tcp_accept(int listen_fd, int *fd_out, char peer[SOCP_TCP_ADDR_MAX]);

// Starts a non-blocking connect to host:port. The fd becomes writable when
// the connect finished; then call socp_tcp_connect_result.
// @return 0 (connected or in progress); SOCP_EINVAL (does not resolve);
//         SOCP_EIO (refused at once, or socket failed).
SOCP_NODISCARD int socp_tcp_connect(const char *host, uint16_t port, int *fd_out);

// The outcome of a connect started by socp_tcp_connect: 0 connected,
// SOCP_EAGAIN still in progress, SOCP_EIO failed.
SOCP_NODISCARD int socp_tcp_connect_result(int fd);

// Wraps a connected fd in a connection with a new WebSocket session.
// Takes ownership of fd (closed by destroy, also when this fails).
// A client session gets its upgrade request for ws://host:port/ queued.
// @param host  client only: the Host to request (NULL on a server)
// @return the connection, or NULL (bad opts or handshake parameters).
socp_tcp_conn_t *socp_tcp_conn_new(int fd,
                                   socp_ws_role_t role,
                                   const socp_ws_opts_t *opts,
                                   const char *host,
                                   uint16_t port);

// Closes the fd and frees everything; sets *self_p to NULL. NULL-safe.
void socp_tcp_conn_destroy(socp_tcp_conn_t **self_p);

int socp_tcp_conn_fd(const socp_tcp_conn_t *self);
socp_ws_t *socp_tcp_conn_ws(socp_tcp_conn_t *self);

// Reads what the socket has (at most `budget` bytes, 0 = 256 KiB) into the
// session. Returns 0 (possibly nothing read); SOCP_ECLOSED on end of stream;
// SOCP_EIO on a socket error; or the session's error (SOCP_EPROTO,
// SOCP_ETOOBIG, SOCP_EOVERFLOW: a close frame may be queued, flush it then
// destroy). Messages already complete stay available through next.
SOCP_NODISCARD int socp_tcp_conn_read(socp_tcp_conn_t *self, size_t budget);

// Takes the next complete message (see socp_ws_next_message): 0 or SOCP_EAGAIN.
SOCP_NODISCARD int socp_tcp_conn_next(socp_tcp_conn_t *self, socp_ws_msg_t *out);

// Queues a text message (see socp_ws_send_text) and tries to write at once.
// Returns 0; SOCP_EOVERFLOW when the peer does not read fast enough (the
// output bound is reached: disconnect it); SOCP_EAGAIN before the handshake;
// others from socp_ws_send_text; SOCP_EIO if the write failed.
SOCP_NODISCARD int socp_tcp_conn_send_text(socp_tcp_conn_t *self, const char *data, size_t len);

// Writes as much pending output as the socket takes. Returns 0 or SOCP_EIO.
SOCP_NODISCARD int socp_tcp_conn_flush(socp_tcp_conn_t *self);

// True while output is waiting (watch POLLOUT).
bool socp_tcp_conn_want_write(const socp_tcp_conn_t *self);

// True when the connection is finished: the session neither wants to read
// nor to write, or the socket failed / reached end of stream.
bool socp_tcp_conn_done(const socp_tcp_conn_t *self);

// Starts a WebSocket close (code, reason) and flushes what it can.
void socp_tcp_conn_close(socp_tcp_conn_t *self, uint16_t code, const char *reason);

// Blocking convenience for simple clients, tests and tools: polls the fd
// once for up to timeout_ms (input, and output while some is pending),
// flushes and reads. Returns 0 (something may have happened), or the error
// of read/flush.
SOCP_NODISCARD int socp_tcp_conn_pump(socp_tcp_conn_t *self, int timeout_ms);

// Blocking convenience: connect to ws://host:port/ and complete the
// WebSocket handshake within timeout_ms. Returns 0 and *out, or
// SOCP_ETIMEDOUT / SOCP_EIO / SOCP_EPROTO.
SOCP_NODISCARD int socp_tcp_ws_connect(const char *host,
                                       uint16_t port,
                                       const socp_ws_opts_t *opts,
                                       int timeout_ms,
                                       socp_tcp_conn_t **out);

#endif
