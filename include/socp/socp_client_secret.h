// socp_client_secret.h: the secrets a user hands a client front end (`socp`,
// `socp bridge`): the key file's passphrase and an account's password.
// Part of socp, a SOCP v1.3 client and server.
//
// They are read once, at start, from `--passphrase-file PATH` or from the
// environment (SOCP_PASSPHRASE, SOCP_ACCOUNT_PASSWORD), into sodium memory
// (guarded, locked, never in a core dump). Both variables are then wiped in
// the environment block (value and name, so /proc/PID/environ no longer shows
// them) and removed, whether they were used or not, so nothing started later
// inherits them. The terminal prompt is the callers' (when neither is given).
//
// Process-wide state: the front ends' main() and the identity and account
// code run before any thread and share it. Thread affinity: the main thread,
// before any other thread starts (the environment is not thread-safe).
#ifndef SOCP_CLIENT_SECRET_H
#define SOCP_CLIENT_SECRET_H

#include "socp/socp_common.h"

#define SOCP_CLIENT_PASSPHRASE_ENV "SOCP_PASSPHRASE"
#define SOCP_CLIENT_PASSWORD_ENV   "SOCP_ACCOUNT_PASSWORD"
#define SOCP_CLIENT_SECRET_MAX     1024 // longest passphrase or password (bytes)

// Reads the secrets and wipes both variables.
// @param path     --passphrase-file, or NULL: its first line (without the
//                 newline) is the key's passphrase, or with `account` the
//                 account's password (which encrypts the key file then)
// @param account  --account was given
// @param why      a static sentence on failure
// @return 0; SOCP_EIO (the file cannot be read); SOCP_EINVAL (the file's
//         first line is empty); SOCP_ETOOBIG (over SOCP_CLIENT_SECRET_MAX
//         bytes); SOCP_ENOMEM (no secure memory). Nothing is kept on failure,
//         and the variables are wiped all the same.
int socp_client_secret_load(const char *path, bool account, const char **why);

// The key file's passphrase (without --account: the file, else
// SOCP_PASSPHRASE when set and not empty), or NULL. NUL-terminated, in
// sodium memory, valid until socp_client_secret_forget.
const char *socp_client_secret_passphrase(void);

// The account's password (with --account: the file, else
// SOCP_ACCOUNT_PASSWORD when set and not empty), or NULL. As above.
const char *socp_client_secret_password(void);

// Wipes and frees both (idempotent). Called once the key is loaded.
void socp_client_secret_forget(void);

// Overwrites variable `name` in the environment block (value, then the
// name of its entry) and removes it. Idempotent.
void socp_client_secret_wipe_env(const char *name);

#endif
