// socp_bench_int.h: what the files of `socp bench` share (socp_bench.c:
// options, identities, frames, the worker threads, main; socp_bench_setup.c:
// connecting the virtual users, and the report; socp_bench_profile.c: the
// server profiles, their detection and Impl14's account login). Private to
// them.
// Part of socp, a SOCP v1.3 client and server.
#ifndef SOCP_BENCH_INT_H
#define SOCP_BENCH_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "socp/socp_bench.h"
#include "socp/socp_common.h"
#include "socp/socp_rsa.h"
#include "socp/socp_tcp.h"

#define S_RING      65536u // outstanding sends tracked per user
#define S_ERR_MAX   16
#define S_HB_MS     15000
#define S_USERS_MAX 10000

typedef enum { S_CLOSED = 0, S_OPEN = 1, S_PRESIGNED = 2, S_E2E = 3 } s_mode_t;
static const char *const s_mode_names[] = {"closed", "open", "presigned", "e2e"};
static const int s_private_ops[] = {2, 2, 1, 4}; // per message, on this host (server included)

// What the server expects of a user (docs/bridge.md, "socp bench"):
// socp: the standard profile (socpd); peer-a: no HEARTBEAT (it answers
// ERROR UNKNOWN_TYPE); impl14: an account per user (USER_REGISTER, then
// USER_LOGIN), MSG_DIRECT with payload.to and payload.sender, LIST_REQUEST
// in place of HEARTBEAT. auto: asked of the server at start.
typedef enum { S_AUTO = 0, S_SOCP = 1, S_PEER_A = 2, S_IMPL14 = 3 } s_profile_t;
static const char *const s_profile_names[] = {"auto", "socp", "peer-a", "impl14"};

typedef struct {
    const char *server, *data_dir;
    char host[SOCP_WS_HOST_MAX];
    uint16_t port;
    size_t users, threads, window, presign;
    double duration, rate;
    s_mode_t mode;
    s_profile_t profile;
    unsigned heartbeat_ms;
    char password[40]; // impl14: the accounts' password (random, this run only)
    bool json, csv, quiet, rsa_only;
    unsigned primes, drain_ms;
    int server_pid;
} s_opts_t;

typedef struct {
    char name[40];
    uint64_t count;
} s_errc_t;

typedef struct {
    uint64_t sent, delivered, delivered_in_run, dups, verify_fail, backlog, exhausted, send_fail,
        unexpected;
    s_errc_t errors[S_ERR_MAX];
    size_t nerrors;
    socp_bench_hist_t hist;
} s_stats_t;

typedef struct {
    socp_tcp_conn_t *conn;
    char id[SOCP_UUID_BUF];
    socp_rsa_key_t *key;
    char *pub;
    size_t to; // recipient (global index)
    size_t from;
    uint64_t seq;      // next sequence number
    int64_t base_ts;   // ts = base_ts + seq
    uint64_t *sent_ns; // ring: send time of seq (0: none / delivered)
    uint64_t outstanding;
    char *held; // a built frame the socket did not take yet
    char **pre; // presigned frames
    size_t npre, pre_next;
    char *ct_once, *csig_once; // closed/open/presigned: a valid ciphertext reused (and
                               // its first content_sig; each message signs its own)
    bool ready;                // saw its recipient announced
    uint64_t last_hb;
} s_vu_t;

typedef struct {
    const s_opts_t *o;
    s_vu_t *all;
    size_t first, count;
    int stop_fd;
    uint64_t run_start_ms, run_end_ms; // set by main before the threads start
    s_stats_t st;
    pthread_mutex_t *mu;
    s_stats_t snap; // progress snapshot (under mu)
    bool interrupted;
    bool finished; // under mu
    pthread_t tid;
} s_worker_t;

typedef struct {
    double run_s, cpu_s, server_cpu_s, sign_rate, bound, throughput, offered;
    long cores;
    bool interrupted;
    s_stats_t t;
} s_report_t;

// Shared between the files (defined in one, used in the others).
int socp_bench_connect(const s_opts_t *o, s_vu_t *u);
int socp_bench_detect(s_opts_t *o, const s_vu_t *model);
int socp_bench_login(const s_opts_t *o, s_vu_t *u);
double socp_bench_cpu_pid(int pid);
double socp_bench_cpu_self(void);
char *socp_bench_frame(socp_rsa_key_t *key,
                       const char *type,
                       const char *from,
                       const char *to,
                       int64_t ts,
                       json_t *payload);
void socp_bench_print_report(const s_opts_t *o, const s_report_t *r);
double socp_bench_sign_rate(socp_rsa_key_t *k, long cores, double *per_cpu_out);

#endif
