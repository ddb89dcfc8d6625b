// socpd_store.h: the server database (LMDB), the standard's minimum data
// model: users (id -> {pubkey, meta, version}), groups (the "public"
// channel: {creator_id, version}), group members ("group\0user" ->
// {role, wrapped_key}) and a meta table (server identity).
//
// Durability: the environment is opened with default (synchronous) commits,
// so a record whose put returned 0 survives kill -9 and power loss; LMDB's
// copy-on-write B-tree never exposes a half-written record. Records read back
// are validated (JSON object with the expected fields) before use: a corrupt
// record is reported as SOCP_ESTORE, never trusted.
//
// Thread-safety: one handle per thread (the router owns it). Writes are
// short transactions (one record), off the per-message hot path: a user is
// written once, when its id is first bound to a key.
#ifndef SOCPD_STORE_H
#define SOCPD_STORE_H

#include "socp/socp_common.h"

typedef struct socpd_store socpd_store_t;

// Opens (creating) DIR/socpd.lmdb (a directory) with a map of map_mb MiB
// (0: 256). Ensures the "public" group exists. Returns 0 or SOCP_ESTORE.
SOCP_NODISCARD int socpd_store_open(const char *dir, size_t map_mb, socpd_store_t **out);
void socpd_store_close(socpd_store_t **self_p);

// A user record: the key normalised (base64url DER SPKI, what comparisons
// use), the key exactly as the user presented it (what is relayed), and
// whether the binding was ever proven (a USER_HELLO signed by that key, or
// an account login). See docs/adr/0012-unsigned-hellos.md.
typedef struct {
    char *pubkey;
    char *presented;
    bool proven;
    int64_t seen_ms; // last hello for it, to the day (wall clock ms; 0: before records had it)
} socpd_store_user_t;

// Binds user id to pubkey (normalised) on first sight and adds it to the
// public group; records how it was presented, whether it was proven, and
// when it was last used (updated at most once a day: no write on most logins).
// An id already bound to the same key keeps its binding: the presented form
// is updated and proof, once given, is kept. Returns 0 (new, or already
// bound to the same key), SOCP_EEXIST (bound to another key: *bound_out may
// receive it, free()), SOCP_ESTORE.
SOCP_NODISCARD int socpd_store_user_bind(socpd_store_t *self,
                                         const char *user_id,
                                         const char *pubkey,
                                         const char *presented,
                                         const char *meta_json,
                                         bool proven,
                                         char **bound_out);

// Reads a user record: 0 and *out (socpd_store_user_fini), SOCP_ENOTFOUND,
// SOCP_ESTORE (unreadable record).
SOCP_NODISCARD int
socpd_store_user_get(socpd_store_t *self, const char *user_id, socpd_store_user_t *out);
void socpd_store_user_fini(socpd_store_user_t *u);

#define SOCPD_STORE_CURSOR_MAX 130 // a user id and its NUL, with room to spare

// One step of a pass that forgets unproven bindings (never proven: only
// unsigned claims, ADR 0012) last used before `before_ms` (records written
// before they carried a last use count from the database's first start with
// this rule): each is deleted with its public-group membership. Looks at up
// to `max_scan` records after `cursor` ("" = from the start) and leaves the
// last one looked at in `cursor`; *done is true once the pass reached the
// end. *removed gets the count deleted. Returns 0 or SOCP_ESTORE.
SOCP_NODISCARD int socpd_store_expire_unproven(socpd_store_t *self,
                                               int64_t before_ms,
                                               size_t max_scan,
                                               char cursor[SOCPD_STORE_CURSOR_MAX],
                                               size_t *removed,
                                               bool *done);

// Looks a user's bound key (normalised) up: 0 and *pubkey_out (free()),
// SOCP_ENOTFOUND, SOCP_ESTORE (unreadable record).
SOCP_NODISCARD int
socpd_store_user_key(socpd_store_t *self, const char *user_id, char **pubkey_out);

// Accounts of the Impl14 profile (USER_REGISTER / USER_LOGIN): the key as
// registered (base64url DER), the client's sealed private key (returned at
// login, never opened here) and the password verifier (salt.scrypt hash;
// never the password).
typedef struct {
    char *pubkey;
    char *privkey_store;
    char *pake_password;
} socpd_store_account_t;

// Adds an account: 0, SOCP_EEXIST (the name has one), SOCP_ESTORE.
SOCP_NODISCARD int socpd_store_account_add(socpd_store_t *self,
                                           const char *name,
                                           const char *pubkey,
                                           const char *privkey_store,
                                           const char *pake_password);
// Reads an account: 0 and *out (socpd_store_account_fini), SOCP_ENOTFOUND,
// SOCP_ESTORE.
SOCP_NODISCARD int
socpd_store_account_get(socpd_store_t *self, const char *name, socpd_store_account_t *out);
void socpd_store_account_fini(socpd_store_account_t *a);

// Number of users and of members of the public group.
size_t socpd_store_user_count(socpd_store_t *self);

// The public group's version (bumped on every membership change).
uint64_t socpd_store_public_version(socpd_store_t *self);

// Meta table: small strings (e.g. "server_id").
SOCP_NODISCARD int socpd_store_meta_get(socpd_store_t *self, const char *key, char **value_out);
SOCP_NODISCARD int socpd_store_meta_put(socpd_store_t *self, const char *key, const char *value);

#endif
