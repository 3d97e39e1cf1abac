/*
 * Unit tests: base64url without padding (ngx_xyz_base64url.c); the vectors
 * are those of RFC 4648, 10, in the URL alphabet.
 */

#include "tap.h"
#include "ngx_xyz_base64url.h"


static void
test_base64url(void)
{
    int            n;
    char           enc[64];
    unsigned char  dec[64];
    size_t         i;

    static const char  *rfc[][2] = {
        { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" },
        { "foobar", "Zm9vYmFy" },
    };

    static const unsigned char  url_bytes[] = { 0xfb, 0xff, 0xbf };

    for (i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
        n = ngx_xyz_base64url_encode((const unsigned char *) rfc[i][0],
                                     strlen(rfc[i][0]), enc, sizeof(enc));
        ok(n == (int) strlen(rfc[i][1]), "base64url: encoded length");
        is_str(enc, rfc[i][1], "base64url: RFC 4648 vector encodes");

        n = ngx_xyz_base64url_decode(rfc[i][1], strlen(rfc[i][1]), dec,
                                     sizeof(dec));
        ok(n == (int) strlen(rfc[i][0])
           && memcmp(dec, rfc[i][0], n) == 0 && dec[n] == '\0',
           "base64url: RFC 4648 vector decodes, NUL-terminated");
    }

    n = ngx_xyz_base64url_encode(url_bytes, 3, enc, sizeof(enc));
    is_str(enc, "-_-_", "base64url: the URL alphabet, '-' and '_'");

    n = ngx_xyz_base64url_encode(url_bytes, 2, enc, sizeof(enc));
    is_str(enc, "-_8", "base64url: no padding");

    n = ngx_xyz_base64url_decode("-_-_", 4, dec, sizeof(dec));
    ok(n == 3 && memcmp(dec, url_bytes, 3) == 0,
       "base64url: '-' and '_' decode");

    ok(ngx_xyz_base64url_decode("Zg==", 4, dec, sizeof(dec)) == -1,
       "base64url: padding is refused");
    ok(ngx_xyz_base64url_decode("+/8", 3, dec, sizeof(dec)) == -1,
       "base64url: the standard alphabet's '+' and '/' are refused");
    ok(ngx_xyz_base64url_decode("Zm9vY", 5, dec, sizeof(dec)) == -1,
       "base64url: a length of 4n+1 is refused");
    ok(ngx_xyz_base64url_decode("Zh", 2, dec, sizeof(dec)) == -1,
       "base64url: non-zero leftover bits are refused (not canonical)");
    ok(ngx_xyz_base64url_decode("Zm9 v", 5, dec, sizeof(dec)) == -1,
       "base64url: white space is refused");
    ok(ngx_xyz_base64url_decode("Zm9v\0", 5, dec, sizeof(dec)) == -1,
       "base64url: a NUL is refused");

    ok(ngx_xyz_base64url_encode((const unsigned char *) "foo", 3, enc, 4)
       == -1, "base64url: encode refuses a buffer without room for NUL");
    ok(ngx_xyz_base64url_encode((const unsigned char *) "foo", 3, enc, 5)
       == 4, "base64url: encode fits exactly");
    ok(ngx_xyz_base64url_decode("Zm9v", 4, dec, 3) == -1,
       "base64url: decode refuses a buffer without room for NUL");
    ok(ngx_xyz_base64url_decode("Zm9v", 4, dec, 4) == 3,
       "base64url: decode fits exactly");

    /* every length, every byte value */

    for (i = 0; i < 40; i++) {
        dec[i] = (unsigned char) (i * 37 + 11);
    }

    for (i = 0; i <= 40; i++) {
        unsigned char  back[64];

        n = ngx_xyz_base64url_encode(dec, i, enc, sizeof(enc));
        if (n != (int) NGX_XYZ_BASE64URL_ENCODED_LEN(i)
            || ngx_xyz_base64url_decode(enc, n, back, sizeof(back))
               != (int) i
            || memcmp(back, dec, i) != 0)
        {
            break;
        }
    }

    ok(i == 41, "base64url: round trip of 0 to 40 bytes");
}


int
main(void)
{
    test_base64url();

    return done_testing();
}
