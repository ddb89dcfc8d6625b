// socp_bus.h: the ZeroMQ context and the socket wrapper every actor uses.
//
// One socp_bus_t per process. It owns the zmq context and a registry of every
// socket created through it (owner, file, line), so shutdown can name leaked
// sockets instead of hanging in zmq_ctx_term. Sockets are created, used and
// closed by one thread only (the registry itself is thread-safe).
#ifndef SOCP_BUS_H
#define SOCP_BUS_H

#include "socp/socp_common.h"

typedef struct socp_bus socp_bus_t;

#define SOCP_BUS_DEFAULT_HWM 1000

// Creates the bus: a zmq context with ZMQ_BLOCKY off. Returns 0 or SOCP_ENOMEM.
SOCP_NODISCARD int socp_bus_new(socp_bus_t **out);

// Destroys the bus. If sockets are still open it logs each (owner, file:line),
// leaves the context un-terminated (zmq_ctx_term would hang) and returns
// SOCP_ELEAK; otherwise terminates the context and returns 0. Sets *self_p
// to NULL in both cases.
int socp_bus_destroy(socp_bus_t **self_p);

// Wakes every thread blocked in a zmq call on this bus with ETERM. Used by
// the supervisor when an actor misses its stop deadline. Idempotent.
void socp_bus_shutdown(socp_bus_t *self);
bool socp_bus_is_shutdown(socp_bus_t *self);

// The raw zmq context (for zmq calls the wrapper does not cover).
void *socp_bus_zmq(socp_bus_t *self);

// Returns a process-unique number (for endpoint names).
uint64_t socp_bus_next_id(socp_bus_t *self);

// Number of sockets currently open through this bus.
size_t socp_bus_open_sockets(socp_bus_t *self);

// Creates a socket of `type` with linger 0 and send/receive HWMs of `hwm`
// (0 picks SOCP_BUS_DEFAULT_HWM), recorded under `owner`. Returns NULL if
// the context is terminated. The calling thread owns the socket.
#define socp_sock_new(bus, type, hwm, owner) \
    socp_sock_new_at((bus), (type), (hwm), (owner), __FILE__, __LINE__)
void *
socp_sock_new_at(socp_bus_t *bus, int type, int hwm, const char *owner, const char *file, int line);

// Closes a socket made by socp_sock_new and clears *sock_p. NULL-safe.
void socp_sock_close(socp_bus_t *bus, void **sock_p);

#endif
