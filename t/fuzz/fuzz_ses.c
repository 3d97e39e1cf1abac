/*
 * Copyright (C) the XYZ sign-up authors
 *
 * SES bounce and complaint notifications from the feedback queue, in an
 * SNS envelope or raw, and the join of their recipients.
 */

#include "fuzz.h"
#include <ngx_xyz_ses_json.h>


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                      rc, n;
    char                    *s, *arena, *out, err[128];
    size_t                   i, arena_size, out_size;
    ngx_xyz_ses_feedback_t   fb;

    s = xyz_fuzz_str(data, size);

    /* what the header promises the caller: len + 1 KiB always fits */
    arena_size = size + 1024;
    arena = malloc(arena_size);
    if (arena == NULL) {
        abort();
    }

    rc = ngx_xyz_ses_feedback_parse(s, size, &fb, arena, arena_size, err,
                                    sizeof(err));

    if (memchr(err, '\0', sizeof(err)) == NULL
        || memchr(fb.detail, '\0', sizeof(fb.detail)) == NULL
        || memchr(fb.feedback_id, '\0', sizeof(fb.feedback_id)) == NULL)
    {
        abort();
    }

    if (rc == 0) {
        if (fb.nrcpt > NGX_XYZ_SES_RCPT_MAX
            || (fb.type != NGX_XYZ_SES_OTHER && fb.nrcpt == 0))
        {
            abort();
        }

        out_size = 0;

        for (i = 0; i < fb.nrcpt; i++) {
            /* normalised: no upper case, no control, no newline */
            if (strlen(fb.rcpt[i]) > 254 || strpbrk(fb.rcpt[i], "\n\r")
                || strchr(fb.rcpt[i], '@') == NULL)
            {
                abort();
            }

            out_size += strlen(fb.rcpt[i]) + 1;
        }

        out = malloc(out_size + 1);
        if (out == NULL) {
            abort();
        }

        n = ngx_xyz_ses_feedback_join(&fb, out, out_size + 1);
        if (fb.nrcpt && (n < 0 || (size_t) n != strlen(out))) {
            abort();
        }

        free(out);

    } else if (err[0] == '\0') {
        abort();
    }

    free(arena);
    free(s);

    return 0;
}
