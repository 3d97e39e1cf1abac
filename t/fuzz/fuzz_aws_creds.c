/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The answers that carry AWS credentials: the container endpoint's JSON,
 * STS's XML, and the times in them.  A refusal's reason is a string.
 */

#include "fuzz.h"
#include <time.h>
#include <ngx_xyz_aws_creds.h>


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                 err[128];
    time_t               t;
    ngx_xyz_aws_creds_t *c;

    c = malloc(sizeof(ngx_xyz_aws_creds_t));
    if (c == NULL) {
        abort();
    }

    /* no NUL needed: give the bytes exactly, so ASan sees any overread */

    if (ngx_xyz_aws_creds_parse_json((const char *) data, size, c, err,
                                     sizeof(err))
        != 0
        && memchr(err, '\0', sizeof(err)) == NULL)
    {
        abort();
    }

    if (ngx_xyz_aws_creds_parse_sts_xml((const char *) data, size, c, err,
                                        sizeof(err))
        != 0
        && memchr(err, '\0', sizeof(err)) == NULL)
    {
        abort();
    }

    (void) ngx_xyz_aws_time_parse((const char *) data, size, &t);

    free(c);

    return 0;
}
