/*
 * Unit tests: percent-encoding of form values (ngx_xyz_uri.c).
 */

#include "tap.h"
#include "ngx_xyz_uri.h"


#define UNRESERVED                                                            \
    "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


int
main(void)
{
    char  buf[128];

    ok(ngx_xyz_uri_encode("a b/c~\xc3\xb1", 8, buf, sizeof(buf)) == 16,
       "uri encode length");
    is_str(buf, "a%20b%2Fc~%C3%B1", "uri encode");
    ok(ngx_xyz_uri_encode(UNRESERVED, sizeof(UNRESERVED) - 1, buf,
                          sizeof(buf))
       == (int) sizeof(UNRESERVED) - 1, "unreserved length");
    is_str(buf, UNRESERVED, "unreserved kept");
    ok(ngx_xyz_uri_encode("a+b=c&d:%", 9, buf, sizeof(buf)) == 19,
       "reserved length");
    is_str(buf, "a%2Bb%3Dc%26d%3A%25", "reserved encoded, + literal");
    ok(ngx_xyz_uri_encode("\x00\x7f\xff", 3, buf, sizeof(buf)) == 9,
       "control and high bytes length");
    is_str(buf, "%00%7F%FF", "control and high bytes, uppercase hex");
    ok(ngx_xyz_uri_encode("", 0, buf, 1) == 0 && buf[0] == '\0',
       "empty input");
    ok(ngx_xyz_uri_encode("a", 1, buf, 1) == -1,
       "no room for the terminator refused");
    ok(ngx_xyz_uri_encode("a b", 3, buf, 5) == -1,
       "uri encode refuses a short buffer");
    ok(ngx_xyz_uri_encode("a b", 3, buf, 6) == 5,
       "uri encode fills a buffer exactly");

    return done_testing();
}
