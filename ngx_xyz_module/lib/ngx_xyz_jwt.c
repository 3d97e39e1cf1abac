
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * HS256 JSON Web Tokens: RFC 7519 (JWT), RFC 7515 (JWS, compact form) and
 * RFC 7518, 3.2 (HMAC with SHA-2), with the algorithm pinned.
 */


#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <yajl/yajl_tree.h>

#include "ngx_xyz_base64url.h"
#include "ngx_xyz_json.h"
#include "ngx_xyz_jwt.h"


#define NGX_XYZ_JWT_SIG_LEN      32     /* HMAC-SHA256 */
#define NGX_XYZ_JWT_SIG_B64_LEN  43

/* the JSON of one part, decoded, fits here with its NUL */
#define NGX_XYZ_JWT_PART_MAX                                                  \
    (NGX_XYZ_BASE64URL_DECODED_LEN(NGX_XYZ_JWT_MAX) + 1)


static int ngx_xyz_jwt_check_claims(const ngx_xyz_jwt_claims_t *c);
static int ngx_xyz_jwt_check_key(const ngx_xyz_jwt_key_t *key);
static int ngx_xyz_jwt_kid_ok(const char *kid, size_t len);
static int ngx_xyz_jwt_role_ok(const char *role, size_t len);
static int ngx_xyz_jwt_email_ok(const char *email, size_t len);
static int ngx_xyz_jwt_hmac(const ngx_xyz_jwt_key_t *key, const char *data,
    size_t len, unsigned char *out);
static yajl_val ngx_xyz_jwt_parse(const char *b64, size_t len);
static int ngx_xyz_jwt_unique_members(yajl_val obj);
static int ngx_xyz_jwt_read_header(yajl_val h, const ngx_xyz_jwt_key_t *keys,
    size_t nkeys, const ngx_xyz_jwt_key_t **key, ngx_xyz_jwt_claims_t *c);
static int ngx_xyz_jwt_read_claims(yajl_val p, long long now,
    ngx_xyz_jwt_claims_t *c);
static int ngx_xyz_jwt_integer(yajl_val obj, const char *name,
    long long *v);


int
ngx_xyz_jwt_sign(const ngx_xyz_jwt_claims_t *c, const ngx_xyz_jwt_key_t *key,
    char *out, size_t size)
{
    int            n, len;
    char           json[NGX_XYZ_JWT_PART_MAX], *p, *last;
    unsigned char  sig[NGX_XYZ_JWT_SIG_LEN];

    if (ngx_xyz_jwt_check_claims(c) != 0 || ngx_xyz_jwt_check_key(key) != 0) {
        return -1;
    }

    /* the header; the key id needs no escaping (ngx_xyz_jwt_kid_ok) */

    n = snprintf(json, sizeof(json),
                 "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
                 key->kid);

    if (n < 0 || (size_t) n >= sizeof(json)) {
        return -1;
    }

    len = ngx_xyz_base64url_encode((const unsigned char *) json, n, out,
                                   size);
    if (len < 0 || (size_t) len + 1 >= size) {
        return -1;
    }

    out[len++] = '.';

    /* the payload */

    p = json;
    last = json + sizeof(json);

    n = snprintf(p, last - p, "{\"sub\":\"%lld\",\"email\":", c->sub);
    if (n < 0 || n >= last - p) {
        return -1;
    }

    p += n;

    p = ngx_xyz_json_quote(p, last, c->email, strlen(c->email));
    p = ngx_xyz_json_raw(p, last, ",\"role\":");
    p = ngx_xyz_json_quote(p, last, c->role, strlen(c->role));

    if (p == NULL) {
        return -1;
    }

    n = snprintf(p, last - p, ",\"iat\":%lld,\"exp\":%lld,\"ver\":%d}",
                 c->iat, c->exp, c->ver);
    if (n < 0 || n >= last - p) {
        return -1;
    }

    p += n;

    n = ngx_xyz_base64url_encode((const unsigned char *) json, p - json,
                                 out + len, size - len);
    if (n < 0) {
        return -1;
    }

    len += n;

    /* the signature over "header.payload" */

    if (ngx_xyz_jwt_hmac(key, out, len, sig) != 0) {
        return -1;
    }

    if ((size_t) len + 1 >= size) {
        return -1;
    }

    out[len++] = '.';

    n = ngx_xyz_base64url_encode(sig, sizeof(sig), out + len, size - len);
    OPENSSL_cleanse(sig, sizeof(sig));

    if (n < 0 || len + n > NGX_XYZ_JWT_MAX) {
        return -1;
    }

    return len + n;
}


int
ngx_xyz_jwt_verify(const char *token, size_t len,
    const ngx_xyz_jwt_key_t *keys, size_t nkeys, long long now,
    ngx_xyz_jwt_claims_t *c)
{
    int                       rc;
    size_t                    dot1, dot2, i;
    yajl_val                  header, payload;
    unsigned char             want[NGX_XYZ_JWT_SIG_LEN];
    unsigned char             got[NGX_XYZ_JWT_SIG_LEN + 1];
    ngx_xyz_jwt_claims_t      claims;
    const ngx_xyz_jwt_key_t  *key;

    memset(c, 0, sizeof(ngx_xyz_jwt_claims_t));
    memset(&claims, 0, sizeof(ngx_xyz_jwt_claims_t));

    if (token == NULL || len == 0 || len > NGX_XYZ_JWT_MAX) {
        return NGX_XYZ_JWT_EMALFORMED;
    }

    /* exactly three parts: two dots (a JWE has five parts, four dots) */

    dot1 = 0;
    dot2 = 0;

    for (i = 0; i < len; i++) {
        if (token[i] != '.') {
            continue;
        }

        if (dot1 == 0) {
            dot1 = i + 1;

        } else if (dot2 == 0) {
            dot2 = i + 1;

        } else {
            return NGX_XYZ_JWT_EMALFORMED;
        }
    }

    if (dot1 == 0 || dot2 == 0) {
        return NGX_XYZ_JWT_EMALFORMED;
    }

    /* the header decides nothing but which of our keys to use */

    header = ngx_xyz_jwt_parse(token, dot1 - 1);
    if (header == NULL) {
        return NGX_XYZ_JWT_EMALFORMED;
    }

    rc = ngx_xyz_jwt_read_header(header, keys, nkeys, &key, &claims);
    yajl_tree_free(header);

    if (rc != 0) {
        return rc;
    }

    /* the signature, before anything of the payload is read */

    if (ngx_xyz_base64url_decode(token + dot2, len - dot2, got, sizeof(got))
        != NGX_XYZ_JWT_SIG_LEN)
    {
        return NGX_XYZ_JWT_ESIGNATURE;
    }

    if (ngx_xyz_jwt_hmac(key, token, dot2 - 1, want) != 0) {
        return NGX_XYZ_JWT_ESIGNATURE;
    }

    rc = CRYPTO_memcmp(want, got, NGX_XYZ_JWT_SIG_LEN);
    OPENSSL_cleanse(want, sizeof(want));

    if (rc != 0) {
        return NGX_XYZ_JWT_ESIGNATURE;
    }

    payload = ngx_xyz_jwt_parse(token + dot1, dot2 - dot1 - 1);
    if (payload == NULL) {
        return NGX_XYZ_JWT_EMALFORMED;
    }

    rc = ngx_xyz_jwt_read_claims(payload, now, &claims);
    yajl_tree_free(payload);

    if (rc != 0) {
        return rc;
    }

    *c = claims;

    return 0;
}


const char *
ngx_xyz_jwt_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "valid";
    case NGX_XYZ_JWT_EMALFORMED:
        return "malformed";
    case NGX_XYZ_JWT_EALG:
        return "algorithm refused";
    case NGX_XYZ_JWT_EKID:
        return "unknown key id";
    case NGX_XYZ_JWT_ESIGNATURE:
        return "bad signature";
    case NGX_XYZ_JWT_EEXPIRED:
        return "expired";
    case NGX_XYZ_JWT_ECLAIMS:
        return "bad claims";
    default:
        return "unknown error";
    }
}


static int
ngx_xyz_jwt_check_claims(const ngx_xyz_jwt_claims_t *c)
{
    if (c->sub <= 0 || c->ver < 0 || c->iat < 0 || c->exp <= c->iat) {
        return -1;
    }

    if (!ngx_xyz_jwt_role_ok(c->role,
                             strnlen(c->role, sizeof(c->role))))
    {
        return -1;
    }

    if (!ngx_xyz_jwt_email_ok(c->email,
                              strnlen(c->email, sizeof(c->email))))
    {
        return -1;
    }

    return 0;
}


static int
ngx_xyz_jwt_check_key(const ngx_xyz_jwt_key_t *key)
{
    if (key == NULL || key->kid == NULL || key->key == NULL
        || key->key_len < NGX_XYZ_JWT_KEY_MIN || key->key_len > INT_MAX)
    {
        return -1;
    }

    return ngx_xyz_jwt_kid_ok(key->kid, strlen(key->kid)) ? 0 : -1;
}


static int
ngx_xyz_jwt_kid_ok(const char *kid, size_t len)
{
    size_t         i;
    unsigned char  ch;

    if (len == 0 || len > NGX_XYZ_JWT_KID_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        ch = (unsigned char) kid[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
              || (ch >= '0' && ch <= '9')
              || ch == '.' || ch == '_' || ch == '-'))
        {
            return 0;
        }
    }

    return 1;
}


static int
ngx_xyz_jwt_role_ok(const char *role, size_t len)
{
    size_t         i;
    unsigned char  ch;

    if (len == 0 || len > NGX_XYZ_JWT_ROLE_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        ch = (unsigned char) role[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
              || ch == '_' || ch == '-'))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * Not a validation of the address (registration did that), only what the
 * token's consumers need: it goes into variables and upstream headers, so
 * no control characters, and it fits the claims.
 */

static int
ngx_xyz_jwt_email_ok(const char *email, size_t len)
{
    size_t         i;
    unsigned char  ch;

    if (len == 0 || len > NGX_XYZ_JWT_EMAIL_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        ch = (unsigned char) email[i];

        if (ch < 0x20 || ch == 0x7f) {
            return 0;
        }
    }

    return 1;
}


static int
ngx_xyz_jwt_hmac(const ngx_xyz_jwt_key_t *key, const char *data, size_t len,
    unsigned char *out)
{
    unsigned int  n;

    if (HMAC(EVP_sha256(), key->key, (int) key->key_len,
             (const unsigned char *) data, len, out, &n)
        == NULL || n != NGX_XYZ_JWT_SIG_LEN)
    {
        return -1;
    }

    return 0;
}


/* decodes one part and parses it as a JSON object without duplicates */

static yajl_val
ngx_xyz_jwt_parse(const char *b64, size_t len)
{
    int       n;
    char      json[NGX_XYZ_JWT_PART_MAX];
    yajl_val  v;

    n = ngx_xyz_base64url_decode(b64, len, (unsigned char *) json,
                                 sizeof(json));

    /* yajl reads up to the NUL: a NUL inside would hide what follows */

    if (n <= 0 || memchr(json, '\0', n) != NULL) {
        return NULL;
    }

    v = yajl_tree_parse(json, NULL, 0);

    if (v == NULL) {
        return NULL;
    }

    if (!YAJL_IS_OBJECT(v) || !ngx_xyz_jwt_unique_members(v)) {
        yajl_tree_free(v);
        return NULL;
    }

    return v;
}


/*
 * Two members of one name would leave open which one counts; parsers
 * disagree, so a token with them is refused (RFC 7515, 4 allows that).
 */

static int
ngx_xyz_jwt_unique_members(yajl_val obj)
{
    size_t  i, j;

    for (i = 0; i < obj->u.object.len; i++) {
        for (j = i + 1; j < obj->u.object.len; j++) {
            if (strcmp(obj->u.object.keys[i], obj->u.object.keys[j]) == 0) {
                return 0;
            }
        }
    }

    return 1;
}


static int
ngx_xyz_jwt_read_header(yajl_val h, const ngx_xyz_jwt_key_t *keys,
    size_t nkeys, const ngx_xyz_jwt_key_t **key, ngx_xyz_jwt_claims_t *c)
{
    size_t       i, len;
    yajl_val     v;
    const char  *alg, *kid;

    alg = ngx_xyz_json_string(h, "alg");

    if (alg == NULL || strcmp(alg, "HS256") != 0) {
        return NGX_XYZ_JWT_EALG;
    }

    v = ngx_xyz_json_member(h, "typ");

    if (v != NULL
        && (!YAJL_IS_STRING(v) || strcasecmp(v->u.string, "JWT") != 0))
    {
        return NGX_XYZ_JWT_EALG;
    }

    /* RFC 7515, 4.1.11: extensions the recipient does not understand
     * must be refused, and this one understands none */

    if (ngx_xyz_json_member(h, "crit") != NULL) {
        return NGX_XYZ_JWT_EALG;
    }

    kid = ngx_xyz_json_string(h, "kid");

    if (kid == NULL) {
        return NGX_XYZ_JWT_EKID;
    }

    len = strlen(kid);

    if (!ngx_xyz_jwt_kid_ok(kid, len)) {
        return NGX_XYZ_JWT_EKID;
    }

    for (i = 0; i < nkeys; i++) {
        if (ngx_xyz_jwt_check_key(&keys[i]) == 0
            && strcmp(keys[i].kid, kid) == 0)
        {
            *key = &keys[i];
            memcpy(c->kid, kid, len + 1);
            return 0;
        }
    }

    return NGX_XYZ_JWT_EKID;
}


static int
ngx_xyz_jwt_read_claims(yajl_val p, long long now, ngx_xyz_jwt_claims_t *c)
{
    size_t       len, i;
    long long    ver, sub;
    const char  *s;

    /* "sub": a string (RFC 7519, 4.1.2) holding a positive decimal id */

    s = ngx_xyz_json_string(p, "sub");

    if (s == NULL) {
        return NGX_XYZ_JWT_ECLAIMS;
    }

    len = strlen(s);

    if (len == 0 || len > 19 || s[0] == '0') {
        return NGX_XYZ_JWT_ECLAIMS;
    }

    sub = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9'
            || sub > (LLONG_MAX - (s[i] - '0')) / 10)
        {
            return NGX_XYZ_JWT_ECLAIMS;
        }

        sub = sub * 10 + (s[i] - '0');
    }

    c->sub = sub;

    s = ngx_xyz_json_string(p, "email");

    if (s == NULL || !ngx_xyz_jwt_email_ok(s, len = strlen(s))) {
        return NGX_XYZ_JWT_ECLAIMS;
    }

    memcpy(c->email, s, len + 1);

    s = ngx_xyz_json_string(p, "role");

    if (s == NULL || !ngx_xyz_jwt_role_ok(s, len = strlen(s))) {
        return NGX_XYZ_JWT_ECLAIMS;
    }

    memcpy(c->role, s, len + 1);

    if (ngx_xyz_jwt_integer(p, "iat", &c->iat) != 0
        || ngx_xyz_jwt_integer(p, "exp", &c->exp) != 0
        || ngx_xyz_jwt_integer(p, "ver", &ver) != 0
        || c->iat < 0 || c->exp <= c->iat || ver < 0 || ver > INT_MAX)
    {
        return NGX_XYZ_JWT_ECLAIMS;
    }

    c->ver = (int) ver;

    /* the times last, so that a malformed token never reads "expired";
     * both sides compared without overflow for any now */

    if (now < LLONG_MIN + NGX_XYZ_JWT_LEEWAY
        || now > LLONG_MAX - NGX_XYZ_JWT_LEEWAY)
    {
        return NGX_XYZ_JWT_ECLAIMS;
    }

    if (c->iat > now + NGX_XYZ_JWT_LEEWAY) {
        return NGX_XYZ_JWT_ECLAIMS;
    }

    if (c->exp <= now - NGX_XYZ_JWT_LEEWAY) {
        return NGX_XYZ_JWT_EEXPIRED;
    }

    return 0;
}


static int
ngx_xyz_jwt_integer(yajl_val obj, const char *name, long long *v)
{
    yajl_val  m;

    m = ngx_xyz_json_member(obj, name);

    if (m == NULL || !YAJL_IS_INTEGER(m)) {
        return -1;
    }

    *v = YAJL_GET_INTEGER(m);

    return 0;
}
