/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The CRM message body read by the dispatcher, the bodies built from it,
 * and Retry-After values (seconds and HTTP dates).
 */

#include "fuzz.h"
#include <time.h>
#include <ngx_xyz_crm_json.h>


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                     n;
    char                   *s, *arena, *out;
    size_t                  len;
    ngx_xyz_crm_contact_t   c;

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

    (void) ngx_xyz_retry_after(s, (time_t) 1800000000);

    free(arena);
    free(s);

    return 0;
}
