/*
 * The module's pinned HS256 verifier (ngx_xyz_jwt.c) next to Debian's
 * libjwt (jwt_decode): the same hostile tokens through both.  Evidence for
 * the README's "Hand-written code and the libraries we did not use"; run by
 * t/004-library-choices.t when Debian's libjwt-dev is installed.
 *
 * "module: ..." lines are what the module must do.  "libjwt: ..." lines
 * record what jwt_decode() does on its own, before any check a caller
 * might add: each says "accepts" or "refuses", and is ok either way; the
 * finding is in the words.
 */

#include <stdlib.h>
#include <time.h>
#include <jwt.h>

#include "tap.h"
#include "ngx_xyz_jwt.h"


static const unsigned char  key[] = "0123456789abcdef0123456789abcdef";


/* a token made by libjwt: alg, the key to sign with (or none) */

static char *
libjwt_token(jwt_alg_t alg, const unsigned char *k, int klen, long long now)
{
    char   *s;
    jwt_t  *jwt;

    if (jwt_new(&jwt) != 0) {
        return NULL;
    }

    jwt_add_header(jwt, "kid", "k1");
    jwt_add_grant(jwt, "sub", "1");
    jwt_add_grant(jwt, "email", "ana@example.com");
    jwt_add_grant(jwt, "role", "admin");
    jwt_add_grant_int(jwt, "iat", (long) now);
    jwt_add_grant_int(jwt, "exp", (long) now + 3600);
    jwt_add_grant_int(jwt, "ver", 0);

    if (jwt_set_alg(jwt, alg, k, klen) != 0) {
        jwt_free(jwt);
        return NULL;
    }

    s = jwt_encode_str(jwt);
    jwt_free(jwt);

    return s;
}


static void
libjwt_says(const char *token, const unsigned char *k, int klen,
    const char *what)
{
    int     rc;
    char    name[256];
    jwt_t  *jwt;

    jwt = NULL;
    rc = token ? jwt_decode(&jwt, token, k, klen) : -1;

    snprintf(name, sizeof(name), "libjwt: %s: jwt_decode %s (alg %s)", what,
             rc == 0 ? "accepts" : "refuses",
             rc == 0 ? jwt_alg_str(jwt_get_alg(jwt)) : "-");
    ok(token != NULL, name);

    if (jwt) {
        jwt_free(jwt);
    }
}


static void
module_refuses(const char *token, const char *what)
{
    int                    rc;
    char                   name[256];
    ngx_xyz_jwt_key_t      k;
    ngx_xyz_jwt_claims_t   c;

    k.kid = "k1";
    k.key = key;
    k.key_len = sizeof(key) - 1;

    rc = token ? ngx_xyz_jwt_verify(token, strlen(token), &k, 1, time(NULL),
                                    &c)
               : -1;

    snprintf(name, sizeof(name), "module: %s: refused (%s)", what,
             rc == 0 ? "accepted" : ngx_xyz_jwt_strerror(rc));
    ok(token != NULL && rc != 0, name);
}


int
main(void)
{
    char        *t;
    int          klen;
    long long    now;
    jwt_t       *jwt;

    now = time(NULL);
    klen = sizeof(key) - 1;

    /* the baseline: HS256 with our key passes both */

    t = libjwt_token(JWT_ALG_HS256, key, klen, now);
    ok(t != NULL && jwt_decode(&jwt, t, key, klen) == 0,
       "libjwt: HS256 with the key verifies");
    if (t) {
        ngx_xyz_jwt_claims_t  c;
        ngx_xyz_jwt_key_t     k = { "k1", key, sizeof(key) - 1 };

        ok(ngx_xyz_jwt_verify(t, strlen(t), &k, 1, now, &c) == 0,
           "module: the same libjwt HS256 token verifies");
        free(t);
    }

    /* the token picks another HMAC: nothing pins the algorithm */

    t = libjwt_token(JWT_ALG_HS512, key, klen, now);
    libjwt_says(t, key, klen, "HS512 with our key");
    module_refuses(t, "HS512 with our key");
    free(t);

    /* "none": refused when a key is given, taken when none is */

    t = libjwt_token(JWT_ALG_NONE, NULL, 0, now);
    libjwt_says(t, key, klen, "alg none, key given");
    libjwt_says(t, NULL, 0, "alg none, no key (say, a key file not read)");
    module_refuses(t, "alg none");
    free(t);

    /* no key at all: a signature over an empty key is not checked */

    t = libjwt_token(JWT_ALG_HS256, (const unsigned char *) "x", 1, now);
    libjwt_says(t, NULL, 0, "HS256 signed with \"x\", no key");
    free(t);

    /* a one-byte key signs and verifies: no minimum length */

    t = libjwt_token(JWT_ALG_HS256, (const unsigned char *) "x", 1, now);
    libjwt_says(t, (const unsigned char *) "x", 1, "HS256 with a 1-byte key");
    free(t);

    {
        char                   buf[NGX_XYZ_JWT_MAX + 1] = "";
        ngx_xyz_jwt_key_t      k1 = { "k1", (const unsigned char *) "x", 1 };
        ngx_xyz_jwt_claims_t   c;

        memset(&c, 0, sizeof(c));
        c.sub = 1;
        strcpy(c.email, "ana@example.com");
        strcpy(c.role, "admin");
        c.iat = now;
        c.exp = now + 3600;

        ok(ngx_xyz_jwt_sign(&c, &k1, buf, sizeof(buf)) == -1
           && ngx_xyz_jwt_verify(buf, 0, &k1, 1, now, &c) != 0,
           "module: a 1-byte key signs and verifies nothing");
    }

    return done_testing();
}
