// socp_cli_helpers.h: helpers for the socp client's end-to-end tests: start
// socpd and socp processes (and the scripted fake server,
// tests/py/fake_socp_server.py) with pipes, send commands, wait for lines.
// Every wait has a deadline; a miss fails the case with the line it wanted.
#ifndef SOCP_CLI_HELPERS_H
#define SOCP_CLI_HELPERS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    int pid;
    int in, out; // our ends: write commands, read output lines
} socp_cli_t;

// Starts socpd on 127.0.0.1 port 0 with data dir TMP/<dir>, a plain key,
// rate limit off unless `extra` (NULL-terminated, may be NULL) says
// otherwise. Writes the port it listens on. Returns its pid.
int socp_cli_server(const char *dir, const char *const extra[], char *port, size_t size);

// Starts `socp` connected to ws://127.0.0.1:<port> with data dir TMP/<name>,
// the fixture key `key` (tests/fixtures/), --name <name>, 1 s heartbeats,
// --file-rate 0, then `extra` (NULL-terminated, may be NULL).
socp_cli_t
socp_cli_start(const char *port, const char *name, const char *key, const char *const extra[]);

// Starts program `path` with argv (argv[0] included), stdin and stdout on
// pipes (stderr inherited).
socp_cli_t socp_cli_spawn(const char *path, const char *const argv[]);

// Starts bob (rsa4096_4p_b.pem), then alice (rsa4096_4p_a.pem), and waits
// until bob is connected and alice sees him online.
void socp_cli_start_pair(const char *port, socp_cli_t *bob, socp_cli_t *alice);

// Writes one command line (a newline is added).
void socp_cli_say(socp_cli_t *c, const char *line);

// Reads lines until one contains `want` (copied to got when non-NULL);
// fails the case after timeout_ms.
void socp_cli_expect(socp_cli_t *c, const char *want, int timeout_ms, char *got, size_t size);

// Reads lines until each of the NULL-terminated `wants` has been seen in
// some line, in any order; fails the case after timeout_ms.
void socp_cli_expect_all(socp_cli_t *c, const char *const wants[], int timeout_ms);

// Starts tests/py/fake_socp_server.py; writes the port it listens on.
socp_cli_t socp_cli_fake_start(char *port, size_t size);

// Sends one command to the fake server and waits for "ok <cmd> <result>";
// copies the result (may be empty) to out when non-NULL.
void socp_cli_fake(socp_cli_t *f, const char *cmd, char *out, size_t size);

// Writes `size` bytes of a fixed pattern to path.
void socp_cli_write_file(const char *path, size_t size);

// True if both files exist and have the same bytes.
bool socp_cli_same_file(const char *a, const char *b);

#endif
