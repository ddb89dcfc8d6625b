// socpd_flood_test.c: a flood of hellos must not starve delivery.
//
// Issue #12, finding 2: one signed USER_HELLO payload sent again and again
// with fresh ids (500 in half a second) was accepted every time, and socpd
// stopped delivering for minutes (measured with this test before the fix:
// round trips of 58 s and 106 s, 164 s without a delivery). Here a child
// process floods socpd on loopback the same way (1,000 hellos, each on its own
// connection, kept open, never read), while two well-formed users already
// connected keep sending each other DMs: every round trip must complete
// within a generous deadline while the flood runs and after it. One line of
// numbers is printed; SOCPD_FLOOD_N and SOCPD_FLOOD_PROBE_MS change the size
// and the deadline (to measure), and then every probe is printed.
#include "socpd_test.h"
#include "socp/socp_json.h"
#include "socp/socp_sig.h"
#include "socp/socp_uuid.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ALICE "f1f1f1f1-0000-4000-8000-000000000001"
#define BOB   "f2f2f2f2-0000-4000-8000-000000000002"

#define S_FLOOD_N      1000  // hellos in the flood
#define S_PROBE_MAX_MS 10000 // a DM round trip must complete within this

// SOCPD_FLOOD_N overrides the number of hellos (to measure).
static int
s_flood_n(void)
{
    const char *v = getenv("SOCPD_FLOOD_N");
    return v && atoi(v) > 0 && atoi(v) <= 5000 ? atoi(v) : S_FLOOD_N;
}

// SOCPD_FLOOD_PROBE_MS overrides the deadline (to measure a slow build).
static long
s_probe_max_ms(void)
{
    const char *v = getenv("SOCPD_FLOOD_PROBE_MS");
    return v && atol(v) > 0 ? atol(v) : S_PROBE_MAX_MS;
}

// The child: opens one connection per hello, sends the same signed payload
// with a fresh id on each, keeps every connection open and reads nothing.
// Writes the number of hellos sent and the time it took to `report`, then
// waits for its parent to close `hold`.
static _Noreturn void
s_flood(uint16_t port, const char *payload_text, const char *sig, int report, int hold)
{
    int n_flood = s_flood_n();
    socp_tcp_conn_t **conns = calloc((size_t) n_flood, sizeof *conns);
    uint64_t t0 = socp_now_ms();
    int sent = 0;
    for (int i = 0; i < n_flood; i++) {
        if (socp_tcp_ws_connect("127.0.0.1", port, NULL, 5000, &conns[i]) != 0) {
            break;
        }
        char id[SOCP_UUID_BUF];
        socp_uuid_generate(id);
        json_t *p = NULL;
        if (socp_json_parse(payload_text, strlen(payload_text), 32, &p) != 0) {
            break;
        }
        socp_envelope_t env;
        socp_buf_t b;
        socp_buf_init(&b);
        if (socp_envelope_init(&env, "USER_HELLO", id, id, socp_wall_ms(), p) == 0 &&
            socp_envelope_set_sig(&env, sig) == 0 && socp_envelope_emit(&env, &b) == 0 &&
            socp_tcp_conn_send_text(conns[i], (const char *) b.data, b.len) == 0) {
            sent += socp_tcp_conn_flush(conns[i]) == 0;
        }
        json_decref(p);
        socp_envelope_fini(&env);
        socp_buf_fini(&b);
    }
    uint64_t took = socp_now_ms() - t0;
    char line[64];
    int n = snprintf(line, sizeof line, "%d %llu\n", sent, (unsigned long long) took);
    if (write(report, line, (size_t) n) != n) {
        _exit(1);
    }
    // Hold the connections (unread) until the parent is done.
    struct pollfd p = {.fd = hold, .events = POLLIN};
    while (poll(&p, 1, -1) < 0) {
    }
    _exit(0);
}

// One DM round trip alice -> bob; returns its time in ms (-1: not delivered
// within S_PROBE_MAX_MS).
static long
s_probe(sd_client_t *a, sd_client_t *b, int k)
{
    char ct[64];
    snprintf(ct, sizeof ct, "cHJvYmU%d", k); // unique per probe
    uint64_t t0 = socp_now_ms();
    int64_t ts = socp_wall_ms();
    sd_send(a, "MSG_DIRECT", BOB, ts, sd_dm_payload(a, BOB, ts, ct), true);
    for (;;) {
        uint64_t now = socp_now_ms();
        if ((long) (now - t0) >= s_probe_max_ms()) {
            return -1;
        }
        socp_envelope_t e;
        if (sd_recv(b, "USER_DELIVER", (int) (s_probe_max_ms() - (long) (now - t0)), &e) != 0) {
            return -1;
        }
        const char *got = json_string_value(json_object_get(e.payload, "ciphertext"));
        bool mine = got && strcmp(got, ct) == 0;
        socp_envelope_fini(&e);
        if (mine) {
            return (long) (socp_now_ms() - t0);
        }
    }
}

// Takes whatever alice was sent (adverts of the flood) without blocking.
static void
s_drain(sd_client_t *c)
{
    socp_envelope_t e;
    while (sd_recv(c, "NONE", 5, &e) == 0) {
        socp_envelope_fini(&e);
    }
}

SOCP_TEST_T(socpd_flood_hellos, 240)
{
    sd_server_t s;
    sd_server_start(&s, "s", "rsa4096_4p_a.pem", NULL);
    sd_client_t a, b;
    sd_client_hello(&a, s.port, ALICE, "rsa4096_2p_a.pem");
    sd_client_hello(&b, s.port, BOB, "rsa4096_2p_b.pem");
    socp_envelope_t e;
    CHECK_OK(sd_recv(&a, "PUBLIC_CHANNEL_UPDATED", 10000, &e));
    socp_envelope_fini(&e);
    CHECK_OK(sd_recv(&b, "PUBLIC_CHANNEL_UPDATED", 10000, &e));
    socp_envelope_fini(&e);
    long before = s_probe(&a, &b, 0);
    CHECK_MSG(before >= 0, "no DM round trip before the flood");

    // The attacker's one signed payload (a hello captured once).
    socp_rsa_key_t *k = sd_fixture_key("rsa4096_4p_b.pem");
    char *pub = NULL;
    CHECK_OK(socp_rsa_public_export(k, SOCP_RSA_PUB_B64_DER, &pub));
    json_t *p = json_pack("{s:s, s:s, s:s, s:{}}", "client", "flood", "pubkey", pub, "enc_pubkey",
                          pub, "meta");
    char *sig = NULL;
    CHECK_OK(socp_sig_sign_payload(k, SOCP_RSA_SALT_32, p, &sig));
    char *text = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    free(pub);
    socp_rsa_destroy(&k);

    int report[2], hold[2];
    CHECK(pipe(report) == 0 && pipe(hold) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(report[0]);
        close(hold[1]);
        s_flood(s.port, text, sig, report[1], hold[0]);
    }
    close(report[1]);
    close(hold[0]);
    free(text);
    free(sig);

    // Probe while the flood runs, and after it was sent for 3 s and at least
    // 20 probes (socpd may still be working through it).
    uint64_t t0 = socp_now_ms(), sent_at = 0;
    int probes = 0, after = 0, sent = -1;
    long worst = 0, total = 0;
    unsigned long long flood_ms = 0;
    while (after < 20 || socp_now_ms() - sent_at < 3000) {
        long rtt = s_probe(&a, &b, ++probes);
        CHECK_MSG(rtt >= 0, "probe %d (%llu ms into the flood): no DM round trip within %ld ms",
                  probes, (unsigned long long) (socp_now_ms() - t0), s_probe_max_ms());
        if (socp_test_verbose() || getenv("SOCPD_FLOOD_PROBE_MS")) {
            fprintf(stderr, "  probe %d at %llu ms: %ld ms\n", probes,
                    (unsigned long long) (socp_now_ms() - t0), rtt);
        }
        worst = rtt > worst ? rtt : worst;
        total += rtt;
        s_drain(&a);
        if (sent < 0) {
            struct pollfd pf = {.fd = report[0], .events = POLLIN};
            if (poll(&pf, 1, 0) == 1) {
                char line[64] = "";
                CHECK(read(report[0], line, sizeof line - 1) > 0);
                CHECK(sscanf(line, "%d %llu", &sent, &flood_ms) == 2);
                sent_at = socp_now_ms();
            }
        } else {
            after++;
        }
    }
    // How many flood ids the server took (the rest were refused as too many).
    sd_send(&a, "LIST_REQUEST", s.id, socp_wall_ms(), json_object(), true);
    CHECK_OK(sd_recv(&a, "LIST_RESPONSE", 10000, &e));
    size_t listed = json_array_size(json_object_get(e.payload, "users"));
    socp_envelope_fini(&e);
    fprintf(stderr,
            "  flood: %d hellos sent in %llu ms, %zu taken; %d DM round trips during and after "
            "it: worst %ld ms, mean %ld ms (before the flood: %ld ms); %llu ms in all\n",
            sent, flood_ms, listed - 2, probes, worst, total / probes, before,
            (unsigned long long) (socp_now_ms() - t0));
    close(hold[1]);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    close(report[0]);
    sd_client_close(&a);
    sd_client_close(&b);
    sd_server_stop(&s);
}
