/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The CRM message body read by the dispatcher, the bodies built from it,
 * and HubSpot's multi-status (207) answers.  Retry-After is read on the
 * nginx side (ngx_xyz_crm.c, nginx's own ngx_parse_http_time).
 */

#include "fuzz.h"
#include <ngx_xyz_crm_json.h>


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                     n, state[3];
    char                   *s, *arena, *out, detail[3 * 64];
    size_t                  i, len;
    ngx_xyz_crm_contact_t   c, batch[3];

    s = xyz_fuzz_str(data, size);

    arena = malloc(size + 8);
    if (arena == NULL) {
        abort();
    }

    n = ngx_xyz_crm_contact_parse(s, size, &c, arena, size + 8);
    if (n >= 0) {
        len = ngx_xyz_crm_hubspot_batch_len(&c, 1);
        out = malloc(len + 1024);
        if (out == NULL) {
            abort();
        }

        (void) ngx_xyz_crm_body(NULL, 0, &c, out, len + 1024);
        (void) ngx_xyz_crm_hubspot_batch(&c, 1, out, len + 1024);
        free(out);
    }

    memset(batch, 0, sizeof(batch));

    for (i = 0; i < 3; i++) {
        batch[i].email = i == 0 ? "ana@example.com"
                       : i == 1 ? "Bob@Example.org" : "x@y.z";
        batch[i].user_id = -1;
        batch[i].outbox_id = -1;
    }

    if (ngx_xyz_crm_hubspot_multi(s, size, batch, 3, state, detail, 64)
        == 0)
    {
        for (i = 0; i < 3; i++) {
            if (state[i] < NGX_XYZ_CRM_UNKNOWN
                || state[i] > NGX_XYZ_CRM_REFUSED
                || memchr(detail + 64 * i, '\0', 64) == NULL)
            {
                abort();
            }
        }
    }

    free(arena);
    free(s);

    return 0;
}
