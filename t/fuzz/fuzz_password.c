/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The password blocklist: part 1 the list file, part 2 a password.
 */

#include "fuzz.h"
#include <ngx_xyz_password.h>


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xyz_fuzz_parts_t     fp;
    ngx_xyz_blocklist_t  bl;

    xyz_fuzz_split(data, size, &fp);

    if (ngx_xyz_blocklist_load(fp.p[0], fp.len[0], &bl) >= 0) {
        (void) ngx_xyz_blocklist_contains(&bl, fp.p[1], fp.len[1]);
        ngx_xyz_blocklist_free(&bl);
    }

    free(fp.buf);

    return 0;
}
