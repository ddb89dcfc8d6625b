// socp_reorder.c: puts numbered bus messages back in order (see the header).
// Part of socp, a SOCP v1.3 client and server.
#include "socp/socp_reorder.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "socp/socp_common.h"

struct socp_reorder_item {
    uint64_t order;
    socp_buf_t bytes; // the message, encoded
};

void
socp_reorder_init(socp_reorder_t *self)
{
    memset(self, 0, sizeof *self);
    self->next = 1;
}

static void
s_item_free(socp_reorder_item_t *it)
{
    if (it->bytes.data) {
        sodium_memzero(it->bytes.data, it->bytes.cap);
    }
    socp_buf_fini(&it->bytes);
}

void
socp_reorder_fini(socp_reorder_t *self)
{
    for (size_t i = 0; i < self->n; i++) {
        s_item_free(&self->items[i]);
    }
    free(self->items);
    memset(self, 0, sizeof *self);
}

size_t
socp_reorder_held(const socp_reorder_t *self)
{
    return self->n;
}

// Index of the held item with the lowest number, or SIZE_MAX.
static size_t
s_lowest(const socp_reorder_t *self)
{
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < self->n; i++) {
        if (best == SIZE_MAX || self->items[i].order < self->items[best].order) {
            best = i;
        }
    }
    return best;
}

// Hands on held items while the lowest is next.
static void
s_drain(socp_reorder_t *self, socp_reorder_fn *fn, void *arg)
{
    for (;;) {
        size_t i = s_lowest(self);
        if (i == SIZE_MAX || self->items[i].order > self->next) {
            return;
        }
        socp_reorder_item_t it = self->items[i];
        self->items[i] = self->items[--self->n];
        if (it.order == self->next) {
            self->next++;
        }
        socp_msg_t msg;
        if (socp_msg_decode_view(it.bytes.data, it.bytes.len, &msg) == 0) {
            fn(&msg, arg);
            socp_msg_fini(&msg);
        }
        s_item_free(&it);
        self->gap_since_ms = socp_now_ms(); // a new gap (if any) opens now
    }
}

int
socp_reorder_push(socp_reorder_t *self,
                  uint64_t order,
                  socp_msg_t *msg,
                  socp_reorder_fn *fn,
                  void *arg)
{
    if (order == 0 || order < self->next) {
        fn(msg, arg); // unnumbered, or its gap was skipped already
        return 0;
    }
    if (order == self->next) {
        self->next++;
        fn(msg, arg);
        s_drain(self, fn, arg);
        return 0;
    }
    socp_reorder_item_t it = {order, {0}};
    socp_buf_init(&it.bytes);
    int rc = socp_msg_encode(msg, &it.bytes);
    if (rc != 0) {
        s_item_free(&it);
        return rc;
    }
    if (self->n == 0) {
        self->gap_since_ms = socp_now_ms();
    }
    if (self->n == self->cap) {
        self->cap = self->cap ? self->cap * 2 : 32;
        self->items = socp_realloc(self->items, self->cap * sizeof *self->items);
    }
    self->items[self->n++] = it;
    return 0;
}

uint64_t
socp_reorder_expire(socp_reorder_t *self,
                    uint64_t now_ms,
                    uint64_t hold_ms,
                    socp_reorder_fn *fn,
                    void *arg)
{
    if (self->n == 0 || now_ms - self->gap_since_ms <= hold_ms) {
        return 0;
    }
    size_t i = s_lowest(self);
    uint64_t skipped = self->items[i].order - self->next;
    self->skipped += skipped;
    self->next = self->items[i].order;
    s_drain(self, fn, arg);
    return skipped;
}
