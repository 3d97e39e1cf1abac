
/*
 * Copyright (C) the XYZ sign-up authors
 */


#include <string.h>

#include "ngx_xyz_json.h"


char *
ngx_xyz_json_quote(char *p, char *last, const char *s, size_t len)
{
    size_t          i;
    unsigned char   ch;

    static const char  hex[] = "0123456789abcdef";

    if (p == NULL || last - p < 2) {
        return NULL;
    }

    *p++ = '"';

    for (i = 0; i < len; i++) {
        ch = (unsigned char) s[i];

        /* the longest escape and the closing quote */

        if (last - p < 7) {
            return NULL;
        }

        if (ch == '"' || ch == '\\') {
            *p++ = '\\';
            *p++ = (char) ch;

        } else if (ch == '\n') {
            *p++ = '\\';
            *p++ = 'n';

        } else if (ch == '\r') {
            *p++ = '\\';
            *p++ = 'r';

        } else if (ch == '\t') {
            *p++ = '\\';
            *p++ = 't';

        } else if (ch < 0x20 || ch == 0x7f) {
            *p++ = '\\';
            *p++ = 'u';
            *p++ = '0';
            *p++ = '0';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 0xf];

        } else {
            *p++ = (char) ch;
        }
    }

    if (last - p < 1) {
        return NULL;
    }

    *p++ = '"';

    return p;
}


char *
ngx_xyz_json_raw(char *p, char *last, const char *s)
{
    size_t  n;

    if (p == NULL) {
        return NULL;
    }

    n = strlen(s);

    if ((size_t) (last - p) < n) {
        return NULL;
    }

    return (char *) memcpy(p, s, n) + n;
}


yajl_val
ngx_xyz_json_member(yajl_val obj, const char *key)
{
    size_t  i;

    if (obj == NULL || !YAJL_IS_OBJECT(obj)) {
        return NULL;
    }

    for (i = 0; i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], key) == 0) {
            return obj->u.object.values[i];
        }
    }

    return NULL;
}


const char *
ngx_xyz_json_string(yajl_val obj, const char *key)
{
    yajl_val  v;

    v = ngx_xyz_json_member(obj, key);

    return (v && YAJL_IS_STRING(v)) ? YAJL_GET_STRING(v) : NULL;
}


char *
ngx_xyz_json_arena_copy(char *arena, size_t size, size_t *pos,
    const char *s, size_t len)
{
    char  *p;

    if (*pos > size || size - *pos < len + 1) {
        return NULL;
    }

    p = arena + *pos;

    memcpy(p, s, len);
    p[len] = '\0';

    *pos += len + 1;

    return p;
}
