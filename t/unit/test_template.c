/*
 * Unit tests: "{{name}}" templates (ngx_xyz_template.c), and the email
 * templates shipped in conf/templates/.
 */

#include <stdlib.h>

#include <yajl/yajl_tree.h>

#include "tap.h"
#include "ngx_xyz_template.h"


static int
render(const char *tpl, const ngx_xyz_tpl_var_t *vars, size_t n, int escape,
    char *out, size_t size)
{
    return ngx_xyz_template_render(tpl, strlen(tpl), vars, n, escape, out,
                                   size);
}


static void
test_render(void)
{
    int                 n;
    char                out[512];
    yajl_val            v;
    ngx_xyz_tpl_var_t   vars[3];

    static const char  *p_v[] = { "v", NULL };

    vars[0].name = "name";
    vars[0].value = "Ana";
    vars[1].name = "link";
    vars[1].value = "https://xyz.example/confirm?t=abc&x=1";
    vars[2].name = "empty";
    vars[2].value = NULL;

    n = render("Hola {{name}}, {{ link }}{{\tempty\t}}.", vars, 3,
               NGX_XYZ_TPL_RAW, out, sizeof(out));
    is_str(out, "Hola Ana, https://xyz.example/confirm?t=abc&x=1.",
           "placeholders rendered, blanks inside braces allowed");
    ok(n == (int) strlen(out), "the length is returned");

    n = render("no placeholders", vars, 0, NGX_XYZ_TPL_RAW, out,
               sizeof(out));
    is_str(out, "no placeholders", "plain text is copied");

    n = render("", vars, 0, NGX_XYZ_TPL_RAW, out, sizeof(out));
    ok(n == 0 && out[0] == '\0', "an empty template renders empty");

    n = render("{ single } and {{name}}}", vars, 3, NGX_XYZ_TPL_RAW, out,
               sizeof(out));
    is_str(out, "{ single } and Ana}", "lone braces are text");

    n = render("{\"a\":{{{name}}}}", vars, 3, NGX_XYZ_TPL_RAW, out,
               sizeof(out));
    is_str(out, "{\"a\":{Ana}}", "extra opening braces are text");

    vars[0].value = "<b>Tom & \"Jerry\"</b> 'x'";
    n = render("<p>{{name}}</p><a href=\"{{link}}\">", vars, 3,
               NGX_XYZ_TPL_HTML, out, sizeof(out));
    is_str(out, "<p>&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt; &#39;x&#39;"
                "</p><a href=\"https://xyz.example/confirm?t=abc&amp;x=1\">",
           "HTML escaping of & < > \" ' in values, not in the template");

    vars[0].value = "Ana \"la\" \\ P\xc3\xa9rez\n\t\x01\x1f end";
    n = render("{\"v\":\"{{name}}\"}", vars, 3, NGX_XYZ_TPL_JSON, out,
               sizeof(out));
    is_str(out, "{\"v\":\"Ana \\\"la\\\" \\\\ P\xc3\xa9rez\\n\\t\\u0001"
                "\\u001f end\"}",
           "JSON escaping of quotes, backslash and control characters");

    v = yajl_tree_parse(out, NULL, 0);
    ok(v != NULL, "the JSON rendering parses");
    is_str(YAJL_GET_STRING(yajl_tree_get(v, p_v, yajl_t_string)),
           vars[0].value, "and gives the value back");
    yajl_tree_free(v);

    vars[0].value = "{{link}}";
    n = render("[{{name}}]", vars, 3, NGX_XYZ_TPL_RAW, out, sizeof(out));
    is_str(out, "[{{link}}]", "values are never scanned for placeholders");

    vars[0].value = "Ana";
    ok(render("Hola {{nombre}}", vars, 3, NGX_XYZ_TPL_RAW, out,
              sizeof(out)) == -1,
       "an unknown placeholder is refused at render time");
    ok(render("Hola {{name", vars, 3, NGX_XYZ_TPL_RAW, out,
              sizeof(out)) == -1,
       "an unclosed placeholder is refused");
    ok(render("Hola {{na me}}", vars, 3, NGX_XYZ_TPL_RAW, out,
              sizeof(out)) == -1,
       "a malformed placeholder is refused");
    ok(render("Hola {{}}", vars, 3, NGX_XYZ_TPL_RAW, out,
              sizeof(out)) == -1,
       "an empty placeholder is refused");
    ok(render("Hola {{name}}", vars, 3, 7, out, sizeof(out)) == -1,
       "an unknown escaping is refused");

    ok(render("Hola {{name}}", vars, 3, NGX_XYZ_TPL_RAW, out, 9) == 8
       && strcmp(out, "Hola Ana") == 0, "an exact fit is written");
    ok(render("Hola {{name}}", vars, 3, NGX_XYZ_TPL_RAW, out, 8) == -1,
       "a buffer one byte short is refused");
    ok(render("Hola {{name}}", vars, 3, NGX_XYZ_TPL_HTML, out, 3) == -1,
       "a buffer too short for the text is refused");
}


static void
test_check(void)
{
    char  err[128];

    static const char *const  names[] = { "name", "link", "hours" };

    ok(ngx_xyz_template_check("{{name}} {{ link }} {{hours}} {{name}}", 38,
                              names, 3, err, sizeof(err)) == 4,
       "a good template: the placeholders are counted");

    ok(ngx_xyz_template_check("Hola {{nmae}}", 13, names, 3, err,
                              sizeof(err)) == -1,
       "an unknown placeholder is refused");
    is_str(err, "unknown placeholder \"{{nmae}}\"",
           "the error names the unknown placeholder");

    ok(ngx_xyz_template_check("Hola {{name}", 12, names, 3, err,
                              sizeof(err)) == -1,
       "an unclosed placeholder is refused");
    is_str(err, "unclosed \"{{\" at byte 5", "the error says where");

    ok(ngx_xyz_template_check("a {{name!}} b", 13, names, 3, err,
                              sizeof(err)) == -1,
       "a malformed placeholder is refused");
    is_str(err, "bad placeholder \"{{name!}}\" at byte 2",
           "the error quotes it");

    ok(ngx_xyz_template_check("plain", 5, names, 3, err, sizeof(err)) == 0,
       "a template without placeholders is fine");
}


static void
test_subject(void)
{
    int          n;
    size_t       body_len;
    const char  *subject, *body, *t;

    t = "Subject: Confirma tu cuenta, {{name}}\n\nHola {{name}}:\n";
    n = ngx_xyz_template_subject(t, strlen(t), &subject, &body, &body_len);
    ok(n == 28 && strncmp(subject, "Confirma tu cuenta, {{name}}", 28) == 0,
       "the subject line is split off");
    ok(body_len == strlen("Hola {{name}}:\n")
       && strncmp(body, "Hola {{name}}:\n", body_len) == 0,
       "the body follows the empty line");

    t = "\xef\xbb\xbfsubject:Hi  \r\n\r\nBody\r\n";
    n = ngx_xyz_template_subject(t, strlen(t), &subject, &body, &body_len);
    ok(n == 2 && strncmp(subject, "Hi", 2) == 0
       && body_len == 6 && strncmp(body, "Body\r\n", 6) == 0,
       "CRLF, a byte order mark and the header's case are allowed");

    t = "Hola\n\nBody";
    ok(ngx_xyz_template_subject(t, strlen(t), &subject, &body, &body_len)
       == -1, "a text without a subject line is refused");

    t = "Subject:   \nBody";
    ok(ngx_xyz_template_subject(t, strlen(t), &subject, &body, &body_len)
       == -1, "an empty subject is refused");
}


static char *
slurp(const char *path, size_t *len)
{
    FILE    *f;
    char    *buf;
    size_t   n;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    buf = malloc(65536);
    if (buf == NULL) {
        fclose(f);
        return NULL;
    }

    n = fread(buf, 1, 65535, f);
    fclose(f);

    buf[n] = '\0';
    *len = n;

    return buf;
}


/* The shipped email templates: each has a subject, uses only the
 * placeholders the dispatcher fills in, and renders. */

static void
test_shipped(void)
{
    int           i, k, n, rc;
    char          dir[1024], path[1400], name[256], err[128], out[65536];
    char         *txt, *slash;
    size_t        len, body_len;
    const char   *subject, *body;

    static const char *const  confirm[] = {
        "name", "email", "link", "site", "hours"
    };
    static const char *const  already[] = {
        "name", "email", "login_link", "reset_link", "site", "hours"
    };
    static const char *const  kinds[] = { "confirm", "already_registered" };
    static const char *const  langs[] = { "es", "en" };
    static const char *const  exts[] = { "txt", "html" };

    ngx_xyz_tpl_var_t  vars[] = {
        { "name", "Ana <P\xc3\xa9rez>" },
        { "email", "ana@example.com" },
        { "link", "https://xyz.example/confirm?token=abc&x=1" },
        { "login_link", "https://xyz.example/login" },
        { "reset_link", "https://xyz.example/reset" },
        { "site", "https://xyz.example" },
        { "hours", "24" },
    };

    /* this file sits in <root>/t/unit/; the templates in <root>/conf/ */

    snprintf(dir, sizeof(dir), "%s", __FILE__);
    for (k = 0; k < 3; k++) {
        slash = strrchr(dir, '/');
        if (slash == NULL) {
            break;
        }
        *slash = '\0';
    }

    if (k < 3) {
        snprintf(dir, sizeof(dir), ".");
    }

    for (i = 0; i < 2; i++) {
        for (k = 0; k < 4; k++) {
            snprintf(name, sizeof(name), "%s.%s.%s", kinds[i], langs[k / 2],
                     exts[k % 2]);
            snprintf(path, sizeof(path), "%s/conf/templates/%s", dir, name);

            txt = slurp(path, &len);
            ok(txt != NULL, name);

            if (txt == NULL) {
                continue;
            }

            body = txt;
            body_len = len;

            if (k % 2 == 0) {
                n = ngx_xyz_template_subject(txt, len, &subject, &body,
                                             &body_len);
                ok(n > 0, "  its first line is the subject");

            } else {
                ok(strstr(txt, langs[k / 2]) != NULL
                   && strstr(txt, "<html lang=\"") != NULL,
                   "  the HTML declares its language");
            }

            rc = ngx_xyz_template_check(body, body_len,
                                        i ? already : confirm, i ? 6 : 5,
                                        err, sizeof(err));
            ok(rc > 0, "  only known placeholders");
            if (rc < 0) {
                printf("#   %s\n", err);
            }

            n = ngx_xyz_template_render(body, body_len, vars, 7,
                                        k % 2 ? NGX_XYZ_TPL_HTML
                                              : NGX_XYZ_TPL_RAW,
                                        out, sizeof(out));
            ok(n > 0 && strstr(out, "{{") == NULL, "  it renders");

            if (i == 0) {
                ok(strstr(out, "Ana") == NULL,
                   "  the registrant's name is not in the confirmation "
                   "(the address may not be theirs)");
            }

            if (i == 1) {
                ok(strstr(out, "Ana") == NULL,
                   "  a stranger's name is not sent to the account holder");
            }

            if (k % 2) {
                ok(strstr(out, "<img") == NULL, "  no images");
            }

            free(txt);
        }
    }
}


int
main(void)
{
    test_render();
    test_check();
    test_subject();
    test_shipped();

    return done_testing();
}
