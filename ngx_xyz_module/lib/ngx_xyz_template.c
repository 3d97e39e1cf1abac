
/*
 * Copyright (C) the XYZ sign-up authors
 */


#include <stdio.h>
#include <string.h>

#include "ngx_xyz_json.h"
#include "ngx_xyz_template.h"


#define NGX_XYZ_TPL_END   0
#define NGX_XYZ_TPL_NAME  1
#define NGX_XYZ_TPL_BAD   (-1)


typedef struct {
    size_t                         text_end;    /* literal text ends here */
    size_t                         name;
    size_t                         name_len;
    size_t                         next;        /* scanning resumes here */
} ngx_xyz_tpl_token_t;


static int ngx_xyz_template_next(const char *tpl, size_t len, size_t pos,
    ngx_xyz_tpl_token_t *t);
static void ngx_xyz_template_error(const char *tpl, size_t len, size_t at,
    char *err, size_t err_size);
static char *ngx_xyz_template_escape(char *p, char *last, const char *s,
    int escape);


int
ngx_xyz_template_render(const char *tpl, size_t len,
    const ngx_xyz_tpl_var_t *vars, size_t nvars, int escape, char *out,
    size_t size)
{
    int                  rc;
    char                *p, *last;
    size_t               pos, i, n;
    ngx_xyz_tpl_token_t  t;

    if (size == 0 || (tpl == NULL && len)) {
        return -1;
    }

    if (tpl == NULL) {
        tpl = "";
    }

    if (escape != NGX_XYZ_TPL_RAW && escape != NGX_XYZ_TPL_HTML
        && escape != NGX_XYZ_TPL_JSON)
    {
        return -1;
    }

    p = out;
    last = out + size - 1;          /* room for the NUL */
    pos = 0;

    for ( ;; ) {
        rc = ngx_xyz_template_next(tpl, len, pos, &t);

        if (rc == NGX_XYZ_TPL_BAD) {
            return -1;
        }

        n = t.text_end - pos;

        if ((size_t) (last - p) < n) {
            return -1;
        }

        memcpy(p, tpl + pos, n);
        p += n;

        if (rc == NGX_XYZ_TPL_END) {
            break;
        }

        for (i = 0; i < nvars; i++) {
            if (strlen(vars[i].name) == t.name_len
                && memcmp(vars[i].name, tpl + t.name, t.name_len) == 0)
            {
                break;
            }
        }

        if (i == nvars) {
            return -1;
        }

        if (vars[i].value) {
            p = ngx_xyz_template_escape(p, last, vars[i].value, escape);
            if (p == NULL) {
                return -1;
            }
        }

        pos = t.next;
    }

    *p = '\0';

    return (int) (p - out);
}


int
ngx_xyz_template_check(const char *tpl, size_t len,
    const char *const *names, size_t nnames, char *err, size_t err_size)
{
    int                  rc, count;
    size_t               pos, i;
    ngx_xyz_tpl_token_t  t;

    if (err_size) {
        err[0] = '\0';
    }

    if (tpl == NULL && len) {
        return -1;
    }

    pos = 0;
    count = 0;

    for ( ;; ) {
        rc = ngx_xyz_template_next(tpl, len, pos, &t);

        if (rc == NGX_XYZ_TPL_END) {
            return count;
        }

        if (rc == NGX_XYZ_TPL_BAD) {
            ngx_xyz_template_error(tpl, len, t.text_end, err, err_size);
            return -1;
        }

        for (i = 0; i < nnames; i++) {
            if (strlen(names[i]) == t.name_len
                && memcmp(names[i], tpl + t.name, t.name_len) == 0)
            {
                break;
            }
        }

        if (i == nnames) {
            if (err_size) {
                snprintf(err, err_size, "unknown placeholder \"{{%.*s}}\"",
                         (int) t.name_len, tpl + t.name);
            }

            return -1;
        }

        count++;
        pos = t.next;
    }
}


int
ngx_xyz_template_subject(const char *txt, size_t len, const char **subject,
    const char **body, size_t *body_len)
{
    size_t       i, n;
    const char  *p, *end, *s, *e;

    static const char  prefix[] = "subject:";

    p = txt;
    end = txt + len;

    /* editors on some systems start UTF-8 files with a byte order mark */

    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
        p += 3;
    }

    n = sizeof(prefix) - 1;

    if ((size_t) (end - p) < n) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        if ((p[i] | 0x20) != prefix[i]) {
            return -1;
        }
    }

    s = p + n;

    while (s < end && (*s == ' ' || *s == '\t')) {
        s++;
    }

    for (e = s; e < end && *e != '\n'; e++) {
        /* void */
    }

    p = (e < end) ? e + 1 : end;

    while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) {
        e--;
    }

    if (e == s) {
        return -1;
    }

    /* the empty line that separates the subject from the body */

    if (p < end && *p == '\n') {
        p++;

    } else if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
        p += 2;
    }

    *subject = s;
    *body = p;
    *body_len = end - p;

    return (int) (e - s);
}


/*
 * Finds the next placeholder from pos.  NGX_XYZ_TPL_NAME: t->text_end is
 * where the text before it ends, t->name and t->name_len give the name,
 * t->next the byte after "}}".  NGX_XYZ_TPL_END: the text runs to the end.
 * NGX_XYZ_TPL_BAD: t->text_end is where the malformed "{{" starts.
 */

static int
ngx_xyz_template_next(const char *tpl, size_t len, size_t pos,
    ngx_xyz_tpl_token_t *t)
{
    size_t  j, k;

    for (j = pos; j + 1 < len; j++) {
        if (tpl[j] == '{' && tpl[j + 1] == '{') {
            break;
        }
    }

    if (j + 1 >= len) {
        t->text_end = len;
        return NGX_XYZ_TPL_END;
    }

    while (j + 2 < len && tpl[j + 2] == '{') {
        j++;
    }

    t->text_end = j;

    k = j + 2;

    while (k < len && (tpl[k] == ' ' || tpl[k] == '\t')) {
        k++;
    }

    t->name = k;

    while (k < len && ((tpl[k] >= 'a' && tpl[k] <= 'z')
                       || (tpl[k] >= 'A' && tpl[k] <= 'Z')
                       || (tpl[k] >= '0' && tpl[k] <= '9')
                       || tpl[k] == '_'))
    {
        k++;
    }

    t->name_len = k - t->name;

    while (k < len && (tpl[k] == ' ' || tpl[k] == '\t')) {
        k++;
    }

    if (t->name_len == 0 || k + 1 >= len || tpl[k] != '}'
        || tpl[k + 1] != '}')
    {
        return NGX_XYZ_TPL_BAD;
    }

    t->next = k + 2;

    return NGX_XYZ_TPL_NAME;
}


static void
ngx_xyz_template_error(const char *tpl, size_t len, size_t at, char *err,
    size_t err_size)
{
    size_t  k, n;

    if (err_size == 0) {
        return;
    }

    for (k = at + 2; k + 1 < len; k++) {
        if (tpl[k] == '}' && tpl[k + 1] == '}') {
            break;
        }
    }

    if (k + 1 >= len) {
        snprintf(err, err_size, "unclosed \"{{\" at byte %lu",
                 (unsigned long) at);
        return;
    }

    /* quote the offending placeholder, shortened if it is long */

    n = k + 2 - at;

    snprintf(err, err_size, "bad placeholder \"%.*s%s\" at byte %lu",
             (int) (n > 40 ? 40 : n), tpl + at, n > 40 ? "..." : "",
             (unsigned long) at);
}


static char *
ngx_xyz_template_escape(char *p, char *last, const char *s, int escape)
{
    size_t          n;
    const char     *r;
    unsigned char   ch;

    if (escape == NGX_XYZ_TPL_JSON) {
        return ngx_xyz_json_escape(p, last, s, strlen(s));
    }

    for ( /* void */ ; *s; s++) {
        ch = (unsigned char) *s;
        r = NULL;

        if (escape == NGX_XYZ_TPL_HTML) {
            switch (ch) {
            case '&':
                r = "&amp;";
                break;
            case '<':
                r = "&lt;";
                break;
            case '>':
                r = "&gt;";
                break;
            case '"':
                r = "&quot;";
                break;
            case '\'':
                r = "&#39;";
                break;
            }
        }

        if (r == NULL) {
            if (p == last) {
                return NULL;
            }

            *p++ = (char) ch;
            continue;
        }

        n = strlen(r);

        if ((size_t) (last - p) < n) {
            return NULL;
        }

        memcpy(p, r, n);
        p += n;
    }

    return p;
}
