/*
 * Unit tests: HS256 JSON Web Tokens (ngx_xyz_jwt.c).
 *
 * The external vectors were computed apart from this code, with Python's
 * standard library (hmac, hashlib, base64.urlsafe_b64encode without the
 * "=" padding) over the key bytes 0x00..0x1f.
 */

#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tap.h"
#include "ngx_xyz_base64url.h"
#include "ngx_xyz_jwt.h"


#define NOW  1700000100LL

/* Python: header {"alg":"HS256","typ":"JWT","kid":"2024-01"}, payload
 * {"sub":"42","email":"ana@example.com","role":"user","iat":1700000000,
 * "exp":1700003600,"ver":3}, exactly as the signer writes them */
#define VECTOR1                                                               \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6IjIwMjQtMDEifQ"              \
    ".eyJzdWIiOiI0MiIsImVtYWlsIjoiYW5hQGV4YW1wbGUuY29tIiwicm9sZSI6InVzZXIiLC" \
    "JpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMCwidmVyIjozfQ"                \
    ".5PXbdcTi74IlPy_blP_tIWozM4LTlFZ1NyLqCV6YUr8"

/* Python's json.dumps: members in another order, blanks after ":" and ",",
 * the email with a \u escape, claims this code does not know ("iss",
 * "jti"), a user id above 2^53 */
#define VECTOR2                                                               \
    "eyJ0eXAiOiAiSldUIiwgImtpZCI6ICIyMDI0LTAxIiwgImFsZyI6ICJIUzI1NiJ9"        \
    ".eyJpc3MiOiAieHl6IiwgInN1YiI6ICI5MDA3MTk5MjU0NzQwOTkzIiwgImVtYWlsIjogIm" \
    "pvc1x1MDBlOUBleGFtcGxlLmNvbSIsICJyb2xlIjogImFkbWluIiwgInZlciI6IDAsICJpYX" \
    "QiOiAxNzAwMDAwMDAwLCAiZXhwIjogMTcwMDA4NjQwMCwgImp0aSI6ICJ4In0"           \
    ".ily75gERCPUi9170gSZRl-OrC_YqEbwfrrVkos9DCR8"


static unsigned char  key_bytes[32];
static unsigned char  other_bytes[48];

static const char  good_payload[] =
    "{\"sub\":\"42\",\"email\":\"ana@example.com\",\"role\":\"user\","
    "\"iat\":1700000000,\"exp\":1700003600,\"ver\":3}";


/* a token of any header and payload, signed with HMAC over md */
static void
make(char *out, size_t size, const char *header, const char *payload,
    const unsigned char *key, size_t key_len, const EVP_MD *md)
{
    int            n;
    size_t         len;
    unsigned int   mlen;
    unsigned char  mac[EVP_MAX_MD_SIZE];

    n = ngx_xyz_base64url_encode((const unsigned char *) header,
                                 strlen(header), out, size);
    len = n;
    out[len++] = '.';
    n = ngx_xyz_base64url_encode((const unsigned char *) payload,
                                 strlen(payload), out + len, size - len);
    len += n;

    HMAC(md, key, (int) key_len, (unsigned char *) out, len, mac, &mlen);

    out[len++] = '.';
    ngx_xyz_base64url_encode(mac, mlen, out + len, size - len);
}


static int
verify(const char *t, const ngx_xyz_jwt_key_t *keys, size_t n,
    long long now, ngx_xyz_jwt_claims_t *c)
{
    return ngx_xyz_jwt_verify(t, strlen(t), keys, n, now, c);
}


static int
verify_payload(const char *payload, const ngx_xyz_jwt_key_t *key)
{
    char                  t[4096];
    ngx_xyz_jwt_claims_t  c;

    make(t, sizeof(t), "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}",
         payload, key->key, key->key_len, EVP_sha256());

    return verify(t, key, 1, NOW, &c);
}


static int
is_zero(const void *p, size_t n)
{
    const unsigned char  *b = p;

    while (n--) {
        if (*b++) {
            return 0;
        }
    }

    return 1;
}


static void
test_vectors(void)
{
    int                   n;
    char                  t[NGX_XYZ_JWT_MAX + 1];
    ngx_xyz_jwt_key_t     key = { "2024-01", key_bytes, sizeof(key_bytes) };
    ngx_xyz_jwt_claims_t  c;

    memset(&c, 0, sizeof(c));
    c.sub = 42;
    strcpy(c.email, "ana@example.com");
    strcpy(c.role, "user");
    c.iat = 1700000000;
    c.exp = 1700003600;
    c.ver = 3;

    n = ngx_xyz_jwt_sign(&c, &key, t, sizeof(t));
    ok(n == (int) strlen(VECTOR1), "vector: length returned");
    is_str(t, VECTOR1, "vector: signer matches Python's hmac and base64");

    ok(ngx_xyz_jwt_sign(&c, &key, t, strlen(VECTOR1) + 1) == n,
       "sign: the exact buffer size suffices");
    ok(ngx_xyz_jwt_sign(&c, &key, t, strlen(VECTOR1)) == -1,
       "sign: one byte less is refused");
    ok(ngx_xyz_jwt_sign(&c, &key, t, 10) == -1,
       "sign: a tiny buffer is refused");

    memset(&c, 0x55, sizeof(c));
    ok(verify(VECTOR1, &key, 1, 1700000000, &c) == 0,
       "vector: verifies");
    ok(c.sub == 42 && strcmp(c.email, "ana@example.com") == 0
       && strcmp(c.role, "user") == 0 && c.iat == 1700000000
       && c.exp == 1700003600 && c.ver == 3
       && strcmp(c.kid, "2024-01") == 0,
       "vector: claims read back");

    ok(verify(VECTOR2, &key, 1, 1700000000, &c) == 0,
       "vector from another encoder: verifies");
    ok(c.sub == 9007199254740993LL, "vector 2: sub above 2^53 exact");
    is_str(c.email, "jos\xc3\xa9@example.com",
           "vector 2: \\u escape read as UTF-8");
    is_str(c.role, "admin", "vector 2: role");
    ok(c.ver == 0 && c.exp == 1700086400, "vector 2: ver and exp");
}


static void
test_round_trip(void)
{
    int                   rc;
    char                  t[NGX_XYZ_JWT_MAX + 1], bad[NGX_XYZ_JWT_MAX + 1];
    char                 *dot, *sig;
    size_t                len;
    ngx_xyz_jwt_key_t     keys[2];
    ngx_xyz_jwt_claims_t  c, got;

    keys[0].kid = "k1";
    keys[0].key = key_bytes;
    keys[0].key_len = sizeof(key_bytes);
    keys[1].kid = "k2";
    keys[1].key = other_bytes;
    keys[1].key_len = sizeof(other_bytes);

    memset(&c, 0, sizeof(c));
    c.sub = 123456789;
    strcpy(c.email, "o'brien+\"x\"\\y@example.org");
    strcpy(c.role, "admin");
    c.iat = NOW - 10;
    c.exp = NOW + 3600;
    c.ver = 7;

    ok(ngx_xyz_jwt_sign(&c, &keys[0], t, sizeof(t)) > 0, "round trip: sign");
    rc = verify(t, keys, 1, NOW, &got);
    ok(rc == 0, "round trip: verify");
    ok(got.sub == c.sub && strcmp(got.email, c.email) == 0
       && strcmp(got.role, "admin") == 0 && got.iat == c.iat
       && got.exp == c.exp && got.ver == 7 && strcmp(got.kid, "k1") == 0,
       "round trip: claims equal, quotes and backslash escaped and back");

    /* key rotation: a token of k1 verifies wherever k1 is listed */

    {
        ngx_xyz_jwt_key_t  rotated[2];

        rotated[0] = keys[1];
        rotated[1] = keys[0];

        ok(verify(t, rotated, 2, NOW, &got) == 0
           && strcmp(got.kid, "k1") == 0,
           "rotation: k1's token verifies with keys {k2, k1}");
        ok(verify(t, &rotated[0], 1, NOW, &got) == NGX_XYZ_JWT_EKID,
           "rotation: k1's token is refused once k1 is dropped");
    }

    ok(ngx_xyz_jwt_sign(&c, &keys[1], bad, sizeof(bad)) > 0
       && verify(bad, keys, 2, NOW, &got) == 0
       && strcmp(got.kid, "k2") == 0,
       "rotation: k2's token verifies and names k2");

    /* the same kid with another key */

    {
        ngx_xyz_jwt_key_t  wrong = { "k1", other_bytes, 32 };

        ok(verify(t, &wrong, 1, NOW, &got) == NGX_XYZ_JWT_ESIGNATURE,
           "wrong key under the right kid: bad signature");
    }

    ok(verify(t, &keys[1], 1, NOW, &got) == NGX_XYZ_JWT_EKID,
       "unknown kid is refused");
    ok(verify(t, keys, 0, NOW, &got) == NGX_XYZ_JWT_EKID,
       "no keys: unknown kid");

    /* tampering */

    len = strlen(t);
    dot = strchr(t, '.');
    sig = strrchr(t, '.') + 1;

    strcpy(bad, t);
    bad[dot - t + 5] = bad[dot - t + 5] == 'A' ? 'B' : 'A';
    rc = verify(bad, keys, 2, NOW, &got);
    ok(rc == NGX_XYZ_JWT_ESIGNATURE, "tampered payload: bad signature");
    ok(is_zero(&got, sizeof(got)), "failure leaves the claims zeroed");

    strcpy(bad, t);
    bad[sig - t + 3] = bad[sig - t + 3] == 'A' ? 'B' : 'A';
    ok(verify(bad, keys, 2, NOW, &got) == NGX_XYZ_JWT_ESIGNATURE,
       "tampered signature: bad signature");

    strcpy(bad, t);
    bad[len - 1] = '\0';
    ok(verify(bad, keys, 2, NOW, &got) == NGX_XYZ_JWT_ESIGNATURE,
       "truncated signature: bad signature");

    strcpy(bad, t);
    strcat(bad, "A");
    ok(verify(bad, keys, 2, NOW, &got) == NGX_XYZ_JWT_ESIGNATURE,
       "lengthened signature: bad signature");

    strcpy(bad, t);
    strcat(bad, "=");
    ok(verify(bad, keys, 2, NOW, &got) == NGX_XYZ_JWT_ESIGNATURE,
       "padded signature: bad signature");

    strcpy(bad, t);
    bad[sig - t] = '\0';
    ok(verify(bad, keys, 2, NOW, &got) == NGX_XYZ_JWT_ESIGNATURE,
       "HS256 header with an empty signature: refused");

    ok(ngx_xyz_jwt_verify(t, len - 1, keys, 2, NOW, &got)
       == NGX_XYZ_JWT_ESIGNATURE,
       "len is honoured: a shorter length is another token");

    /* shape */

    strcpy(bad, t);
    strcat(bad, ".x");
    ok(verify(bad, keys, 2, NOW, &got) == NGX_XYZ_JWT_EMALFORMED,
       "four parts: malformed");
    ok(verify("a.b", keys, 2, NOW, &got) == NGX_XYZ_JWT_EMALFORMED,
       "two parts: malformed");
    ok(verify("..", keys, 2, NOW, &got) == NGX_XYZ_JWT_EMALFORMED,
       "empty parts: malformed");
    ok(verify("", keys, 2, NOW, &got) == NGX_XYZ_JWT_EMALFORMED,
       "empty token: malformed");
    ok(verify("not a token", keys, 2, NOW, &got) == NGX_XYZ_JWT_EMALFORMED,
       "garbage: malformed");
    ok(ngx_xyz_jwt_verify(NULL, 0, keys, 2, NOW, &got)
       == NGX_XYZ_JWT_EMALFORMED, "NULL: malformed");

    strcpy(bad, " ");
    strcat(bad, t);
    ok(verify(bad, keys, 2, NOW, &got) == NGX_XYZ_JWT_EMALFORMED,
       "leading blank: malformed");

    {
        char  *huge;

        huge = malloc(NGX_XYZ_JWT_MAX + 2);
        memset(huge, 'A', NGX_XYZ_JWT_MAX + 1);
        huge[10] = '.';
        huge[20] = '.';
        huge[NGX_XYZ_JWT_MAX + 1] = '\0';
        ok(verify(huge, keys, 2, NOW, &got) == NGX_XYZ_JWT_EMALFORMED,
           "a token over NGX_XYZ_JWT_MAX: malformed");
        free(huge);
    }

    /* time */

    ok(verify(t, keys, 1, c.exp + 59, &got) == 0,
       "expiry: within the leeway still valid");
    ok(verify(t, keys, 1, c.exp + 60, &got) == NGX_XYZ_JWT_EEXPIRED,
       "expiry: leeway over, expired");
    ok(verify(t, keys, 1, c.exp + 86400, &got) == NGX_XYZ_JWT_EEXPIRED,
       "expiry: a day later, expired");
    ok(verify(t, keys, 1, c.iat - 60, &got) == 0,
       "iat: a minute ahead of the clock is tolerated");
    ok(verify(t, keys, 1, c.iat - 61, &got) == NGX_XYZ_JWT_ECLAIMS,
       "iat: further in the future, not yet valid");
    ok(verify(t, keys, 1, -9223372036854775807LL, &got)
       == NGX_XYZ_JWT_ECLAIMS, "now at the edge of long long: no overflow");
}


static void
test_algorithms(void)
{
    char                  t[4096];
    ngx_xyz_jwt_key_t     key = { "k1", key_bytes, sizeof(key_bytes) };
    ngx_xyz_jwt_claims_t  c;
    char                  h[64], p[512];

    /* alg "none": header {"alg":"none"}, no signature */

    ngx_xyz_base64url_encode((const unsigned char *) "{\"alg\":\"none\"}", 14,
                             h, sizeof(h));
    ngx_xyz_base64url_encode((const unsigned char *) good_payload,
                             strlen(good_payload), p, sizeof(p));
    snprintf(t, sizeof(t), "%s.%s.", h, p);
    ok(verify(t, &key, 1, NOW, &c) == NGX_XYZ_JWT_EALG,
       "alg none, empty signature: refused");

    make(t, sizeof(t), "{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"k1\"}",
         good_payload, key_bytes, 32, EVP_sha256());
    ok(verify(t, &key, 1, NOW, &c) == NGX_XYZ_JWT_EALG,
       "alg none with our kid and a valid HS256 MAC: refused");

    make(t, sizeof(t), "{\"alg\":\"None\",\"kid\":\"k1\"}",
         good_payload, key_bytes, 32, EVP_sha256());
    ok(verify(t, &key, 1, NOW, &c) == NGX_XYZ_JWT_EALG,
       "alg None: refused");

    make(t, sizeof(t), "{\"alg\":\"HS512\",\"typ\":\"JWT\",\"kid\":\"k1\"}",
         good_payload, key_bytes, 32, EVP_sha512());
    ok(verify(t, &key, 1, NOW, &c) == NGX_XYZ_JWT_EALG,
       "alg HS512 with a valid HMAC-SHA512: refused");

    make(t, sizeof(t), "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}",
         good_payload, key_bytes, 32, EVP_sha256());
    ok(verify(t, &key, 1, NOW, &c) == NGX_XYZ_JWT_EALG,
       "alg RS256 (key confusion): refused");

    make(t, sizeof(t), "{\"alg\":\"hs256\",\"kid\":\"k1\"}",
         good_payload, key_bytes, 32, EVP_sha256());
    ok(verify(t, &key, 1, NOW, &c) == NGX_XYZ_JWT_EALG,
       "alg hs256 (case differs): refused");

    make(t, sizeof(t), "{\"typ\":\"JWT\",\"kid\":\"k1\"}",
         good_payload, key_bytes, 32, EVP_sha256());
    ok(verify(t, &key, 1, NOW, &c) == NGX_XYZ_JWT_EALG,
       "no alg: refused");

    make(t, sizeof(t), "{\"alg\":[\"HS256\"],\"kid\":\"k1\"}",
         good_payload, key_bytes, 32, EVP_sha256());
    ok(verify(t, &key, 1, NOW, &c) == NGX_XYZ_JWT_EALG,
       "alg not a string: refused");

    make(t, sizeof(t), "{\"alg\":\"HS256\",\"typ\":\"JOSE+JSON\","
         "\"kid\":\"k1\"}", good_payload, key_bytes, 32, EVP_sha256());
    ok(verify(t, &key, 1, NOW, &c) == NGX_XYZ_JWT_EALG,
       "typ other than JWT: refused");

    make(t, sizeof(t), "{\"alg\":\"HS256\",\"kid\":\"k1\"}",
         good_payload, key_bytes, 32, EVP_sha256());
    ok(verify(t, &key, 1, NOW, &c) == 0, "typ absent: accepted");

    make(t, sizeof(t), "{\"alg\":\"HS256\",\"typ\":\"jwt\",\"kid\":\"k1\"}",
         good_payload, key_bytes, 32, EVP_sha256());
    ok(verify(t, &key, 1, NOW, &c) == 0, "typ jwt in lowercase: accepted");

    make(t, sizeof(t), "{\"alg\":\"HS256\",\"kid\":\"k1\",\"crit\":[\"exp\"]}",
         good_payload, key_bytes, 32, EVP_sha256());
    ok(verify(t, &key, 1, NOW, &c) == NGX_XYZ_JWT_EALG,
       "crit header: refused");

    make(t, sizeof(t), "{\"alg\":\"HS256\",\"alg\":\"none\",\"kid\":\"k1\"}",
         good_payload, key_bytes, 32, EVP_sha256());
    ok(verify(t, &key, 1, NOW, &c) == NGX_XYZ_JWT_EMALFORMED,
       "duplicate alg: malformed");

    make(t, sizeof(t), "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
         good_payload, key_bytes, 32, EVP_sha256());
    ok(verify(t, &key, 1, NOW, &c) == NGX_XYZ_JWT_EKID,
       "no kid: refused");

    make(t, sizeof(t), "{\"alg\":\"HS256\",\"kid\":\"k1/../x\"}",
         good_payload, key_bytes, 32, EVP_sha256());
    ok(verify(t, &key, 1, NOW, &c) == NGX_XYZ_JWT_EKID,
       "kid with a path: refused");

    make(t, sizeof(t), "{\"alg\":\"HS256\",\"kid\":7}",
         good_payload, key_bytes, 32, EVP_sha256());
    ok(verify(t, &key, 1, NOW, &c) == NGX_XYZ_JWT_EKID,
       "kid not a string: refused");

    make(t, sizeof(t), "[\"HS256\"]", good_payload, key_bytes, 32,
         EVP_sha256());
    ok(verify(t, &key, 1, NOW, &c) == NGX_XYZ_JWT_EMALFORMED,
       "header not an object: malformed");

    make(t, sizeof(t), "{\"alg\":\"HS256\",\"kid\":\"k1\"", good_payload,
         key_bytes, 32, EVP_sha256());
    ok(verify(t, &key, 1, NOW, &c) == NGX_XYZ_JWT_EMALFORMED,
       "header not JSON: malformed");

    /* short keys neither sign nor verify */

    {
        ngx_xyz_jwt_key_t     short_key = { "k1", key_bytes, 31 };
        ngx_xyz_jwt_key_t     bad_kid = { "k 1", key_bytes, 32 };
        ngx_xyz_jwt_claims_t  s;

        memset(&s, 0, sizeof(s));
        s.sub = 1;
        strcpy(s.email, "a@b.c");
        strcpy(s.role, "user");
        s.iat = NOW;
        s.exp = NOW + 60;

        ok(ngx_xyz_jwt_sign(&s, &short_key, t, sizeof(t)) == -1,
           "sign: a key under 32 bytes is refused");
        ok(ngx_xyz_jwt_sign(&s, &bad_kid, t, sizeof(t)) == -1,
           "sign: a kid with a blank is refused");

        make(t, sizeof(t), "{\"alg\":\"HS256\",\"kid\":\"k1\"}",
             good_payload, key_bytes, 31, EVP_sha256());
        ok(verify(t, &short_key, 1, NOW, &c) == NGX_XYZ_JWT_EKID,
           "verify: a key under 32 bytes is never used");
    }
}


static void
test_claims(void)
{
    char                  t[NGX_XYZ_JWT_MAX + 1];
    ngx_xyz_jwt_key_t     key = { "k1", key_bytes, sizeof(key_bytes) };
    ngx_xyz_jwt_claims_t  c;
    size_t                i;

    static const struct {
        const char  *payload;
        int          rc;
        const char  *name;
    } cases[] = {
        { "{\"sub\":\"42\",\"email\":\"a@b.c\",\"role\":\"user\","
          "\"iat\":1700000000,\"exp\":1700003600,\"ver\":0}", 0,
          "claims: minimal valid payload" },
        { "{\"sub\":42,\"email\":\"a@b.c\",\"role\":\"user\","
          "\"iat\":1700000000,\"exp\":1700003600,\"ver\":0}",
          NGX_XYZ_JWT_ECLAIMS, "claims: numeric sub refused" },
        { "{\"sub\":\"0\",\"email\":\"a@b.c\",\"role\":\"user\","
          "\"iat\":1700000000,\"exp\":1700003600,\"ver\":0}",
          NGX_XYZ_JWT_ECLAIMS, "claims: sub 0 refused" },
        { "{\"sub\":\"042\",\"email\":\"a@b.c\",\"role\":\"user\","
          "\"iat\":1700000000,\"exp\":1700003600,\"ver\":0}",
          NGX_XYZ_JWT_ECLAIMS, "claims: sub with a leading zero refused" },
        { "{\"sub\":\"-4\",\"email\":\"a@b.c\",\"role\":\"user\","
          "\"iat\":1700000000,\"exp\":1700003600,\"ver\":0}",
          NGX_XYZ_JWT_ECLAIMS, "claims: negative sub refused" },
        { "{\"sub\":\"9223372036854775808\",\"email\":\"a@b.c\","
          "\"role\":\"user\",\"iat\":1700000000,\"exp\":1700003600,"
          "\"ver\":0}",
          NGX_XYZ_JWT_ECLAIMS, "claims: sub over 2^63-1 refused" },
        { "{\"sub\":\"9223372036854775807\",\"email\":\"a@b.c\","
          "\"role\":\"user\",\"iat\":1700000000,\"exp\":1700003600,"
          "\"ver\":0}",
          0, "claims: sub 2^63-1 accepted" },
        { "{\"email\":\"a@b.c\",\"role\":\"user\","
          "\"iat\":1700000000,\"exp\":1700003600,\"ver\":0}",
          NGX_XYZ_JWT_ECLAIMS, "claims: missing sub refused" },
        { "{\"sub\":\"42\",\"role\":\"user\","
          "\"iat\":1700000000,\"exp\":1700003600,\"ver\":0}",
          NGX_XYZ_JWT_ECLAIMS, "claims: missing email refused" },
        { "{\"sub\":\"42\",\"email\":\"a@b.c\\r\\nX-Admin: 1\","
          "\"role\":\"user\",\"iat\":1700000000,\"exp\":1700003600,"
          "\"ver\":0}",
          NGX_XYZ_JWT_ECLAIMS, "claims: CR LF in the email refused" },
        { "{\"sub\":\"42\",\"email\":\"a@b.c\",\"role\":\"Admin\","
          "\"iat\":1700000000,\"exp\":1700003600,\"ver\":0}",
          NGX_XYZ_JWT_ECLAIMS, "claims: role outside a-z0-9_- refused" },
        { "{\"sub\":\"42\",\"email\":\"a@b.c\",\"role\":\"\","
          "\"iat\":1700000000,\"exp\":1700003600,\"ver\":0}",
          NGX_XYZ_JWT_ECLAIMS, "claims: empty role refused" },
        { "{\"sub\":\"42\",\"email\":\"a@b.c\","
          "\"role\":\"administrator-role\","
          "\"iat\":1700000000,\"exp\":1700003600,\"ver\":0}",
          NGX_XYZ_JWT_ECLAIMS, "claims: role over 15 characters refused" },
        { "{\"sub\":\"42\",\"email\":\"a@b.c\",\"role\":\"user\","
          "\"iat\":1700000000,\"exp\":1700003600.5,\"ver\":0}",
          NGX_XYZ_JWT_ECLAIMS, "claims: fractional exp refused" },
        { "{\"sub\":\"42\",\"email\":\"a@b.c\",\"role\":\"user\","
          "\"iat\":1700000000,\"exp\":\"1700003600\",\"ver\":0}",
          NGX_XYZ_JWT_ECLAIMS, "claims: exp as a string refused" },
        { "{\"sub\":\"42\",\"email\":\"a@b.c\",\"role\":\"user\","
          "\"iat\":1700000000,\"ver\":0}",
          NGX_XYZ_JWT_ECLAIMS, "claims: missing exp refused" },
        { "{\"sub\":\"42\",\"email\":\"a@b.c\",\"role\":\"user\","
          "\"exp\":1700003600,\"ver\":0}",
          NGX_XYZ_JWT_ECLAIMS, "claims: missing iat refused" },
        { "{\"sub\":\"42\",\"email\":\"a@b.c\",\"role\":\"user\","
          "\"iat\":1700000000,\"exp\":1700003600}",
          NGX_XYZ_JWT_ECLAIMS, "claims: missing ver refused" },
        { "{\"sub\":\"42\",\"email\":\"a@b.c\",\"role\":\"user\","
          "\"iat\":1700000000,\"exp\":1700003600,\"ver\":-1}",
          NGX_XYZ_JWT_ECLAIMS, "claims: negative ver refused" },
        { "{\"sub\":\"42\",\"email\":\"a@b.c\",\"role\":\"user\","
          "\"iat\":1700000000,\"exp\":1700003600,\"ver\":2147483648}",
          NGX_XYZ_JWT_ECLAIMS, "claims: ver over INT_MAX refused" },
        { "{\"sub\":\"42\",\"email\":\"a@b.c\",\"role\":\"user\","
          "\"iat\":1700003600,\"exp\":1700003600,\"ver\":0}",
          NGX_XYZ_JWT_ECLAIMS, "claims: exp not after iat refused" },
        { "{\"sub\":\"42\",\"sub\":\"1\",\"email\":\"a@b.c\","
          "\"role\":\"user\",\"iat\":1700000000,\"exp\":1700003600,"
          "\"ver\":0}",
          NGX_XYZ_JWT_EMALFORMED, "claims: duplicate sub malformed" },
        { "[1,2]", NGX_XYZ_JWT_EMALFORMED,
          "claims: payload not an object malformed" },
        { "{\"sub\":\"42\",", NGX_XYZ_JWT_EMALFORMED,
          "claims: payload not JSON malformed" },
        { "{\"sub\":\"42\",\"email\":\"a@b.c\",\"role\":\"user\","
          "\"iat\":1600000000,\"exp\":1600003600,\"ver\":0}",
          NGX_XYZ_JWT_EEXPIRED, "claims: long expired" },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ok(verify_payload(cases[i].payload, &key) == cases[i].rc,
           cases[i].name);
    }

    /* a NUL inside the payload would cut what yajl sees */

    {
        char  raw[] = "{\"sub\":\"42\",\"email\":\"a@b.c\",\"role\":\"user\","
                      "\"iat\":1700000000,\"exp\":1700003600,\"ver\":0}"
                      "X\"x\"";
        char  h[64], p[512], s[64];
        unsigned int   mlen;
        unsigned char  mac[32];

        raw[strlen(raw) - 4] = '\0';

        ngx_xyz_base64url_encode((const unsigned char *)
                                 "{\"alg\":\"HS256\",\"kid\":\"k1\"}", 26,
                                 h, sizeof(h));
        ngx_xyz_base64url_encode((const unsigned char *) raw,
                                 sizeof(raw) - 1, p, sizeof(p));
        snprintf(t, sizeof(t), "%s.%s", h, p);
        HMAC(EVP_sha256(), key_bytes, 32, (unsigned char *) t, strlen(t),
             mac, &mlen);
        ngx_xyz_base64url_encode(mac, 32, s, sizeof(s));
        strcat(t, ".");
        strcat(t, s);

        ok(verify(t, &key, 1, NOW, &c) == NGX_XYZ_JWT_EMALFORMED,
           "claims: a NUL inside the payload: malformed");
    }

    /* what the signer refuses */

    {
        ngx_xyz_jwt_claims_t  s;

        memset(&s, 0, sizeof(s));
        s.sub = 1;
        strcpy(s.email, "a@b.c");
        strcpy(s.role, "user");
        s.iat = NOW;
        s.exp = NOW + 60;

        ok(ngx_xyz_jwt_sign(&s, &key, t, sizeof(t)) > 0,
           "sign: valid claims");

        s.sub = 0;
        ok(ngx_xyz_jwt_sign(&s, &key, t, sizeof(t)) == -1,
           "sign: sub 0 refused");
        s.sub = 1;

        s.exp = s.iat;
        ok(ngx_xyz_jwt_sign(&s, &key, t, sizeof(t)) == -1,
           "sign: exp not after iat refused");
        s.exp = NOW + 60;

        s.ver = -1;
        ok(ngx_xyz_jwt_sign(&s, &key, t, sizeof(t)) == -1,
           "sign: negative ver refused");
        s.ver = 0;

        strcpy(s.role, "Admin");
        ok(ngx_xyz_jwt_sign(&s, &key, t, sizeof(t)) == -1,
           "sign: role outside a-z0-9_- refused");
        strcpy(s.role, "user");

        strcpy(s.email, "a@b.c\nBcc: x");
        ok(ngx_xyz_jwt_sign(&s, &key, t, sizeof(t)) == -1,
           "sign: control character in the email refused");

        memset(s.email, 'a', sizeof(s.email));
        ok(ngx_xyz_jwt_sign(&s, &key, t, sizeof(t)) == -1,
           "sign: unterminated email refused");

        memset(s.email, 'a', NGX_XYZ_JWT_EMAIL_MAX);
        s.email[NGX_XYZ_JWT_EMAIL_MAX] = '\0';
        memset(s.email, '"', 100);
        s.sub = 9223372036854775807LL;
        s.iat = 9223372036854775000LL;
        s.exp = 9223372036854775807LL;
        s.ver = 2147483647;
        ok(ngx_xyz_jwt_sign(&s, &key, t, sizeof(t)) > 0
           && ngx_xyz_jwt_verify(t, strlen(t), &key, 1, s.iat, &c) == 0
           && strcmp(c.email, s.email) == 0
           && c.sub == s.sub && c.ver == s.ver,
           "sign: the largest claims fit NGX_XYZ_JWT_MAX and verify");
    }
}


int
main(void)
{
    size_t  i;

    for (i = 0; i < sizeof(key_bytes); i++) {
        key_bytes[i] = (unsigned char) i;
    }

    for (i = 0; i < sizeof(other_bytes); i++) {
        other_bytes[i] = (unsigned char) (0xa5 ^ i);
    }

    test_vectors();
    test_round_trip();
    test_algorithms();
    test_claims();

    is_str(ngx_xyz_jwt_strerror(NGX_XYZ_JWT_EEXPIRED), "expired",
           "strerror: a code's text");
    is_str(ngx_xyz_jwt_strerror(-100), "unknown error",
           "strerror: an unknown code");

    return done_testing();
}
