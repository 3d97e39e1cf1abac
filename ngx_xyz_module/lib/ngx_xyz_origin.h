
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Cross-site request forgery defence for the state-changing locations
 * (log in, log out, register, reset): the browser names the page that
 * sent a request in Origin (and in Referer), and a request whose origin is
 * not one of ours is refused.  Together with the SameSite session cookie
 * this needs no token in the forms.  No nginx types, so that unit tests
 * and fuzzers can call it directly.
 */


#ifndef _NGX_XYZ_ORIGIN_H_INCLUDED_
#define _NGX_XYZ_ORIGIN_H_INCLUDED_


#include <stddef.h>


/* the longest origin handled: scheme, "://", a 253-byte host, a port */
#define NGX_XYZ_ORIGIN_MAX  300


/*
 * Writes the origin of an absolute URL, "scheme://host" or
 * "scheme://host:port", NUL-terminated, to out: scheme and host in
 * lowercase, the port as a plain number and left out when it is the
 * scheme's default (80 for http and ws, 443 for https and wss).  Path,
 * query and fragment are dropped.  Returns the length, or -1 when the URL
 * is not of that form (no "://", an empty host, a host with characters
 * other than letters, digits, ".", "-", "_" or a bracketed IPv6 address,
 * user information ("@"), a port out of 1-65535) or out is too small.
 * "null", the Origin of sandboxed and privacy-sensitive contexts, has no
 * origin.
 */
int ngx_xyz_origin_of(const char *url, size_t len, char *out, size_t size);

/*
 * Decides whether a request comes from one of the allowed origins
 * ("https://signup.example.com", compared in the form ngx_xyz_origin_of()
 * gives).  The Origin header decides when present (an Origin with a path
 * or "null" is refused); without it, the origin of the Referer; without
 * either, allow_absent: browsers send Origin with every POST, so a request
 * with neither comes from a client that is not a browser (curl, a mobile
 * application), which a cookie-less API may accept.  An absent header is
 * NULL or of length 0.  Returns 1 when allowed, 0 when refused.
 */
int ngx_xyz_origin_allowed(const char *origin, size_t origin_len,
    const char *referer, size_t referer_len, const char *const *allowed,
    size_t nallowed, int allow_absent);


#endif /* _NGX_XYZ_ORIGIN_H_INCLUDED_ */
