/*
 * Does libcurl's own signer (CURLOPT_AWS_SIGV4), which signs the module's
 * SQS calls (ngx_xyz_sqs_call()), sign as AWS does?  The README's "Hand-
 * written code and the libraries we did not use" rests on the answer;
 * t/004-library-choices.t runs this.
 *
 * Each request goes through libcurl to a capture server on 127.0.0.1 (a
 * thread of this program), and what arrived is compared:
 *
 *   - the AWS SigV4 test-suite vectors (as kept in awslabs/aws-c-auth,
 *     tests/aws-signing-test-suite/v4/, with their canonical requests and
 *     signatures): the fixed time is given to libcurl as an X-Amz-Date
 *     header, which libcurl signs with instead of its clock; the expected
 *     Authorization is the suite's;
 *   - the SQS JSON calls as ngx_xyz_sqs_call() makes them (POST, Content-
 *     Type application/x-amz-json-1.0, X-Amz-Target, the session token of
 *     role credentials, no "Expect:" line): libcurl keeps its own clock, and
 *     the Authorization expected is worked out here again, for the date and
 *     host that libcurl sent, by a reference signer written for this one
 *     shape of request straight from the specification (OpenSSL's HMAC and
 *     SHA-256), itself checked first against a signature computed with
 *     Python's hmac and hashlib.
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
#include <strings.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tap.h"


#define KEY_ID     "AKIDEXAMPLE"
#define SECRET     "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define DATE       "20150830T123600Z"
#define SCOPE      "20150830/us-east-1/service/aws4_request"

#define EMPTY_SHA                                                             \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define FORM_SHA                                                              \
    "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"

#define L_HOST     "host:example.amazonaws.com\n"
#define L_DATE     "x-amz-date:" DATE "\n"
#define SIGNED     "\nhost;x-amz-date\n"
#define HOST       { "Host", "example.amazonaws.com" }

#define UNRESERVED                                                            \
    "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

#define STS_TOKEN                                                             \
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWs" \
    "KWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGde" \
    "ehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8T" \
    "x6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FD" \
    "rypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

#define CAPTURE_MAX  (4 * 1024 * 1024)


typedef struct {
    const char       *name;
    const char       *value;
} header_t;


typedef struct {
    const char       *name;
    const char       *method;
    const char       *path;
    const char       *query;
    header_t          headers[5];       /* up to the first NULL name */
    const char       *payload;
    const char       *token;
    unsigned          sign_sha256;
    unsigned          no_normalize;
    const char       *creq;             /* the suite's canonical request */
    const char       *signature;
} vector_t;


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
    { "sqs: removing Expect: signed headers sent",
      "\"Expect:\" (remove a header) signed as sent before 8.3.0"
      " (b5c65f8b7b, curl issue 11664)" },
    { "sqs: removing Expect: same authorization",
      "\"Expect:\" (remove a header) signed as sent before 8.3.0"
      " (b5c65f8b7b, curl issue 11664)" },
    { "sqs: removing Expect + token: signed headers sent",
      "\"Expect:\" (remove a header) signed as sent before 8.3.0"
      " (b5c65f8b7b, curl issue 11664)" },
    { "sqs: removing Expect + token: same authorization",
      "\"Expect:\" (remove a header) signed as sent before 8.3.0"
      " (b5c65f8b7b, curl issue 11664)" },
    { "vectors: X-Amz-Date sent once",
      "a given X-Amz-Date is sent twice before 8.3.0 (b137634ba3)" },
    { NULL, NULL }
};


static const vector_t  vectors[] = {

    { .name = "get-vanilla", .method = "GET", .path = "/", .query = "",
      .headers = { HOST },
      .creq = "GET\n/\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .signature =
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31" },

    { .name = "get-vanilla-query-order-key-case", .method = "GET",
      .path = "/", .query = "Param2=value2&Param1=value1",
      .headers = { HOST },
      .creq = "GET\n/\nParam1=value1&Param2=value2\n" L_HOST L_DATE SIGNED
              EMPTY_SHA,
      .signature =
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500" },

    { .name = "get-vanilla-query-order-encoded", .method = "GET",
      .path = "/", .query = "Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
      .headers = { HOST },
      .creq = "GET\n/\n%E1%88%B4=Value1&Param=Value2&Param-3=Value3\n"
              L_HOST L_DATE SIGNED EMPTY_SHA,
      .signature =
        "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac" },

    { .name = "get-vanilla-query-unreserved", .method = "GET", .path = "/",
      .query = UNRESERVED "=" UNRESERVED,
      .headers = { HOST },
      .creq = "GET\n/\n" UNRESERVED "=" UNRESERVED "\n" L_HOST L_DATE SIGNED
              EMPTY_SHA,
      .signature =
        "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197" },

    { .name = "get-vanilla-utf8-query", .method = "GET", .path = "/",
      .query = "\xe1\x88\xb4=bar",
      .headers = { HOST },
      .creq = "GET\n/\n%E1%88%B4=bar\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .signature =
        "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04" },

    { .name = "get-utf8", .method = "GET", .path = "/\xe1\x88\xb4",
      .headers = { HOST },
      .creq = "GET\n/%E1%88%B4\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .signature =
        "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85" },

    { .name = "get-space-normalized", .method = "GET",
      .path = "/example space/",
      .headers = { HOST },
      .creq = "GET\n/example%20space/\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .signature =
        "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741" },

    { .name = "get-unreserved", .method = "GET", .path = "/" UNRESERVED,
      .headers = { HOST },
      .creq = "GET\n/" UNRESERVED "\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .signature =
        "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f" },

    { .name = "get-header-value-trim", .method = "GET", .path = "/",
      .headers = { HOST, { "My-Header1", " value1" },
                   { "My-Header2", " \"a   b   c\"" } },
      .creq = "GET\n/\n\n" L_HOST "my-header1:value1\n"
              "my-header2:\"a b c\"\n" L_DATE
              "\nhost;my-header1;my-header2;x-amz-date\n" EMPTY_SHA,
      .signature =
        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736" },

    { .name = "get-header-value-order", .method = "GET", .path = "/",
      .headers = { HOST, { "My-Header1", "value4" },
                   { "My-Header1", "value1" }, { "My-Header1", "value3" },
                   { "My-Header1", "value2" } },
      .creq = "GET\n/\n\n" L_HOST "my-header1:value4,value1,value3,value2\n"
              L_DATE "\nhost;my-header1;x-amz-date\n" EMPTY_SHA,
      .signature =
        "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01" },

    { .name = "get-header-key-duplicate", .method = "GET", .path = "/",
      .headers = { HOST, { "My-Header1", "value2" },
                   { "My-Header1", "value2" }, { "My-Header1", "value1" } },
      .creq = "GET\n/\n\n" L_HOST "my-header1:value2,value2,value1\n"
              L_DATE "\nhost;my-header1;x-amz-date\n" EMPTY_SHA,
      .signature =
        "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea" },

    { .name = "get-header-value-multiline", .method = "GET", .path = "/",
      .headers = { HOST, { "My-Header1", "value1\n  value2\n     value3" } },
      .creq = "GET\n/\n\n" L_HOST "my-header1:value1 value2 value3\n"
              L_DATE "\nhost;my-header1;x-amz-date\n" EMPTY_SHA,
      .signature =
        "cfd34249e4b1c8d6b91ef74165d41a32e5fab3306300901bb65a51a73575eefd" },

    { .name = "get-slashes-normalized", .method = "GET",
      .path = "//example//",
      .headers = { HOST },
      .creq = "GET\n/example/\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .signature =
        "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84" },

    { .name = "get-slash-dot-slash-normalized", .method = "GET",
      .path = "/./",
      .headers = { HOST },
      .creq = "GET\n/\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .signature =
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31" },

    { .name = "get-slash-pointless-dot-normalized", .method = "GET",
      .path = "/./example",
      .headers = { HOST },
      .creq = "GET\n/example\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .signature =
        "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5" },

    { .name = "get-relative-relative-normalized", .method = "GET",
      .path = "/example1/example2/../..",
      .headers = { HOST },
      .creq = "GET\n/\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .signature =
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31" },

    { .name = "get-slashes-unnormalized", .method = "GET",
      .path = "//example//", .no_normalize = 1,
      .headers = { HOST },
      .creq = "GET\n//example//\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .signature =
        "87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5" },

    { .name = "get-relative-relative-unnormalized", .method = "GET",
      .path = "/example1/example2/../..", .no_normalize = 1,
      .headers = { HOST },
      .creq = "GET\n/example1/example2/../..\n\n" L_HOST L_DATE SIGNED
              EMPTY_SHA,
      .signature =
        "dc33e0856fd4baca4d7aa2146c38958283844764f38c74252a333df5e613003b" },

    { .name = "get-slash-pointless-dot-unnormalized", .method = "GET",
      .path = "/./example", .no_normalize = 1,
      .headers = { HOST },
      .creq = "GET\n/./example\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .signature =
        "beb03f223f7deae4146464f06e29eebbee9c8afbe15c290cf07aa8b119e14cff" },

    { .name = "get-vanilla-with-session-token", .method = "GET",
      .path = "/",
      .headers = { HOST },
      .token =
        "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
      .creq = "GET\n/\n\n" L_HOST L_DATE "x-amz-security-token:"
              "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
              "\n\nhost;x-amz-date;x-amz-security-token\n" EMPTY_SHA,
      .signature =
        "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8" },

    { .name = "post-vanilla", .method = "POST", .path = "/",
      .headers = { HOST },
      .creq = "POST\n/\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .signature =
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b" },

    { .name = "post-vanilla-query", .method = "POST", .path = "/",
      .query = "Param1=value1",
      .headers = { HOST },
      .creq = "POST\n/\nParam1=value1\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .signature =
        "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11" },

    /* post-header-key-case and -key-sort: names sorted whatever their case */

    { .name = "post-header-key-sort", .method = "POST", .path = "/",
      .headers = { { "My-Header1", "value1" }, HOST },
      .creq = "POST\n/\n\n" L_HOST "my-header1:value1\n" L_DATE
              "\nhost;my-header1;x-amz-date\n" EMPTY_SHA,
      .signature =
        "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c" },

    { .name = "post-header-value-case", .method = "POST", .path = "/",
      .headers = { HOST, { "MY-HEADER1", "VALUE1" } },
      .creq = "POST\n/\n\n" L_HOST "my-header1:VALUE1\n" L_DATE
              "\nhost;my-header1;x-amz-date\n" EMPTY_SHA,
      .signature =
        "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d" },

    { .name = "post-sts-header-before", .method = "POST", .path = "/",
      .headers = { HOST },
      .token = STS_TOKEN,
      .creq = "POST\n/\n\n" L_HOST L_DATE "x-amz-security-token:" STS_TOKEN
              "\n\nhost;x-amz-date;x-amz-security-token\n" EMPTY_SHA,
      .signature =
        "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead" },

    { .name = "post-x-www-form-urlencoded", .method = "POST", .path = "/",
      .headers = { { "Content-Type", "application/x-www-form-urlencoded" },
                   HOST, { "Content-Length", "13" } },
      .payload = "Param1=value1", .sign_sha256 = 1,
      .creq = "POST\n/\n\ncontent-length:13\n"
              "content-type:application/x-www-form-urlencoded\n" L_HOST
              "x-amz-content-sha256:" FORM_SHA "\n" L_DATE "\n"
              "content-length;content-type;host;x-amz-content-sha256;"
              "x-amz-date\n" FORM_SHA,
      .signature =
        "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b" },

    { .name = "post-x-www-form-urlencoded-parameters", .method = "POST",
      .path = "/",
      .headers = { { "Content-Type",
                     "application/x-www-form-urlencoded; charset=utf-8" },
                   HOST, { "Content-Length", "13" } },
      .payload = "Param1=value1", .sign_sha256 = 1,
      .creq = "POST\n/\n\ncontent-length:13\n"
              "content-type:application/x-www-form-urlencoded; charset=utf-8"
              "\n" L_HOST "x-amz-content-sha256:" FORM_SHA "\n" L_DATE "\n"
              "content-length;content-type;host;x-amz-content-sha256;"
              "x-amz-date\n" FORM_SHA,
      .signature =
        "328d1b9eaadca9f5818ef05e8392801e091653bafec24fcab71e7344e7f51422" },
};


/* the Authorization header a vector expects */

static void
vector_authorization(const vector_t *v, char *out, size_t size)
{
    const char  *signed_headers, *last;

    /* the signed-header list is the line before the payload hash */

    last = strrchr(v->creq, '\n');
    for (signed_headers = last; signed_headers[-1] != '\n'; signed_headers--)
    {
        /* void */
    }

    snprintf(out, size, "AWS4-HMAC-SHA256 Credential=" KEY_ID "/" SCOPE
             ", SignedHeaders=%.*s, Signature=%s",
             (int) (last - signed_headers), signed_headers, v->signature);
}


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
 * The reference: the Authorization of an SQS JSON call, worked out from the
 * SigV4 specification for this one shape of request and nothing else:
 * POST, a path of unreserved characters and slashes (it is signed as it
 * is), no query, and the signed headers content-type, host, x-amz-date,
 * x-amz-security-token (with role credentials) and x-amz-target.
 */

static void
ref_hex(const unsigned char *p, size_t n, char *out)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        sprintf(out + 2 * i, "%02x", p[i]);
    }
}


static void
ref_sha256_hex(const void *p, size_t n, char *out)
{
    unsigned int   len;
    unsigned char  md[EVP_MAX_MD_SIZE];

    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    ref_hex(md, len, out);
}


static void
ref_hmac(const void *key, size_t key_len, const char *data,
    unsigned char *out)
{
    unsigned int  len;

    HMAC(EVP_sha256(), key, (int) key_len, (const unsigned char *) data,
         strlen(data), out, &len);
}


static int
ref_authorization(const char *region, const char *path, const char *host,
    const char *date, const char *target, const char *token,
    const char *body, size_t body_len, const char *secret, char *out,
    size_t size)
{
    char           *creq, hash[65], sig[65], day[9], key[160], *sts;
    size_t          n;
    const char     *signed_headers;
    unsigned char   k[32];

    if (strlen(date) != 16 || strspn(path, UNRESERVED "/") != strlen(path)) {
        return -1;
    }

    signed_headers = token
                     ? "content-type;host;x-amz-date;x-amz-security-token;"
                       "x-amz-target"
                     : "content-type;host;x-amz-date;x-amz-target";

    ref_sha256_hex(body, body_len, hash);

    n = strlen(path) + strlen(host) + (token ? strlen(token) : 0) + 512;
    creq = malloc(n);
    sts = malloc(512);
    if (creq == NULL || sts == NULL) {
        return -1;
    }

    snprintf(creq, n, "POST\n%s\n\n"
             "content-type:application/x-amz-json-1.0\n"
             "host:%s\n"
             "x-amz-date:%s\n"
             "%s%s%s"
             "x-amz-target:AmazonSQS.%s\n"
             "\n%s\n%s",
             path, host, date,
             token ? "x-amz-security-token:" : "", token ? token : "",
             token ? "\n" : "",
             target, signed_headers, hash);

    memcpy(day, date, 8);
    day[8] = '\0';

    ref_sha256_hex(creq, strlen(creq), hash);
    snprintf(sts, 512, "AWS4-HMAC-SHA256\n%s\n%s/%s/sqs/aws4_request\n%s",
             date, day, region, hash);

    snprintf(key, sizeof(key), "AWS4%s", secret);
    ref_hmac(key, strlen(key), day, k);
    ref_hmac(k, 32, region, k);
    ref_hmac(k, 32, "sqs", k);
    ref_hmac(k, 32, "aws4_request", k);
    ref_hmac(k, 32, sts, k);
    ref_hex(k, 32, sig);

    snprintf(out, size, "AWS4-HMAC-SHA256 Credential=" KEY_ID
             "/%s/%s/sqs/aws4_request, SignedHeaders=%s, Signature=%s",
             day, region, signed_headers, sig);

    free(creq);
    free(sts);

    return 0;
}


/*
 * The reference against a SendMessageBatch signed with Python's hmac and
 * hashlib at the suite's fixed time; and a wrong secret must not match.
 */

static void
check_reference(void)
{
    char        got[1024];
    const char *body;

    body = "{\"QueueUrl\":\"http://sqs.us-east-1.localhost:4566/000000000000/"
           "signup\",\"Entries\":[{\"Id\":\"1\",\"MessageBody\":\"hello\"}]}";

    ref_authorization("us-east-1", "/", "sqs.us-east-1.amazonaws.com", DATE,
                      "SendMessageBatch",
                      "FQoGZXIvYXdzEXAMPLE/token+with=chars", body,
                      strlen(body), SECRET, got, sizeof(got));
    check_str(got,
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
              "sqs/aws4_request, SignedHeaders=content-type;host;x-amz-date;"
              "x-amz-security-token;x-amz-target, Signature=65056e9c4c874212"
              "ffc6bdc7fdb8ed61ef2ea9ff1ed164a0f16d55cba78e1f1a",
              "reference signer: the independent SQS signature");

    ref_authorization("us-east-1", "/", "sqs.us-east-1.amazonaws.com", DATE,
                      "SendMessageBatch",
                      "FQoGZXIvYXdzEXAMPLE/token+with=chars", body,
                      strlen(body), SECRET "x", got, sizeof(got));
    check(strstr(got, "65056e9c4c874212") == NULL,
          "reference signer: another secret, another signature");
}


/*
 * One SQS call, as ngx_xyz_sqs_call() builds it, signed by libcurl; the
 * reference signs it again for the date and host that libcurl sent.
 */

static void
run_sqs(const char *label, const char *path, const char *host,
    const char *region, const char *target, const char *body,
    const char *token, int expect_off)
{
    char                  name[160], line[512];
    char                  sigv4[128], date[64], sent_host[256];
    char                  got[1024], want[1024];
    const char           *p;
    struct curl_slist    *h;

    snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:sqs", region);

    h = expect_off ? curl_slist_append(NULL, "Expect:") : NULL;

    if (host) {
        snprintf(line, sizeof(line), "Host: %s", host);
        h = curl_slist_append(h, line);
    }

    h = curl_slist_append(h, "Content-Type: application/x-amz-json-1.0");
    snprintf(line, sizeof(line), "X-Amz-Target: AmazonSQS.%s", target);
    h = curl_slist_append(h, line);

    snprintf(name, sizeof(name), "sqs: %s: request sent", label);
    check(curl_send("POST", path, NULL, h, body, strlen(body), sigv4, token,
                    0) == 0,
          name);

    got[0] = '\0';
    date[0] = '\0';
    sent_host[0] = '\0';
    captured_header("Authorization", 0, got, sizeof(got));
    captured_header("X-Amz-Date", 0, date, sizeof(date));
    captured_header("Host", 0, sent_host, sizeof(sent_host));

    snprintf(name, sizeof(name), "sqs: %s: signed headers sent", label);
    check(signed_headers_sent(got), name);

    p = strstr(cap.buf, "\r\n\r\n");
    snprintf(name, sizeof(name), "sqs: %s: body as given", label);
    check(p && strcmp(p + 4, body) == 0, name);

    snprintf(name, sizeof(name), "sqs: %s: same authorization", label);
    check_str(got,
              ref_authorization(region, path, sent_host, date, target, token,
                                body, strlen(body), SECRET, want,
                                sizeof(want)) == 0
              ? want : NULL,
              name);
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

    /* the calls as the module sends them: no "Expect:" line */

    run_sqs("send", "/", NULL, "us-east-1", "SendMessageBatch", send, NULL,
            0);
    run_sqs("send + token", "/", NULL, "us-east-1", "SendMessageBatch",
            send, STS_TOKEN, 0);
    run_sqs("receive + token, AWS host", "/", "sqs.eu-west-1.amazonaws.com",
            "eu-west-1", "ReceiveMessage", receive, STS_TOKEN, 0);
    run_sqs("endpoint with a path", "/123456789012/signup", NULL,
            "us-east-1", "DeleteMessageBatch", send, STS_TOKEN, 0);

    /*
     * why the module must not send "Expect:" (remove the header, as its
     * curl layer does for every other request) on these
     */

    run_sqs("removing Expect", "/", NULL, "us-east-1", "SendMessageBatch",
            send, NULL, 1);
    run_sqs("removing Expect + token", "/", NULL, "us-east-1",
            "SendMessageBatch", send, STS_TOKEN, 1);

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

    check_reference();
    run_vectors();
    run_sqs_calls();

    curl_global_cleanup();

    return done_testing();
}
