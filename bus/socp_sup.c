// socp_sup.c: the supervisor (ordered start, signal and fault watch, reverse stop).
#include "socp/socp_sup.h"
#include "socp/socp_err.h"
#include "socp/socp_log.h"
#include "socp/socp_platform.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

struct socp_sup {
    socp_bus_t *bus;       // not owned
    socp_actor_t **actors; // in start order
    size_t nactors;
    int sigfd;             // signalfd, or -1
    zmq_pollitem_t *items; // poll set
};

int
socp_sup_new(socp_bus_t *bus, bool watch_signals, socp_sup_t **out)
{
    *out = NULL;
    socp_sup_t *self = socp_calloc(1, sizeof *self);
    self->bus = bus;
    self->sigfd = -1;
    if (watch_signals) {
        self->sigfd = socp_platform_signal_fd();
        if (self->sigfd < 0) {
            int rc = self->sigfd;
            free(self);
            return rc;
        }
    }
    *out = self;
    return 0;
}

int
socp_sup_start(socp_sup_t *self,
               const char *name,
               socp_actor_fn *fn,
               void *args,
               const socp_actor_opts_t *opts)
{
    socp_actor_t *a;
    int rc = socp_actor_start(self->bus, name, fn, args, opts, &a);
    if (rc != 0) {
        return rc;
    }
    self->actors = socp_realloc(self->actors, (self->nactors + 1) * sizeof *self->actors);
    self->actors[self->nactors++] = a;
    return 0;
}

socp_actor_t *
socp_sup_actor(socp_sup_t *self, const char *name)
{
    for (size_t i = 0; i < self->nactors; i++) {
        if (strcmp(socp_actor_handle_name(self->actors[i]), name) == 0) {
            return self->actors[i];
        }
    }
    return NULL;
}

// Reads one pipe message of actor i into ev; returns true if it is an event.
static bool
s_pipe_event(socp_sup_t *self, size_t i, socp_sup_event_t *ev)
{
    socp_actor_t *a = self->actors[i];
    socp_msg_t m;
    if (socp_actor_pipe_recv(a, &m) != 0) {
        return false;
    }
    bool event = true;
    ev->actor = socp_actor_handle_name(a);
    if (m.type == SOCP_MSG_FAULT) {
        ev->kind = SOCP_SUP_FAULT;
        ev->code = (int) m.body.fault.code;
        snprintf(ev->detail, sizeof ev->detail, "%s", m.body.fault.detail);
    } else if (m.type == SOCP_MSG_DONE) {
        ev->kind = SOCP_SUP_EXIT;
        ev->code = (int) m.body.done.status;
    } else {
        event = false;
    }
    socp_msg_fini(&m);
    return event;
}

int
socp_sup_wait(socp_sup_t *self, int timeout_ms, socp_sup_event_t *ev)
{
    memset(ev, 0, sizeof *ev);
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : socp_now_ms() + (uint64_t) timeout_ms;
    for (;;) {
        for (size_t i = 0; i < self->nactors; i++) {
            if (socp_actor_pipe_pending(self->actors[i]) && s_pipe_event(self, i, ev)) {
                return 0;
            }
        }
        size_t n = self->nactors + 1;
        self->items = socp_realloc(self->items, n * sizeof *self->items);
        for (size_t i = 0; i < self->nactors; i++) {
            self->items[i] = (zmq_pollitem_t){socp_actor_pipe(self->actors[i]), 0, ZMQ_POLLIN, 0};
        }
        self->items[self->nactors] = (zmq_pollitem_t){NULL, self->sigfd, ZMQ_POLLIN, 0};
        size_t nitems = self->sigfd >= 0 ? n : n - 1;
        uint64_t now = socp_now_ms();
        long wait = deadline == UINT64_MAX ? -1 : deadline > now ? (long) (deadline - now) : 0;
        int rc = zmq_poll(self->items, (int) nitems, wait);
        if (rc < 0) {
            if (zmq_errno() == EINTR) {
                continue;
            }
            return zmq_errno() == ETERM ? SOCP_ETERM : SOCP_EIO;
        }
        if (self->sigfd >= 0 && (self->items[self->nactors].revents & ZMQ_POLLIN)) {
            int signo = socp_platform_signal_read(self->sigfd);
            if (signo) {
                ev->kind = SOCP_SUP_SIGNAL;
                ev->signo = signo;
                return 0;
            }
        }
        for (size_t i = 0; i < self->nactors; i++) {
            if ((self->items[i].revents & ZMQ_POLLIN) && s_pipe_event(self, i, ev)) {
                return 0;
            }
        }
        if (rc == 0 && socp_now_ms() >= deadline) {
            ev->kind = SOCP_SUP_TIMEOUT;
            return 0;
        }
    }
}

int
socp_sup_stop(socp_sup_t *self, int deadline_ms)
{
    int result = 0;
    while (self->nactors) {
        socp_actor_t *a = self->actors[--self->nactors];
        char name[SOCP_ACTOR_NAME_MAX + 1];
        snprintf(name, sizeof name, "%s", socp_actor_handle_name(a));
        int rc = socp_actor_stop(&a, deadline_ms);
        if (rc != 0) {
            socp_warn("actor %s stopped with %s", name, socp_strerror(rc));
            if (result == 0) {
                result = rc;
            }
        }
    }
    return result;
}

void
socp_sup_destroy(socp_sup_t **self_p)
{
    socp_sup_t *self = *self_p;
    if (!self) {
        return;
    }
    *self_p = NULL;
    (void) socp_sup_stop(self, 1000);
    if (self->sigfd >= 0) {
        close(self->sigfd);
    }
    free(self->actors);
    free(self->items);
    free(self);
}
