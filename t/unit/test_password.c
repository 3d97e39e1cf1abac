/*
 * Unit tests: the password blocklist (ngx_xyz_password.c), on small lists
 * and on the shipped conf/passwords/common.txt.
 */

#include <stdlib.h>

#include "tap.h"
#include "ngx_xyz_password.h"


static int
has(const ngx_xyz_blocklist_t *bl, const char *pw)
{
    return ngx_xyz_blocklist_contains(bl, pw, strlen(pw));
}


static int
sorted_unique(const ngx_xyz_blocklist_t *bl)
{
    size_t  i;

    for (i = 1; i < bl->n; i++) {
        if (strcmp(bl->words[i - 1], bl->words[i]) >= 0) {
            return 0;
        }
    }

    return 1;
}


static void
test_load(void)
{
    int                  n;
    ngx_xyz_blocklist_t  bl;

    static const char  text[] =
        "# a comment\r\n"
        "Password\r\n"
        "\r\n"
        "  qwerty \t\n"
        "\n"
        "dragon\n"
        "PASSWORD\n"
        "#password2\n"
        "zebra\n"
        "   \n"
        "bad\0line\n"
        "Contrase\xc3\xb1" "a\n"
        "abc#def\n"
        "last-without-newline";

    n = ngx_xyz_blocklist_load(text, sizeof(text) - 1, &bl);
    ok(n == 7 && bl.n == 7, "load: comments, blanks, NUL line and "
       "duplicates skipped");
    ok(sorted_unique(&bl), "load: sorted and unique");
    is_str(bl.words[0], "abc#def", "load: '#' inside a word is kept");
    is_str(bl.words[1], "contrase\xc3\xb1" "a",
           "load: ASCII lowercased, UTF-8 kept");
    is_str(bl.words[4], "password", "load: CRLF stripped");
    is_str(bl.words[5], "qwerty", "load: blanks around a word stripped");
    is_str(bl.words[3], "last-without-newline",
           "load: a last line without newline counts");

    ok(has(&bl, "password"), "contains: exact");
    ok(has(&bl, "PassWord"), "contains: ASCII case-insensitive");
    ok(has(&bl, "CONTRASE\xc3\xb1" "A"), "contains: UTF-8 word, ASCII "
       "letters in uppercase");
    ok(!has(&bl, "contrase\xc3\x91" "a"),
       "contains: non-ASCII letters compare as bytes");
    ok(!has(&bl, "passwor"), "contains: a prefix is not a match");
    ok(!has(&bl, "passwordx"), "contains: a longer word is not a match");
    ok(!has(&bl, "aaa"), "contains: before the first word");
    ok(!has(&bl, "zzzzzz"), "contains: after the last word");

    ngx_xyz_blocklist_free(&bl);
    ok(bl.words == NULL && bl.storage == NULL && bl.n == 0,
       "free: the list is empty again");
    ngx_xyz_blocklist_free(&bl);
    ok(1, "free: twice is harmless");

    n = ngx_xyz_blocklist_load("", 0, &bl);
    ok(n == 0 && bl.n == 0, "load: an empty file is an empty list");
    ok(!has(&bl, "password"), "contains: empty list contains nothing");
    ngx_xyz_blocklist_free(&bl);

    n = ngx_xyz_blocklist_load("# only\n\n#comments\n", 19, &bl);
    ok(n == 0, "load: comments only");
    ngx_xyz_blocklist_free(&bl);

    ok(ngx_xyz_blocklist_contains(NULL, "x", 1) == 0,
       "contains: NULL list");
}


static void
test_affixes(void)
{
    ngx_xyz_blocklist_t  bl;

    static const char  text[] =
        "password\nqwerty\ndragon\n1q2w3e4r\nzaq12wsx\np@ssw0rd\n";

    ngx_xyz_blocklist_load(text, sizeof(text) - 1, &bl);

    ok(has(&bl, "password123!"), "affix: trailing digits and punctuation");
    ok(has(&bl, "Password2024"), "affix: trailing year, capitalised");
    ok(has(&bl, "2024qwerty"), "affix: leading digits");
    ok(has(&bl, "!!dragon!!"), "affix: both sides");
    ok(has(&bl, "  dragon  "), "affix: spaces around");
    ok(has(&bl, "{[dragon]}"), "affix: brackets and braces around");
    ok(has(&bl, "1q2w3e4r!!"), "affix: a listed word ending in a digit, "
       "trailing punctuation off");
    ok(has(&bl, "2024zaq12wsx"), "affix: a listed word with digits inside, "
       "leading digits off");
    ok(has(&bl, "P@ssw0rd2024"), "affix: '@' inside a listed word kept");

    ok(!has(&bl, "password-manager"), "affix: letters after the "
       "punctuation: not a match");
    ok(!has(&bl, "mypassword"), "affix: letters before: not a match");
    ok(!has(&bl, "pass word"), "affix: decoration inside: not a match");
    ok(!has(&bl, "dragon fly 2024"), "affix: a passphrase starting with a "
       "listed word passes");
    ok(!has(&bl, "1234567890!"), "affix: decoration only is not looked up "
       "as empty");
    ok(!has(&bl, ""), "affix: empty password");
    ok(ngx_xyz_blocklist_contains(&bl, "password\0xyz", 12) == 0,
       "affix: a NUL inside makes another password");
    ok(ngx_xyz_blocklist_contains(&bl, "password123", 8) == 1,
       "len is honoured");

    ngx_xyz_blocklist_free(&bl);
}


static char *
read_file(const char *path, size_t *len)
{
    long   n;
    char  *buf;
    FILE  *f;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    buf = malloc(n + 1);
    if (buf == NULL || fread(buf, 1, n, f) != (size_t) n) {
        free(buf);
        fclose(f);
        return NULL;
    }

    fclose(f);
    *len = n;

    return buf;
}


static void
test_shipped(void)
{
    int                  n;
    char                 path[4096], *buf, *tail;
    size_t               len, i, miss;
    const char          *root;
    ngx_xyz_blocklist_t  bl;

    static const char  *refused[] = {
        "password", "Password1", "PASSWORD123!", "123456789", "1234567890",
        "qwertyuiop", "Qwerty2024!", "2024qwerty", "iloveyou",
        "ILoveYou!!2024", "1q2w3e4r5t", "letmein!!!", "trustno1",
        "passw0rd", "P@ssw0rd2024", "sunshine", "football", "baseball",
        "superman", "starwars", "welcome123", "monkey12345", "dragon!!!!!!",
        "contrase\xc3\xb1" "a", "Contrasena2024", "teamo123456", "barcelona",
        "administrator", "abcdefghij", "zaq12wsx", "changeme!",
        "chocolate2024", "butterfly", "elephants", "dictionary",
    };

    static const char  *accepted[] = {
        "correct horse battery staple", "violet-tractor-meadow-42",
        "Tr0ub4dor&3 but longer", "my cat eats 3 pears daily",
        "xk3!vLq9#mZ2wP", "zanahoria-velocidad-nube",
    };

    root = getenv("XYZ_ROOT");

    if (root != NULL) {
        snprintf(path, sizeof(path), "%s/conf/passwords/common.txt", root);

    } else {

        /* the repository root, from where this file was compiled */

        snprintf(path, sizeof(path), "%s", __FILE__);
        tail = strstr(path, "t/unit/test_password.c");

        if (tail == NULL) {
            tail = path;
        }

        snprintf(tail, sizeof(path) - (tail - path),
                 "conf/passwords/common.txt");
    }

    buf = read_file(path, &len);
    ok(buf != NULL, "shipped: conf/passwords/common.txt is readable");

    if (buf == NULL) {
        printf("#   %s\n", path);
        return;
    }

    ok(len < 1024 * 1024, "shipped: under 1 MB");

    n = ngx_xyz_blocklist_load(buf, len, &bl);
    ok(n >= 5000, "shipped: several thousand entries");
    ok(sorted_unique(&bl), "shipped: sorted and unique once loaded");

    miss = 0;

    for (i = 0; i < bl.n; i++) {
        if (!has(&bl, bl.words[i])) {
            miss++;
        }
    }

    ok(miss == 0, "shipped: every entry is found");

    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        snprintf(path, sizeof(path), "shipped: refuses '%s'", refused[i]);
        ok(has(&bl, refused[i]), path);
    }

    for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        snprintf(path, sizeof(path), "shipped: accepts '%s'", accepted[i]);
        ok(!has(&bl, accepted[i]), path);
    }

    ngx_xyz_blocklist_free(&bl);
    free(buf);
}


int
main(void)
{
    test_load();
    test_affixes();
    test_shipped();

    return done_testing();
}
