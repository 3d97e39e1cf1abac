
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Email messages (RFC 5322, MIME) over plain buffers, for SMTP: no nginx
 * types, so that unit tests and fuzzers can call them directly.
 *
 * The message has CRLF line endings throughout.  Header values that come
 * from users or operators are checked and encoded here: a CR or LF in any
 * of them makes the build fail, so no caller can inject a header.  Bodies
 * are quoted-printable, UTF-8, lines of at most 76 characters.
 */


#ifndef _NGX_XYZ_MIME_H_INCLUDED_
#define _NGX_XYZ_MIME_H_INCLUDED_


#include <stddef.h>
#include <time.h>


#define NGX_XYZ_MIME_DATE_LEN  31   /* "Fri, 27 Nov 2026 18:00:00 +0000" */
#define NGX_XYZ_MIME_BOUNDARY_MAX  70


typedef struct {
    /* "XYZ <no-reply@xyz.example>", "\"XYZ, Inc.\" <a@b.example>" or a
     * bare address; the display name may be UTF-8 */
    const char                    *from;
    const char                    *to_addr;     /* "ana@example.com" */
    const char                    *to_name;     /* any UTF-8, may be NULL */
    const char                    *subject;     /* UTF-8 */
    const char                    *message_id;  /* "outbox-123@xyz.example",
                                                   without <> */
    const char                    *date;        /* ngx_xyz_mime_date() */

    /*
     * 1-70 characters of RFC 2046 "bcharsnospace": letters, digits and
     * ' ( ) + _ , - . / : = ?  ("@" is not one).  A boundary that starts
     * with "=_" can never occur in quoted-printable text; the encoder also
     * never starts a line with "-", so no body can fake a delimiter.
     * Needed only when there is an HTML part.
     */
    const char                    *boundary;

    const char                    *text;        /* UTF-8, LF or CRLF */
    size_t                         text_len;
    const char                    *html;        /* UTF-8; NULL: the message
                                                   is text/plain alone */
    size_t                         html_len;
    const char                    *language;    /* "es", "en"; may be NULL */
} ngx_xyz_mime_t;


/* an upper bound of the message's length, for the caller's buffer */
size_t ngx_xyz_mime_len(const ngx_xyz_mime_t *m);

/*
 * Writes the message: From, To, Subject, Date, Message-ID, MIME-Version,
 * Content-Language, and a multipart/alternative body with the text and
 * HTML parts.  Returns the length (out is NUL-terminated), or -1 for a
 * short buffer or for a field that fails its check: CR or LF in a header
 * value, an address that is not one, invalid UTF-8 in a display name or
 * the subject, a boundary or message id of the wrong characters.
 *
 * A line of the body may start with "."; libcurl's SMTP upload doubles
 * such dots itself (RFC 5321, 4.5.2: Curl_smtp_escape_eob in libcurl 7.x,
 * the end-of-body reader in 8.x) and adds the final CRLF "." CRLF, so the
 * message is handed to CURLOPT_READFUNCTION as it is.
 */
int ngx_xyz_mime_build(const ngx_xyz_mime_t *m, char *out, size_t size);

/* RFC 5322 date of t in UTC, in English whatever the locale */
int ngx_xyz_mime_date(time_t t, char *out, size_t size);

/*
 * The longest address: RFC 5321 (4.5.3.1.3) allows a path of 256 octets,
 * the angle brackets included.
 */
#define NGX_XYZ_MIME_ADDR_MAX  254

/*
 * The length of the address part of a mailbox (inside its last "<...>",
 * or the whole mailbox), not checked: for a configuration message that
 * names the limit.
 */
size_t ngx_xyz_mime_address_len(const char *mailbox);

/*
 * The bare address of a mailbox ("XYZ <no-reply@xyz.example>" gives
 * "no-reply@xyz.example"), for CURLOPT_MAIL_FROM; checks it as the build
 * does.  Returns its length, or -1.
 */
int ngx_xyz_mime_address(const char *mailbox, char *out, size_t size);


#endif /* _NGX_XYZ_MIME_H_INCLUDED_ */
