
/*
 * Copyright (C) the XYZ sign-up authors
 */


#include <string.h>

#include <yajl/yajl_parse.h>

#include "ngx_xyz_json.h"


typedef struct {
    char         *field;
    size_t        size;
    unsigned      depth;
    int           found;
} ngx_xyz_json_nul_t;


static int ngx_xyz_json_nul_key(void *ctx, const unsigned char *key,
    size_t len);
static int ngx_xyz_json_nul_string(void *ctx, const unsigned char *s,
    size_t len);
static int ngx_xyz_json_nul_start_map(void *ctx);
static int ngx_xyz_json_nul_end_map(void *ctx);


char *
ngx_xyz_json_escape(char *p, char *last, const char *s, size_t len)
{
    size_t          i, n;
    unsigned char   ch;

    static const char  hex[] = "0123456789abcdef";

    if (p == NULL) {
        return NULL;
    }

    for (i = 0; i < len; i++) {
        ch = (unsigned char) s[i];

        if (ch == '"' || ch == '\\' || ch == '\n' || ch == '\r'
            || ch == '\t')
        {
            n = 2;

        } else if (ch < 0x20 || ch == 0x7f) {
            n = 6;

        } else {
            n = 1;
        }

        if ((size_t) (last - p) < n) {
            return NULL;
        }

        if (n == 1) {
            *p++ = (char) ch;
            continue;
        }

        *p++ = '\\';

        switch (ch) {
        case '\n':
            *p++ = 'n';
            break;
        case '\r':
            *p++ = 'r';
            break;
        case '\t':
            *p++ = 't';
            break;
        case '"':
        case '\\':
            *p++ = (char) ch;
            break;
        default:
            *p++ = 'u';
            *p++ = '0';
            *p++ = '0';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 0xf];
        }
    }

    return p;
}


char *
ngx_xyz_json_quote(char *p, char *last, const char *s, size_t len)
{
    if (p == NULL || last - p < 2) {
        return NULL;
    }

    *p++ = '"';

    p = ngx_xyz_json_escape(p, last - 1, s, len);
    if (p == NULL) {
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


int
ngx_xyz_json_find_nul(const char *buf, size_t len, char *field, size_t size)
{
    yajl_status          rc;
    yajl_handle          h;
    ngx_xyz_json_nul_t   ctx;

    static const yajl_callbacks  callbacks = {
        NULL, NULL, NULL, NULL, NULL,
        ngx_xyz_json_nul_string,
        ngx_xyz_json_nul_start_map,
        ngx_xyz_json_nul_key,
        ngx_xyz_json_nul_end_map,
        NULL, NULL
    };

    if (size == 0) {
        return -1;
    }

    field[0] = '\0';

    ctx.field = field;
    ctx.size = size;
    ctx.depth = 0;
    ctx.found = 0;

    h = yajl_alloc(&callbacks, NULL, &ctx);
    if (h == NULL) {
        return -1;
    }

    /* the same dialect as yajl_tree_parse() */
    yajl_config(h, yajl_allow_comments, 1);

    rc = yajl_parse(h, (const unsigned char *) buf, len);

    if (rc == yajl_status_ok) {
        rc = yajl_complete_parse(h);
    }

    yajl_free(h);

    if (ctx.found) {
        return 1;
    }

    return rc == yajl_status_ok ? 0 : -1;
}


static int
ngx_xyz_json_nul_key(void *data, const unsigned char *key, size_t len)
{
    ngx_xyz_json_nul_t *ctx = data;

    size_t  i;

    if (memchr(key, '\0', len) != NULL) {
        ctx->field[0] = '\0';
        ctx->found = 1;
        return 0;
    }

    if (ctx->depth != 1) {
        return 1;
    }

    /* the name goes back in an answer: plain, short ASCII or nothing */

    ctx->field[0] = '\0';

    if (len >= ctx->size) {
        return 1;
    }

    for (i = 0; i < len; i++) {
        if (key[i] < 0x21 || key[i] > 0x7e) {
            return 1;
        }
    }

    memcpy(ctx->field, key, len);
    ctx->field[len] = '\0';

    return 1;
}


static int
ngx_xyz_json_nul_string(void *data, const unsigned char *s, size_t len)
{
    ngx_xyz_json_nul_t *ctx = data;

    if (memchr(s, '\0', len) != NULL) {
        /* field holds the name of the member being read; a top-level
         * string has none */

        if (ctx->depth == 0) {
            ctx->field[0] = '\0';
        }

        ctx->found = 1;
        return 0;
    }

    return 1;
}


static int
ngx_xyz_json_nul_start_map(void *data)
{
    ngx_xyz_json_nul_t *ctx = data;

    ctx->depth++;

    return 1;
}


static int
ngx_xyz_json_nul_end_map(void *data)
{
    ngx_xyz_json_nul_t *ctx = data;

    ctx->depth--;

    return 1;
}
