/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The registration body: as JSON, and as the sign-up page's form post
 * turned into JSON; the email normaliser, the UTF-8 checks, and the scan
 * every account body (login, reset, resend, confirm) gets for "\u0000".
 */

#include "fuzz.h"
#include <ngx_xyz_register_input.h>
#include <ngx_xyz_validate.h>
#include <ngx_xyz_json.h>


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                        n;
    char                      *s, *json, out[NGX_XYZ_EMAIL_MAX + 1];
    char                       field[64];
    size_t                     len;
    const char                *start;
    ngx_xyz_input_error_t      err;
    ngx_xyz_register_input_t  *in;

    in = malloc(sizeof(ngx_xyz_register_input_t));
    if (in == NULL) {
        abort();
    }

    s = xyz_fuzz_str(data, size);

    (void) ngx_xyz_register_input_parse(s, size, 8, 64, in, &err);

    json = malloc(3 * size + 256);
    if (json == NULL) {
        abort();
    }

    n = ngx_xyz_register_form_to_json(s, size, json, 3 * size + 256);
    if (n >= 0) {
        if (strlen(json) != (size_t) n) {
            abort();
        }

        (void) ngx_xyz_register_input_parse(json, n, 8, 64, in, &err);
    }

    if (ngx_xyz_email_normalize(s, size, out, &start, &len) == 0) {
        if (start < s || start + len > s + size || strlen(out) != len) {
            abort();
        }
    }

    (void) ngx_xyz_utf8_printable_length(s, size);
    (void) ngx_xyz_utf8_name_length(s, size);

    if (ngx_xyz_json_find_nul(s, size, field, sizeof(field)) == 1
        && memchr(field, '\0', sizeof(field)) == NULL)
    {
        abort();
    }

    free(json);
    free(s);
    free(in);

    return 0;
}
