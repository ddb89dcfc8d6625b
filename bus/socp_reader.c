// socp_reader.c: reading an actor-fed inbox from a thread that is not an
// actor (main, tests): splits batch frames into owning message copies.
#include "socp/socp_actor.h"
#include "socp/socp_err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct socp_reader {
    void *sock;      // borrowed PULL socket
    zmq_msg_t frame; // current frame
    size_t off;      // next message in it
    bool have;       // frame holds unread messages
};

socp_reader_t *
socp_reader_new(void *sock)
{
    socp_reader_t *self = socp_calloc(1, sizeof *self);
    self->sock = sock;
    zmq_msg_init(&self->frame);
    return self;
}

void
socp_reader_destroy(socp_reader_t **self_p)
{
    socp_reader_t *self = *self_p;
    if (!self) {
        return;
    }
    *self_p = NULL;
    zmq_msg_close(&self->frame);
    free(self);
}

int
socp_reader_next(socp_reader_t *self, int timeout_ms, socp_msg_t *out)
{
    memset(out, 0, sizeof *out);
    if (!self->have) {
        zmq_pollitem_t it = {self->sock, 0, ZMQ_POLLIN, 0};
        int rc;
        while ((rc = zmq_poll(&it, 1, timeout_ms)) < 0 && zmq_errno() == EINTR) {
        }
        if (rc < 0) {
            return zmq_errno() == ETERM ? SOCP_ETERM : SOCP_EIO;
        }
        if (rc == 0) {
            return SOCP_ETIMEDOUT;
        }
        if (zmq_msg_recv(&self->frame, self->sock, ZMQ_DONTWAIT) < 0) {
            return zmq_errno() == ETERM ? SOCP_ETERM : SOCP_ETIMEDOUT;
        }
        self->off = 0;
        self->have = true;
    }
    const uint8_t *data = zmq_msg_data(&self->frame);
    size_t size = zmq_msg_size(&self->frame), used = 0;
    socp_msg_t view;
    int rc = socp_msg_decode_view_next(data + self->off, size - self->off, &used, &view);
    if (rc != 0) {
        self->have = false; // the rest of this frame is unreadable
        return rc;
    }
    socp_msg_fini(&view);
    rc = socp_msg_decode(data + self->off, used, out); // an owning copy
    self->off += used;
    self->have = self->off < size;
    return rc;
}
