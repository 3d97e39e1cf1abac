
/*
 * Copyright (C) the XYZ sign-up authors
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <limits.h>

#include <yajl/yajl_tree.h>

#include "ngx_xyz_json.h"
#include "ngx_xyz_template.h"
#include "ngx_xyz_crm_json.h"


#define NGX_XYZ_CRM_NVARS  7


static void ngx_xyz_crm_vars(const ngx_xyz_crm_contact_t *c,
    ngx_xyz_tpl_var_t *vars, char *user_id, char *outbox_id, size_t size);
static char *ngx_xyz_crm_member(char *p, char *last, const char *key,
    const char *value);
static int ngx_xyz_crm_same_email(const char *a, const char *b);
static yajl_val ngx_xyz_crm_parse(const char *json, size_t len);
static int ngx_xyz_crm_id(yajl_val v, long long *id);
static int ngx_xyz_crm_string(yajl_val root, const char *key,
    const char **out, char *arena, size_t arena_size, size_t *pos);
static void ngx_xyz_crm_mark(yajl_val v, const ngx_xyz_crm_contact_t *c,
    size_t n, int *state, int value, const char *message, char *detail,
    size_t detail_size);


static const char  *ngx_xyz_crm_names[NGX_XYZ_CRM_NVARS] = {
    "email", "name", "locale", "marketing_consent", "registered_at",
    "user_id", "outbox_id"
};


int
ngx_xyz_crm_body(const char *tpl, size_t tpl_len,
    const ngx_xyz_crm_contact_t *c, char *out, size_t size)
{
    int                n;
    char              *p, *last;
    char               user_id[24], outbox_id[24];
    ngx_xyz_tpl_var_t  vars[NGX_XYZ_CRM_NVARS];

    if (size == 0 || c->email == NULL) {
        return -1;
    }

    if (tpl) {
        ngx_xyz_crm_vars(c, vars, user_id, outbox_id, sizeof(user_id));

        return ngx_xyz_template_render(tpl, tpl_len, vars, NGX_XYZ_CRM_NVARS,
                                       NGX_XYZ_TPL_JSON, out, size);
    }

    p = out;
    last = out + size - 1;

    p = ngx_xyz_json_raw(p, last, "{");
    p = ngx_xyz_crm_member(p, last, "email", c->email);
    p = ngx_xyz_json_raw(p, last, ",");
    p = ngx_xyz_crm_member(p, last, "name", c->name);
    p = ngx_xyz_json_raw(p, last, ",");
    p = ngx_xyz_crm_member(p, last, "locale", c->locale);
    p = ngx_xyz_json_raw(p, last, c->marketing_consent
                                  ? ",\"marketing_consent\":true,"
                                  : ",\"marketing_consent\":false,");
    p = ngx_xyz_crm_member(p, last, "registered_at", c->registered_at);
    p = ngx_xyz_json_raw(p, last, ",\"source\":\"xyz-signup\","
                                  "\"external_id\":");

    if (p == NULL || last - p < 32) {
        return -1;
    }

    if (c->outbox_id >= 0) {
        n = snprintf(p, last - p, "\"%lld\"}", c->outbox_id);

    } else {
        n = snprintf(p, last - p, "null}");
    }

    p += n;
    *p = '\0';

    return (int) (p - out);
}


int
ngx_xyz_crm_template_check(const char *tpl, size_t tpl_len, char *err,
    size_t err_size)
{
    int                     n;
    char                   *out;
    char                    yerr[128];
    size_t                  size;
    yajl_val                root;
    ngx_xyz_crm_contact_t   c;

    if (ngx_xyz_template_check(tpl, tpl_len, ngx_xyz_crm_names,
                               NGX_XYZ_CRM_NVARS, err, err_size)
        < 0)
    {
        return -1;
    }

    /* a sample with quotes, a backslash, a control character and UTF-8,
     * so that a placeholder left outside quotes breaks the JSON */

    c.email = "ana.perez@example.com";
    c.name = "Ana \"la \\ Jefa\"\tP\xc3\xa9rez";
    c.locale = "es";
    c.marketing_consent = 1;
    c.registered_at = "2026-11-27T18:00:00.123456+00:00";
    c.user_id = 42;
    c.outbox_id = 4242;

    size = tpl_len + 4096;

    out = malloc(size);
    if (out == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }

    n = ngx_xyz_crm_body(tpl, tpl_len, &c, out, size);

    if (n < 0) {
        free(out);
        snprintf(err, err_size, "template cannot be rendered");
        return -1;
    }

    yerr[0] = '\0';
    root = yajl_tree_parse(out, yerr, sizeof(yerr));

    free(out);

    if (root == NULL) {
        /* yajl's message spans lines; the first one says what is wrong */
        yerr[strcspn(yerr, "\r\n")] = '\0';

        snprintf(err, err_size, "template does not render to valid JSON%s%s",
                 yerr[0] ? ": " : "", yerr);
        return -1;
    }

    yajl_tree_free(root);

    return 0;
}


size_t
ngx_xyz_crm_hubspot_batch_len(const ngx_xyz_crm_contact_t *c, size_t n)
{
    size_t  i, len;

    len = 32;

    for (i = 0; i < n; i++) {
        len += 160
               + 12 * (c[i].email ? strlen(c[i].email) : 0)
               + 6 * (c[i].name ? strlen(c[i].name) : 0)
               + 6 * (c[i].locale ? strlen(c[i].locale) : 0);
    }

    return len;
}


int
ngx_xyz_crm_hubspot_batch(const ngx_xyz_crm_contact_t *c, size_t n,
    char *out, size_t size)
{
    char    *p, *last;
    size_t   i, j, written;

    if (size == 0 || n == 0 || n > NGX_XYZ_CRM_BATCH_MAX) {
        return -1;
    }

    p = out;
    last = out + size - 1;
    written = 0;

    p = ngx_xyz_json_raw(p, last, "{\"inputs\":[");

    for (i = 0; i < n; i++) {
        if (c[i].email == NULL || c[i].email[0] == '\0') {
            return -1;
        }

        for (j = 0; j < i; j++) {
            if (ngx_xyz_crm_same_email(c[i].email, c[j].email)) {
                break;
            }
        }

        if (j < i) {
            continue;
        }

        p = ngx_xyz_json_raw(p, last, written ? ",{\"id\":" : "{\"id\":");
        p = ngx_xyz_json_quote(p, last, c[i].email, strlen(c[i].email));
        p = ngx_xyz_json_raw(p, last, ",\"idProperty\":\"email\","
                                      "\"properties\":{");
        p = ngx_xyz_crm_member(p, last, "email", c[i].email);

        if (c[i].name) {
            p = ngx_xyz_json_raw(p, last, ",");
            p = ngx_xyz_crm_member(p, last, "firstname", c[i].name);
        }

        if (c[i].locale) {
            p = ngx_xyz_json_raw(p, last, ",");
            p = ngx_xyz_crm_member(p, last, "hs_language", c[i].locale);
        }

        /* a custom property of enumeration (boolean checkbox) type takes
         * the strings "true" and "false" */

        p = ngx_xyz_json_raw(p, last, ",\"xyz_marketing_consent\":");
        p = ngx_xyz_json_raw(p, last, c[i].marketing_consent
                                      ? "\"true\"}}" : "\"false\"}}");
        written++;
    }

    p = ngx_xyz_json_raw(p, last, "]}");
    if (p == NULL) {
        return -1;
    }

    *p = '\0';

    return (int) (p - out);
}


int
ngx_xyz_crm_contact_parse(const char *json, size_t len,
    ngx_xyz_crm_contact_t *c, char *arena, size_t arena_size)
{
    int        rc;
    size_t     pos;
    yajl_val   root, v;

    root = ngx_xyz_crm_parse(json, len);
    if (root == NULL) {
        return -1;
    }

    pos = 0;

    rc = ngx_xyz_crm_string(root, "email", &c->email, arena, arena_size,
                            &pos);
    if (rc != 0 || c->email == NULL || c->email[0] == '\0') {
        goto failed;
    }

    if (ngx_xyz_crm_string(root, "name", &c->name, arena, arena_size, &pos)
        != 0
        || ngx_xyz_crm_string(root, "locale", &c->locale, arena,
                              arena_size, &pos)
           != 0
        || ngx_xyz_crm_string(root, "registered_at", &c->registered_at,
                              arena, arena_size, &pos)
           != 0)
    {
        goto failed;
    }

    v = ngx_xyz_json_member(root, "marketing_consent");

    if (v && !YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v) && !YAJL_IS_NULL(v)) {
        goto failed;
    }

    c->marketing_consent = (v && YAJL_IS_TRUE(v));

    if (ngx_xyz_crm_id(ngx_xyz_json_member(root, "user_id"), &c->user_id)
        != 0
        || ngx_xyz_crm_id(ngx_xyz_json_member(root, "outbox_id"),
                          &c->outbox_id)
           != 0)
    {
        goto failed;
    }

    yajl_tree_free(root);

    return (int) pos;

failed:

    if (root) {
        yajl_tree_free(root);
    }

    return -1;
}


int
ngx_xyz_crm_hubspot_multi(const char *json, size_t len,
    const ngx_xyz_crm_contact_t *c, size_t n, int *state, char *detail,
    size_t detail_size)
{
    size_t        i, k;
    yajl_val      root, results, errors, r, e, ctx;
    const char   *message;

    static const char  *p_email[] = { "properties", "email", NULL };

    for (i = 0; i < n; i++) {
        state[i] = NGX_XYZ_CRM_UNKNOWN;

        if (detail_size) {
            detail[i * detail_size] = '\0';
        }
    }

    if (json == NULL || len == 0) {
        return -1;
    }

    root = ngx_xyz_crm_parse(json, len);
    if (root == NULL) {
        return -1;
    }

    results = ngx_xyz_json_member(root, "results");
    errors = ngx_xyz_json_member(root, "errors");

    if ((results && !YAJL_IS_ARRAY(results))
        || (errors && !YAJL_IS_ARRAY(errors))
        || (results == NULL && errors == NULL))
    {
        goto failed;
    }

    for (k = 0; results && k < results->u.array.len; k++) {
        r = results->u.array.values[k];

        ngx_xyz_crm_mark(yajl_tree_get(r, p_email, yajl_t_string), c, n,
                         state, NGX_XYZ_CRM_WRITTEN, NULL, NULL, 0);
        ngx_xyz_crm_mark(ngx_xyz_json_member(r, "id"), c, n, state,
                         NGX_XYZ_CRM_WRITTEN, NULL, NULL, 0);
    }

    /* an error wins over a result that names the same address */

    for (k = 0; errors && k < errors->u.array.len; k++) {
        e = errors->u.array.values[k];

        if (!YAJL_IS_OBJECT(e)) {
            continue;
        }

        message = ngx_xyz_json_string(e, "message");

        ngx_xyz_crm_mark(ngx_xyz_json_member(e, "id"), c, n, state,
                         NGX_XYZ_CRM_REFUSED, message, detail, detail_size);

        ctx = ngx_xyz_json_member(e, "context");

        if (ctx && YAJL_IS_OBJECT(ctx)) {
            for (i = 0; i < ctx->u.object.len; i++) {
                ngx_xyz_crm_mark(ctx->u.object.values[i], c, n, state,
                                 NGX_XYZ_CRM_REFUSED, message, detail,
                                 detail_size);
            }
        }
    }

    yajl_tree_free(root);

    return 0;

failed:

    if (root) {
        yajl_tree_free(root);
    }

    return -1;
}


/* a string, or an array of strings, that names contacts: marks them */

static void
ngx_xyz_crm_mark(yajl_val v, const ngx_xyz_crm_contact_t *c, size_t n,
    int *state, int value, const char *message, char *detail,
    size_t detail_size)
{
    size_t       i, k;
    const char  *s;

    if (v == NULL) {
        return;
    }

    if (YAJL_IS_ARRAY(v)) {
        for (k = 0; k < v->u.array.len; k++) {
            if (YAJL_IS_STRING(v->u.array.values[k])) {
                ngx_xyz_crm_mark(v->u.array.values[k], c, n, state, value,
                                 message, detail, detail_size);
            }
        }

        return;
    }

    if (!YAJL_IS_STRING(v)) {
        return;
    }

    s = YAJL_GET_STRING(v);

    for (i = 0; i < n; i++) {
        if (c[i].email == NULL || !ngx_xyz_crm_same_email(c[i].email, s)) {
            continue;
        }

        state[i] = value;

        if (message && detail_size) {
            snprintf(detail + i * detail_size, detail_size, "%s", message);
        }
    }
}


static void
ngx_xyz_crm_vars(const ngx_xyz_crm_contact_t *c, ngx_xyz_tpl_var_t *vars,
    char *user_id, char *outbox_id, size_t size)
{
    if (c->user_id >= 0) {
        snprintf(user_id, size, "%lld", c->user_id);

    } else {
        snprintf(user_id, size, "null");
    }

    if (c->outbox_id >= 0) {
        snprintf(outbox_id, size, "%lld", c->outbox_id);

    } else {
        snprintf(outbox_id, size, "null");
    }

    vars[0].name = "email";
    vars[0].value = c->email;
    vars[1].name = "name";
    vars[1].value = c->name;
    vars[2].name = "locale";
    vars[2].value = c->locale;
    vars[3].name = "marketing_consent";
    vars[3].value = c->marketing_consent ? "true" : "false";
    vars[4].name = "registered_at";
    vars[4].value = c->registered_at;
    vars[5].name = "user_id";
    vars[5].value = user_id;
    vars[6].name = "outbox_id";
    vars[6].value = outbox_id;
}


/* "key":"value", or "key":null for NULL */

static char *
ngx_xyz_crm_member(char *p, char *last, const char *key, const char *value)
{
    p = ngx_xyz_json_quote(p, last, key, strlen(key));
    p = ngx_xyz_json_raw(p, last, ":");

    if (value == NULL) {
        return ngx_xyz_json_raw(p, last, "null");
    }

    return ngx_xyz_json_quote(p, last, value, strlen(value));
}


static int
ngx_xyz_crm_same_email(const char *a, const char *b)
{
    unsigned char  ca, cb;

    for ( ;; ) {
        ca = (unsigned char) *a++;
        cb = (unsigned char) *b++;

        if (ca >= 'A' && ca <= 'Z') {
            ca |= 0x20;
        }

        if (cb >= 'A' && cb <= 'Z') {
            cb |= 0x20;
        }

        if (ca != cb) {
            return 0;
        }

        if (ca == '\0') {
            return 1;
        }
    }
}


/* a JSON object of len bytes, or NULL */

static yajl_val
ngx_xyz_crm_parse(const char *json, size_t len)
{
    char      *text;
    yajl_val   root;

    /* yajl_tree_parse() wants a NUL-terminated text */

    text = malloc(len + 1);
    if (text == NULL) {
        return NULL;
    }

    memcpy(text, json, len);
    text[len] = '\0';

    root = yajl_tree_parse(text, NULL, 0);

    free(text);

    if (root && !YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return NULL;
    }

    return root;
}


/* an id: a non-negative integer or a string of digits; absent or null
 * gives -1 */

static int
ngx_xyz_crm_id(yajl_val v, long long *id)
{
    char        *end;
    long long    n;
    const char  *s;

    *id = -1;

    if (v == NULL || YAJL_IS_NULL(v)) {
        return 0;
    }

    if (YAJL_IS_INTEGER(v)) {
        if (YAJL_GET_INTEGER(v) < 0) {
            return -1;
        }

        *id = YAJL_GET_INTEGER(v);
        return 0;
    }

    if (!YAJL_IS_STRING(v)) {
        return -1;
    }

    s = YAJL_GET_STRING(v);

    if (*s < '0' || *s > '9') {
        return -1;
    }

    errno = 0;
    n = strtoll(s, &end, 10);

    if (errno || *end != '\0') {
        return -1;
    }

    *id = n;

    return 0;
}


/* a string member copied into the arena; absent or null gives NULL,
 * another type is an error */

static int
ngx_xyz_crm_string(yajl_val root, const char *key, const char **out,
    char *arena, size_t arena_size, size_t *pos)
{
    yajl_val     v;
    const char  *s;

    *out = NULL;

    v = ngx_xyz_json_member(root, key);

    if (v == NULL || YAJL_IS_NULL(v)) {
        return 0;
    }

    if (!YAJL_IS_STRING(v)) {
        return -1;
    }

    s = YAJL_GET_STRING(v);

    *out = ngx_xyz_json_arena_copy(arena, arena_size, pos, s, strlen(s));

    return *out ? 0 : -1;
}
