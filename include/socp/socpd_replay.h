// socpd_replay.h: the server's replay memory (docs/adr/0015-replay-proof-hellos.md).
//
// What it remembers: 32-byte digests of what socpd accepted (a signed
// USER_HELLO's payload, a user frame's signed payload), each until a wall
// clock time after which the same frame would be refused anyway (its signed
// ts is then out of the window). socpd_replay_check_and_add says whether a
// digest is already there and records it otherwise, in one step.
//
// Where: its own LMDB environment, DIR/replay.lmdb (a directory), so it
// survives a restart. Two tables: digest -> expiry, and (expiry, digest) ->
// nothing, the index the sweep walks oldest first. The environment is opened
// without a sync per commit: a record is in the file (the page cache) when
// check_and_add returns, so it survives the process being killed (kill -9);
// a power loss can lose what was not synced yet: a durable check_and_add
// (hellos) syncs before it returns, socpd_replay_sync (the router calls it
// every second) covers the rest. The database users and accounts live in
// (socpd_store) keeps its synchronous commits.
//
// Bounds: the map is `map_mb` MiB (0: 1024), a sparse file that grows as it
// is used (~130 bytes per record). When it is full a check fails with
// SOCP_ESTORE and the caller refuses the frame: memory is never evicted early,
// which would let a replay through.
//
// Thread-safety: one handle, one thread (the router's).
#ifndef SOCPD_REPLAY_H
#define SOCPD_REPLAY_H

#include "socp/socp_common.h"

#include <jansson.h>

#define SOCPD_REPLAY_KEY_BYTES 32

typedef struct socpd_replay socpd_replay_t;

// Opens (creating) DIR/replay.lmdb. A memory that cannot be opened (e.g.
// damaged by a power loss) is moved aside to DIR/replay.lmdb.broken-<ms> and
// a new one is created; then *lost_ms (if not NULL) receives the wall clock
// time of the open, before which nothing is remembered (else 0): the caller
// refuses frames signed before it.
// Returns 0 or SOCP_ESTORE / SOCP_EINVAL.
SOCP_NODISCARD int
socpd_replay_open(const char *dir, size_t map_mb, int64_t *lost_ms, socpd_replay_t **out);
void socpd_replay_close(socpd_replay_t **self_p);

// Records `key` until `expires_ms` and says whether it was already recorded
// (and not expired at `now_ms`; an expired record is replaced). Times are
// wall clock Unix milliseconds. `durable`: synced to disk before returning.
// @return 0 (new, now recorded), SOCP_EREPLAY (already there: nothing
//         written), SOCP_ESTORE (full or unwritable: nothing recorded).
SOCP_NODISCARD int socpd_replay_check_and_add(socpd_replay_t *self,
                                              const uint8_t key[SOCPD_REPLAY_KEY_BYTES],
                                              int64_t expires_ms,
                                              int64_t now_ms,
                                              bool durable);

// Deletes up to `max` records expired at `now_ms`, oldest first, in one
// transaction. Returns how many were deleted.
size_t socpd_replay_sweep(socpd_replay_t *self, int64_t now_ms, size_t max);

// Syncs records written since the last sync to disk. 0 or SOCP_ESTORE.
SOCP_NODISCARD int socpd_replay_sync(socpd_replay_t *self);

// Number of records (expired ones not swept yet included).
size_t socpd_replay_count(socpd_replay_t *self);

// The digest under which a frame is remembered: SHA-256 of a domain tag
// (hellos and content frames never collide) and of the canonical JSON of
// `payload` (what a transport sig covers; key order, spacing and escapes of
// the text do not change it). For an unsigned frame (`from` not NULL) the
// envelope's type, from, to and ts are covered too: its payload proves
// nothing and may legitimately repeat.
// @return 0, or the error of socp_json_canonical.
SOCP_NODISCARD int socpd_replay_key(const char *tag,
                                    const json_t *payload,
                                    const char *type,
                                    const char *from,
                                    const char *to,
                                    int64_t ts,
                                    uint8_t key[SOCPD_REPLAY_KEY_BYTES]);

#endif
