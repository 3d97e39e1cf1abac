/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The email builder's inputs: part 1 the recipient's name (a visitor's),
 * part 2 the address, part 3 the subject, part 4 the text.  The result
 * must never hold a bare CR or LF in the header block.
 */

#include "fuzz.h"
#include <ngx_xyz_mime.h>


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                n;
    char              *out, *hdr_end, *p, addr[256];
    size_t             len;
    ngx_xyz_mime_t     m;
    xyz_fuzz_parts_t   fp;

    xyz_fuzz_split(data, size, &fp);

    m.from = "XYZ <no-reply@xyz.example>";
    m.to_addr = fp.p[1];
    m.to_name = fp.p[0];
    m.subject = fp.p[2];
    m.message_id = "outbox-1@xyz.example";
    m.date = "Fri, 27 Nov 2026 18:00:00 +0000";
    m.boundary = "=_xyz_boundary";
    m.text = fp.p[3];
    m.text_len = fp.len[3];
    m.html = fp.p[3];
    m.html_len = fp.len[3];
    m.language = "es";

    len = ngx_xyz_mime_len(&m);
    out = malloc(len + 1);
    if (out == NULL) {
        abort();
    }

    n = ngx_xyz_mime_build(&m, out, len + 1);
    if (n >= 0) {
        if ((size_t) n > len || strlen(out) != (size_t) n) {
            abort();
        }

        hdr_end = strstr(out, "\r\n\r\n");
        if (hdr_end == NULL) {
            abort();
        }

        for (p = out; p < hdr_end; p++) {
            if ((*p == '\r' && p[1] != '\n')
                || (*p == '\n' && (p == out || p[-1] != '\r')))
            {
                abort();
            }
        }
    }

    (void) ngx_xyz_mime_address(fp.p[1], addr, sizeof(addr));

    free(out);
    free(fp.buf);

    return 0;
}
