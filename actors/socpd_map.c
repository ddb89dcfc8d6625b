// socpd_map.c: string-keyed open-addressing hash map (see socpd_map.h).
// DESIGN: a plain data structure owned by one actor (the router); FNV-1a
// hashing seeded per map with libsodium randomness so a peer cannot aim ids
// at one probe chain; grows at 50% load (tombstones included).
#include "socp/socpd_map.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_TOMB ((char *) &s_tomb_marker)
static char s_tomb_marker;

typedef struct {
    char *key; // NULL: empty; S_TOMB: deleted
    void *value;
} s_slot_t;

struct socpd_map {
    s_slot_t *slots;
    size_t cap;  // power of two
    size_t size; // live entries
    size_t used; // live + tombstones
    uint64_t seed;
};

static uint64_t
s_hash(const socpd_map_t *self, const char *key)
{
    uint64_t h = 1469598103934665603ull ^ self->seed;
    for (const unsigned char *p = (const unsigned char *) key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}

socpd_map_t *
socpd_map_new(void)
{
    socpd_map_t *self = socp_calloc(1, sizeof *self);
    self->cap = 64;
    self->slots = socp_calloc(self->cap, sizeof *self->slots);
    randombytes_buf(&self->seed, sizeof self->seed);
    return self;
}

void
socpd_map_destroy(socpd_map_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    socpd_map_t *self = *self_p;
    for (size_t i = 0; i < self->cap; i++) {
        if (self->slots[i].key && self->slots[i].key != S_TOMB) {
            free(self->slots[i].key);
        }
    }
    free(self->slots);
    free(self);
    *self_p = NULL;
}

static s_slot_t *
s_find(const socpd_map_t *self, const char *key)
{
    size_t mask = self->cap - 1;
    for (size_t i = s_hash(self, key) & mask;; i = (i + 1) & mask) {
        s_slot_t *s = &self->slots[i];
        if (!s->key) {
            return NULL;
        }
        if (s->key != S_TOMB && strcmp(s->key, key) == 0) {
            return s;
        }
    }
}

void *
socpd_map_get(const socpd_map_t *self, const char *key)
{
    s_slot_t *s = s_find(self, key);
    return s ? s->value : NULL;
}

static void
s_grow(socpd_map_t *self)
{
    size_t old_cap = self->cap;
    s_slot_t *old = self->slots;
    size_t cap = self->size * 4 > old_cap ? old_cap * 2 : old_cap;
    self->cap = cap;
    self->slots = socp_calloc(cap, sizeof *self->slots);
    self->used = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key && old[i].key != S_TOMB) {
            size_t mask = cap - 1;
            size_t j = s_hash(self, old[i].key) & mask;
            while (self->slots[j].key) {
                j = (j + 1) & mask;
            }
            self->slots[j] = old[i];
            self->used++;
        }
    }
    free(old);
}

void *
socpd_map_put(socpd_map_t *self, const char *key, void *value)
{
    s_slot_t *s = s_find(self, key);
    if (s) {
        void *prev = s->value;
        s->value = value;
        return prev;
    }
    if ((self->used + 1) * 2 > self->cap) {
        s_grow(self);
    }
    size_t mask = self->cap - 1;
    size_t i = s_hash(self, key) & mask;
    while (self->slots[i].key && self->slots[i].key != S_TOMB) {
        i = (i + 1) & mask;
    }
    if (!self->slots[i].key) {
        self->used++;
    }
    self->slots[i].key = socp_strdup(key);
    self->slots[i].value = value;
    self->size++;
    return NULL;
}

void *
socpd_map_remove(socpd_map_t *self, const char *key)
{
    s_slot_t *s = s_find(self, key);
    if (!s) {
        return NULL;
    }
    void *v = s->value;
    free(s->key);
    s->key = S_TOMB;
    s->value = NULL;
    self->size--;
    return v;
}

size_t
socpd_map_size(const socpd_map_t *self)
{
    return self->size;
}

bool
socpd_map_next(const socpd_map_t *self, size_t *pos, const char **key, void **value)
{
    while (*pos < self->cap) {
        s_slot_t *s = &self->slots[(*pos)++];
        if (s->key && s->key != S_TOMB) {
            *key = s->key;
            *value = s->value;
            return true;
        }
    }
    return false;
}

// Decimal form of an id: the key the *_id functions use.
static void
s_id_key(uint64_t id, char k[24])
{
    snprintf(k, 24, "%llu", (unsigned long long) id);
}

void *
socpd_map_get_id(const socpd_map_t *self, uint64_t id)
{
    char k[24];
    s_id_key(id, k);
    return socpd_map_get(self, k);
}

void *
socpd_map_put_id(socpd_map_t *self, uint64_t id, void *value)
{
    char k[24];
    s_id_key(id, k);
    return socpd_map_put(self, k, value);
}

void *
socpd_map_remove_id(socpd_map_t *self, uint64_t id)
{
    char k[24];
    s_id_key(id, k);
    return socpd_map_remove(self, k);
}
