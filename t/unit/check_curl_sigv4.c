/*
 * Does libcurl's own signer (CURLOPT_AWS_SIGV4) sign like the module's
 * (ngx_xyz_sigv4.c)?  The README's "Hand-written code and the libraries we
 * did not use" rests on the answer; t/004-library-choices.t runs this.
 *
 * Each request goes through libcurl to a capture server on 127.0.0.1 (a
 * thread of this program), and what arrived is compared:
 *
 *   - the AWS SigV4 test-suite vectors (those of t/unit/test_sigv4.c, taken
 *     from there): the fixed time is given to libcurl as an X-Amz-Date
 *     header, which libcurl signs with instead of its clock; the expected
 *     Authorization is the suite's;
 *   - the SQS JSON calls as ngx_xyz_sqs_call() makes them (POST, Content-
 *     Type application/x-amz-json-1.0, X-Amz-Target, the session token of
 *     role credentials, and the "Expect:" that ngx_xyz_curl.c adds to every
 *     request): libcurl keeps its own clock, and the module's signer signs
 *     the same request again for the X-Amz-Date that libcurl sent.
 *
 * Every header that libcurl lists in SignedHeaders must also be on the
 * wire, once: a signature over a header that is not sent cannot verify.
 *
 * Prints TAP.  A case that differs on the libcurl this was written against
 * (Debian 12: 7.88.1) carries "# TODO" and the reason, so a newer libcurl
 * that fixes it shows up as "unexpectedly succeeded" instead of passing
 * silently.
 */

#define _GNU_SOURCE                     /* strcasestr() */

#include <stdlib.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <curl/curl.h>

/* the vectors, their expected values and the TAP helpers */
#define main  ngx_xyz_test_sigv4_main
#include "test_sigv4.c"
#undef main


#define CAPTURE_MAX  (4 * 1024 * 1024)


typedef struct {
    int               fd;
    pthread_mutex_t   lock;
    char             *buf;              /* the last request as it arrived */
    size_t            len;
    size_t            head;             /* bytes up to the blank line */
} capture_t;


typedef struct {
    const char       *name;
    const char       *todo;             /* why it differs on 7.88.1 */
} known_t;


static capture_t     cap;
static unsigned      port;


/*
 * Where libcurl 7.88.1 signs differently, and why: the libcurl commits that
 * changed it are named so that a reader can tell what a newer version does.
 */

static const known_t  known[] = {
    { "get-vanilla-query-order-key-case",
      "query not sorted before 8.3.0 (fc76a24c53)" },
    { "get-vanilla-query-order-encoded",
      "query not sorted before 8.3.0 (fc76a24c53)" },
    { "get-vanilla-utf8-query",
      "query not percent-encoded before 8.3.0 (fc76a24c53)" },
    { "get-utf8",
      "path not percent-encoded before 8.9.0 (768909d89c)" },
    { "get-space-normalized",
      "libcurl refuses the raw space of the vector's request line" },
    { "get-header-value-order",
      "repeated header not merged before 8.13.0 (3978bd4498)" },
    { "get-header-key-duplicate",
      "repeated header not merged before 8.13.0 (3978bd4498)" },
    { "get-header-value-multiline",
      "folded value not unfolded (not in the HTTP wire format either)" },
    { "get-slashes-normalized",
      "empty path segments kept: libcurl signs the path as sent" },
    { "sqs: module headers (Expect:): signed headers sent",
      "\"Expect:\" (remove a header) signed as sent before 8.3.0"
      " (b5c65f8b7b, curl issue 11664)" },
    { "sqs: module headers (Expect:): same authorization",
      "\"Expect:\" (remove a header) signed as sent before 8.3.0"
      " (b5c65f8b7b, curl issue 11664)" },
    { "sqs: module headers + token (Expect:): signed headers sent",
      "\"Expect:\" (remove a header) signed as sent before 8.3.0"
      " (b5c65f8b7b, curl issue 11664)" },
    { "sqs: module headers + token (Expect:): same authorization",
      "\"Expect:\" (remove a header) signed as sent before 8.3.0"
      " (b5c65f8b7b, curl issue 11664)" },
    { "vectors: X-Amz-Date sent once",
      "a given X-Amz-Date is sent twice before 8.3.0 (b137634ba3)" },
    { NULL, NULL }
};


static const char *
todo_for(const char *name)
{
    const known_t  *k;

    for (k = known; k->name; k++) {
        if (strcmp(k->name, name) == 0) {
            return k->todo;
        }
    }

    return NULL;
}


/* ok() with the TODO directive of a known difference */

static void
check(int cond, const char *name)
{
    const char  *todo;

    todo = todo_for(name);
    tap_n++;

    if (!cond && todo == NULL) {
        tap_failed++;
    }

    printf("%sok %d - %s%s%s\n", cond ? "" : "not ", tap_n, name,
           todo ? " # TODO " : "", todo ? todo : "");
}


static void
check_str(const char *got, const char *want, const char *name)
{
    int  same;

    same = got && want && strcmp(got, want) == 0;
    check(same, name);

    if (!same) {
        printf("#   got:      '%s'\n#   expected: '%s'\n",
               got ? got : "(null)", want ? want : "(null)");
    }
}


/* the capture server: one request a connection, answered 200 */

static void *
capture_run(void *arg)
{
    int         c;
    char       *p, *cl;
    size_t      len, need;
    ssize_t     n;
    static char  buf[CAPTURE_MAX];

    (void) arg;

    for ( ;; ) {
        c = accept(cap.fd, NULL, NULL);
        if (c < 0) {
            return NULL;
        }

        len = 0;
        need = 0;
        p = NULL;

        while (len < sizeof(buf) - 1) {
            n = read(c, buf + len, sizeof(buf) - 1 - len);
            if (n <= 0) {
                break;
            }

            len += n;
            buf[len] = '\0';

            if (p == NULL) {
                p = strstr(buf, "\r\n\r\n");
                if (p == NULL) {
                    continue;
                }

                p += 4;
                cl = strcasestr(buf, "\r\ncontent-length:");
                need = (p - buf) + (cl ? strtoul(cl + 17, NULL, 10) : 0);

                if (strcasestr(buf, "\r\nexpect: 100-continue")) {
                    (void) write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
                }
            }

            if (len >= need) {
                break;
            }
        }

        pthread_mutex_lock(&cap.lock);
        memcpy(cap.buf, buf, len + 1);
        cap.len = len;
        cap.head = p ? (size_t) (p - buf) : len;
        pthread_mutex_unlock(&cap.lock);

        (void) write(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                        "Connection: close\r\n\r\n", 58);
        close(c);
    }
}


static int
capture_start(void)
{
    pthread_t           t;
    socklen_t           sl;
    struct sockaddr_in  sin;

    cap.buf = malloc(CAPTURE_MAX);
    cap.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (cap.buf == NULL || cap.fd < 0) {
        return -1;
    }

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sl = sizeof(sin);

    if (bind(cap.fd, (struct sockaddr *) &sin, sizeof(sin)) != 0
        || listen(cap.fd, 8) != 0
        || getsockname(cap.fd, (struct sockaddr *) &sin, &sl) != 0)
    {
        return -1;
    }

    port = ntohs(sin.sin_port);
    pthread_mutex_init(&cap.lock, NULL);

    return pthread_create(&t, NULL, capture_run, NULL);
}


/*
 * The value of the nth header called name (any case) in the captured head,
 * copied to out; the number of such headers is returned.
 */

static int
captured_header(const char *name, int nth, char *out, size_t size)
{
    int          count;
    size_t       n, k;
    const char  *p, *end, *eol, *v;

    count = 0;
    n = strlen(name);
    end = cap.buf + cap.head;
    p = strstr(cap.buf, "\r\n");

    while (p && p + 2 < end) {
        p += 2;
        eol = strstr(p, "\r\n");
        if (eol == NULL || eol >= end) {
            break;
        }

        if ((size_t) (eol - p) > n && p[n] == ':'
            && strncasecmp(p, name, n) == 0)
        {
            if (count++ == nth && out) {
                for (v = p + n + 1; *v == ' '; v++) { /* void */ }
                k = eol - v < (long) size - 1 ? (size_t) (eol - v) : size - 1;
                memcpy(out, v, k);
                out[k] = '\0';
            }
        }

        p = eol;
    }

    return count;
}


/* does every name in the SignedHeaders list arrive exactly once? */

static int
signed_headers_sent(const char *auth)
{
    char        name[128];
    size_t      n;
    const char *p, *e;

    p = strstr(auth, "SignedHeaders=");
    if (p == NULL) {
        return 0;
    }

    for (p += 14; *p && *p != ','; p = *e == ';' ? e + 1 : e) {
        e = p + strcspn(p, ";,");
        n = (size_t) (e - p) < sizeof(name) ? (size_t) (e - p)
                                             : sizeof(name) - 1;
        memcpy(name, p, n);
        name[n] = '\0';

        if (captured_header(name, 0, NULL, 0) != 1) {
            printf("#   signed but sent %d times: %s\n",
                   captured_header(name, 0, NULL, 0), name);
            return 0;
        }
    }

    return 1;
}


static size_t
discard(char *p, size_t size, size_t n, void *data)
{
    (void) p;
    (void) data;

    return size * n;
}


/*
 * Sends one request through libcurl with CURLOPT_AWS_SIGV4; what arrived is
 * in cap afterwards.
 */

static int
curl_send(const char *method, const char *path, const char *query,
    struct curl_slist *headers, const char *body, size_t body_len,
    const char *sigv4, const char *token, int as_is)
{
    int          rc;
    char         url[4096], *line;
    CURL        *e;
    CURLcode     cc;

    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s%s%s", port, path,
             query && *query ? "?" : "", query ? query : "");

    if (token) {
        line = malloc(strlen(token) + 32);
        sprintf(line, "X-Amz-Security-Token: %s", token);
        headers = curl_slist_append(headers, line);
        free(line);
    }

    e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_AWS_SIGV4, sigv4);
    curl_easy_setopt(e, CURLOPT_USERNAME, KEY_ID);
    curl_easy_setopt(e, CURLOPT_PASSWORD, SECRET);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, (long) as_is);

    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long) body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
    }

    pthread_mutex_lock(&cap.lock);
    cap.len = 0;
    cap.head = 0;
    cap.buf[0] = '\0';
    pthread_mutex_unlock(&cap.lock);

    cc = curl_easy_perform(e);
    rc = cc == CURLE_OK ? 0 : -1;

    if (rc != 0) {
        printf("# curl: %s\n", curl_easy_strerror(cc));
    }

    curl_easy_cleanup(e);
    curl_slist_free_all(headers);

    pthread_mutex_lock(&cap.lock);
    pthread_mutex_unlock(&cap.lock);

    return rc;
}


static void
run_vectors(void)
{
    int                       dates_once;
    size_t                    i, k;
    char                      name[160], line[4096], want[4096], got[4096];
    const vector_t           *v;
    struct curl_slist        *h;

    dates_once = 1;

    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        v = &vectors[i];

        h = curl_slist_append(NULL, "X-Amz-Date: " DATE);

        for (k = 0; k < 5 && v->headers[k].name; k++) {
            snprintf(line, sizeof(line), "%s: %s", v->headers[k].name,
                     v->headers[k].value);
            h = curl_slist_append(h, line);
        }

        if (v->sign_sha256) {
            snprintf(line, sizeof(line), "X-Amz-Content-Sha256: %s",
                     FORM_SHA);
            h = curl_slist_append(h, line);
        }

        vector_authorization(v, want, sizeof(want));

        snprintf(name, sizeof(name), "%s", v->name);

        if (curl_send(v->method, v->path, v->query, h, v->payload,
                      v->payload ? strlen(v->payload) : 0,
                      "aws:amz:us-east-1:service", v->token,
                      v->no_normalize)
            != 0)
        {
            check(0, name);
            continue;
        }

        captured_header("Authorization", 0, got, sizeof(got));
        check_str(got, want, name);

        if (captured_header("X-Amz-Date", 0, NULL, 0) != 1) {
            dates_once = 0;
        }
    }

    check(dates_once, "vectors: X-Amz-Date sent once");
}


/*
 * One SQS call, as ngx_xyz_sqs_call() builds it, signed by libcurl; then
 * signed again by the module for the date and host that libcurl sent.
 */

static void
run_sqs(const char *label, const char *path, const char *host,
    const char *region, const char *target, const char *body,
    const char *token, int expect_off)
{
    int                       n;
    char                      name[160], line[512], xtarget[64];
    char                      sigv4[128], date[64], sent_host[256];
    char                      got[1024], mine[1024];
    const char               *p;
    struct curl_slist        *h;
    ngx_xyz_sigv4_header_t    hdr[3];
    ngx_xyz_sigv4_request_t   r;

    snprintf(xtarget, sizeof(xtarget), "AmazonSQS.%s", target);
    snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:sqs", region);

    h = expect_off ? curl_slist_append(NULL, "Expect:") : NULL;

    if (host) {
        snprintf(line, sizeof(line), "Host: %s", host);
        h = curl_slist_append(h, line);
    }

    h = curl_slist_append(h, "Content-Type: application/x-amz-json-1.0");
    snprintf(line, sizeof(line), "X-Amz-Target: %s", xtarget);
    h = curl_slist_append(h, line);

    snprintf(name, sizeof(name), "sqs: %s: request sent", label);
    check(curl_send("POST", path, NULL, h, body, strlen(body), sigv4, token,
                    0) == 0,
          name);

    captured_header("Authorization", 0, got, sizeof(got));
    captured_header("X-Amz-Date", 0, date, sizeof(date));
    captured_header("Host", 0, sent_host, sizeof(sent_host));

    snprintf(name, sizeof(name), "sqs: %s: signed headers sent", label);
    check(signed_headers_sent(got), name);

    p = strstr(cap.buf, "\r\n\r\n");
    snprintf(name, sizeof(name), "sqs: %s: body as given", label);
    check(p && strcmp(p + 4, body) == 0, name);

    hdr[0].name = "content-type";
    hdr[0].value = "application/x-amz-json-1.0";
    hdr[1].name = "host";
    hdr[1].value = sent_host;
    hdr[2].name = "x-amz-target";
    hdr[2].value = xtarget;

    memset(&r, 0, sizeof(ngx_xyz_sigv4_request_t));
    r.method = "POST";
    r.path = path;
    r.query = "";
    r.headers = hdr;
    r.nheaders = 3;
    r.payload = (const unsigned char *) body;
    r.payload_len = strlen(body);
    r.access_key = KEY_ID;
    r.secret_key = SECRET;
    r.session_token = token;
    r.region = region;
    r.service = "sqs";
    r.amz_date = date;

    n = ngx_xyz_sigv4_authorization(&r, mine, sizeof(mine));

    snprintf(name, sizeof(name), "sqs: %s: same authorization", label);
    check_str(got, n > 0 ? mine : NULL, name);
}


static void
run_sqs_calls(void)
{
    char        *big;
    size_t       n;
    const char  *send, *receive;

    send = "{\"QueueUrl\":\"http://sqs.us-east-1.localhost:4566/000000000000/"
           "signup\",\"Entries\":[{\"Id\":\"1\",\"MessageBody\":"
           "\"{\\\"user\\\":42,\\\"event\\\":\\\"registered\\\"}\"}]}";

    receive = "{\"QueueUrl\":\"https://sqs.eu-west-1.amazonaws.com/"
              "123456789012/signup\",\"MaxNumberOfMessages\":10,"
              "\"WaitTimeSeconds\":20,\"MessageSystemAttributeNames\":"
              "[\"ApproximateReceiveCount\"]}";

    /* exactly what the module sends today: its curl layer adds "Expect:" */

    run_sqs("module headers (Expect:)", "/", NULL, "us-east-1",
            "SendMessageBatch", send, NULL, 1);
    run_sqs("module headers + token (Expect:)", "/", NULL, "us-east-1",
            "SendMessageBatch", send, STS_TOKEN, 1);

    /* the same calls without "Expect:", as a libcurl-signed module would
     * have to send them */

    run_sqs("send", "/", NULL, "us-east-1", "SendMessageBatch", send, NULL,
            0);
    run_sqs("send + token", "/", NULL, "us-east-1", "SendMessageBatch",
            send, STS_TOKEN, 0);
    run_sqs("receive + token, AWS host", "/", "sqs.eu-west-1.amazonaws.com",
            "eu-west-1", "ReceiveMessage", receive, STS_TOKEN, 0);
    run_sqs("endpoint with a path", "/123456789012/signup", NULL,
            "us-east-1", "DeleteMessageBatch", send, STS_TOKEN, 0);

    /* over 1 MiB libcurl 7.88 adds "Expect: 100-continue" (unsigned) */

    n = 1100 * 1024;
    big = malloc(n + 1);
    memset(big, 'x', n);
    memcpy(big, "{\"Entries\":\"", 12);
    memcpy(big + n - 2, "\"}", 3);

    run_sqs("1.1 MiB body + token", "/", NULL, "us-east-1",
            "SendMessageBatch", big, STS_TOKEN, 0);

    free(big);
}


int
main(void)
{
    curl_version_info_data  *ci;

    ci = curl_version_info(CURLVERSION_NOW);
    printf("# libcurl %s\n", ci->version);

    curl_global_init(CURL_GLOBAL_DEFAULT);

    if (capture_start() != 0) {
        printf("Bail out! cannot start the capture server\n");
        return 1;
    }

    run_vectors();
    run_sqs_calls();

    curl_global_cleanup();

    return done_testing();
}
