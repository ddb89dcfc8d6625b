// socp_sync_test.c: crash consistency that a kill -9 cannot show. After
// SIGKILL the kernel still writes the page cache out, so a database opened
// with MDB_NOSYNC, MDB_NOMETASYNC or MDB_WRITEMAP|MDB_MAPASYNC passes every
// kill -9 test and still loses what it acknowledged when the machine loses
// power. Here the program runs under the sync shim (tests/shim/syncshim.c,
// LD_PRELOAD), which logs in order every write to and sync of its data.mdb
// and every acknowledgement it gives (the client's "you -> bob" echo on
// stdout, socpd's answer on a client's socket). For each request the test
// checks that between the request and its acknowledgement the data file was
// synced, and that at the acknowledgement no meta page written without
// O_DSYNC was still waiting for a sync (LMDB's default mode writes the meta
// page through an O_DSYNC descriptor after an fdatasync of the data pages).
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "socp_cli_helpers.h"
#include "socpd_test.h"

#define S_META_END 8192 // LMDB's two meta pages (4 KiB pages here)
#define S_ROUNDS   6

static char *
s_log_path(const char *name)
{
    return socp_test_path(socp_test_tmpdir(), name);
}

// The next program started runs under the shim, logging to `log`.
static void
s_shim_on(const char *log, const char *needle)
{
    char shim[4096];
    snprintf(shim, sizeof shim, "%s/tests/libsocp_syncshim.so", SOCP_BUILDDIR);
    CHECK_MSG(access(shim, R_OK) == 0, "no sync shim at %s (make builds it)", shim);
    CHECK(setenv("LD_PRELOAD", shim, 1) == 0);
    CHECK(setenv("SOCP_SYNCSHIM_LOG", log, 1) == 0);
    CHECK(setenv("SOCP_SYNCSHIM_NEEDLE", needle ? needle : "", 1) == 0);
    // An ASan program refuses a library preloaded before its runtime.
    const char *asan = getenv("ASAN_OPTIONS");
    char opts[2048];
    snprintf(opts, sizeof opts, "%s%sverify_asan_link_order=0", asan ? asan : "",
             asan && *asan ? ":" : "");
    CHECK(setenv("ASAN_OPTIONS", opts, 1) == 0);
}

static void
s_shim_off(void)
{
    CHECK(unsetenv("LD_PRELOAD") == 0);
    CHECK(unsetenv("SOCP_SYNCSHIM_LOG") == 0);
    CHECK(unsetenv("SOCP_SYNCSHIM_NEEDLE") == 0);
}

static size_t
s_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (size_t) st.st_size : 0;
}

// The acknowledgement of request i: on stdout (`port` 0: the i-th "A"
// count), or the first frame to TCP port `ports[i]` after the request.
typedef struct {
    const size_t *marks;   // log size when request i was made
    const unsigned *ports; // per request, or NULL for stdout acknowledgements
    size_t n;              // requests
} s_plan_t;

// Walks the log and checks every acknowledgement. Fails the case with the
// first violation.
static void
s_check(const char *log, const s_plan_t *plan)
{
    size_t len = 0;
    char *text = (char *) socp_test_read_file(log, &len);
    size_t opened = 0, acked = 0, next = 0; // next request to find the acknowledgement of
    long long last_sync = -1;               // log offset of the last sync
    size_t dirty_meta = 0;                  // meta writes without O_DSYNC, not synced yet
    size_t syncs = 0;
    char *line = text;
    while (line < text + len && next < plan->n) {
        char *end = strchr(line, '\n');
        if (!end) {
            break;
        }
        *end = '\0';
        long long off = line - text;
        unsigned long long ino, a, b;
        int dsync, sync;
        long long woff;
        unsigned port;
        size_t count;
        if (sscanf(line, "O %llu %llu %d", &a, &ino, &dsync) == 3) {
            opened++;
        } else if (sscanf(line, "W %llu %lld %llu %d", &ino, &woff, &b, &dsync) == 4) {
            dirty_meta += woff < S_META_END && !dsync;
        } else if (sscanf(line, "S %llu", &ino) == 1 ||
                   (sscanf(line, "M %d", &sync) == 1 && sync)) {
            last_sync = off;
            dirty_meta = 0;
            syncs++;
        }
        bool ack = false;
        if (!plan->ports && sscanf(line, "A %zu", &count) == 1) {
            acked += count;
            ack = acked > next;
        } else if (plan->ports && sscanf(line, "N %u", &port) == 1) {
            ack = (size_t) off >= plan->marks[next] && port == plan->ports[next];
        }
        while (ack && next < plan->n) {
            CHECK_MSG(opened > 0, "the shim saw no data.mdb opened");
            CHECK_MSG(last_sync >= (long long) plan->marks[next],
                      "request %zu was acknowledged before its data was synced (%zu syncs in "
                      "all; log %s, offset %lld)",
                      next, syncs, log, off);
            CHECK_MSG(dirty_meta == 0,
                      "request %zu was acknowledged while %zu meta page write(s) were not yet "
                      "durable (log %s, offset %lld)",
                      next, dirty_meta, log, off);
            next++;
            ack = !plan->ports && acked > next;
        }
        line = end + 1;
    }
    CHECK_MSG(next == plan->n, "only %zu of %zu acknowledgements found in %s", next, plan->n, log);
    free(text);
}

// The client: every message it echoes as accepted ("you -> bob: ...", the
// promise that it is durable in the outbox) was synced to disk first.
SOCP_TEST_T(socp_sync_client_acks_follow_a_sync, 90)
{
    char port[16], cmd[4096];
    socp_cli_t fake = socp_cli_fake_start(port, sizeof port);
    char *log = s_log_path("client.sync");
    s_shim_on(log, "you -> bob: ");
    socp_cli_t alice = socp_cli_start(port, "alice", "rsa4096_4p_a.pem", NULL);
    s_shim_off();
    socp_cli_fake(&fake, "hello", NULL, 0);
    socp_cli_expect(&alice, "connected to", 30000, NULL, 0);
    snprintf(cmd, sizeof cmd, "user bob %s/tests/fixtures/rsa4096_2p_b.pem", socp_test_srcdir());
    socp_cli_fake(&fake, cmd, NULL, 0);
    socp_cli_fake(&fake, "advertise bob der", NULL, 0);
    socp_cli_expect(&alice, "bob is online", 10000, NULL, 0);
    size_t marks[S_ROUNDS];
    for (size_t i = 0; i < S_ROUNDS; i++) {
        char line[64], want[64];
        snprintf(line, sizeof line, "/tell bob durable-%zu", i);
        snprintf(want, sizeof want, "you -> bob: durable-%zu", i);
        marks[i] = s_size(log);
        socp_cli_say(&alice, line);
        socp_cli_expect(&alice, want, 10000, NULL, 0);
    }
    CHECK_EQ(socp_test_stop(alice.pid, SIGTERM, 5000), 0);
    s_plan_t plan = {marks, NULL, S_ROUNDS};
    s_check(log, &plan);
    free(log);
}

// socpd: a new user's key binding is committed before the hello is
// answered; that commit must be on disk, not only in the page cache.
SOCP_TEST_T(socp_sync_socpd_binding_synced_before_answer, 90)
{
    char *log = s_log_path("socpd.sync");
    s_shim_on(log, NULL);
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", NULL);
    s_shim_off();
    size_t marks[S_ROUNDS];
    unsigned ports[S_ROUNDS];
    for (size_t i = 0; i < S_ROUNDS; i++) {
        char id[64];
        snprintf(id, sizeof id, "5c5c5c5c-0000-4000-8000-%012zx", i + 1);
        sd_client_t c;
        sd_client_open(&c, s.port, id, "rsa4096_2p_a.pem");
        struct sockaddr_in me;
        socklen_t sl = sizeof me;
        CHECK(getsockname(socp_tcp_conn_fd(c.conn), (struct sockaddr *) &me, &sl) == 0);
        ports[i] = ntohs(me.sin_port);
        marks[i] = s_size(log);
        json_t *p = json_pack("{s:s, s:s, s:s, s:{s:s}}", "client", "socp-sync-test", "pubkey",
                              c.pub, "enc_pubkey", c.pub, "meta", "display_name", id);
        sd_send(&c, "USER_HELLO", id, socp_wall_ms(), p, true);
        socp_envelope_t e;
        CHECK_MSG(sd_recv(&c, "PUBLIC_CHANNEL_UPDATED", 10000, &e) == 0, "%s not accepted", id);
        socp_envelope_fini(&e);
        sd_client_close(&c);
    }
    sd_server_stop(&s);
    s_plan_t plan = {marks, ports, S_ROUNDS};
    s_check(log, &plan);
    free(log);
}
