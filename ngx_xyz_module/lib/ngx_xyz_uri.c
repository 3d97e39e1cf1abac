
/*
 * Copyright (C) the XYZ sign-up authors
 */


#include "ngx_xyz_uri.h"


int
ngx_xyz_uri_encode(const char *s, size_t len, char *out, size_t size)
{
    size_t          i, n;
    unsigned char   c;

    static const char  hex[] = "0123456789ABCDEF";

    n = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9')
            || c == '-' || c == '_' || c == '.' || c == '~')
        {
            if (n + 1 >= size) {
                return -1;
            }

            out[n++] = (char) c;
            continue;
        }

        if (n + 3 >= size) {
            return -1;
        }

        out[n++] = '%';
        out[n++] = hex[c >> 4];
        out[n++] = hex[c & 0x0f];
    }

    if (n >= size) {
        return -1;
    }

    out[n] = '\0';

    return (int) n;
}
