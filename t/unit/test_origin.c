/*
 * Unit tests: origins and the Origin/Referer check (ngx_xyz_origin.c).
 */

#include <stdlib.h>

#include "tap.h"
#include "ngx_xyz_origin.h"


static const char  *allowed[] = {
    "https://signup.example.com",
    "http://localhost:8080",
};


static char  buf[NGX_XYZ_ORIGIN_MAX + 1];


static const char *
origin(const char *url)
{
    if (ngx_xyz_origin_of(url, strlen(url), buf, sizeof(buf)) < 0) {
        return "(refused)";
    }

    return buf;
}


static int
allowed_by(const char *o, const char *r, int absent)
{
    return ngx_xyz_origin_allowed(o, o ? strlen(o) : 0, r, r ? strlen(r) : 0,
                                  allowed, 2, absent);
}


static void
test_origin_of(void)
{
    size_t  i;
    char    host[400];

    static const char  *cases[][3] = {
        { "https://signup.example.com", "https://signup.example.com",
          "bare origin" },
        { "https://signup.example.com/register?x=1#top",
          "https://signup.example.com", "path, query and fragment dropped" },
        { "HTTPS://SignUp.Example.COM/", "https://signup.example.com",
          "scheme and host lowercased" },
        { "https://signup.example.com:443/", "https://signup.example.com",
          "default https port dropped" },
        { "http://example.com:80", "http://example.com",
          "default http port dropped" },
        { "http://example.com:443", "http://example.com:443",
          "https's port kept for http" },
        { "https://example.com:8443/a", "https://example.com:8443",
          "other port kept" },
        { "https://example.com:0443", "https://example.com",
          "leading zeros of the port" },
        { "http://localhost:8080?x", "http://localhost:8080",
          "query right after the port" },
        { "http://127.0.0.1:1984/", "http://127.0.0.1:1984", "IPv4" },
        { "http://[::1]:8080/x", "http://[::1]:8080", "IPv6 with port" },
        { "https://[2001:DB8::1]/", "https://[2001:db8::1]",
          "IPv6 lowercased, default port" },
        { "wss://chat.example.com:443", "wss://chat.example.com",
          "wss default port" },
        { "app+x.y-z://host:99", "app+x.y-z://host:99",
          "any scheme, port kept" },
        { "https://under_score.example.com", "https://under_score.example.com",
          "underscore in a host name" },
        { "null", "(refused)", "null origin" },
        { "", "(refused)", "empty" },
        { "signup.example.com", "(refused)", "no scheme" },
        { "//signup.example.com", "(refused)", "scheme-relative" },
        { "https:/signup.example.com", "(refused)", "one slash" },
        { "https://", "(refused)", "no host" },
        { "https:///path", "(refused)", "empty host before path" },
        { "https://:443", "(refused)", "port without host" },
        { "https://example.com:", "(refused)", "empty port" },
        { "https://example.com:0", "(refused)", "port 0" },
        { "https://example.com:65536", "(refused)", "port over 65535" },
        { "https://example.com:99999999999999999999", "(refused)",
          "huge port" },
        { "https://example.com:44x", "(refused)", "port with a letter" },
        { "https://signup.example.com@evil.example/",
          "(refused)", "user information refused" },
        { "https://user:pw@signup.example.com/", "(refused)",
          "user and password refused" },
        { "https://evil.example\\@signup.example.com", "(refused)",
          "backslash in the host" },
        { "https://exa mple.com", "(refused)", "blank in the host" },
        { "https://ex%41mple.com", "(refused)", "percent in the host" },
        { "https://[::1", "(refused)", "unclosed IPv6" },
        { "https://[]/", "(refused)", "empty IPv6" },
        { "https://[::1]x/", "(refused)", "junk after IPv6" },
        { "https://[fe80::1%eth0]/", "(refused)", "IPv6 zone" },
        { "1https://x.com", "(refused)", "scheme starting with a digit" },
        { " https://signup.example.com", "(refused)", "leading blank" },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        is_str(origin(cases[i][0]), cases[i][1], cases[i][2]);
    }

    ok(ngx_xyz_origin_of("https://a.example", 17, buf, 18) == 17,
       "origin_of: exact buffer size");
    ok(ngx_xyz_origin_of("https://a.example", 17, buf, 17) == -1,
       "origin_of: one byte short");
    ok(ngx_xyz_origin_of("https://a.example/x", 9, buf, sizeof(buf)) == 9
       && strcmp(buf, "https://a") == 0, "origin_of: len is honoured");

    memset(host, 'a', sizeof(host));
    memcpy(host, "https://", 8);
    host[8 + 253] = '\0';
    ok(ngx_xyz_origin_of(host, strlen(host), buf, sizeof(buf)) == 8 + 253,
       "origin_of: a 253-byte host fits NGX_XYZ_ORIGIN_MAX");
    host[8 + 253] = 'a';
    host[8 + 254] = '\0';
    ok(ngx_xyz_origin_of(host, strlen(host), buf, sizeof(buf)) == -1,
       "origin_of: a 254-byte host is refused");
    ok(ngx_xyz_origin_of(NULL, 0, buf, sizeof(buf)) == -1,
       "origin_of: NULL");
}


static void
test_allowed(void)
{
    ok(allowed_by("https://signup.example.com", NULL, 0) == 1,
       "Origin ours: allowed");
    ok(allowed_by("https://SIGNUP.example.com:443", NULL, 0) == 1,
       "Origin ours, other spelling: allowed");
    ok(allowed_by("http://localhost:8080", NULL, 0) == 1,
       "second allowed origin: allowed");
    ok(allowed_by("https://evil.example", NULL, 1) == 0,
       "Origin foreign: refused, even with allow_absent");
    ok(allowed_by("http://signup.example.com", NULL, 0) == 0,
       "Origin ours over http: refused (scheme differs)");
    ok(allowed_by("https://signup.example.com:8443", NULL, 0) == 0,
       "Origin ours on another port: refused");
    ok(allowed_by("https://signup.example.com.evil.example", NULL, 0) == 0,
       "Origin with ours as a prefix: refused");
    ok(allowed_by("https://example.com", NULL, 0) == 0,
       "Origin of the parent domain: refused");
    ok(allowed_by("null", "https://signup.example.com/", 1) == 0,
       "Origin null: refused, Referer not consulted");
    ok(allowed_by("https://evil.example", "https://signup.example.com/", 0)
       == 0, "Origin foreign, Referer ours: refused");
    ok(allowed_by("https://signup.example.com/path", NULL, 0) == 0,
       "Origin with a path: refused");
    ok(allowed_by("https://signup.example.com@evil.example", NULL, 0) == 0,
       "Origin with user information: refused");

    ok(allowed_by(NULL, "https://signup.example.com/register?x", 0) == 1,
       "no Origin, Referer ours: allowed");
    ok(allowed_by("", "https://signup.example.com/", 0) == 1,
       "empty Origin counts as absent");
    ok(allowed_by(NULL, "https://evil.example/signup.example.com", 0) == 0,
       "no Origin, Referer foreign: refused");
    ok(allowed_by(NULL, "https://signup.example.com@evil.example/", 1) == 0,
       "no Origin, Referer with user information: refused");
    ok(allowed_by(NULL, "not a url", 1) == 0,
       "no Origin, Referer not a URL: refused");

    ok(allowed_by(NULL, NULL, 0) == 0, "neither header: refused by default");
    ok(allowed_by(NULL, NULL, 1) == 1,
       "neither header, allow_absent: allowed");
    ok(allowed_by("", "", 1) == 1, "empty headers count as absent");

    {
        const char  *list[] = { NULL, "junk", "HTTPS://Signup.Example.Com/" };

        ok(ngx_xyz_origin_allowed("https://signup.example.com", 26, NULL, 0,
                                  list, 3, 0) == 1,
           "allowed entries are normalised; NULL and junk skipped");
        ok(ngx_xyz_origin_allowed("https://signup.example.com", 26, NULL, 0,
                                  list, 0, 1) == 0,
           "an empty allowed list refuses every origin");
    }
}


int
main(void)
{
    test_origin_of();
    test_allowed();

    return done_testing();
}
