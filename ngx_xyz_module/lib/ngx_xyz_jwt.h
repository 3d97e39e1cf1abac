
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * JSON Web Tokens (RFC 7519) for login sessions, over plain buffers: no
 * nginx types, so that unit tests and fuzzers can call them directly.
 *
 * One algorithm only: HS256 (HMAC-SHA256, RFC 7518, 3.2).  The algorithm
 * is pinned by the verifier, never taken from the token: "none", HS384,
 * HS512, RS256 and every other value are refused, so that a token cannot
 * choose how it is checked.  Keys are raw bytes that the caller reads from
 * files, at least NGX_XYZ_JWT_KEY_MIN (32) bytes each, as RFC 7518, 3.2
 * asks for HS256; shorter keys sign nothing and verify nothing.  Every
 * token names its key in the header ("kid"), so keys can be rotated: sign
 * with the new key, keep the old one in the verifier's list until the
 * last token signed with it has expired.
 *
 * The token:
 *
 *     header   {"alg":"HS256","typ":"JWT","kid":KID}
 *     payload  {"sub":"<user id>","email":..,"role":..,"iat":..,"exp":..,
 *               "ver":..}
 *
 * each part base64url-encoded without padding (RFC 7515, 2), joined by
 * ".", the third part being the HMAC-SHA256 of "header.payload".  "ver" is
 * the user's token version: the server increments it on a password reset,
 * and a token with an older version no longer opens a session (checked by
 * the caller against the database).
 *
 * HMAC comes from OpenSSL (link with -lcrypto), JSON parsing from yajl
 * (-lyajl) and ngx_xyz_json.c.  Every function is reentrant.
 */


#ifndef _NGX_XYZ_JWT_H_INCLUDED_
#define _NGX_XYZ_JWT_H_INCLUDED_


#include <stddef.h>


#define NGX_XYZ_JWT_KEY_MIN      32     /* bytes of key material */
#define NGX_XYZ_JWT_KID_MAX      32     /* characters of a key id */
#define NGX_XYZ_JWT_EMAIL_MAX    254
#define NGX_XYZ_JWT_ROLE_MAX     15
#define NGX_XYZ_JWT_LEEWAY       60     /* seconds of clock skew allowed */

/* the longest token either function handles; a signed token fits in it */
#define NGX_XYZ_JWT_MAX          2048

/* errors of ngx_xyz_jwt_verify() */
#define NGX_XYZ_JWT_EMALFORMED   -1     /* not three base64url parts of
                                           JSON objects, or too long */
#define NGX_XYZ_JWT_EALG         -2     /* "alg" is not "HS256", "typ" is
                                           not "JWT", or "crit" is there */
#define NGX_XYZ_JWT_EKID         -3     /* no "kid", or not one of ours */
#define NGX_XYZ_JWT_ESIGNATURE   -4
#define NGX_XYZ_JWT_EEXPIRED     -5
#define NGX_XYZ_JWT_ECLAIMS      -6     /* a claim missing, of the wrong
                                           type or out of range, or "iat"
                                           in the future */


typedef struct {
    long long    sub;           /* user id, > 0 */
    char         email[NGX_XYZ_JWT_EMAIL_MAX + 1];
    char         role[NGX_XYZ_JWT_ROLE_MAX + 1];   /* "user" | "admin" */
    long long    iat;           /* seconds since the epoch */
    long long    exp;
    int          ver;           /* the user's token_version, >= 0 */
    char         kid[NGX_XYZ_JWT_KID_MAX + 1];     /* from the header */
} ngx_xyz_jwt_claims_t;


typedef struct {
    const char           *kid;  /* 1-32 of A-Z a-z 0-9 . _ - */
    const unsigned char  *key;
    size_t                key_len;  /* >= NGX_XYZ_JWT_KEY_MIN */
} ngx_xyz_jwt_key_t;


/*
 * Signs the claims with key; c->kid is ignored (the key's id goes in the
 * header).  The role takes 1-15 of a-z 0-9 _ -; the email at most 254
 * bytes without control characters; sub must be positive, ver not
 * negative, exp later than iat.  Writes the token, NUL-terminated, to out
 * and returns its length, or -1 when a claim or the key is out of range,
 * out is too small or OpenSSL fails.  NGX_XYZ_JWT_MAX + 1 bytes always
 * suffice.
 */
int ngx_xyz_jwt_sign(const ngx_xyz_jwt_claims_t *c,
    const ngx_xyz_jwt_key_t *key, char *out, size_t size);

/*
 * Verifies a token against the keys and the time now (seconds since the
 * epoch).  In order: three parts, no more, each of base64url without
 * padding; the header a JSON object with "alg" exactly "HS256", "typ"
 * "JWT" (any case) when present, no "crit", and a "kid" naming one of
 * keys[]; the signature, compared in constant time; then the payload's
 * claims, as ngx_xyz_jwt_sign() writes them (other members are ignored);
 * "exp" must be later than now - NGX_XYZ_JWT_LEEWAY, "iat" no later than
 * now + NGX_XYZ_JWT_LEEWAY.  Duplicate member names make a token
 * malformed.  Nothing of the payload is read before its signature has
 * been checked.  The caller still compares "ver" with the user's current
 * token version.
 *
 * Returns 0 and fills c (kid included), or one of the negative
 * NGX_XYZ_JWT_E* codes, c then zeroed.
 */
int ngx_xyz_jwt_verify(const char *token, size_t len,
    const ngx_xyz_jwt_key_t *keys, size_t nkeys, long long now,
    ngx_xyz_jwt_claims_t *c);

/* the text of an NGX_XYZ_JWT_E* code, for log lines: "expired", ... */
const char *ngx_xyz_jwt_strerror(int rc);


#endif /* _NGX_XYZ_JWT_H_INCLUDED_ */
