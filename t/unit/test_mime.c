/*
 * Unit tests: email messages (ngx_xyz_mime.c): headers safe from
 * injection, encoded words that decode back, quoted-printable bodies.
 */

#include <stdlib.h>
#include <locale.h>
#include <signal.h>
#include <unistd.h>

#include "tap.h"
#include "ngx_xyz_mime.h"


static char  msg[65536];


static int
b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    return c == '+' ? 62 : (c == '/' ? 63 : -1);
}


/* decodes n base64 characters to out; returns the length or -1 */
static int
b64_decode(const char *s, size_t n, char *out)
{
    int       v, bits, len;
    size_t    i;
    unsigned  acc;

    acc = 0;
    bits = 0;
    len = 0;

    for (i = 0; i < n && s[i] != '='; i++) {
        v = b64_value(s[i]);
        if (v < 0) {
            return -1;
        }

        acc = (acc << 6) | (unsigned) v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            out[len++] = (char) ((acc >> bits) & 0xff);
        }
    }

    return len;
}


/*
 * The value of a header, unfolded, with its encoded words decoded (the
 * blanks between two adjacent words dropped, as RFC 2047 says).  Also
 * checks each encoded word's length.
 */
static int
header(const char *m, const char *name, char *out, size_t size,
    int *long_word)
{
    char        *o;
    size_t       n;
    const char  *p, *end, *q, *e;
    int          after_word;

    n = strlen(name);
    p = m;
    *long_word = 0;

    for ( ;; ) {
        if (strncmp(p, name, n) == 0 && p[n] == ':') {
            break;
        }

        p = strstr(p, "\r\n");
        if (p == NULL || p[2] == '\r') {
            return -1;
        }

        p += 2;
    }

    p += n + 1;
    while (*p == ' ') {
        p++;
    }

    /* the value runs to a CRLF not followed by a blank */

    end = p;
    while ((end = strstr(end, "\r\n")) != NULL
           && (end[2] == ' ' || end[2] == '\t'))
    {
        end += 2;
    }

    o = out;
    after_word = 0;

    while (p < end && (size_t) (o - out) < size - 64) {
        if (strncmp(p, "=?UTF-8?B?", 10) == 0) {
            q = p + 10;
            e = strstr(q, "?=");

            if (e == NULL || e > end) {
                return -1;
            }

            if (e + 2 - p > 75) {
                *long_word = 1;
            }

            o += b64_decode(q, e - q, o);
            p = e + 2;
            after_word = 1;
            continue;
        }

        if (after_word && (*p == ' ' || *p == '\r' || *p == '\n')) {
            q = p;
            while (q < end && (*q == ' ' || *q == '\r' || *q == '\n')) {
                q++;
            }

            if (strncmp(q, "=?UTF-8?B?", 10) == 0) {
                p = q;
                continue;
            }
        }

        after_word = 0;

        if (*p == '\r' && p[1] == '\n') {
            p += 2;         /* unfolding removes the CRLF only */
            continue;
        }

        *o++ = *p++;
    }

    *o = '\0';

    return (int) (o - out);
}


static int
qp_decode(const char *s, size_t n, char *out)
{
    int         len;
    size_t      i;
    unsigned    v;

    len = 0;

    for (i = 0; i < n; i++) {
        if (s[i] != '=') {
            out[len++] = s[i];
            continue;
        }

        if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
            i += 2;
            continue;
        }

        if (i + 2 >= n || sscanf(s + i + 1, "%2X", &v) != 1) {
            return -1;
        }

        out[len++] = (char) v;
        i += 2;
    }

    out[len] = '\0';

    return len;
}


/* every line ends in CRLF, no line is longer than max */
static int
lines_ok(const char *s, size_t max, size_t *longest)
{
    size_t       col;
    const char  *p;

    col = 0;
    *longest = 0;

    for (p = s; *p; p++) {
        if (*p == '\n') {
            return 0;
        }

        if (*p == '\r') {
            if (p[1] != '\n') {
                return 0;
            }

            p++;
            col = 0;
            continue;
        }

        col++;

        if (col > *longest) {
            *longest = col;
        }
    }

    return *longest <= max && (p == s || p[-1] == '\n');
}


/* the decoded body of the part of the given type */
static int
part(const char *m, const char *type, char *out)
{
    char         want[128];
    const char  *p, *body, *end;

    snprintf(want, sizeof(want), "Content-Type: %s; charset=utf-8\r\n"
             "Content-Transfer-Encoding: quoted-printable\r\n\r\n", type);

    p = strstr(m, want);
    if (p == NULL) {
        return -1;
    }

    body = p + strlen(want);

    /* up to the CRLF that starts the next delimiter, or the end */

    end = strstr(body, "\r\n--=_");
    if (end == NULL) {
        end = body + strlen(body) - 2;
    }

    return qp_decode(body, end - body, out);
}


static void
base_message(ngx_xyz_mime_t *m)
{
    memset(m, 0, sizeof(*m));

    m->from = "XYZ <no-reply@xyz.example>";
    m->to_addr = "ana@example.com";
    m->to_name = "Ana P\xc3\xa9rez";
    m->subject = "Confirma tu cuenta en XYZ \xe2\x9c\x94";
    m->message_id = "outbox-123@xyz.example";
    m->date = "Fri, 27 Nov 2026 18:00:00 +0000";
    m->boundary = "=_xyz_outbox_123";
    m->text = "Hola, Ana:\n";
    m->text_len = strlen(m->text);
    m->html = "<p>Hola</p>";
    m->html_len = strlen(m->html);
    m->language = "es";
}


static void
test_message(void)
{
    int              n, long_word;
    char             buf[4096], text[4096], want[4096];
    size_t           longest, i, k;
    ngx_xyz_mime_t   m;

    base_message(&m);

    /* a long line, "=" signs, trailing blanks, a line that looks like a
     * delimiter, a dot line, LF and CRLF mixed, UTF-8 */

    k = 0;
    for (i = 0; i < 200; i++) {
        want[k++] = "0123456789 =\xc3\xa9-"[i % 15];
    }
    want[k] = '\0';

    strcat(want, "\nsum: 1+1=2 \t\n--=_xyz_outbox_123\n.\n"
                 "-- \r\nfirma\r\nend with no newline   ");

    m.text = want;
    m.text_len = strlen(want);

    n = ngx_xyz_mime_build(&m, msg, sizeof(msg));
    ok(n > 0 && (size_t) n == strlen(msg), "message built");
    ok((size_t) n < ngx_xyz_mime_len(&m), "the length bound holds");

    ok(lines_ok(msg, 76, &longest), "CRLF everywhere, no line over 76");
    if (longest > 76) {
        printf("#   longest line: %lu\n", (unsigned long) longest);
    }

    ok(strncmp(msg, "From: XYZ <no-reply@xyz.example>\r\n", 34) == 0,
       "From with an ASCII display name");
    ok(strstr(msg, "\r\nMessage-ID: <outbox-123@xyz.example>\r\n") != NULL,
       "Message-ID in angle brackets");
    ok(strstr(msg, "\r\nDate: Fri, 27 Nov 2026 18:00:00 +0000\r\n") != NULL,
       "Date");
    ok(strstr(msg, "\r\nMIME-Version: 1.0\r\n") != NULL, "MIME-Version");
    ok(strstr(msg, "\r\nContent-Language: es\r\n") != NULL,
       "Content-Language");
    ok(strstr(msg, "\r\nContent-Type: multipart/alternative;\r\n"
                   " boundary=\"=_xyz_outbox_123\"\r\n\r\n"
                   "--=_xyz_outbox_123\r\n") != NULL,
       "multipart/alternative with the boundary");
    ok(strstr(msg, "\r\n--=_xyz_outbox_123--\r\n") != NULL,
       "the closing delimiter");

    ok(header(msg, "Subject", buf, sizeof(buf), &long_word) > 0, "Subject");
    is_str(buf, m.subject, "the subject's encoded words decode back");
    ok(strstr(msg, "Subject: =?UTF-8?B?") != NULL,
       "a non-ASCII subject is encoded");

    ok(header(msg, "To", buf, sizeof(buf), &long_word) > 0, "To");
    is_str(buf, "Ana P\xc3\xa9rez <ana@example.com>",
           "the name's encoded words decode back");

    /* the text part decodes to the input with CRLF line ends */

    k = 0;
    for (i = 0; want[i]; i++) {
        if (want[i] == '\n' && (i == 0 || want[i - 1] != '\r')) {
            buf[k++] = '\r';
        }
        buf[k++] = want[i];
    }
    buf[k] = '\0';

    ok(part(msg, "text/plain", text) >= 0, "text part found");
    is_str(text, buf, "quoted-printable decodes back, LF made CRLF");
    ok(strstr(msg, "=3D") != NULL && strstr(msg, "1+1=3D2") != NULL,
       "\"=\" is escaped as =3D");
    ok(strstr(msg, "2 =09\r\n") != NULL,
       "white space before a line break is escaped");
    ok(strstr(msg, "no newline  =20\r\n") != NULL,
       "white space at the end of the body is escaped");
    ok(strstr(msg, "=C3=A9") != NULL, "UTF-8 bytes are escaped");
    ok(strstr(msg, "\r\n=2D-=3D_xyz_outbox_123\r\n") != NULL
       && strstr(msg, "\r\n=2D-=20\r\n") != NULL
       && strstr(msg, "\r\n--=_xyz_outbox_123\r\nContent-Type: text/html")
          != NULL,
       "a body line cannot form a delimiter");
    ok(strstr(msg, "\r\n.\r\n") != NULL,
       "a dot line is left for the SMTP client to escape");

    ok(part(msg, "text/html", text) >= 0, "HTML part found");
    is_str(text, "<p>Hola</p>", "HTML part decodes back");

    n = ngx_xyz_mime_build(&m, msg, (size_t) n);
    ok(n == -1, "a buffer one byte short is refused");
}


static void
test_names(void)
{
    int              n, long_word;
    char             buf[4096], name[512];
    size_t           i, longest;
    ngx_xyz_mime_t   m;

    base_message(&m);

    m.to_name = "Ana Perez";
    n = ngx_xyz_mime_build(&m, msg, sizeof(msg));
    ok(n > 0 && strstr(msg, "\r\nTo: Ana Perez <ana@example.com>\r\n"),
       "a plain ASCII name goes as it is");

    m.to_name = "Ana, the \"Boss\" \\ P.";
    n = ngx_xyz_mime_build(&m, msg, sizeof(msg));
    ok(n > 0 && strstr(msg, "\r\nTo: \"Ana, the \\\"Boss\\\" \\\\ P.\" "
                            "<ana@example.com>\r\n"),
       "an ASCII name with specials is a quoted string");

    m.to_name = "=?UTF-8?B?QQ==?=";
    n = ngx_xyz_mime_build(&m, msg, sizeof(msg));
    ok(n > 0 && strstr(msg, "\r\nTo: \"=?UTF-8?B?QQ==?=\" <ana@"),
       "a name that looks like an encoded word is quoted");

    m.to_name = NULL;
    n = ngx_xyz_mime_build(&m, msg, sizeof(msg));
    ok(n > 0 && strstr(msg, "\r\nTo: ana@example.com\r\n"),
       "no name: the bare address");

    m.to_name = "";
    n = ngx_xyz_mime_build(&m, msg, sizeof(msg));
    ok(n > 0 && strstr(msg, "\r\nTo: ana@example.com\r\n"),
       "an empty name: the bare address");

    /* a hundred two-byte characters: several words, none over 75, none
     * splitting a character */

    for (i = 0; i < 100; i++) {
        name[2 * i] = (char) 0xc3;
        name[2 * i + 1] = (char) 0xb1;
    }
    name[200] = '\0';

    m.to_name = name;
    m.subject = "\xe2\x82\xac \xe2\x82\xac \xe2\x82\xac \xe2\x82\xac "
                "\xe2\x82\xac \xe2\x82\xac \xe2\x82\xac \xe2\x82\xac "
                "\xe2\x82\xac \xe2\x82\xac \xe2\x82\xac \xe2\x82\xac "
                "\xe2\x82\xac \xe2\x82\xac \xe2\x82\xac \xe2\x82\xac "
                "\xe2\x82\xac \xe2\x82\xac \xe2\x82\xac \xe2\x82\xac";
    n = ngx_xyz_mime_build(&m, msg, sizeof(msg));
    ok(n > 0 && lines_ok(msg, 76, &longest), "long names fold within 76");

    ok(header(msg, "To", buf, sizeof(buf), &long_word) > 0 && !long_word,
       "no encoded word is over 75 characters");
    ok(strncmp(buf, name, 200) == 0
       && strcmp(buf + 200, " <ana@example.com>") == 0,
       "the long name decodes back whole");

    ok(header(msg, "Subject", buf, sizeof(buf), &long_word) > 0
       && !long_word && strcmp(buf, m.subject) == 0,
       "a long subject decodes back whole");

    m.to_name = "Ana";
    m.subject = "A plain subject";
    m.from = "Equipo XYZ Per\xc3\xba <no-reply@xyz.example>";
    n = ngx_xyz_mime_build(&m, msg, sizeof(msg));
    ok(n > 0 && header(msg, "From", buf, sizeof(buf), &long_word) > 0,
       "UTF-8 display name in From");
    is_str(buf, "Equipo XYZ Per\xc3\xba <no-reply@xyz.example>",
           "From decodes back");
    ok(strstr(msg, "\r\nSubject: A plain subject\r\n") != NULL,
       "a plain ASCII subject goes as it is");

    m.from = "\"XYZ, Inc.\" <no-reply@xyz.example>";
    n = ngx_xyz_mime_build(&m, msg, sizeof(msg));
    ok(n > 0 && strncmp(msg, "From: \"XYZ, Inc.\" <no-reply@xyz.example>\r\n",
                        42) == 0, "a quoted display name stays quoted");

    m.from = "no-reply@xyz.example";
    n = ngx_xyz_mime_build(&m, msg, sizeof(msg));
    ok(n > 0 && strncmp(msg, "From: no-reply@xyz.example\r\n", 28) == 0,
       "a bare From address");

    ok(ngx_xyz_mime_address("XYZ <no-reply@xyz.example>", buf, sizeof(buf))
       == 20 && strcmp(buf, "no-reply@xyz.example") == 0,
       "the envelope address of a mailbox");
    ok(ngx_xyz_mime_address("no-reply@xyz.example", buf, sizeof(buf)) == 20,
       "the envelope address of a bare address");
    ok(ngx_xyz_mime_address("XYZ <no reply@xyz.example>", buf, sizeof(buf))
       == -1, "a bad envelope address is refused");
}


static void
test_injection(void)
{
    ngx_xyz_mime_t  m;

#define refused(field, value, name)                                           \
    do {                                                                      \
        base_message(&m);                                                     \
        m.field = value;                                                      \
        ok(ngx_xyz_mime_build(&m, msg, sizeof(msg)) == -1, name);             \
    } while (0)

    refused(subject, "Hi\r\nBcc: victim@example.com", "CRLF in the subject");
    refused(subject, "Hi\nBcc: victim@example.com", "LF in the subject");
    refused(subject, "Hi\rBcc: victim@example.com", "CR in the subject");
    refused(to_name, "Ana\r\nBcc: victim@example.com", "CRLF in the name");
    refused(to_name, "Ana\n", "LF in the name");
    refused(to_name, "Ana \xc3", "invalid UTF-8 in the name");
    refused(subject, "\xff\xfe", "invalid UTF-8 in the subject");
    refused(from, "XYZ <a@b.example>\r\nBcc: v@example.com", "CRLF in From");
    refused(from, "XYZ <not an address>", "a From that is no address");
    refused(from, "XYZ <a@b.example", "an unclosed angle bracket");
    refused(to_addr, "ana@example.com\r\nBcc: v@example.com",
            "CRLF in the address");
    refused(to_addr, "ana@example.com>, <v@example.com",
            "angle brackets and commas in the address");
    refused(to_addr, "ana @example.com", "a space in the address");
    refused(to_addr, "ana@ex@ample.com", "two @ in the address");
    refused(to_addr, "ana.example.com", "no @ in the address");
    refused(to_addr, "ana@", "nothing after @");
    refused(to_addr, "\"ana\"@example.com", "quotes in the address");
    refused(to_addr, "ana(x)@example.com", "a comment in the address");
    refused(to_addr, "ana;@example.com", "a semicolon in the address");
    refused(to_addr, "ana\\@example.com", "a backslash in the address");
    refused(message_id, "outbox-1@xyz>\r\nBcc: v@example.com",
            "CRLF in the message id");
    refused(message_id, "outbox-1>@xyz", "> in the message id");
    refused(message_id, "outbox-1", "a message id without @");
    refused(date, "Fri\r\nBcc: v@example.com", "CRLF in the date");
    refused(date, "", "an empty date");
    refused(boundary, "b\r\nBcc: v@example.com", "CRLF in the boundary");
    refused(boundary, "outbox-1@xyz.example", "@ in the boundary");
    refused(boundary, NULL, "no boundary with an HTML part");
    refused(boundary,
            "0123456789012345678901234567890123456789012345678901234567890"
            "1234567890", "a boundary over 70 characters");
    refused(language, "es\r\nBcc: v@example.com", "CRLF in the language");
    refused(language, "es;x", "a bad language tag");
    refused(subject, NULL, "no subject");

#undef refused
}


static void
test_single_part(void)
{
    int             n;
    char            text[256];
    ngx_xyz_mime_t  m;

    base_message(&m);
    m.html = NULL;
    m.boundary = NULL;
    m.language = NULL;

    n = ngx_xyz_mime_build(&m, msg, sizeof(msg));
    ok(n > 0 && strstr(msg, "multipart") == NULL
       && strstr(msg, "Content-Language") == NULL,
       "no HTML: a single text/plain part, no language header");
    ok(part(msg, "text/plain", text) >= 0
       && strcmp(text, "Hola, Ana:\r\n") == 0, "the text part decodes back");
}


/* a test program that hangs says so, with what it printed before */

static void
hung(int signo)
{
    (void) signo;

    printf("not ok %d - ngx_xyz_mime_build did not return in 10 s\n",
           tap_n + 1);
    fflush(stdout);
    _exit(1);
}


static void
test_short_buffer(void)
{
    int             n;
    char            name[128];
    size_t          size;
    ngx_xyz_mime_t  m;

    /* a display name that needs encoded words over more than one line:
     * every buffer shorter than the message must be refused, and soon
     * (an encoded word that could not be written once kept the line
     * full, and the folding loop went on for ever) */

    base_message(&m);
    memset(name, 'a', 90);
    strcpy(name + 90, "\"");
    m.to_name = name;

    n = ngx_xyz_mime_build(&m, msg, sizeof(msg));
    ok(n > 0, "a long display name is written");

    signal(SIGALRM, hung);
    alarm(10);

    for (size = 1; size <= (size_t) n; size++) {
        if (ngx_xyz_mime_build(&m, msg, size) != -1) {
            break;
        }
    }

    alarm(0);

    ok(n > 0 && size == (size_t) n + 1,
       "every shorter buffer is refused, none hangs");
}


static void
test_date(void)
{
    char  buf[64];

    /* the date must not follow the locale */

    setlocale(LC_ALL, "");

    ok(ngx_xyz_mime_date(0, buf, sizeof(buf)) == NGX_XYZ_MIME_DATE_LEN,
       "date length");
    is_str(buf, "Thu, 01 Jan 1970 00:00:00 +0000", "the epoch");

    ngx_xyz_mime_date(1795802400, buf, sizeof(buf));
    is_str(buf, "Fri, 27 Nov 2026 18:00:00 +0000", "a date in 2026");

    ngx_xyz_mime_date(951782400 + 86399, buf, sizeof(buf));
    is_str(buf, "Tue, 29 Feb 2000 23:59:59 +0000", "a leap day");

    ok(ngx_xyz_mime_date(0, buf, NGX_XYZ_MIME_DATE_LEN) == -1,
       "a short buffer is refused");
}


int
main(void)
{
    test_message();
    test_names();
    test_injection();
    test_single_part();
    test_short_buffer();
    test_date();

    return done_testing();
}
