// socp_client_account.c: `socp --account NAME`: the password, the account's
// data directory, and the login (or registration) made before the actors
// start. Part of socp, a SOCP v1.3 client and server.
#include "socp/socp_client_account.h"
#include "socp/socp_client_main.h"
#include "socp/socp_client_secret.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "socp/socp_account.h"
#include "socp/socp_err.h"
#include "socp/socp_json.h"
#include "socp/socp_keyfile.h"
#include "socp/socp_platform.h"
#include "socp/socp_tcp.h"

#define S_TIMEOUT_MS 10000

// ---- the password --------------------------------------------------------------

int
socp_client_account_password(const char *who, const char *name, socp_client_account_pass_t *p)
{
    memset(p, 0, sizeof *p);
    if (sodium_init() < 0) {
        return socp_client_die(who, 1, "%s", "libsodium failed to start");
    }
    p->pass = sodium_malloc(SOCP_ACCOUNT_PASSWORD_MAX + 2);
    if (!p->pass) {
        return socp_client_die(who, 1, "%s", "out of secure memory");
    }
    // Given at start (--passphrase-file or SOCP_ACCOUNT_PASSWORD, already
    // wiped from the environment), at most SOCP_CLIENT_SECRET_MAX bytes.
    const char *given = socp_client_secret_password();
    if (given) {
        p->len = strlen(given);
        memcpy(p->pass, given, p->len + 1);
        return 0;
    }
    char prompt[128];
    snprintf(prompt, sizeof prompt, "password for account %s: ", name);
    long got = socp_client_read_tty(prompt, p->pass, SOCP_ACCOUNT_PASSWORD_MAX + 2);
    if (got < 0 || (size_t) got > SOCP_ACCOUNT_PASSWORD_MAX) {
        socp_client_account_pass_free(p);
        return socp_client_die(who, 3,
                               got < 0 ? "no password for the account: type it, or give "
                                         "--passphrase-file or %s"
                                       : "the password is too long (%s: at most 1024 bytes)",
                               SOCP_CLIENT_ACCOUNT_ENV);
    }
    p->len = (size_t) got;
    p->from_tty = true;
    return 0;
}

void
socp_client_account_pass_free(socp_client_account_pass_t *p)
{
    if (p && p->pass) {
        sodium_free(p->pass); // wipes
        p->pass = NULL;
        p->len = 0;
    }
}

// ---- the data directory ---------------------------------------------------------

static char *
s_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = socp_malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

// Reads a small file, trailing newlines and spaces dropped. 0, SOCP_ENOTFOUND, SOCP_EIO.
static int
s_read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? SOCP_ENOTFOUND : SOCP_EIO;
    }
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0) {
        return SOCP_EIO;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) {
        n--;
    }
    buf[n] = '\0';
    return 0;
}

static bool
s_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

// Writes `account` (the name) once the account is known to the server.
static int
s_write_account(const socp_client_account_opts_t *o)
{
    char *path = s_path(o->data_dir, "account");
    char *tmp = s_path(o->data_dir, "account.tmp");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0;
    if (ok) {
        size_t n = strlen(o->name);
        ok = write(fd, o->name, n) == (ssize_t) n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
    }
    ok = ok && rename(tmp, path) == 0 && socp_platform_sync_parent(path) == 0;
    if (!ok) {
        unlink(tmp);
    }
    free(tmp);
    free(path);
    return ok ? 0 : socp_client_die(o->who, 3, "cannot write %s/account", o->data_dir);
}

// Checks the directory belongs to this account (or to none yet) and loads
// its key if it has one (*key stays NULL otherwise).
static int
s_local(const socp_client_account_opts_t *o, socp_rsa_key_t **key)
{
    char *uid = s_path(o->data_dir, "user_id");
    char *acc = s_path(o->data_dir, "account");
    char *kp = s_path(o->data_dir, "key");
    char buf[256];
    int code = 0, rc;
    if (s_exists(uid)) {
        code = socp_client_die(
            o->who, 2,
            "%s holds a socp identity that is not an account: give --account a data "
            "directory of its own (--data-dir)",
            o->data_dir);
    } else if ((rc = s_read_small(acc, buf, sizeof buf)) != 0 && rc != SOCP_ENOTFOUND) {
        code = socp_client_die(o->who, 3, "cannot read %s", acc);
    } else if (rc == 0 && strcmp(buf, o->name) != 0) {
        code =
            socp_client_die(o->who, 2, "%s belongs to account %s, not %s (use another --data-dir)",
                            o->data_dir, buf, o->name);
    } else if (s_exists(kp)) {
        const char *why = "";
        rc = socp_keyfile_load(kp, o->pw->pass, o->pw->len, key, &why);
        if (rc == SOCP_EAUTH) {
            code = socp_client_die(o->who, 3, "wrong password for account %s (it does not open %s)",
                                   o->name, kp);
        } else if (rc != 0) {
            code = socp_client_die(o->who, 3, "%s: %s", kp, why);
        }
    }
    free(uid);
    free(acc);
    free(kp);
    return code;
}

static int
s_save_key(const socp_client_account_opts_t *o, const socp_rsa_key_t *key)
{
    char *kp = s_path(o->data_dir, "key");
    int rc = o->plain ? socp_keyfile_save_plain(kp, key)
                      : socp_keyfile_save(kp, key, o->pw->pass, o->pw->len, NULL);
    free(kp);
    return rc == 0 ? 0 : socp_client_die(o->who, 3, "cannot save the key: %s", socp_strerror(rc));
}

// A key for a new account: imported (--import-key) or generated.
static int
s_new_key(const socp_client_account_opts_t *o, socp_rsa_key_t **key)
{
    if (o->import_key) {
        size_t cap = 65536, n = 0;
        uint8_t *pem = sodium_malloc(cap);
        int fd = pem ? open(o->import_key, O_RDONLY | O_CLOEXEC) : -1;
        ssize_t r = 0;
        while (fd >= 0 && n < cap && (r = read(fd, pem + n, cap - n)) > 0) {
            n += (size_t) r;
        }
        if (fd >= 0) {
            close(fd);
        }
        int rc = fd >= 0 && r >= 0 ? socp_rsa_private_import(pem, n, key) : SOCP_EIO;
        sodium_free(pem);
        return rc == 0 ? 0
                       : socp_client_die(
                             o->who, 3,
                             "%s is not an RSA-4096 private key with e=65537 (PKCS#8/PKCS#1 "
                             "PEM)",
                             o->import_key);
    }
    int rc = socp_rsa_generate(o->primes, o->progress, o->progress_arg, key);
    if (o->progress) {
        fprintf(stderr, "\n");
    }
    return rc == 0 ? 0 : socp_client_die(o->who, 1, "key generation failed: %s", socp_strerror(rc));
}

// ---- talking to the server ------------------------------------------------------

typedef struct {
    const socp_client_account_opts_t *o;
    socp_tcp_conn_t *conn;
    json_t *frame; // the last reply awaited (owned)
    socp_account_reply_t reply;
    char url[300];
} s_session_t;

static int
s_send(s_session_t *s, const char *text, size_t len)
{
    int rc = socp_tcp_conn_send_text(s->conn, text, len);
    return rc == 0 ? 0 : socp_client_die(s->o->who, 1, "lost %s: %s", s->url, socp_strerror(rc));
}

// USER_LOGIN alone: a USER_HELLO for an account that may not exist yet is
// refused by servers that take it for a standard hello (socpd wants a key
// there), and Impl14 needs none. Whether our key is the account's is
// checked here against its privkey_store instead.
static int
s_login(s_session_t *s)
{
    char *login = NULL;
    size_t login_len = 0;
    if (socp_account_login_frame(s->o->name, s->o->pw->pass, s->o->pw->len, socp_wall_ms(), &login,
                                 &login_len) != 0) {
        return socp_client_die(s->o->who, 3, "%s", "the password is not valid UTF-8");
    }
    int code = s_send(s, login, login_len);
    sodium_free(login); // wipes
    return code;
}

// Logged in with a key of our own: it must be the account's (the key the
// server keeps, sealed under the password), or every later login (whose
// USER_HELLO carries our key) and every message would fail.
static int
s_check_key(s_session_t *s, const socp_rsa_key_t *key)
{
    const char *store = s->reply.privkey_store, *why = "";
    socp_rsa_key_t *theirs = NULL;
    int rc = store ? socp_account_store_open_key(store, strlen(store), s->o->pw->pass,
                                                 s->o->pw->len, &theirs, &why)
                   : SOCP_EPROTO;
    if (rc != 0) {
        fprintf(stderr,
                "%s: warning: the key %s keeps for account %s does not open (%s); using "
                "the key in %s\n",
                s->o->who, s->url, s->o->name, store ? why : "no privkey_store", s->o->data_dir);
        return 0;
    }
    bool same = socp_rsa_public_equal(key, theirs);
    socp_rsa_destroy(&theirs);
    return same ? 0
                : socp_client_die(
                      s->o->who, 3,
                      "the key in %s is not the key of account %s on %s; log in with a new "
                      "--data-dir to use the account's key",
                      s->o->data_dir, s->o->name, s->url);
}

// Waits for the next reply that is one of `want` (or an ERROR); other frames
// (USER_HELLO_ACK, adverts) are passed over. s->reply points into s->frame.
static int
s_await(s_session_t *s, socp_account_reply_kind_t want)
{
    json_decref(s->frame);
    s->frame = NULL;
    int timeout = s->o->timeout_ms > 0 ? s->o->timeout_ms : S_TIMEOUT_MS;
    uint64_t end = socp_now_ms() + (uint64_t) timeout;
    for (;;) {
        socp_ws_msg_t m;
        while (socp_tcp_conn_next(s->conn, &m) == 0) {
            if (m.kind != SOCP_WS_TEXT) {
                continue;
            }
            json_t *v = NULL;
            if (socp_json_parse((const char *) m.data, m.len, 64, &v) != 0) {
                continue;
            }
            socp_account_reply(v, &s->reply);
            if (s->reply.kind == want || s->reply.kind == SOCP_ACCOUNT_REPLY_ERROR) {
                s->frame = v;
                return 0;
            }
            json_decref(v);
        }
        uint64_t now = socp_now_ms();
        if (socp_tcp_conn_done(s->conn)) {
            return socp_client_die(
                s->o->who, 1, "%s closed the connection before answering %s", s->url,
                want == SOCP_ACCOUNT_REPLY_LOGGED_IN ? "USER_LOGIN" : "USER_REGISTER");
        }
        if (now >= end) {
            return socp_client_die(
                s->o->who, 1, "no answer to %s from %s within %d s (is it a server with accounts?)",
                want == SOCP_ACCOUNT_REPLY_LOGGED_IN ? "USER_LOGIN" : "USER_REGISTER", s->url,
                timeout / 1000);
        }
        int rc = socp_tcp_conn_pump(s->conn, (int) (end - now));
        if (rc != 0 && rc != SOCP_ECLOSED) {
            return socp_client_die(s->o->who, 1, "lost %s: %s", s->url, socp_strerror(rc));
        }
    }
}

// The ERROR in s->reply, as one line and an exit code.
static int
s_refused(s_session_t *s, const char *what)
{
    const socp_account_reply_t *r = &s->reply;
    char detail[161];
    size_t n = 0;
    for (const char *p = r->detail; *p && n + 1 < sizeof detail; p++) {
        detail[n++] = (unsigned char) *p >= 0x20 && *p != 0x7f ? *p : '?';
    }
    detail[n] = '\0';
    if (strcmp(r->code, "BAD_KEY") == 0 && strstr(r->detail, "password")) {
        return socp_client_die(s->o->who, 3, "wrong password for account %s on %s", s->o->name,
                               s->url);
    }
    if (strcmp(r->code, "BAD_KEY") == 0 && strstr(r->detail, "pubkey")) {
        return socp_client_die(s->o->who, 3,
                               "the key in %s is not the key of account %s on %s (%s: %s); log in "
                               "with a new --data-dir to use the account's key",
                               s->o->data_dir, s->o->name, s->url, r->code, detail);
    }
    return socp_client_die(s->o->who, 1, "%s refused %s for account %s: %.32s %s", s->url, what,
                           s->o->name, r->code, detail);
}

// USER_REGISTER with our key sealed under the password, then USER_REGISTERED.
static int
s_register(s_session_t *s, const socp_rsa_key_t *key, const char *pub)
{
    const socp_client_account_opts_t *o = s->o;
    char *store = NULL, *pake = NULL, *frame = NULL;
    int rc = socp_account_store_seal_key(key, o->pw->pass, o->pw->len, &store);
    if (rc == 0) {
        rc = socp_account_pake_make(o->pw->pass, o->pw->len, NULL, &pake);
    }
    if (rc == 0) {
        rc = socp_account_register_frame(o->name, pub, store, pake, socp_wall_ms(), &frame);
    }
    int code = rc == 0 ? s_send(s, frame, strlen(frame))
                       : socp_client_die(o->who, 1, "cannot build the registration: %s",
                                         socp_strerror(rc));
    free(store);
    free(pake);
    free(frame);
    if (code == 0 && (code = s_await(s, SOCP_ACCOUNT_REPLY_REGISTERED)) == 0 &&
        s->reply.kind == SOCP_ACCOUNT_REPLY_ERROR) {
        code = strcmp(s->reply.code, "NAME_IN_USE") == 0
                   ? socp_client_die(o->who, 1,
                                     "account %s was registered on %s meanwhile by someone else",
                                     o->name, s->url)
                   : s_refused(s, "the registration");
    }
    return code;
}

static void
s_close(s_session_t *s)
{
    json_decref(s->frame);
    s->frame = NULL;
    if (s->conn) {
        socp_tcp_conn_close(s->conn, 1000, "logged in");
        uint64_t end = socp_now_ms() + 500;
        while (!socp_tcp_conn_done(s->conn) && socp_now_ms() < end) {
            if (socp_tcp_conn_pump(s->conn, (int) (end - socp_now_ms())) != 0) {
                break;
            }
        }
        socp_tcp_conn_destroy(&s->conn);
    }
}

int
socp_client_account_login(const socp_client_account_opts_t *o, socp_rsa_key_t **key)
{
    *key = NULL;
    int code = s_local(o, key);
    if (code != 0) {
        return code;
    }
    s_session_t s = {.o = o};
    snprintf(s.url, sizeof s.url, "ws://%s:%u", o->host, (unsigned) o->port);
    int timeout = o->timeout_ms > 0 ? o->timeout_ms : S_TIMEOUT_MS;
    int rc = socp_tcp_ws_connect(o->host, o->port, NULL, timeout, &s.conn);
    if (rc != 0) {
        if (*key) {
            fprintf(stderr, "%s: cannot reach %s now (%s): logging in when it answers\n", o->who,
                    s.url, socp_strerror(rc));
            return s_write_account(o);
        }
        return socp_client_die(
            o->who, 1, "cannot reach %s (%s): the first login on this machine needs the server",
            s.url, socp_strerror(rc));
    }
    char *pub = NULL;
    bool registered = false;
    if (*key && socp_rsa_public_export(*key, SOCP_RSA_PUB_B64_DER, &pub) != 0) {
        code = socp_client_die(o->who, 1, "%s", "cannot export the public key");
    }
    for (int round = 0; code == 0 && round < 2; round++) {
        if ((code = s_login(&s)) != 0 || (code = s_await(&s, SOCP_ACCOUNT_REPLY_LOGGED_IN)) != 0) {
            break;
        }
        if (s.reply.kind == SOCP_ACCOUNT_REPLY_LOGGED_IN) {
            if (*key && !registered) {
                code = s_check_key(&s, *key);
            }
            break;
        }
        if (strcmp(s.reply.code, "USER_NOT_FOUND") != 0 || registered) {
            code = s_refused(&s, "the login");
            break;
        }
        // A new account: our key (or a new one), saved here first, then registered.
        if (!*key && ((code = s_new_key(o, key)) != 0 || (code = s_save_key(o, *key)) != 0 ||
                      (rc = socp_rsa_public_export(*key, SOCP_RSA_PUB_B64_DER, &pub)) != 0)) {
            code = code ? code : socp_client_die(o->who, 1, "%s", "cannot export the public key");
            break;
        }
        if ((code = s_register(&s, *key, pub)) != 0) {
            break;
        }
        registered = true;
        fprintf(stderr, "%s: registered account %s on %s\n", o->who, o->name, s.url);
    }
    if (code == 0 && !*key) {
        // A new machine: the account's key is the one the server keeps for it.
        const char *store = s.reply.privkey_store, *why = "";
        rc = store ? socp_account_store_open_key(store, strlen(store), o->pw->pass, o->pw->len, key,
                                                 &why)
                   : SOCP_EPROTO;
        if (rc != 0) {
            code = socp_client_die(o->who, 3, "the key %s keeps for account %s does not open: %s",
                                   s.url, o->name,
                                   store ? why : "USER_LOGGED_IN carries no privkey_store");
        } else if ((code = s_save_key(o, *key)) == 0) {
            fprintf(stderr, "%s: logged in as %s with the account's key from %s\n", o->who, o->name,
                    s.url);
        }
    }
    free(pub);
    s_close(&s);
    if (code == 0) {
        code = s_write_account(o);
    }
    if (code != 0) {
        socp_rsa_destroy(key);
    }
    return code;
}

int
socp_client_opts_account(socp_client_opts_t *o,
                         socp_client_account_pass_t *pw,
                         socp_rsa_progress_fn *progress,
                         void *progress_arg,
                         socp_rsa_key_t **key)
{
    // Impl14 reads DER keys only, and verifies content signatures over the
    // raw ciphertext bytes (as its client signs them).
    o->wire.pub_format = SOCP_RSA_PUB_B64_DER;
    o->wire.pub_auto = false;
    if (!o->sig_form_given) {
        o->wire.sig_emit = SOCP_SIG_EMIT_RAW; // its server checks public messages in this form
        o->wire.sig_auto = false;
    }
    // ... and routes DMs and files on payload.to (and payload.sender).
    o->wire.payload_to = true;
    int rc = socp_client_account_password(o->who, o->account, pw);
    if (rc != 0) {
        return rc;
    }
    o->account_pass = pw->pass; // the net actor logs in on every connection
    o->account_pass_len = pw->len;
    socp_client_account_opts_t ao = {.who = o->who,
                                     .host = o->host,
                                     .port = o->port,
                                     .data_dir = o->data_dir,
                                     .name = o->account,
                                     .pw = pw,
                                     .plain = o->plain,
                                     .import_key = o->import_key,
                                     .primes = o->primes,
                                     .progress = progress,
                                     .progress_arg = progress_arg};
    return socp_client_account_login(&ao, key);
}
