/*
 * Unit tests: CRM bodies, the contact parser and Retry-After
 * (ngx_xyz_crm_json.c).
 */

#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "tap.h"
#include "ngx_xyz_crm_json.h"


static const char *
str_at(yajl_val v, const char **path)
{
    yajl_val  s;

    s = yajl_tree_get(v, path, yajl_t_string);

    return s ? s->u.string : "(absent)";
}


static void
sample(ngx_xyz_crm_contact_t *c)
{
    c->email = "ana@example.com";
    c->name = "Ana \"la\" P\xc3\xa9rez\\";
    c->locale = "es";
    c->marketing_consent = 1;
    c->registered_at = "2026-11-27T18:00:00.123456+00:00";
    c->user_id = 7;
    c->outbox_id = 41;
}


static void
test_body(void)
{
    int                     n;
    char                    out[2048], err[128];
    yajl_val                v, x;
    ngx_xyz_crm_contact_t   c;

    static const char  *p_email[] = { "email", NULL };
    static const char  *p_name[] = { "name", NULL };
    static const char  *p_consent[] = { "marketing_consent", NULL };
    static const char  *p_source[] = { "source", NULL };
    static const char  *p_ext[] = { "external_id", NULL };
    static const char  *p_fn[] = { "properties", "firstname", NULL };
    static const char  *p_opt[] = { "properties", "opt_in", NULL };
    static const char  *p_uid[] = { "properties", "uid", NULL };
    static const char  *p_oid[] = { "oid", NULL };

    static const char  tpl[] =
        "{\"properties\":{\"email\":\"{{email}}\",\"firstname\":\"{{ name }}\","
        "\"lang\":\"{{locale}}\",\"opt_in\":{{marketing_consent}},"
        "\"since\":\"{{registered_at}}\",\"uid\":{{user_id}}},"
        "\"oid\":\"{{outbox_id}}\"}";

    sample(&c);

    n = ngx_xyz_crm_body(NULL, 0, &c, out, sizeof(out));
    v = yajl_tree_parse(out, NULL, 0);
    ok(n > 0 && v != NULL, "the default body is JSON");
    is_str(str_at(v, p_email), "ana@example.com", "email");
    is_str(str_at(v, p_name), c.name, "name with quotes and UTF-8");
    ok(YAJL_IS_TRUE(yajl_tree_get(v, p_consent, yajl_t_any)),
       "marketing_consent is a boolean");
    is_str(str_at(v, p_source), "xyz-signup", "source");
    is_str(str_at(v, p_ext), "41", "external_id is the outbox id");
    yajl_tree_free(v);

    c.name = NULL;
    c.marketing_consent = 0;
    n = ngx_xyz_crm_body(NULL, 0, &c, out, sizeof(out));
    v = yajl_tree_parse(out, NULL, 0);
    ok(n > 0 && v && YAJL_IS_NULL(yajl_tree_get(v, p_name, yajl_t_any))
       && YAJL_IS_FALSE(yajl_tree_get(v, p_consent, yajl_t_any)),
       "no name is null; no consent is false");
    yajl_tree_free(v);

    ok(ngx_xyz_crm_body(NULL, 0, &c, out, 40) == -1,
       "a short buffer is refused");

    sample(&c);
    n = ngx_xyz_crm_body(tpl, sizeof(tpl) - 1, &c, out, sizeof(out));
    v = yajl_tree_parse(out, NULL, 0);
    ok(n > 0 && v != NULL, "the operator's template renders to JSON");
    is_str(str_at(v, p_fn), c.name, "strings are JSON-escaped");
    x = yajl_tree_get(v, p_opt, yajl_t_any);
    ok(x && YAJL_IS_TRUE(x), "marketing_consent renders as true");
    x = yajl_tree_get(v, p_uid, yajl_t_number);
    ok(x && YAJL_IS_INTEGER(x) && YAJL_GET_INTEGER(x) == 7,
       "user_id renders as a number");
    is_str(str_at(v, p_oid), "41", "outbox_id inside quotes");
    yajl_tree_free(v);

    ok(ngx_xyz_crm_template_check(tpl, sizeof(tpl) - 1, err, sizeof(err))
       == 0, "the template passes the check");

    ok(ngx_xyz_crm_template_check("{\"e\":\"{{mail}}\"}", 16, err,
                                  sizeof(err)) == -1,
       "an unknown placeholder fails the check");
    is_str(err, "unknown placeholder \"{{mail}}\"", "and is named");

    ok(ngx_xyz_crm_template_check("{\"n\":{{name}}}", 14, err, sizeof(err))
       == -1, "a string placeholder outside quotes fails the check");
    ok(strncmp(err, "template does not render to valid JSON", 38) == 0,
       "because the JSON breaks");

    ok(ngx_xyz_crm_template_check("{\"n\":\"{{name}}\"", 15, err,
                                  sizeof(err)) == -1,
       "a truncated template fails the check");
}


static void
test_hubspot(void)
{
    int                     n;
    char                    out[16384];
    size_t                  i;
    yajl_val                v, in, e;
    ngx_xyz_crm_contact_t   c[101];

    static const char  *p_inputs[] = { "inputs", NULL };
    static const char  *p_id[] = { "id", NULL };
    static const char  *p_idp[] = { "idProperty", NULL };
    static const char  *p_email[] = { "properties", "email", NULL };
    static const char  *p_fn[] = { "properties", "firstname", NULL };
    static const char  *p_lang[] = { "properties", "hs_language", NULL };
    static const char  *p_mc[] = { "properties", "xyz_marketing_consent",
                                   NULL };

    sample(&c[0]);
    sample(&c[1]);
    c[1].email = "bob@example.org";
    c[1].name = NULL;
    c[1].locale = "en";
    c[1].marketing_consent = 0;
    sample(&c[2]);
    c[2].email = "ANA@Example.com";

    n = ngx_xyz_crm_hubspot_batch(c, 3, out, sizeof(out));
    ok(n > 0 && (size_t) n < ngx_xyz_crm_hubspot_batch_len(c, 3),
       "batch written within its bound");

    v = yajl_tree_parse(out, NULL, 0);
    ok(v != NULL, "the batch is valid JSON");

    in = yajl_tree_get(v, p_inputs, yajl_t_array);
    ok(in && in->u.array.len == 2,
       "a repeated email (ignoring case) is sent once");

    if (in && in->u.array.len == 2) {
        e = in->u.array.values[0];
        is_str(str_at(e, p_id), "ana@example.com", "id is the email");
        is_str(str_at(e, p_idp), "email", "idProperty is email");
        is_str(str_at(e, p_email), "ana@example.com", "email property");
        is_str(str_at(e, p_fn), c[0].name, "firstname, escaped");
        is_str(str_at(e, p_lang), "es", "hs_language");
        is_str(str_at(e, p_mc), "true", "consent as the string true");

        e = in->u.array.values[1];
        is_str(str_at(e, p_id), "bob@example.org", "second contact");
        ok(yajl_tree_get(e, p_fn, yajl_t_any) == NULL,
           "no firstname when there is no name");
        is_str(str_at(e, p_mc), "false", "consent as the string false");
    }

    yajl_tree_free(v);

    for (i = 0; i < 101; i++) {
        sample(&c[i]);
    }

    ok(ngx_xyz_crm_hubspot_batch(c, 101, out, sizeof(out)) == -1,
       "more than 100 contacts are refused");
    ok(ngx_xyz_crm_hubspot_batch(c, 0, out, sizeof(out)) == -1,
       "an empty batch is refused");
    ok(ngx_xyz_crm_hubspot_batch(c, 1, out, 50) == -1,
       "a short buffer is refused");

    c[0].email = NULL;
    ok(ngx_xyz_crm_hubspot_batch(c, 1, out, sizeof(out)) == -1,
       "a contact without email is refused");
}


static void
test_hubspot_multi(void)
{
    int                     state[4];
    char                    detail[4][64];
    const char             *j;
    ngx_xyz_crm_contact_t   c[4];

    sample(&c[0]);
    sample(&c[1]);
    sample(&c[2]);
    sample(&c[3]);
    c[1].email = "Bad@Example.com";
    c[2].email = "bob@example.org";
    c[3].email = "zed@example.net";

    /* what HubSpot answers with multi-status: one written, one refused,
     * one named by id only; the fourth nowhere */

    j = "{\"status\":\"COMPLETE\",\"results\":[{\"id\":\"12\","
        "\"properties\":{\"email\":\"ANA@example.com\"},\"new\":true},"
        "{\"id\":\"bob@example.org\",\"properties\":{}}],"
        "\"numErrors\":1,\"errors\":[{\"status\":\"error\","
        "\"category\":\"VALIDATION_ERROR\",\"message\":\"Email address "
        "bad@example.com is invalid, and this message is long enough to be "
        "cut\",\"context\":{\"ids\":[\"bad@example.com\"]}}]}";

    ok(ngx_xyz_crm_hubspot_multi(j, strlen(j), c, 4, state, detail[0],
                                 sizeof(detail[0]))
       == 0, "a 207 answer is read");
    ok(state[0] == NGX_XYZ_CRM_WRITTEN, "a result by properties.email");
    ok(state[1] == NGX_XYZ_CRM_REFUSED, "an error by context ids");
    ok(strncmp(detail[1], "Email address bad@example.com is invalid", 40)
       == 0 && strlen(detail[1]) == sizeof(detail[1]) - 1,
       "its message, cut to the buffer");
    ok(state[2] == NGX_XYZ_CRM_WRITTEN, "a result by id");
    ok(state[3] == NGX_XYZ_CRM_UNKNOWN && detail[3][0] == '\0',
       "a contact named nowhere is unknown");

    j = "{\"results\":[{\"properties\":{\"email\":\"bob@example.org\"}}],"
        "\"errors\":[{\"message\":\"no\",\"id\":\"bob@example.org\"}]}";
    ok(ngx_xyz_crm_hubspot_multi(j, strlen(j), c, 4, state, detail[0],
                                 sizeof(detail[0]))
       == 0 && state[2] == NGX_XYZ_CRM_REFUSED && strcmp(detail[2], "no") == 0,
       "an error wins over a result");

    j = "{\"status\":\"COMPLETE\"}";
    ok(ngx_xyz_crm_hubspot_multi(j, strlen(j), c, 4, state, detail[0],
                                 sizeof(detail[0]))
       == -1, "neither results nor errors is refused");
    j = "[1]";
    ok(ngx_xyz_crm_hubspot_multi(j, strlen(j), c, 4, state, detail[0],
                                 sizeof(detail[0]))
       == -1, "not an object is refused");
    j = "{\"results\":{}}";
    ok(ngx_xyz_crm_hubspot_multi(j, strlen(j), c, 4, state, detail[0],
                                 sizeof(detail[0]))
       == -1, "results not an array is refused");
}


static void
test_parse(void)
{
    int                     n;
    char                    arena[512];
    const char             *j;
    ngx_xyz_crm_contact_t   c;

    /* what the outbox publishes for a registration */

    j = "{\"kind\": \"crm\", \"name\": \"Ana P\\u00e9rez\", \"type\": "
        "\"registration\", \"email\": \"ana@example.com\", \"locale\": "
        "\"es\", \"user_id\": 7, \"outbox_id\": 41, \"created_at\": "
        "\"2026-11-27T18:00:00.2+00:00\", \"registered_at\": "
        "\"2026-11-27T18:00:00.123456+00:00\", \"marketing_consent\": true}";

    n = ngx_xyz_crm_contact_parse(j, strlen(j), &c, arena, sizeof(arena));
    ok(n > 0, "an outbox CRM message is read");
    is_str(c.email, "ana@example.com", "email");
    is_str(c.name, "Ana P\xc3\xa9rez", "name, unescaped");
    is_str(c.locale, "es", "locale");
    is_str(c.registered_at, "2026-11-27T18:00:00.123456+00:00",
           "registered_at");
    ok(c.marketing_consent == 1, "marketing_consent");
    ok(c.user_id == 7 && c.outbox_id == 41, "ids");

    ok(ngx_xyz_crm_contact_parse(j, strlen(j), &c, arena, (size_t) n)
       == n, "the arena it reports is enough");
    ok(ngx_xyz_crm_contact_parse(j, strlen(j), &c, arena, (size_t) n - 1)
       == -1, "a smaller arena is refused");

    j = "{\"email\":\"bob@example.org\",\"name\":null,\"user_id\":\"8\"}xyz";
    n = ngx_xyz_crm_contact_parse(j, strlen(j) - 3, &c, arena,
                                  sizeof(arena));
    ok(n > 0 && c.name == NULL && c.locale == NULL && c.user_id == 8
       && c.outbox_id == -1 && c.marketing_consent == 0,
       "the length bounds the text; nulls and absent members; string ids");

    j = "{\"name\":\"Ana\"}";
    ok(ngx_xyz_crm_contact_parse(j, strlen(j), &c, arena, sizeof(arena))
       == -1, "no email is refused");

    j = "{\"email\":\"a@b.example\",\"marketing_consent\":\"yes\"}";
    ok(ngx_xyz_crm_contact_parse(j, strlen(j), &c, arena, sizeof(arena))
       == -1, "a consent that is not a boolean is refused");

    j = "{\"email\":\"a@b.example\",\"user_id\":-3}";
    ok(ngx_xyz_crm_contact_parse(j, strlen(j), &c, arena, sizeof(arena))
       == -1, "a negative id is refused");

    j = "{\"email\":";
    ok(ngx_xyz_crm_contact_parse(j, strlen(j), &c, arena, sizeof(arena))
       == -1, "garbage is refused");
}


int
main(void)
{
    test_body();
    test_hubspot();
    test_hubspot_multi();
    test_parse();

    return done_testing();
}
