// socp_bus.c: zmq context, socket defaults and the socket registry.
#include "socp/socp_bus.h"
#include "socp/socp_err.h"
#include "socp/socp_log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

typedef struct {
    void *sock;       // the zmq socket
    char owner[32];   // actor or module that created it
    const char *file; // where it was created
    int line;
} s_sock_rec_t;

struct socp_bus {
    void *zmq;            // zmq context
    pthread_mutex_t lock; // guards the registry and the shutdown flag
    s_sock_rec_t *socks;  // open sockets
    size_t nsocks;        // entries in use
    size_t cap;           // entries allocated
    bool shutdown;        // zmq_ctx_shutdown was called
    uint64_t next_id;     // for unique endpoint names
};

int
socp_bus_new(socp_bus_t **out)
{
    *out = NULL;
    socp_bus_t *self = socp_calloc(1, sizeof *self);
    self->zmq = zmq_ctx_new();
    if (!self->zmq) {
        free(self);
        return SOCP_ENOMEM;
    }
    zmq_ctx_set(self->zmq, ZMQ_BLOCKY, 0);
    pthread_mutex_init(&self->lock, NULL);
    *out = self;
    return 0;
}

int
socp_bus_destroy(socp_bus_t **self_p)
{
    socp_bus_t *self = *self_p;
    if (!self) {
        return 0;
    }
    *self_p = NULL;
    int rc = 0;
    pthread_mutex_lock(&self->lock);
    size_t leaked = self->nsocks;
    for (size_t i = 0; i < leaked; i++) {
        socp_error("bus: socket leaked by %s, created at %s:%d", self->socks[i].owner,
                   self->socks[i].file, self->socks[i].line);
    }
    pthread_mutex_unlock(&self->lock);
    if (leaked) {
        // zmq_ctx_term would wait for these sockets forever: report, and
        // leave the context to the process exit.
        socp_error("bus: %zu socket(s) still open; not terminating the context", leaked);
        rc = SOCP_ELEAK;
    } else {
        while (zmq_ctx_term(self->zmq) != 0 && zmq_errno() == EINTR) {
        }
    }
    pthread_mutex_destroy(&self->lock);
    free(self->socks);
    free(self);
    return rc;
}

void
socp_bus_shutdown(socp_bus_t *self)
{
    pthread_mutex_lock(&self->lock);
    bool first = !self->shutdown;
    self->shutdown = true;
    pthread_mutex_unlock(&self->lock);
    if (first) {
        zmq_ctx_shutdown(self->zmq);
    }
}

bool
socp_bus_is_shutdown(socp_bus_t *self)
{
    pthread_mutex_lock(&self->lock);
    bool down = self->shutdown;
    pthread_mutex_unlock(&self->lock);
    return down;
}

void *
socp_bus_zmq(socp_bus_t *self)
{
    return self->zmq;
}

uint64_t
socp_bus_next_id(socp_bus_t *self)
{
    pthread_mutex_lock(&self->lock);
    uint64_t id = ++self->next_id;
    pthread_mutex_unlock(&self->lock);
    return id;
}

size_t
socp_bus_open_sockets(socp_bus_t *self)
{
    pthread_mutex_lock(&self->lock);
    size_t n = self->nsocks;
    pthread_mutex_unlock(&self->lock);
    return n;
}

void *
socp_sock_new_at(socp_bus_t *bus, int type, int hwm, const char *owner, const char *file, int line)
{
    void *sock = zmq_socket(bus->zmq, type);
    if (!sock) {
        return NULL;
    }
    int linger = 0;
    int h = hwm > 0 ? hwm : SOCP_BUS_DEFAULT_HWM;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_SNDHWM, &h, sizeof h);
    zmq_setsockopt(sock, ZMQ_RCVHWM, &h, sizeof h);
    pthread_mutex_lock(&bus->lock);
    if (bus->nsocks == bus->cap) {
        bus->cap = bus->cap ? bus->cap * 2 : 16;
        bus->socks = socp_realloc(bus->socks, bus->cap * sizeof *bus->socks);
    }
    s_sock_rec_t *rec = &bus->socks[bus->nsocks++];
    rec->sock = sock;
    snprintf(rec->owner, sizeof rec->owner, "%s", owner ? owner : "?");
    rec->file = file;
    rec->line = line;
    pthread_mutex_unlock(&bus->lock);
    return sock;
}

void
socp_sock_close(socp_bus_t *bus, void **sock_p)
{
    void *sock = *sock_p;
    if (!sock) {
        return;
    }
    *sock_p = NULL;
    pthread_mutex_lock(&bus->lock);
    for (size_t i = 0; i < bus->nsocks; i++) {
        if (bus->socks[i].sock == sock) {
            bus->socks[i] = bus->socks[--bus->nsocks];
            break;
        }
    }
    pthread_mutex_unlock(&bus->lock);
    zmq_close(sock);
}
