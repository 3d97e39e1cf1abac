
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Cookies (RFC 6265) for the login session: reading one from a Cookie
 * header, writing a Set-Cookie value.  No nginx types, so that unit tests
 * and fuzzers can call them directly.
 */


#ifndef _NGX_XYZ_COOKIE_H_INCLUDED_
#define _NGX_XYZ_COOKIE_H_INCLUDED_


#include <stddef.h>


/* Max-Age of ngx_xyz_cookie_set() */
#define NGX_XYZ_COOKIE_SESSION  -1      /* until the browser closes */
#define NGX_XYZ_COOKIE_DELETE    0


/*
 * Finds the cookie called name in the value of one Cookie header
 * ("a=1; b=2"): names compare exactly (case matters), blanks around pairs
 * are skipped, a value in double quotes loses them, pairs without "=" are
 * ignored, and the first pair of the name wins (the browser sends the
 * cookie with the longest path first).  HTTP/2 may split the cookies over
 * several headers: call it on each.  Sets *value to the value inside
 * header and returns its length (0 for an empty value), or returns -1 when
 * the cookie is absent.
 */
int ngx_xyz_cookie_get(const char *header, size_t len, const char *name,
    const char **value);

/*
 * Counts the pairs called name in the value of one Cookie header, read as
 * ngx_xyz_cookie_get() reads them; when there is at least one, *value and
 * *vlen give the first.  Returns the count (0 when absent).
 */
int ngx_xyz_cookie_count(const char *header, size_t len, const char *name,
    const char **value, size_t *vlen);

/*
 * The session cookie's name.  Over HTTPS the "__Host-" prefix makes
 * browsers accept it only with Secure, Path=/ and no Domain, from this
 * very host: a sibling subdomain or a plain-HTTP answer cannot plant one.
 * Plain-HTTP local runs (secure off) cannot use the prefix.
 */
#define NGX_XYZ_SESSION_COOKIE(secure)                                       \
    ((secure) ? "__Host-xyz_session" : "xyz_session")


/*
 * Writes a Set-Cookie value, NUL-terminated, to out:
 *
 *     name=value; Path=/; Max-Age=N; HttpOnly; Secure; SameSite=Lax
 *
 * max_age: NGX_XYZ_COOKIE_SESSION (-1) leaves Max-Age out;
 * NGX_XYZ_COOKIE_DELETE (0) deletes the cookie: empty value, "Max-Age=0"
 * and "Expires=Thu, 01 Jan 1970 00:00:00 GMT" (value is then ignored);
 * otherwise the lifetime in seconds.  Secure is written when secure is
 * set; same_site is "Strict", "Lax", "None" (which needs secure) or NULL
 * to leave it out.  There is never a Domain attribute, so the cookie
 * belongs to this host alone; a name with the "__Host-" or "__Secure-"
 * prefix requires secure, as browsers do.  HttpOnly is always there: the
 * session is for the server, not for scripts.
 *
 * Returns the length, or -1 when the name is not an RFC 6265 token, the
 * value holds a character a cookie may not (white space, '"', ',', ';',
 * '\', controls, non-ASCII), an argument is out of range or out is too
 * small.
 */
int ngx_xyz_cookie_set(char *out, size_t size, const char *name,
    const char *value, long long max_age, int secure, const char *same_site);


#endif /* _NGX_XYZ_COOKIE_H_INCLUDED_ */
