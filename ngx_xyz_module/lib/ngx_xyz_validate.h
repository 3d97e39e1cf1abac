
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Pure checks on user-supplied text: no nginx types, so that unit tests
 * and fuzzers can call them directly.
 */


#ifndef _NGX_XYZ_VALIDATE_H_INCLUDED_
#define _NGX_XYZ_VALIDATE_H_INCLUDED_


#include <stddef.h>


#define NGX_XYZ_EMAIL_MAX  254


/*
 * Checks an email address and writes its normalised form (surrounding
 * white space removed, ASCII lowercased) to out, which must hold
 * NGX_XYZ_EMAIL_MAX + 1 bytes.  The trimmed original is described by
 * *start and *len.  Returns 0 when the address is acceptable, -1 if not.
 */
int ngx_xyz_email_normalize(const char *in, size_t in_len, char *out,
    const char **start, size_t *len);

/*
 * Counts the code points of a UTF-8 string; returns -1 when the bytes are
 * not valid UTF-8 or hold a control character (C0, DEL or C1).
 */
long ngx_xyz_utf8_printable_length(const char *s, size_t len);

/*
 * The same for a name, which also refuses noncharacters (U+FDD0-U+FDEF,
 * U+nFFFE, U+nFFFF) and bidirectional controls (U+202A-U+202E,
 * U+2066-U+2069).
 */
long ngx_xyz_utf8_name_length(const char *s, size_t len);

/* Removes leading and trailing ASCII white space. */
void ngx_xyz_trim(const char **s, size_t *len);


#endif /* _NGX_XYZ_VALIDATE_H_INCLUDED_ */
