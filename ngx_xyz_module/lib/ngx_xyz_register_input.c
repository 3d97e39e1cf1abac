
/*
 * Copyright (C) the XYZ sign-up authors
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yajl/yajl_tree.h>

#include "ngx_xyz_register_input.h"


#define NGX_XYZ_F_EMAIL     0x01
#define NGX_XYZ_F_PASSWORD  0x02
#define NGX_XYZ_F_NAME      0x04
#define NGX_XYZ_F_LOCALE    0x08
#define NGX_XYZ_F_CONSENT   0x10


static int ngx_xyz_input_fail(ngx_xyz_input_error_t *err, int status,
    const char *code, const char *field, const char *message);
static int ngx_xyz_input_field(const char *key, yajl_val v,
    size_t password_min, size_t password_max, ngx_xyz_register_input_t *in,
    ngx_xyz_input_error_t *err);
static int ngx_xyz_input_locale(const char *s, char *out);


int
ngx_xyz_register_input_parse(const char *buf, size_t len,
    size_t password_min, size_t password_max, ngx_xyz_register_input_t *in,
    ngx_xyz_input_error_t *err)
{
    size_t       i, j;
    unsigned     seen, bit;
    yajl_val     root;
    const char  *key;

    memset(in, 0, sizeof(ngx_xyz_register_input_t));
    strcpy(in->locale, "es");

    if (len == 0) {
        return ngx_xyz_input_fail(err, 400, "malformed_json", NULL,
                                  "the request body is empty");
    }

    if (strlen(buf) != len) {
        return ngx_xyz_input_fail(err, 400, "malformed_json", NULL,
                                  "the request body holds a NUL byte");
    }

    /*
     * yajl hands strings back NUL-terminated, so an escaped NUL would cut a
     * password short without notice: refuse it outright.
     */

    for (i = 0; i + 6 <= len; i++) {
        if (buf[i] == '\\' && buf[i + 1] == 'u'
            && strncmp(buf + i + 2, "0000", 4) == 0)
        {
            return ngx_xyz_input_fail(err, 422, "invalid_field", NULL,
                                      "text fields must not contain "
                                      "control characters");
        }
    }

    root = yajl_tree_parse(buf, NULL, 0);

    if (root == NULL) {
        return ngx_xyz_input_fail(err, 400, "malformed_json", NULL,
                                  "the request body is not valid JSON");
    }

    if (!YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return ngx_xyz_input_fail(err, 400, "malformed_json", NULL,
                                  "the request body must be a JSON object");
    }

    seen = 0;

    for (i = 0; i < root->u.object.len; i++) {
        key = root->u.object.keys[i];

        for (j = 0; j < i; j++) {
            if (strcmp(key, root->u.object.keys[j]) == 0) {
                yajl_tree_free(root);
                return ngx_xyz_input_fail(err, 422, "duplicate_field", NULL,
                                          "a field appears more than once");
            }
        }

        /* the error names a field with a constant: the tree is freed
         * before the caller reads it */

        if (strcmp(key, "email") == 0) {
            bit = NGX_XYZ_F_EMAIL;
            key = "email";

        } else if (strcmp(key, "password") == 0) {
            bit = NGX_XYZ_F_PASSWORD;
            key = "password";

        } else if (strcmp(key, "name") == 0) {
            bit = NGX_XYZ_F_NAME;
            key = "name";

        } else if (strcmp(key, "locale") == 0) {
            bit = NGX_XYZ_F_LOCALE;
            key = "locale";

        } else if (strcmp(key, "marketing_consent") == 0) {
            bit = NGX_XYZ_F_CONSENT;
            key = "marketing_consent";

        } else {
            snprintf(err->field_buf, sizeof(err->field_buf), "%s", key);
            yajl_tree_free(root);
            return ngx_xyz_input_fail(err, 422, "unknown_field",
                                      err->field_buf,
                                      "the body has a field this API does "
                                      "not know; allowed: email, password, "
                                      "name, locale, marketing_consent");
        }

        seen |= bit;

        if (ngx_xyz_input_field(key, root->u.object.values[i], password_min,
                                password_max, in, err)
            != 0)
        {
            yajl_tree_free(root);
            return -1;
        }
    }

    yajl_tree_free(root);

    if (!(seen & NGX_XYZ_F_EMAIL)) {
        return ngx_xyz_input_fail(err, 422, "missing_field", "email",
                                  "email is required");
    }

    if (!(seen & NGX_XYZ_F_PASSWORD)) {
        return ngx_xyz_input_fail(err, 422, "missing_field", "password",
                                  "password is required");
    }

    if (!(seen & NGX_XYZ_F_NAME)) {
        return ngx_xyz_input_fail(err, 422, "missing_field", "name",
                                  "name is required");
    }

    return 0;
}


static int
ngx_xyz_input_field(const char *key, yajl_val v, size_t password_min,
    size_t password_max, ngx_xyz_register_input_t *in,
    ngx_xyz_input_error_t *err)
{
    long         n;
    size_t       len;
    const char  *s, *start;

    if (strcmp(key, "marketing_consent") == 0) {
        if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
            return ngx_xyz_input_fail(err, 422, "invalid_field", key,
                                      "marketing_consent must be true or "
                                      "false");
        }

        in->marketing_consent = YAJL_IS_TRUE(v);
        return 0;
    }

    if (!YAJL_IS_STRING(v)) {
        return ngx_xyz_input_fail(err, 422, "invalid_field", key,
                                  "this field must be a string");
    }

    s = YAJL_GET_STRING(v);
    len = strlen(s);

    if (strcmp(key, "email") == 0) {
        if (ngx_xyz_email_normalize(s, len, in->email_normalized, &start,
                                    &len)
            != 0)
        {
            return ngx_xyz_input_fail(err, 422, "invalid_field", key,
                                      "email is not a valid address");
        }

        memcpy(in->email, start, len);
        in->email[len] = '\0';
        return 0;
    }

    if (strcmp(key, "name") == 0) {
        ngx_xyz_trim(&s, &len);
        n = ngx_xyz_utf8_name_length(s, len);

        if (n < 1 || n > NGX_XYZ_NAME_MAX) {
            return ngx_xyz_input_fail(err, 422, "invalid_field", key,
                                      "name must be 1 to 100 characters "
                                      "without control, direction-changing "
                                      "or noncharacter code points");
        }

        memcpy(in->name, s, len);
        in->name[len] = '\0';
        return 0;
    }

    if (strcmp(key, "locale") == 0) {
        if (ngx_xyz_input_locale(s, in->locale) != 0) {
            return ngx_xyz_input_fail(err, 422, "invalid_field", key,
                                      "locale must be \"es\" or \"en\"");
        }

        return 0;
    }

    /* password: taken as typed, white space included (NIST SP 800-63B) */

    n = ngx_xyz_utf8_printable_length(s, len);

    if (n < 0 || (size_t) n < password_min || (size_t) n > password_max
        || len >= sizeof(in->password))
    {
        snprintf(err->message_buf, sizeof(err->message_buf),
                 "password must be %zu to %zu characters without control "
                 "characters", password_min, password_max);

        return ngx_xyz_input_fail(err, 422, "invalid_field", key,
                                  err->message_buf);
    }

    memcpy(in->password, s, len);
    in->password[len] = '\0';
    in->password_len = len;

    return 0;
}


static int
ngx_xyz_input_locale(const char *s, char *out)
{
    size_t  len;

    /* "es", "en", and region forms such as "es-AR" or "en_GB" */

    len = strlen(s);

    if (len != 2 && !(len >= 4 && len <= 8 && (s[2] == '-' || s[2] == '_'))) {
        return -1;
    }

    if (strncasecmp(s, "es", 2) == 0) {
        strcpy(out, "es");
        return 0;
    }

    if (strncasecmp(s, "en", 2) == 0) {
        strcpy(out, "en");
        return 0;
    }

    return -1;
}


static int
ngx_xyz_input_fail(ngx_xyz_input_error_t *err, int status, const char *code,
    const char *field, const char *message)
{
    err->status = status;
    err->code = code;
    err->field = field;
    err->message = message;

    return -1;
}


static int
ngx_xyz_form_hex(int ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }

    ch |= 0x20;

    return (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : -1;
}


/* decodes %XX and "+" of one form component in place; returns its length */

static long
ngx_xyz_form_decode(char *s, size_t len)
{
    int     h, l;
    size_t  i, n;

    for (i = 0, n = 0; i < len; i++) {
        if (s[i] == '+') {
            s[n++] = ' ';

        } else if (s[i] == '%') {
            if (i + 2 >= len) {
                return -1;
            }

            h = ngx_xyz_form_hex((unsigned char) s[i + 1]);
            l = ngx_xyz_form_hex((unsigned char) s[i + 2]);

            if (h < 0 || l < 0) {
                return -1;
            }

            s[n++] = (char) (h * 16 + l);
            i += 2;

        } else {
            s[n++] = s[i];
        }
    }

    return (long) n;
}


int
ngx_xyz_register_form_to_json(const char *form, size_t len, char *out,
    size_t size)
{
    char          *copy, *p, *end, *amp, *eq, *o, *last;
    long           klen, vlen;
    size_t         i;
    unsigned char  ch;
    int            first;

    static const char  *known[] = { "email", "password", "name", "locale",
                                    NULL };
    static const char   hex[] = "0123456789abcdef";

    copy = malloc(len + 1);
    if (copy == NULL) {
        return -1;
    }

    memcpy(copy, form, len);
    copy[len] = '\0';

    o = out;
    last = out + size;
    first = 1;

    if (last - o < 2) {
        goto failed;
    }

    *o++ = '{';

    for (p = copy, end = copy + len; p < end; p = amp + 1) {
        amp = memchr(p, '&', end - p);
        if (amp == NULL) {
            amp = end;
        }

        eq = memchr(p, '=', amp - p);
        if (eq == NULL) {
            eq = amp;
        }

        klen = ngx_xyz_form_decode(p, eq - p);
        vlen = (eq < amp) ? ngx_xyz_form_decode(eq + 1, amp - eq - 1) : 0;

        if (klen < 0 || vlen < 0) {
            goto failed;
        }

        p[klen] = '\0';

        if (strcmp(p, "marketing_consent") == 0) {
            if (last - o < 32) {
                goto failed;
            }

            o += sprintf(o, "%s\"marketing_consent\":true", first ? "" : ",");
            first = 0;
            continue;
        }

        for (i = 0; known[i]; i++) {
            if (strcmp(p, known[i]) == 0) {
                break;
            }
        }

        if (known[i] == NULL) {
            continue;
        }

        if ((size_t) (last - o) < strlen(known[i]) + 6 * (size_t) vlen + 8) {
            goto failed;
        }

        o += sprintf(o, "%s\"%s\":\"", first ? "" : ",", known[i]);
        first = 0;

        for (i = 0; i < (size_t) vlen; i++) {
            ch = (unsigned char) eq[1 + i];

            if (ch == '"' || ch == '\\') {
                *o++ = '\\';
                *o++ = (char) ch;

            } else if (ch < 0x20 || ch == 0x7f) {
                *o++ = '\\';
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[ch >> 4];
                *o++ = hex[ch & 0xf];

            } else {
                *o++ = (char) ch;
            }
        }

        *o++ = '"';
    }

    if (last - o < 2) {
        goto failed;
    }

    *o++ = '}';
    *o = '\0';

    free(copy);

    return (int) (o - out);

failed:

    free(copy);

    return -1;
}
