
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Percent-encoding of form and query values, the strict RFC 3986 way that
 * AWS asks for (the STS form body of ngx_xyz_aws_creds.c).  No nginx types,
 * so that unit tests and fuzzers can call it directly.
 */


#ifndef _NGX_XYZ_URI_H_INCLUDED_
#define _NGX_XYZ_URI_H_INCLUDED_


#include <stddef.h>


/*
 * URI-encodes len bytes at s (RFC 3986: everything but A-Z a-z 0-9 - _ . ~
 * becomes %XX, uppercase hex), NUL-terminated, into out.  Returns the
 * length written, or -1 if out is too small.
 */
int ngx_xyz_uri_encode(const char *s, size_t len, char *out, size_t size);


#endif /* _NGX_XYZ_URI_H_INCLUDED_ */
