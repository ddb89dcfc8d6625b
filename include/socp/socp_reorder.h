// socp_reorder.h: puts numbered bus messages back in order.
// Part of socp, a SOCP v1.3 client and server.
//
// Work that fans out over a pool of actors (the client's crypto workers)
// comes back in the order the workers finish it. The producer numbers each
// item (1, 2, 3, ...); the consumer pushes every reply here and is called
// back with them in number order. An item that is not next is held as its
// encoded bytes (wiped when released: they may carry plaintext). A gap that
// stays open longer than the caller's hold time is skipped by
// socp_reorder_expire(), so one lost item cannot stall the rest; an item
// that arrives after its gap was skipped, or is unnumbered (0), is handed on
// at once.
//
// Not thread-safe: one actor owns each instance.
#ifndef SOCP_REORDER_H
#define SOCP_REORDER_H

#include "socp/socp_msg.h"

#include <stddef.h>
#include <stdint.h>

typedef void(socp_reorder_fn)(socp_msg_t *msg, void *arg);

typedef struct socp_reorder_item socp_reorder_item_t;

typedef struct {
    uint64_t next;              // the number to hand on next (starts at 1)
    socp_reorder_item_t *items; // held items, unsorted
    size_t n, cap;
    uint64_t gap_since_ms; // when the current gap opened
    uint64_t skipped;      // numbers given up on, in total
} socp_reorder_t;

void socp_reorder_init(socp_reorder_t *self);

// Frees (and wipes) what is still held.
void socp_reorder_fini(socp_reorder_t *self);

// Hands `msg` (numbered `order`) and every held successor to fn, or holds a
// copy of it. Returns 0, or the encoder's error for a message it cannot
// copy (then nothing is held and nothing is called).
SOCP_NODISCARD int socp_reorder_push(socp_reorder_t *self,
                                     uint64_t order,
                                     socp_msg_t *msg,
                                     socp_reorder_fn *fn,
                                     void *arg);

// When the oldest gap has been open for more than hold_ms at now_ms, skips
// it and hands on what follows up to the next gap (which then gets its own
// hold time). Returns how many numbers were skipped (0: nothing to do).
uint64_t socp_reorder_expire(socp_reorder_t *self,
                             uint64_t now_ms,
                             uint64_t hold_ms,
                             socp_reorder_fn *fn,
                             void *arg);

// Items held now.
size_t socp_reorder_held(const socp_reorder_t *self);

#endif
