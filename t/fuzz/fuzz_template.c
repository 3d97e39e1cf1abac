/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Email and CRM templates (read from files the operator edits) and the
 * values put in them (from visitors): part 1 the template, part 2 a value.
 */

#include "fuzz.h"
#include <ngx_xyz_template.h>
#include <ngx_xyz_crm_json.h>


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 esc;
    char               *out, err[128];
    size_t              out_size, body_len;
    const char         *subject, *body;
    xyz_fuzz_parts_t    fp;
    ngx_xyz_tpl_var_t   vars[3];
    const char *const   names[] = { "name", "link", "email" };

    xyz_fuzz_split(data, size, &fp);

    vars[0].name = "name";
    vars[0].value = fp.p[1];
    vars[1].name = "link";
    vars[1].value = "https://signup.example.com/confirm?token=abc";
    vars[2].name = "email";
    vars[2].value = NULL;

    out_size = 6 * (fp.len[0] + 1) * (fp.len[1] + 64) + 1;
    if (out_size > 1 << 22) {
        out_size = 1 << 22;
    }

    out = malloc(out_size);
    if (out == NULL) {
        abort();
    }

    if (ngx_xyz_template_check(fp.p[0], fp.len[0], names, 3, err,
                               sizeof(err))
        >= 0)
    {
        for (esc = NGX_XYZ_TPL_RAW; esc <= NGX_XYZ_TPL_JSON; esc++) {
            (void) ngx_xyz_template_render(fp.p[0], fp.len[0], vars, 3, esc,
                                           out, out_size);
        }

    } else if (memchr(err, '\0', sizeof(err)) == NULL) {
        abort();
    }

    if (ngx_xyz_template_subject(fp.p[0], fp.len[0], &subject, &body,
                                 &body_len)
        >= 0)
    {
        if (body < fp.p[0] || body + body_len > fp.p[0] + fp.len[0]) {
            abort();
        }
    }

    (void) ngx_xyz_crm_template_check(fp.p[0], fp.len[0], err, sizeof(err));

    free(out);
    free(fp.buf);

    return 0;
}
