/*
 * Unit tests: looking for escaped NULs in JSON text (ngx_xyz_json.c).
 */

#include "tap.h"
#include "ngx_xyz_json.h"


static char  field[64];


static int
find(const char *json)
{
    return ngx_xyz_json_find_nul(json, strlen(json), field, sizeof(field));
}


int
main(void)
{
    static char  big[256];

    ok(find("{\"email\":\"a@b.c\",\"password\":\"abc\\u0000def\"}") == 1,
       "a NUL in a string is found");
    is_str(field, "password", "and named by its member");

    ok(find("{\"email\":\"a\\u0000\",\"password\":\"abc\"}") == 1,
       "a NUL in the first member");
    is_str(field, "email", "named email");

    ok(find("{\"email\":\"a@b.c\",\"password\":\"abc\\\\u0000def\"}") == 0,
       "an escaped backslash before u0000 is no NUL");

    ok(find("{\"email\":\"a@b.c\",\"password\":\"abc def\"}") == 0,
       "no NUL, nothing found");

    ok(find("{\"extra\":{\"a\":[\"x\",\"y\\u0000\"]},\"password\":\"p\"}")
       == 1, "a NUL deep inside a value");
    is_str(field, "extra", "named by the top-level member");

    ok(find("{\"a\\u0000b\":\"x\"}") == 1, "a NUL in a member name");
    is_str(field, "", "which is not repeated");

    ok(find("{\"p\\u00e9\":\"\\u0000\"}") == 1,
       "a member name that is not ASCII");
    is_str(field, "", "is not repeated either");

    memset(big, 'k', sizeof(big));
    memcpy(big, "{\"", 2);
    strcpy(big + 100, "\":\"\\u0000\"}");
    ok(find(big) == 1, "a long member name");
    is_str(field, "", "is not repeated");

    ok(find("[\"\\u0000\"]") == 1, "a top-level array");
    is_str(field, "", "has no member name");

    ok(find("{\"a\":\"x\" /* c */, \"b\":\"\\u0000\"}") == 1,
       "comments, as yajl_tree_parse() allows them");
    is_str(field, "b", "named b");

    ok(find("{\"a\":") == -1, "truncated JSON: -1");
    ok(find("{\"a\":\"x\"} x") == -1, "trailing garbage: -1");
    ok(find("{\"a\":\"\\u0000\"") == 1,
       "a NUL before the JSON breaks is still found");

    return done_testing();
}
