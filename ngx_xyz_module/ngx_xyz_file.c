
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Small files named in the configuration or the environment, read whole:
 * secrets, keys, templates, lists, tokens.  One reader, so every one of
 * them has the same size bound and the same trailing-newline rule.
 */


#include "ngx_xyz_module.h"


/*
 * Reads name whole, NUL-terminated.  With a pool, into a buffer of its own
 * of the file's size, which must not exceed max; without one, into
 * out->data (max + 1 bytes), at most max bytes of it.  trim drops trailing
 * newlines and spaces (a secret's newline is not part of the secret).
 *
 * NGX_OK; NGX_ERROR: it cannot be opened (ngx_errno says why);
 * NGX_DECLINED: its size is unknown or over max; NGX_ABORT: reading failed.
 */

ngx_int_t
ngx_xyz_file_read(u_char *name, ngx_pool_t *pool, size_t max,
    ngx_uint_t trim, ngx_str_t *out)
{
    u_char           *p;
    size_t            size;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_file_info_t   fi;

    fd = ngx_open_file(name, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        return NGX_ERROR;
    }

    if (pool == NULL) {
        p = out->data;
        size = max;

    } else {
        if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
            || ngx_file_size(&fi) > (off_t) max)
        {
            ngx_close_file(fd);
            return NGX_DECLINED;
        }

        size = (size_t) ngx_file_size(&fi);

        p = ngx_pnalloc(pool, size + 1);
        if (p == NULL) {
            ngx_close_file(fd);
            return NGX_ABORT;
        }
    }

    n = ngx_read_fd(fd, p, size);
    ngx_close_file(fd);

    if (n < 0 || (pool && n != (ssize_t) size)) {
        return NGX_ABORT;
    }

    size = (size_t) n;

    while (trim && size && (p[size - 1] == '\n' || p[size - 1] == '\r'
                            || p[size - 1] == ' '))
    {
        size--;
    }

    p[size] = '\0';

    out->data = p;
    out->len = size;

    return NGX_OK;
}


/* a file a directive names, at configuration time: relative to the prefix */

char *
ngx_xyz_read_file(ngx_conf_t *cf, ngx_str_t *name, ngx_str_t *out,
    ngx_uint_t trim)
{
    ngx_str_t  full;

    full = *name;

    if (ngx_conf_full_name(cf->cycle, &full, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    switch (ngx_xyz_file_read(full.data, cf->pool, 1024 * 1024, trim, out)) {

    case NGX_OK:
        return NGX_CONF_OK;

    case NGX_ERROR:
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot open \"%V\"", &full);
        return NGX_CONF_ERROR;

    case NGX_DECLINED:
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" cannot be read or is over 1M", &full);
        return NGX_CONF_ERROR;

    default:
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "cannot read \"%V\"", &full);
        return NGX_CONF_ERROR;
    }
}
