
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * AWS Signature Version 4 over plain buffers: no nginx types, so that unit
 * tests and fuzzers can call it directly.  HMAC and SHA-256 come from
 * OpenSSL (link with -lcrypto).  Every function is reentrant.
 *
 * What gets signed.  The caller lists the headers it will send and wants
 * signed ("host" is required, the others are up to the caller; for SQS:
 * host, content-type, x-amz-target).  The signer adds three headers of its
 * own to the signed set, and the caller must send them with these values:
 *
 *     x-amz-date            r->amz_date, always;
 *     x-amz-security-token  r->session_token, when it is not NULL;
 *     x-amz-content-sha256  the payload hash, when r->sign_content_sha256
 *                           is set (S3 wants it; SQS does not).
 *
 * Listing any of these three in r->headers is an error: the values would
 * be signed twice.
 */


#ifndef _NGX_XYZ_SIGV4_H_INCLUDED_
#define _NGX_XYZ_SIGV4_H_INCLUDED_


#include <stddef.h>
#include <time.h>


#define NGX_XYZ_SIGV4_DATE_LEN      16      /* "YYYYMMDDTHHMMSSZ" */
#define NGX_XYZ_SIGV4_HEX_LEN       64      /* hex SHA-256 or signature */

/* limits of one request; beyond them the functions return -1 */
#define NGX_XYZ_SIGV4_MAX_HEADERS   32      /* the signer's three included */
#define NGX_XYZ_SIGV4_MAX_PARAMS    64      /* query parameters */
#define NGX_XYZ_SIGV4_MAX_SEGMENTS  64      /* path segments */
#define NGX_XYZ_SIGV4_MAX_NAME      64      /* region, service */
#define NGX_XYZ_SIGV4_MAX_SECRET    128     /* secret access key */


typedef struct {
    const char                    *name;    /* any case */
    const char                    *value;   /* trimmed, inner white space
                                               collapsed by the signer */
} ngx_xyz_sigv4_header_t;


typedef struct {
    const char                    *method;  /* "POST" */

    /*
     * The path exactly as it goes on the request line, e.g. "/" or
     * "/123456789012/queue".  The signer normalises it (removes "." and
     * ".." segments and empty segments, as every service but S3 expects)
     * and URI-encodes it once more, which is the "double encoding" the
     * specification asks of every service but S3.
     */
    const char                    *path;

    /*
     * The query string as it goes on the request line, without "?", or ""
     * or NULL.  Parameters are percent-decoded, re-encoded the SigV4 way
     * and sorted.  "+" is taken literally: encode a space as %20.
     */
    const char                    *query;

    const ngx_xyz_sigv4_header_t  *headers;
    size_t                         nheaders;

    const unsigned char           *payload; /* hashed by the signer */
    size_t                         payload_len;

    /* hex SHA-256 of the payload, or "UNSIGNED-PAYLOAD"; NULL to have the
     * signer hash the payload */
    const char                    *payload_hash;

    const char                    *access_key;
    const char                    *secret_key;
    const char                    *session_token;   /* NULL if none */

    const char                    *region;          /* "us-east-1" */
    const char                    *service;         /* "sqs" */
    const char                    *amz_date;        /* "YYYYMMDDTHHMMSSZ" */

    unsigned                       sign_content_sha256:1;

    /* keep the path as given: S3 only */
    unsigned                       no_normalize:1;
} ngx_xyz_sigv4_request_t;


/*
 * Writes the value of the Authorization header, NUL-terminated, to out.
 * Returns its length, or -1 if the request is malformed, out is too small
 * or OpenSSL fails.
 */
int ngx_xyz_sigv4_authorization(const ngx_xyz_sigv4_request_t *r, char *out,
    size_t size);

/*
 * The steps of the signature, for tests and for logging at debug level
 * (they hold no secret).  Each writes a NUL-terminated string and returns
 * its length or -1.  The signature takes NGX_XYZ_SIGV4_HEX_LEN + 1 bytes.
 */
int ngx_xyz_sigv4_canonical_request(const ngx_xyz_sigv4_request_t *r,
    char *out, size_t size);
int ngx_xyz_sigv4_string_to_sign(const ngx_xyz_sigv4_request_t *r, char *out,
    size_t size);
int ngx_xyz_sigv4_signature(const ngx_xyz_sigv4_request_t *r, char *out);

/*
 * Formats t as "YYYYMMDDTHHMMSSZ" (UTC, whatever the local time zone) into
 * out, which takes NGX_XYZ_SIGV4_DATE_LEN + 1 bytes.  Returns 0, or -1 for
 * a time before 1970 or after 9999.
 */
int ngx_xyz_sigv4_amz_date(time_t t, char *out);

/*
 * Writes the lowercase hex SHA-256 of len bytes at data, NUL-terminated,
 * to out (NGX_XYZ_SIGV4_HEX_LEN + 1 bytes).  Returns 0 or -1.
 */
int ngx_xyz_sigv4_sha256_hex(const void *data, size_t len, char *out);

/*
 * URI-encodes len bytes at s the SigV4 way (RFC 3986: everything but
 * A-Z a-z 0-9 - _ . ~ becomes %XX, uppercase hex), NUL-terminated, into
 * out.  Returns the length written, or -1 if out is too small.
 */
int ngx_xyz_sigv4_uri_encode(const char *s, size_t len, char *out,
    size_t size);


#endif /* _NGX_XYZ_SIGV4_H_INCLUDED_ */
