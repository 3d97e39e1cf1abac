/*
 * Unit tests: cookies (ngx_xyz_cookie.c).
 */

#include <stdlib.h>

#include "tap.h"
#include "ngx_xyz_cookie.h"


static char  got[256];


/* the value of name in header, or "(absent)" */
static const char *
get(const char *header, const char *name)
{
    int          n;
    const char  *v;

    n = ngx_xyz_cookie_get(header, strlen(header), name, &v);

    if (n < 0) {
        return "(absent)";
    }

    memcpy(got, v, n);
    got[n] = '\0';

    return got;
}


static void
test_get(void)
{
    const char  *v;

    is_str(get("session=abc", "session"), "abc", "get: the only cookie");
    is_str(get("a=1; session=abc; b=2", "session"), "abc",
           "get: in the middle");
    is_str(get("a=1;session=abc", "session"), "abc", "get: no blank");
    is_str(get("a=1;  session = abc ;b=2", "session"), "abc",
           "get: blanks around name and value");
    is_str(get("session=abc; session=def", "session"), "abc",
           "get: the first of two wins");
    is_str(get("xsession=1; session_x=2; session=3", "session"), "3",
           "get: names that contain the name do not match");
    is_str(get("Session=1; session=2", "session"), "2",
           "get: names are case-sensitive");
    is_str(get("a=1; session=", "session"), "", "get: empty value");
    is_str(get("session=\"quoted\"", "session"), "quoted",
           "get: double quotes removed");
    is_str(get("session=\"", "session"), "\"", "get: a lone quote stays");
    is_str(get("t=a.b.c==; x=y", "t"), "a.b.c==",
           "get: '=' inside the value");
    is_str(get("flag; session=abc", "session"), "abc",
           "get: a pair without '=' is skipped");
    is_str(get("a=1; b=2", "session"), "(absent)", "get: absent");
    is_str(get("", "session"), "(absent)", "get: empty header");
    is_str(get(";;; ;", "session"), "(absent)", "get: separators only");
    is_str(get("session", "session"), "(absent)", "get: name without '='");
    is_str(get("=abc", ""), "(absent)", "get: empty name never matches");

    ok(ngx_xyz_cookie_get("session=abc; b=2", 10, "session", &v) == 2
       && memcmp(v, "ab", 2) == 0, "get: len is honoured");
    ok(ngx_xyz_cookie_get(NULL, 0, "session", &v) == -1, "get: NULL header");
}


static int
count(const char *header, const char *name)
{
    int          n;
    size_t       len;
    const char  *v;

    v = NULL;
    len = 0;
    n = ngx_xyz_cookie_count(header, strlen(header), name, &v, &len);

    got[0] = '\0';

    if (n > 0 && v != NULL) {
        memcpy(got, v, len);
        got[len] = '\0';
    }

    return n;
}


static void
test_count(void)
{
    ok(count("a=1; b=2", "session") == 0, "count: absent");
    ok(count("session=abc", "session") == 1, "count: once");
    is_str(got, "abc", "count: the value");
    ok(count("a=1; session=abc; b=2", "session") == 1,
       "count: once among others");
    ok(count("session=abc; session=def", "session") == 2, "count: twice");
    is_str(got, "abc", "count: the first value");
    ok(count("session=\"a\"; x=1; session=b;session=c", "session") == 3,
       "count: three, one quoted");
    ok(count("xsession=1; session_x=2; Session=3", "session") == 0,
       "count: other names do not count");
    ok(count("session=; session=x", "session") == 2,
       "count: an empty value counts");
    ok(count("session=abc;", "session") == 1, "count: a trailing ';'");
    ok(count("__Host-xyz_session=a; xyz_session=b", "xyz_session") == 1,
       "count: the prefixed name is another name");
    ok(count("", "session") == 0, "count: empty header");
}


static void
test_set(void)
{
    int   n;
    char  out[512];

    n = ngx_xyz_cookie_set(out, sizeof(out), "session", "a.b.c", 3600, 1,
                           "Lax");
    is_str(out, "session=a.b.c; Path=/; Max-Age=3600; HttpOnly; Secure; "
           "SameSite=Lax", "set: a session cookie for an hour");
    ok(n == (int) strlen(out), "set: length returned");

    ngx_xyz_cookie_set(out, sizeof(out), "session", "v", NGX_XYZ_COOKIE_SESSION,
                       1, "Strict");
    is_str(out, "session=v; Path=/; HttpOnly; Secure; SameSite=Strict",
           "set: a browser-session cookie has no Max-Age");

    ngx_xyz_cookie_set(out, sizeof(out), "session", "ignored",
                       NGX_XYZ_COOKIE_DELETE, 1, "Lax");
    is_str(out, "session=; Path=/; Max-Age=0; "
           "Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; "
           "SameSite=Lax", "set: deletion");

    ngx_xyz_cookie_set(out, sizeof(out), "session", "v", 60, 0, "Lax");
    is_str(out, "session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax",
           "set: without Secure (plain HTTP in development)");

    ngx_xyz_cookie_set(out, sizeof(out), "session", "v", 60, 1, NULL);
    is_str(out, "session=v; Path=/; Max-Age=60; HttpOnly; Secure",
           "set: without SameSite");

    ngx_xyz_cookie_set(out, sizeof(out), "session", "v", 60, 1, "None");
    is_str(out, "session=v; Path=/; Max-Age=60; HttpOnly; Secure; "
           "SameSite=None", "set: SameSite=None with Secure");

    ngx_xyz_cookie_set(out, sizeof(out), "__Host-session", "v", 60, 1, "Lax");
    is_str(out, "__Host-session=v; Path=/; Max-Age=60; HttpOnly; Secure; "
           "SameSite=Lax", "set: __Host- prefix with Secure");

    ngx_xyz_cookie_set(out, sizeof(out), "s", "", 60, 1, "Lax");
    is_str(out, "s=; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax",
           "set: empty value");

    ok(ngx_xyz_cookie_set(out, sizeof(out), "s", "v", 60, 0, "None") == -1,
       "set: SameSite=None without Secure refused");
    ok(ngx_xyz_cookie_set(out, sizeof(out), "s", "v", 60, 1, "lax") == -1,
       "set: unknown SameSite spelling refused");
    ok(ngx_xyz_cookie_set(out, sizeof(out), "__Host-s", "v", 60, 0, "Lax")
       == -1, "set: __Host- without Secure refused");
    ok(ngx_xyz_cookie_set(out, sizeof(out), "__Secure-s", "v", 60, 0, "Lax")
       == -1, "set: __Secure- without Secure refused");
    ok(ngx_xyz_cookie_set(out, sizeof(out), "s", "a;b", 60, 1, "Lax") == -1,
       "set: ';' in the value refused");
    ok(ngx_xyz_cookie_set(out, sizeof(out), "s", "a\r\nSet-Cookie: x=1", 60,
                          1, "Lax") == -1, "set: CR LF in the value refused");
    ok(ngx_xyz_cookie_set(out, sizeof(out), "s", "a b", 60, 1, "Lax") == -1,
       "set: blank in the value refused");
    ok(ngx_xyz_cookie_set(out, sizeof(out), "s", "a,b", 60, 1, "Lax") == -1,
       "set: ',' in the value refused");
    ok(ngx_xyz_cookie_set(out, sizeof(out), "s", "\"v\"", 60, 1, "Lax")
       == -1, "set: '\"' in the value refused");
    ok(ngx_xyz_cookie_set(out, sizeof(out), "s", "caf\xc3\xa9", 60, 1, "Lax")
       == -1, "set: non-ASCII value refused");
    ok(ngx_xyz_cookie_set(out, sizeof(out), "s=x", "v", 60, 1, "Lax") == -1,
       "set: '=' in the name refused");
    ok(ngx_xyz_cookie_set(out, sizeof(out), "a b", "v", 60, 1, "Lax") == -1,
       "set: blank in the name refused");
    ok(ngx_xyz_cookie_set(out, sizeof(out), "", "v", 60, 1, "Lax") == -1,
       "set: empty name refused");
    ok(ngx_xyz_cookie_set(out, sizeof(out), "s", "v", -2, 1, "Lax") == -1,
       "set: Max-Age below -1 refused");

    n = ngx_xyz_cookie_set(out, sizeof(out), "s", "v", 60, 1, "Lax");
    ok(ngx_xyz_cookie_set(out, n + 1, "s", "v", 60, 1, "Lax") == n,
       "set: exact buffer size");
    ok(ngx_xyz_cookie_set(out, n, "s", "v", 60, 1, "Lax") == -1,
       "set: one byte short");
    ok(ngx_xyz_cookie_set(out, 5, "s", "v", 60, 1, "Lax") == -1,
       "set: a tiny buffer");

    /* what is set is what is read back */

    n = ngx_xyz_cookie_set(out, sizeof(out), "__Host-xyz", "eyJ.eyJ-_.sig",
                           86400, 1, "Lax");
    is_str(get(out, "__Host-xyz"), "eyJ.eyJ-_.sig",
           "set then get: the value comes back");
}


int
main(void)
{
    test_get();
    test_count();
    test_set();

    return done_testing();
}
