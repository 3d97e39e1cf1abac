/*
 * Unit tests: email normalisation, UTF-8 checks and the registration body
 * parser (ngx_xyz_validate.c, ngx_xyz_register_input.c).
 */

#include <stdlib.h>

#include "tap.h"
#include "ngx_xyz_register_input.h"


static ngx_xyz_register_input_t  in;
static ngx_xyz_input_error_t     err;


static int
parse(const char *body)
{
    return ngx_xyz_register_input_parse(body, strlen(body), 12, 256, &in,
                                        &err);
}


static int
same_field(const char *got, const char *want)
{
    if (want == NULL || got == NULL) {
        return got == want;
    }

    return strcmp(got, want) == 0;
}


static void
test_email(void)
{
    char         out[NGX_XYZ_EMAIL_MAX + 1];
    const char  *start;
    size_t       len;
    char         longlocal[80];

    ok(ngx_xyz_email_normalize("  Ana.Perez+tag@Example.COM ", 28, out,
                               &start, &len) == 0, "address accepted");
    is_str(out, "ana.perez+tag@example.com", "lowercased and trimmed");
    ok(len == 25 && strncmp(start, "Ana.Perez+tag@Example.COM", len) == 0,
       "original kept trimmed");

#define BAD(s, name)                                                          \
    ok(ngx_xyz_email_normalize(s, strlen(s), out, &start, &len) == -1, name)

    BAD("", "empty refused");
    BAD("ana", "no @ refused");
    BAD("@example.com", "empty local part refused");
    BAD("ana@", "empty domain refused");
    BAD("ana@@example.com", "two @ refused");
    BAD("a@b@example.com", "two @ apart refused");
    BAD("ana@localhost", "domain without a dot refused");
    BAD("ana@example.c0m1", "numeric top-level label refused");
    BAD("ana@1.2.3.4", "IPv4 literal refused");
    BAD(".ana@example.com", "leading dot refused");
    BAD("ana.@example.com", "trailing dot refused");
    BAD("a..na@example.com", "double dot refused");
    BAD("ana@-example.com", "label starting with a hyphen refused");
    BAD("ana@example-.com", "label ending with a hyphen refused");
    BAD("ana@example..com", "empty label refused");
    BAD("ana@example.com.", "trailing dot in domain refused");
    BAD("an a@example.com", "space refused");
    BAD("ana@exa mple.com", "space in domain refused");
    BAD("ana\r\nBcc: x@example.com", "CR LF refused");
    BAD("\"ana\"@example.com", "quoted local part refused");
    BAD("añа@example.com", "non-ASCII refused");

    memset(longlocal, 'a', 65);
    strcpy(longlocal + 65, "@example.com");
    BAD(longlocal, "local part over 64 octets refused");

    longlocal[1] = '\0';
    ok(ngx_xyz_email_normalize("a@b.co", 6, out, &start, &len) == 0,
       "shortest sensible address accepted");
}


static void
test_utf8(void)
{
    ok(ngx_xyz_utf8_printable_length("abc", 3) == 3, "ASCII counted");
    ok(ngx_xyz_utf8_printable_length("ñandú", strlen("ñandú")) == 5,
       "two-byte sequences counted as one");
    ok(ngx_xyz_utf8_printable_length("日本語", strlen("日本語")) == 3,
       "three-byte sequences counted as one");
    ok(ngx_xyz_utf8_printable_length("\xf0\x9f\x94\x91", 4) == 1,
       "four-byte sequence counted as one");
    ok(ngx_xyz_utf8_printable_length("a\tb", 3) == -1, "tab refused");
    ok(ngx_xyz_utf8_printable_length("a\x7f", 2) == -1, "DEL refused");
    ok(ngx_xyz_utf8_printable_length("\xc2\x85", 2) == -1, "C1 NEL refused");
    ok(ngx_xyz_utf8_printable_length("\xc0\xaf", 2) == -1,
       "overlong form refused");
    ok(ngx_xyz_utf8_printable_length("\xed\xa0\x80", 3) == -1,
       "surrogate refused");
    ok(ngx_xyz_utf8_printable_length("\xe6\x97", 2) == -1,
       "truncated sequence refused");
    ok(ngx_xyz_utf8_printable_length("\xff", 1) == -1, "0xFF refused");

    /* names: noncharacters and bidirectional controls */
    ok(ngx_xyz_utf8_name_length("Zo\xc3\xab", 4) == 3, "name: accents fine");
    ok(ngx_xyz_utf8_name_length("\xd7\x90\xd7\x91", 4) == 2,
       "name: Hebrew fine");
    ok(ngx_xyz_utf8_name_length("\xf0\x9f\x98\x80", 4) == 1,
       "name: emoji fine");
    ok(ngx_xyz_utf8_name_length("\xef\xbf\xbd", 3) == 1,
       "name: U+FFFD fine");
    ok(ngx_xyz_utf8_name_length("a\xef\xbf\xbe", 4) == -1,
       "name: U+FFFE refused");
    ok(ngx_xyz_utf8_name_length("a\xef\xbf\xbf", 4) == -1,
       "name: U+FFFF refused");
    ok(ngx_xyz_utf8_name_length("\xef\xb7\x90", 3) == -1,
       "name: U+FDD0 refused");
    ok(ngx_xyz_utf8_name_length("\xef\xb7\xaf", 3) == -1,
       "name: U+FDEF refused");
    ok(ngx_xyz_utf8_name_length("\xef\xb7\xb0", 3) == 1,
       "name: U+FDF0 fine");
    ok(ngx_xyz_utf8_name_length("\xf0\x9f\xbf\xbf", 4) == -1,
       "name: U+1FFFF refused");
    ok(ngx_xyz_utf8_name_length("\xf4\x8f\xbf\xbe", 4) == -1,
       "name: U+10FFFE refused");
    ok(ngx_xyz_utf8_name_length("\xe2\x80\xae", 3) == -1,
       "name: U+202E refused");
    ok(ngx_xyz_utf8_name_length("\xe2\x80\xaa", 3) == -1,
       "name: U+202A refused");
    ok(ngx_xyz_utf8_name_length("\xe2\x80\xa9", 3) == 1,
       "name: U+2029 is not a bidi control here (a separator: allowed)");
    ok(ngx_xyz_utf8_name_length("\xe2\x81\xa6", 3) == -1,
       "name: U+2066 refused");
    ok(ngx_xyz_utf8_name_length("\xe2\x81\xa9", 3) == -1,
       "name: U+2069 refused");
    ok(ngx_xyz_utf8_name_length("a\tb", 3) == -1, "name: tab refused");
}


static void
test_parse(void)
{
    char    *big;
    size_t   n;

    ok(parse("{\"email\":\" Ana@Example.com \",\"password\":\"correct horse "
             "battery\",\"name\":\"  Ana Pérez \",\"locale\":\"en-GB\","
             "\"marketing_consent\":true}") == 0, "full body accepted");
    is_str(in.email, "Ana@Example.com", "email trimmed");
    is_str(in.email_normalized, "ana@example.com", "email normalised");
    is_str(in.name, "Ana Pérez", "name trimmed");
    is_str(in.locale, "en", "region locale reduced to its language");
    ok(in.marketing_consent == 1, "consent read");
    ok(in.password_len == 21 && strcmp(in.password,
                                       "correct horse battery") == 0,
       "password kept as typed");

    ok(parse("{\"email\":\"a@b.co\",\"password\":\"correct horse battery\","
             "\"name\":\"A\"}") == 0, "optional fields may be absent");
    is_str(in.locale, "es", "locale defaults to Spanish");
    ok(in.marketing_consent == 0, "consent defaults to false");

#define ERR(body, st, cd, fld, name)                                          \
    do {                                                                      \
        ok(parse(body) == -1 && err.status == st                              \
           && strcmp(err.code, cd) == 0                                       \
           && same_field(err.field, fld), name);                             \
    } while (0)

    ERR("", 400, "malformed_json", NULL, "empty body: 400");
    ERR("{", 400, "malformed_json", NULL, "truncated JSON: 400");
    ERR("[1,2]", 400, "malformed_json", NULL, "array body: 400");
    ERR("\"x\"", 400, "malformed_json", NULL, "string body: 400");
    ERR("{\"email\":\"a@b.co\",\"password\":\"correct horse battery\"}",
        422, "missing_field", "name", "missing name: 422 naming it");
    ERR("{\"name\":\"A\",\"password\":\"correct horse battery\"}",
        422, "missing_field", "email", "missing email: 422 naming it");
    ERR("{\"name\":\"A\",\"email\":\"a@b.co\"}",
        422, "missing_field", "password", "missing password: 422");
    ERR("{\"email\":\"a@b\",\"password\":\"correct horse battery\","
        "\"name\":\"A\"}", 422, "invalid_field", "email", "bad email");
    ERR("{\"email\":1,\"password\":\"correct horse battery\",\"name\":\"A\"}",
        422, "invalid_field", "email", "email of the wrong type");
    ERR("{\"email\":\"a@b.co\",\"password\":\"short\",\"name\":\"A\"}",
        422, "invalid_field", "password", "short password");
    ok(strstr(err.message, "12 to 256") != NULL,
       "password message states the bounds");
    ERR("{\"email\":\"a@b.co\",\"password\":\"correct horse battery\","
        "\"name\":\"\"}", 422, "invalid_field", "name", "empty name");
    ERR("{\"email\":\"a@b.co\",\"password\":\"correct horse battery\","
        "\"name\":\"A\\nB\"}", 422, "invalid_field", "name",
        "name with a newline");
    ERR("{\"email\":\"a@b.co\",\"password\":\"correct horse battery\","
        "\"name\":\"A\\uFFFF\"}", 422, "invalid_field", "name",
        "name with an escaped U+FFFF");
    ERR("{\"email\":\"a@b.co\",\"password\":\"correct horse battery\","
        "\"name\":\"\\u202eA\"}", 422, "invalid_field", "name",
        "name with an escaped U+202E");
    ERR("{\"email\":\"a@b.co\",\"password\":\"correct horse\\u0000battery\","
        "\"name\":\"A\"}", 422, "invalid_field", NULL, "escaped NUL refused");
    ERR("{\"email\":\"a@b.co\",\"password\":\"correct horse battery\","
        "\"name\":\"A\",\"locale\":\"fr\"}", 422, "invalid_field", "locale",
        "unknown locale");
    ERR("{\"email\":\"a@b.co\",\"password\":\"correct horse battery\","
        "\"name\":\"A\",\"marketing_consent\":\"yes\"}", 422,
        "invalid_field", "marketing_consent", "consent must be boolean");
    ERR("{\"email\":\"a@b.co\",\"password\":\"correct horse battery\","
        "\"name\":\"A\",\"role\":\"admin\"}", 422, "unknown_field", "role",
        "unknown field named");
    ERR("{\"email\":\"a@b.co\",\"email\":\"c@d.co\",\"password\":\"correct "
        "horse battery\",\"name\":\"A\"}", 422, "duplicate_field", NULL,
        "duplicate field refused");

    big = malloc(600);
    strcpy(big, "{\"email\":\"a@b.co\",\"name\":\"A\",\"password\":\"");
    n = strlen(big);
    memset(big + n, 'x', 257);
    strcpy(big + n + 257, "\"}");
    ERR(big, 422, "invalid_field", "password", "257 characters refused");
    strcpy(big + n + 256, "\"}");
    ok(parse(big) == 0, "256 characters accepted");
    free(big);

    ok(parse("{\"email\":\"a@b.co\",\"password\":\"contraseña ñandú\","
             "\"name\":\"A\"}") == 0, "password counted in characters");
}


int
main(void)
{
    test_email();
    test_utf8();
    test_parse();

    return done_testing();
}
