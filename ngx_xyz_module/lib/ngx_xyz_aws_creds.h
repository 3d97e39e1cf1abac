
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Temporary AWS credentials: parsers for the answers of the container
 * credentials endpoint (ECS, EKS Pod Identity) and of STS
 * AssumeRoleWithWebIdentity, and the query of that STS call.  Pure C over
 * plain buffers: no nginx types, so that unit tests and fuzzers call them
 * directly.  Link with -lyajl -lcrypto (and ngx_xyz_uri.c).
 */


#ifndef _NGX_XYZ_AWS_CREDS_H_INCLUDED_
#define _NGX_XYZ_AWS_CREDS_H_INCLUDED_


#include <stddef.h>
#include <time.h>


#define NGX_XYZ_AWS_KEY_MAX      128     /* access key id, secret key */
#define NGX_XYZ_AWS_TOKEN_MAX    8192    /* session token */
#define NGX_XYZ_AWS_ANSWER_MAX   65536   /* a credentials answer, bytes */


typedef struct {
    char    access_key[NGX_XYZ_AWS_KEY_MAX + 1];
    char    secret_key[NGX_XYZ_AWS_KEY_MAX + 1];
    char    session_token[NGX_XYZ_AWS_TOKEN_MAX + 1];
    time_t  expiration;
} ngx_xyz_aws_creds_t;


/*
 * Both parsers take len bytes at buf (no NUL needed), fill *c and return 0;
 * or return -1, wipe *c and write a reason to err (err_size bytes, may be
 * 0).  The reason never quotes a key or a token, so it may be logged.
 *
 * All four fields are required: AccessKeyId, SecretAccessKey, a session
 * token and an expiration time.  Values must be printable ASCII without
 * spaces, since they end up in request headers.
 */

/* {"AccessKeyId": .., "SecretAccessKey": .., "Token": ..,
 *  "Expiration": "2026-11-27T19:00:00Z", ...}; an answer with a "Code"
 * other than "Success" is refused */
int ngx_xyz_aws_creds_parse_json(const char *buf, size_t len,
    ngx_xyz_aws_creds_t *c, char *err, size_t err_size);

/* <AssumeRoleWithWebIdentityResponse> .. <Credentials> <AccessKeyId> ..
 * <SecretAccessKey> .. <SessionToken> .. <Expiration> .. ; an
 * <ErrorResponse> is refused with its <Code> in the reason */
int ngx_xyz_aws_creds_parse_sts_xml(const char *buf, size_t len,
    ngx_xyz_aws_creds_t *c, char *err, size_t err_size);

/*
 * Parses an ISO 8601 time, "YYYY-MM-DDTHH:MM:SS", optional fraction, then
 * "Z" or "+HH:MM" / "-HH:MM", into seconds since the epoch, whatever the
 * local time zone.  Returns 0 or -1.
 */
int ngx_xyz_aws_time_parse(const char *s, size_t len, time_t *t);

/*
 * Writes the query of an STS AssumeRoleWithWebIdentity call, encoded and
 * NUL-terminated, to out:
 *
 *     Action=AssumeRoleWithWebIdentity&DurationSeconds=3600
 *     &RoleArn=..&RoleSessionName=..&Version=2011-06-15&WebIdentityToken=..
 *
 * It serves as the query of a GET or as the body of a POST with
 * "Content-Type: application/x-www-form-urlencoded".  The call is not
 * signed: the token is the credential.  Surrounding white space is cut
 * from the token (the file that holds it usually ends with a newline).
 * duration is 900 to 43200 seconds, or 0 to leave it to STS (one hour).
 * The session name is 2 to 64 of [A-Za-z0-9+=,.@_-].  Returns the length,
 * or -1 on a bad argument or if out is too small.
 */
int ngx_xyz_aws_sts_web_identity_query(const char *role_arn,
    const char *session_name, const char *token, size_t token_len,
    unsigned duration, char *out, size_t size);


#endif /* _NGX_XYZ_AWS_CREDS_H_INCLUDED_ */
