/*
 * Unit tests: the JSON string escaper, and looking for escaped NULs in JSON
 * text (ngx_xyz_json.c).
 */

#include "tap.h"
#include "ngx_xyz_json.h"


static char  field[64];


/* s (len bytes) quoted into a buffer of size bytes; NULL if it fails */

static const char *
quote(const char *s, size_t len, size_t size)
{
    char         *p;
    static char   out[1024];

    p = ngx_xyz_json_quote(out, out + size, s, len);
    if (p == NULL) {
        return NULL;
    }

    *p = '\0';

    return out;
}


static void
test_escape(void)
{
    char          in[128], out[1024], *p;
    size_t        i;
    yajl_val      v;
    const char   *s;

    is_str(quote("a\"b\\c/d", 7, 100), "\"a\\\"b\\\\c/d\"",
           "quote and backslash escaped, '/' is not");
    is_str(quote("l1\nl2\r\t", 7, 100), "\"l1\\nl2\\r\\t\"",
           "newline, return and tab in their short forms");
    is_str(quote("\x01\x1f\x7f", 3, 100), "\"\\u0001\\u001f\\u007f\"",
           "other control characters and DEL as \\u00XX");
    is_str(quote("a\0b", 3, 100), "\"a\\u0000b\"",
           "a NUL inside the length is escaped, not an end");
    is_str(quote("P\xc3\xa9rez \xff", 8, 100), "\"P\xc3\xa9rez \xff\"",
           "bytes above 0x7f go as they are");
    is_str(quote("", 0, 100), "\"\"", "the empty string");

    /* "a\u0001" and its quotes: 9 bytes */

    ok(quote("a\x01", 2, 9) != NULL, "fits in exactly its length");
    ok(quote("a\x01", 2, 8) == NULL, "one byte less: NULL");
    ok(quote("", 0, 1) == NULL, "no room for both quotes: NULL");
    ok(ngx_xyz_json_quote(NULL, out, "a", 1) == NULL, "NULL in, NULL out");

    p = ngx_xyz_json_escape(out, out + sizeof(out), "x\"\n", 3);
    ok(p != NULL && p - out == 5 && memcmp(out, "x\\\"\\n", 5) == 0,
       "escape: the content alone, no quotes");
    ok(ngx_xyz_json_escape(out, out + 5, "\x02", 1) == NULL,
       "escape: a six-byte escape into five bytes: NULL");
    ok(ngx_xyz_json_escape(NULL, out, "", 0) == NULL,
       "escape: NULL in, NULL out");

    /* every ASCII byte reads back as itself */

    for (i = 0; i < sizeof(in); i++) {
        in[i] = (char) (i + 1 < 128 ? i + 1 : 'z');
    }

    p = ngx_xyz_json_quote(out, out + sizeof(out) - 1, in, sizeof(in));
    ok(p != NULL, "all of ASCII quoted");

    if (p != NULL) {
        *p = '\0';
        v = yajl_tree_parse(out, NULL, 0);
        s = (v && YAJL_IS_STRING(v)) ? YAJL_GET_STRING(v) : NULL;
        ok(s != NULL && strlen(s) == sizeof(in)
           && memcmp(s, in, sizeof(in)) == 0,
           "and yajl reads back the same bytes");
        yajl_tree_free(v);
    }
}


static int
find(const char *json)
{
    return ngx_xyz_json_find_nul(json, strlen(json), field, sizeof(field));
}


int
main(void)
{
    static char  big[256];

    test_escape();

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
