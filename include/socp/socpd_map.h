// socpd_map.h: a string-keyed hash map (open addressing, linear probing,
// tombstones) for the server's in-memory tables. Keys are copied; values are
// borrowed pointers the caller owns. Not thread-safe: one owner thread.
#ifndef SOCPD_MAP_H
#define SOCPD_MAP_H

#include "socp/socp_common.h"

typedef struct socpd_map socpd_map_t;

socpd_map_t *socpd_map_new(void);
// Frees the map and its key copies (not the values); sets *self_p to NULL.
void socpd_map_destroy(socpd_map_t **self_p);
// The value for key, or NULL.
void *socpd_map_get(const socpd_map_t *self, const char *key);
// Inserts or replaces; returns the previous value (or NULL).
void *socpd_map_put(socpd_map_t *self, const char *key, void *value);
// Removes key; returns its value (or NULL).
void *socpd_map_remove(socpd_map_t *self, const char *key);
size_t socpd_map_size(const socpd_map_t *self);
// The same, keyed by a numeric id (a connection id) in its decimal form.
void *socpd_map_get_id(const socpd_map_t *self, uint64_t id);
void *socpd_map_put_id(socpd_map_t *self, uint64_t id, void *value);
void *socpd_map_remove_id(socpd_map_t *self, uint64_t id);
// Iteration: pass *pos = 0 first; returns false at the end. Do not modify
// the map while iterating (collect keys first).
bool socpd_map_next(const socpd_map_t *self, size_t *pos, const char **key, void **value);

#endif
