// bridge_sec_test.c: who can reach `socp bridge`'s ZeroMQ endpoints: which
// endpoints count as loopback, the refusal of exposed ones without
// --zmq-curve or --zmq-insecure, private ipc sockets, CURVE key files and
// client lists, and CURVE end to end (the right server key gets answers; a
// wrong key, no CURVE, or a client key not on the list gets nothing).
// The bridges here run against a port where no server listens: every
// request used (whoami, stats) is answered without one.
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "socp/socp_bridge.h"
#include "socp/socp_common.h"
#include "socp_test.h"

// ---- endpoints -----------------------------------------------------------------------

static void
s_expect(const char *ep, bool exposed, const char *bound)
{
    socp_bridge_ep_t r;
    char err[512] = "";
    int rc = socp_bridge_ep_resolve(ep, &r, err, sizeof err);
    CHECK_MSG(rc == 0, "%s: %s", ep, err);
    CHECK_MSG(r.exposed == exposed, "%s: exposed is %d", ep, r.exposed);
    CHECK_MSG(strcmp(r.endpoint, bound) == 0, "%s binds %s, not %s", ep, r.endpoint, bound);
    CHECK_MSG(r.ipv6 == (strstr(bound, "tcp://[") == bound), "%s: ipv6 is %d", ep, r.ipv6);
    CHECK_MSG(r.ipc == (strncmp(bound, "ipc://", 6) == 0), "%s: ipc is %d", ep, r.ipc);
}

static void
s_refused(const char *ep, const char *why)
{
    socp_bridge_ep_t r;
    char err[512] = "";
    CHECK_MSG(socp_bridge_ep_resolve(ep, &r, err, sizeof err) != 0, "%s accepted", ep);
    CHECK_MSG(strstr(err, why), "%s: \"%s\" does not say \"%s\"", ep, err, why);
}

// The first interface with an IPv4 address inside (loopback) or outside
// 127.0.0.0/8; false if there is none.
static bool
s_interface(bool loopback, char *name, size_t size, char *addr, size_t asize)
{
    struct ifaddrs *all = NULL;
    CHECK(getifaddrs(&all) == 0);
    bool found = false;
    for (struct ifaddrs *i = all; i && !found; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) {
            continue;
        }
        const struct sockaddr_in *in = (const struct sockaddr_in *) i->ifa_addr;
        if (((ntohl(in->sin_addr.s_addr) >> 24) == 127) != loopback) {
            continue;
        }
        // The address libzmq binds is the interface's first one: skip an
        // interface whose first address is on the other side.
        bool first = true;
        for (struct ifaddrs *j = all; j != i; j = j->ifa_next) {
            first &= !(j->ifa_addr && j->ifa_addr->sa_family == AF_INET &&
                       strcmp(j->ifa_name, i->ifa_name) == 0);
        }
        if (first) {
            snprintf(name, size, "%s", i->ifa_name);
            inet_ntop(AF_INET, &in->sin_addr, addr, (socklen_t) asize);
            found = true;
        }
    }
    freeifaddrs(all);
    return found;
}

static bool
s_is_interface(const char *name)
{
    struct ifaddrs *all = NULL;
    CHECK(getifaddrs(&all) == 0);
    bool found = false;
    for (struct ifaddrs *i = all; i; i = i->ifa_next) {
        found |= strcmp(i->ifa_name, name) == 0;
    }
    freeifaddrs(all);
    return found;
}

// What "loopback" means: 127.0.0.0/8 in any numeric form, ::1, IPv4-mapped
// 127/8, `localhost`, an interface whose address is loopback; ipc:// is
// local. Everything else is exposed: `*`, the unspecified addresses, any
// other address or interface. Host names are refused, even those that
// resolve to loopback: libzmq would not bind them, and a name is not an
// address we can check once and bind.
SOCP_TEST(bridge_sec_loopback)
{
    s_expect("tcp://127.0.0.1:5555", false, "tcp://127.0.0.1:5555");
    s_expect("tcp://127.255.255.254:1", false, "tcp://127.255.255.254:1");
    s_expect("tcp://127.1:5555", false, "tcp://127.0.0.1:5555"); // inet_aton forms, as libzmq
    s_expect("tcp://0x7f.1:5555", false, "tcp://127.0.0.1:5555");
    s_expect("tcp://2130706433:5555", false, "tcp://127.0.0.1:5555");
    s_expect("tcp://[::1]:5555", false, "tcp://[::1]:5555");
    s_expect("tcp://::1:5555", false, "tcp://[::1]:5555");
    s_expect("tcp://[::ffff:127.0.0.1]:5555", false, "tcp://[::ffff:127.0.0.1]:5555");
    s_expect("tcp://localhost:5555", false, "tcp://127.0.0.1:5555");
    s_expect("tcp://LocalHost:*", false, "tcp://127.0.0.1:*");
    s_expect("ipc:///tmp/x.sock", false, "ipc:///tmp/x.sock");
    s_expect("ipc://@abstract", false, "ipc://@abstract");

    s_expect("tcp://*:5555", true, "tcp://*:5555");
    s_expect("tcp://0.0.0.0:5555", true, "tcp://0.0.0.0:5555");
    s_expect("tcp://0:5555", true, "tcp://0.0.0.0:5555");
    s_expect("tcp://[::]:5555", true, "tcp://[::]:5555");
    s_expect("tcp://128.0.0.1:5555", true, "tcp://128.0.0.1:5555");
    s_expect("tcp://126.255.255.255:5555", true, "tcp://126.255.255.255:5555");
    s_expect("tcp://192.0.2.1:5555", true, "tcp://192.0.2.1:5555");
    s_expect("tcp://[::2]:5555", true, "tcp://[::2]:5555");
    s_expect("tcp://[::ffff:10.0.0.1]:5555", true, "tcp://[::ffff:10.0.0.1]:5555");
    s_expect("tcp://[::127.0.0.1]:5555", true, "tcp://[::127.0.0.1]:5555"); // IPv4-compatible

    char name[64], addr[64], want[128];
    if (s_interface(true, name, sizeof name, addr, sizeof addr)) {
        char ep[128];
        snprintf(ep, sizeof ep, "tcp://%s:5555", name);
        snprintf(want, sizeof want, "tcp://%s:5555", addr);
        s_expect(ep, false, want); // e.g. lo
    }
    if (s_interface(false, name, sizeof name, addr, sizeof addr)) {
        char ep[128];
        snprintf(ep, sizeof ep, "tcp://%s:5555", name);
        snprintf(want, sizeof want, "tcp://%s:5555", addr);
        s_expect(ep, true, want); // e.g. eth0
    } else if (socp_test_verbose()) {
        fprintf(stderr, "  (no interface with an address outside 127/8 to try)\n");
    }

    s_refused("tcp://bridge.invalid:5555", "host names are not resolved");
    s_refused("tcp://localhost.localdomain:5555", "host names are not resolved");
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) == 0 && host[0] && !s_is_interface(host)) {
        char ep[300];
        snprintf(ep, sizeof ep, "tcp://%s:5555", host);
        s_refused(ep, "host names are not resolved"); // whatever it resolves to
    }
    s_refused("udp://127.0.0.1:5555", "only tcp:// and ipc://");
    s_refused("inproc://x", "only tcp:// and ipc://");
    s_refused("tcp://127.0.0.1", "not tcp://HOST:PORT");
    s_refused("tcp://127.0.0.1:", "not tcp://HOST:PORT");
    s_refused("tcp://:5555", "not tcp://HOST:PORT");
    s_refused("tcp://[]:5555", "bad host");
    s_refused("ipc://", "no path");
}

// ---- key files -----------------------------------------------------------------------

static char *
s_tmp(const char *name)
{
    return socp_test_path(socp_test_tmpdir(), name);
}

static void
s_write(const char *path, mode_t mode, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0);
    CHECK(chmod(path, mode) == 0);
}

SOCP_TEST(bridge_sec_keyfiles)
{
    CHECK(sodium_init() >= 0);
    char pub[SOCP_BRIDGE_Z85_LEN + 1], sec[SOCP_BRIDGE_Z85_LEN + 1], again[SOCP_BRIDGE_Z85_LEN + 1];
    char err[512];
    char *key = s_tmp("server.key");
    mode_t old = umask(0); // the file is 0600 whatever the umask
    CHECK_OK(socp_bridge_curve_keygen(key, pub, err, sizeof err));
    umask(old);
    struct stat st;
    CHECK(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600);
    size_t len = 0;
    char *before = (char *) socp_test_read_file(key, &len);
    CHECK_RC(socp_bridge_curve_keygen(key, again, err, sizeof err), SOCP_EEXIST);
    char *after = (char *) socp_test_read_file(key, NULL);
    CHECK_STREQ(before, after); // never overwritten
    free(after);
    CHECK_OK(socp_bridge_curve_load(key, sec, err, sizeof err));
    CHECK(zmq_curve_public(again, sec) == 0);
    CHECK_STREQ(again, pub);
    // Open to the group or others: refused.
    CHECK(chmod(key, 0640) == 0);
    CHECK_RC(socp_bridge_curve_load(key, sec, err, sizeof err), SOCP_EMODE);
    CHECK(strstr(err, "chmod 600"));
    CHECK(chmod(key, 0604) == 0);
    CHECK_RC(socp_bridge_curve_load(key, sec, err, sizeof err), SOCP_EMODE);
    CHECK(chmod(key, 0600) == 0);

    // The formats: a ZeroMQ certificate as pyzmq writes it (single quotes
    // allowed too), the secret-key line alone; a public key that does not
    // match, no secret key, or a malformed one: refused.
    const char *secret_at = strstr(before, "secret-key = \"") + 14;
    char line[256];
    char *other = s_tmp("other.key");
    snprintf(line, sizeof line, "  secret-key\t=  '%.40s'  \r\n", secret_at);
    s_write(other, 0600, line);
    CHECK_OK(socp_bridge_curve_load(other, sec, err, sizeof err));
    CHECK(zmq_curve_public(again, sec) == 0 && strcmp(again, pub) == 0);
    char z_pub[41], z_sec[41];
    CHECK(zmq_curve_keypair(z_pub, z_sec) == 0);
    snprintf(line, sizeof line, "curve\n    public-key = \"%s\"\n    secret-key = \"%.40s\"\n",
             z_pub, secret_at);
    s_write(other, 0600, line);
    CHECK_RC(socp_bridge_curve_load(other, sec, err, sizeof err), SOCP_EBADKEY);
    CHECK(strstr(err, "does not match"));
    s_write(other, 0600, "metadata\ncurve\n    public-key = \"x\"\n");
    CHECK_RC(socp_bridge_curve_load(other, sec, err, sizeof err), SOCP_EBADKEY);
    snprintf(line, sizeof line, "secret-key = \"%.39s~\"\n", secret_at); // '~' is not Z85
    s_write(other, 0600, line);
    CHECK_RC(socp_bridge_curve_load(other, sec, err, sizeof err), SOCP_EBADKEY);
    CHECK_RC(socp_bridge_curve_load("/nonexistent/k", sec, err, sizeof err), SOCP_ENOTFOUND);
    CHECK_RC(socp_bridge_curve_load(socp_test_tmpdir(), sec, err, sizeof err), SOCP_EIO);

    // Client lists.
    socp_bridge_clients_t *list = malloc(sizeof *list);
    CHECK(list);
    char k1[41], k2[41], k3[41], s1[41];
    CHECK(zmq_curve_keypair(k1, s1) == 0 && zmq_curve_keypair(k2, s1) == 0 &&
          zmq_curve_keypair(k3, s1) == 0);
    char text[1024];
    snprintf(
        text, sizeof text,
        "# bots allowed in\n\n%s\n  \"%s\"  \r\n#   ZeroMQ CURVE Public Certificate\nmetadata\n"
        "    name = \"bot 3\"\ncurve\n    public-key = \"%s\"\n",
        k1, k2, k3);
    char *clients = s_tmp("clients");
    s_write(clients, 0644, text); // public keys: no need to hide them
    CHECK_OK(socp_bridge_curve_clients(clients, list, err, sizeof err));
    CHECK_EQ(list->n, 3);
    uint8_t bin[32];
    CHECK(zmq_z85_decode(bin, k3));
    CHECK(socp_bridge_clients_has(list, bin, 32));
    CHECK(!socp_bridge_clients_has(list, bin, 31));
    CHECK(zmq_z85_decode(bin, pub));
    CHECK(!socp_bridge_clients_has(list, bin, 32));
    snprintf(text, sizeof text, "%s\nsecret-key = \"%s\"\n", k1, s1);
    s_write(clients, 0600, text);
    CHECK_RC(socp_bridge_curve_clients(clients, list, err, sizeof err), SOCP_EBADKEY);
    CHECK(strstr(err, "line 2") && strstr(err, "secret key"));
    snprintf(text, sizeof text, "%s\n%.39s\n", k1, k2);
    s_write(clients, 0644, text);
    CHECK_RC(socp_bridge_curve_clients(clients, list, err, sizeof err), SOCP_EBADKEY);
    CHECK(strstr(err, "line 2"));
    snprintf(text, sizeof text, "%s\n    name = \"not in a metadata section\"\n", k1);
    s_write(clients, 0644, text);
    CHECK_RC(socp_bridge_curve_clients(clients, list, err, sizeof err), SOCP_EBADKEY);
    s_write(clients, 0644, "# nobody\n\n");
    CHECK_RC(socp_bridge_curve_clients(clients, list, err, sizeof err), SOCP_EBADKEY);
    free(list);
    free(before);
    free(key);
    free(other);
    free(clients);
}

// ---- processes -----------------------------------------------------------------------

// A TCP port on 127.0.0.1 that was free a moment ago.
static int
s_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *) &a, sizeof a) == 0 &&
          getsockname(fd, (struct sockaddr *) &a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

// Starts `socp bridge` with a fixture identity, the server URL `server`
// (NULL: a port where nothing listens) and `extra` (NULL-terminated), its
// stderr to TMP/<name>.err (NULL: inherited) and umask 0, so that whatever
// the bridge leaves open shows in the modes. Returns the pid.
static int
s_bridge(const char *name, const char *server, const char *const extra[], const char *err_name)
{
    char url[64], dir[4096], key[4096], errpath[4096];
    if (!server) {
        snprintf(url, sizeof url, "ws://127.0.0.1:%d", s_free_port());
        server = url;
    }
    snprintf(dir, sizeof dir, "%s/%s", socp_test_tmpdir(), name);
    snprintf(key, sizeof key, "%s/tests/fixtures/rsa4096_4p_a.pem", socp_test_srcdir());
    if (err_name) {
        snprintf(errpath, sizeof errpath, "%s/%s", socp_test_tmpdir(), err_name);
    }
    const char *argv[40] = {socp_test_program("socp"),
                            "bridge",
                            "--server",
                            server,
                            "--data-dir",
                            dir,
                            "--plain-key",
                            "--import-key",
                            key,
                            "--heartbeat",
                            "1000"};
    size_t n = 11;
    for (size_t i = 0; extra && extra[i]; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        umask(0);
        int null = open("/dev/null", O_RDWR);
        dup2(null, STDIN_FILENO);
        if (err_name) {
            int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            dup2(fd, STDERR_FILENO);
        }
        execv(argv[0], (char *const *) argv);
        _exit(127);
    }
    return pid;
}

// Runs a bridge that must stop at once with exit status 2 and one line on
// stderr containing `want`.
static void
s_exit2(const char *const extra[], const char *want)
{
    int pid = s_bridge("d", "ws://bad host", extra, "exit2.err");
    CHECK_EQ(socp_test_stop(pid, 0, 20000), 2);
    char *path = s_tmp("exit2.err");
    size_t len = 0;
    char *text = (char *) socp_test_read_file(path, &len);
    CHECK_MSG(strstr(text, want), "stderr \"%s\" does not say \"%s\"", text, want);
    char *nl = strchr(text, '\n');
    CHECK_MSG(nl && nl[1] == '\0', "more than one line on stderr: %s", text);
    free(text);
    free(path);
}

// An endpoint other hosts can reach is refused (status 2, one line) unless
// --zmq-curve or --zmq-insecure; every case has a bad server URL, so one
// that passed the check stops there (at "bad server URL") and binds nothing.
SOCP_TEST(bridge_sec_refuse_exposed)
{
    CHECK(sodium_init() >= 0);
    const char *refused = "other hosts can reach it and it has no authentication; use --zmq-curve";
    const char *const any[] = {"--zmq-bind", "tcp://0.0.0.0:5555", NULL};
    s_exit2(any, "refusing to bind tcp://0.0.0.0:5555");
    s_exit2(any, refused);
    const char *const star[] = {"--zmq-bind", "tcp://*:5555", NULL};
    s_exit2(star, "refusing to bind tcp://*:5555");
    const char *const v6[] = {"--zmq-bind", "tcp://[::]:5555", NULL};
    s_exit2(v6, "refusing to bind tcp://[::]:5555");
    const char *const pub[] = {"--zmq-bind", "tcp://127.0.0.1:5555", "--zmq-pub",
                               "tcp://192.0.2.1:5556", NULL};
    s_exit2(pub, "refusing to bind tcp://192.0.2.1:5556");
    const char *const name[] = {"--zmq-bind", "tcp://bridge.invalid:5555", NULL};
    s_exit2(name, "bad --zmq-bind: tcp://bridge.invalid:5555");
    // Allowed through (and stopped by the server URL):
    const char *const loop[] = {"--zmq-bind", "tcp://localhost:5555", NULL};
    s_exit2(loop, "bad server URL");
    const char *const insecure[] = {"--zmq-bind", "tcp://0.0.0.0:5555", "--zmq-insecure", NULL};
    int pid = s_bridge("d", "ws://bad host", insecure, "insecure.err");
    CHECK_EQ(socp_test_stop(pid, 0, 20000), 2);
    char *path = s_tmp("insecure.err");
    CHECK(socp_test_file_has(path, "without authentication (--zmq-insecure)")); // a warning
    CHECK(socp_test_file_has(path, "bad server URL"));
    free(path);
    char pk[41], err[512];
    char *key = s_tmp("k");
    CHECK_OK(socp_bridge_curve_keygen(key, pk, err, sizeof err));
    const char *const curve[] = {"--zmq-bind", "tcp://0.0.0.0:5555", "--zmq-curve", key, NULL};
    s_exit2(curve, "bad server URL");
    // Contradictions and a bad key file.
    const char *const both[] = {"--zmq-bind", "tcp://0.0.0.0:5555", "--zmq-curve",
                                key,          "--zmq-insecure",     NULL};
    s_exit2(both, "exclude each other");
    const char *const nobind[] = {"--stdio", "--zmq-insecure", NULL};
    s_exit2(nobind, "need --zmq-bind");
    const char *const nocurve[] = {"--zmq-bind", "tcp://127.0.0.1:5555", "--zmq-curve-clients", key,
                                   NULL};
    s_exit2(nocurve, "needs --zmq-curve");
    CHECK(chmod(key, 0644) == 0);
    s_exit2(curve, "chmod 600");
    free(key);
}

// A DEALER (and a SUB) for a bridge; server_key NULL: no CURVE; cpub/csec
// NULL: a fresh client key pair. Returns the DEALER; *sub gets the SUB
// (subscribed to everything).
static void *
s_client(void *ctx,
         const char *ep,
         const char *pub_ep,
         const char *server_key,
         const char *cpub,
         const char *csec,
         void **sub)
{
    void *s[2] = {zmq_socket(ctx, ZMQ_DEALER), zmq_socket(ctx, ZMQ_SUB)};
    char fresh_pub[41], fresh_sec[41];
    CHECK(zmq_curve_keypair(fresh_pub, fresh_sec) == 0);
    for (int i = 0; i < 2; i++) {
        int zero = 0;
        CHECK(s[i] && zmq_setsockopt(s[i], ZMQ_LINGER, &zero, sizeof zero) == 0);
        if (server_key) { // before connecting: a connection keeps the options it started with
            CHECK(zmq_setsockopt(s[i], ZMQ_CURVE_SERVERKEY, server_key, 41) == 0);
            CHECK(zmq_setsockopt(s[i], ZMQ_CURVE_PUBLICKEY, cpub ? cpub : fresh_pub, 41) == 0);
            CHECK(zmq_setsockopt(s[i], ZMQ_CURVE_SECRETKEY, csec ? csec : fresh_sec, 41) == 0);
        }
    }
    CHECK(zmq_setsockopt(s[1], ZMQ_SUBSCRIBE, "", 0) == 0);
    CHECK(zmq_connect(s[0], ep) == 0 && zmq_connect(s[1], pub_ep) == 0);
    *sub = s[1];
    return s[0];
}

static void
s_ask(void *dealer, int id, const char *method)
{
    char req[128];
    int n =
        snprintf(req, sizeof req, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\"}", id, method);
    CHECK(zmq_send(dealer, req, (size_t) n, ZMQ_DONTWAIT) == n);
}

// The next message on sock within timeout_ms as JSON (the payload frame of
// an event), or NULL.
static json_t *
s_get(void *sock, int timeout_ms)
{
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0) {
        return NULL;
    }
    static char buf[65536];
    int n = zmq_recv(sock, buf, sizeof buf - 1, 0);
    CHECK(n >= 0);
    int more = 0;
    size_t sz = sizeof more;
    if (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more) { // topic, then payload
        n = zmq_recv(sock, buf, sizeof buf - 1, 0);
        CHECK(n >= 0);
    }
    json_t *v = json_loadb(buf, (size_t) n, 0, NULL);
    CHECK_MSG(v, "not JSON: %.*s", n, buf);
    return v;
}

static json_int_t
s_stat(void *dealer, int id, const char *field)
{
    s_ask(dealer, id, "stats");
    json_t *r = s_get(dealer, 20000);
    CHECK_MSG(r, "no answer to stats");
    CHECK_EQ(json_integer_value(json_object_get(r, "id")), id);
    json_int_t v = json_integer_value(json_object_get(json_object_get(r, "result"), field));
    json_decref(r);
    return v;
}

static void
s_close(void **socks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        zmq_close(socks[i]);
    }
}

// ipc sockets are private: mode 0600 even under umask 0.
SOCP_TEST_T(bridge_sec_ipc_private, 60)
{
    char ep[4200], pub[4300];
    snprintf(ep, sizeof ep, "ipc://%s/b.sock", socp_test_tmpdir());
    snprintf(pub, sizeof pub, "%s.pub", ep);
    const char *const extra[] = {"--zmq-bind", ep, "--zmq-format", "json", NULL};
    int pid = s_bridge("d", NULL, extra, NULL);
    void *ctx = zmq_ctx_new();
    void *sub;
    void *dealer = s_client(ctx, ep, pub, NULL, NULL, NULL, &sub);
    s_ask(dealer, 1, "whoami"); // queued until the bridge has bound
    json_t *r = s_get(dealer, 30000);
    CHECK_MSG(r, "no answer to whoami");
    json_decref(r);
    for (int i = 0; i < 2; i++) {
        struct stat st;
        const char *path = (i == 0 ? ep : pub) + 6;
        CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode));
        CHECK_MSG((st.st_mode & 0777) == 0600, "%s has mode %o", path, st.st_mode & 0777);
    }
    s_close((void *[]){dealer, sub}, 2);
    zmq_ctx_term(ctx);
    CHECK_EQ(socp_test_stop(pid, SIGTERM, 10000), 0);
}

// CURVE end to end: a client with the bridge's public key gets answers and
// events; one with another server key, or without CURVE, gets nothing, and
// its requests never reach the bridge (they are not counted).
SOCP_TEST_T(bridge_sec_curve, 90)
{
    CHECK(sodium_init() >= 0);
    char pk[41], err[512], wrong[41], wrong_sec[41];
    char *key = s_tmp("server.key");
    CHECK_OK(socp_bridge_curve_keygen(key, pk, err, sizeof err));
    CHECK(zmq_curve_keypair(wrong, wrong_sec) == 0);
    char ep[64], pub[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", s_free_port());
    snprintf(pub, sizeof pub, "tcp://127.0.0.1:%d", s_free_port());
    const char *const extra[] = {"--zmq-bind",   ep,     "--zmq-pub", pub, "--zmq-curve", key,
                                 "--zmq-format", "json", NULL};
    int pid = s_bridge("d", NULL, extra, NULL);
    void *ctx = zmq_ctx_new();
    void *bad_sub, *plain_sub, *good_sub;
    void *bad = s_client(ctx, ep, pub, wrong, NULL, NULL, &bad_sub);
    void *plain = s_client(ctx, ep, pub, NULL, NULL, NULL, &plain_sub);
    s_ask(bad, 1, "whoami");
    s_ask(plain, 1, "whoami");
    void *good = s_client(ctx, ep, pub, pk, NULL, NULL, &good_sub);
    s_ask(good, 1, "whoami");
    json_t *r = s_get(good, 30000);
    CHECK_MSG(r, "the client with the right key got no answer");
    CHECK(json_is_string(json_object_get(json_object_get(r, "result"), "id")));
    json_decref(r);
    // Events are behind CURVE too: the subscription is answered.
    r = s_get(good_sub, 20000);
    CHECK_MSG(r, "no event for the subscriber with the right key");
    CHECK_STREQ(json_string_value(json_object_get(r, "method")), "subscribed");
    json_decref(r);
    // The others: nothing, though the bridge answered meanwhile. 2 s after
    // the first answer (their requests were queued before it).
    void *others[] = {bad, plain, bad_sub, plain_sub};
    for (size_t i = 0; i < SOCP_ARRAY_LEN(others); i++) {
        r = s_get(others[i], i == 0 ? 2000 : 0);
        CHECK_MSG(!r, "client %zu got an answer without the server key", i);
    }
    CHECK_EQ(s_stat(good, 2, "requests"), 2); // whoami and this stats: nobody else's
    s_close((void *[]){bad, plain, good, bad_sub, plain_sub, good_sub}, 6);
    zmq_ctx_term(ctx);
    CHECK_EQ(socp_test_stop(pid, SIGTERM, 10000), 0);
    free(key);
}

// --zmq-curve-clients: with the right server key, only the listed client
// keys get in (ZAP); the refusals are counted.
SOCP_TEST_T(bridge_sec_curve_clients, 90)
{
    CHECK(sodium_init() >= 0);
    char pk[41], err[512], listed[41], listed_sec[41], other[41], other_sec[41];
    char *key = s_tmp("server.key");
    CHECK_OK(socp_bridge_curve_keygen(key, pk, err, sizeof err));
    CHECK(zmq_curve_keypair(listed, listed_sec) == 0 && zmq_curve_keypair(other, other_sec) == 0);
    char *clients = s_tmp("clients");
    char text[128];
    snprintf(text, sizeof text, "# the one bot\n%s\n", listed);
    s_write(clients, 0644, text);
    char ep[4200], pub[4300];
    snprintf(ep, sizeof ep, "ipc://%s/c.sock", socp_test_tmpdir());
    snprintf(pub, sizeof pub, "%s.pub", ep);
    const char *const extra[] = {
        "--zmq-bind",          ep,      "--zmq-curve", key, "--zmq-format", "json",
        "--zmq-curve-clients", clients, NULL};
    int pid = s_bridge("d", NULL, extra, NULL);
    void *ctx = zmq_ctx_new();
    void *out_sub, *in_sub;
    void *out = s_client(ctx, ep, pub, pk, other, other_sec, &out_sub);
    void *in = s_client(ctx, ep, pub, pk, listed, listed_sec, &in_sub);
    s_ask(out, 1, "whoami");
    s_ask(in, 1, "whoami");
    json_t *r = s_get(in, 30000);
    CHECK_MSG(r, "the listed client got no answer");
    json_decref(r);
    r = s_get(in_sub, 20000);
    CHECK_MSG(r, "no event for the listed subscriber");
    json_decref(r);
    // The unlisted client is refused (counted), and gets nothing.
    uint64_t end = socp_now_ms() + 20000;
    int id = 2;
    while (s_stat(in, id++, "clientsRefused") < 2 && socp_now_ms() < end) {
        CHECK(!s_get(out, 100)); // polling with a deadline
    }
    CHECK(s_stat(in, id++, "clientsRefused") >= 2); // its DEALER and its SUB
    CHECK(!s_get(out, 0) && !s_get(out_sub, 0));
    CHECK_EQ(s_stat(in, id, "requests"), id); // only the listed client's: ids 1..id
    s_close((void *[]){out, in, out_sub, in_sub}, 4);
    zmq_ctx_term(ctx);
    CHECK_EQ(socp_test_stop(pid, SIGTERM, 10000), 0);
    free(key);
    free(clients);
}

// The example client (pyzmq, Debian's python3-zmq) over CURVE with a listed
// client key: pyzmq reads the key file `--zmq-curve-keygen` writes
// (zmq.auth.load_certificate), so the format is a ZeroMQ certificate indeed.
SOCP_TEST_T(bridge_sec_python_curve, 60)
{
    CHECK(sodium_init() >= 0);
    char pk[41], cpk[41], err[512];
    char *key = s_tmp("server.key");
    char *client_key = s_tmp("client.key");
    CHECK_OK(socp_bridge_curve_keygen(key, pk, err, sizeof err));
    CHECK_OK(socp_bridge_curve_keygen(client_key, cpk, err, sizeof err));
    char *clients = s_tmp("clients");
    char text[64];
    snprintf(text, sizeof text, "%s\n", cpk);
    s_write(clients, 0644, text);
    char ep[4200];
    snprintf(ep, sizeof ep, "ipc://%s/py.sock", socp_test_tmpdir());
    const char *const extra[] = {"--zmq-bind",          ep,      "--zmq-curve", key,
                                 "--zmq-curve-clients", clients, NULL};
    int pid = s_bridge("d", NULL, extra, NULL);
    const char *args[] = {socp_test_srcdir(), ep,         "--server-key", pk,  "--client-key",
                          client_key,         "--listen", "0.2",          NULL};
    static char out[65536];
    int st = socp_test_python("bridge_example.py", args, out, sizeof out);
    CHECK_MSG(st == 0, "example client failed (%d): %s", st, out);
    CHECK(strstr(out, "I am "));
    CHECK_MSG(strstr(out, "'clientsRefused': 0"), "%s", out);
    CHECK_EQ(socp_test_stop(pid, SIGTERM, 10000), 0);
    free(key);
    free(client_key);
    free(clients);
}
