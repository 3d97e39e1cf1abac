/*
 * The module's MIME builder (ngx_xyz_mime.c) next to GMime 3 building the
 * same confirmation message: what each emits, what each does with a header
 * field that carries CR LF, and what each costs per message.  Evidence for
 * the README's "Hand-written code and the libraries we did not use"; run by
 * t/004-library-choices.t when Debian's libgmime-3.0-dev is installed.
 *
 * Usage: check_gmime TEXT HTML [OUT_DIR]; with OUT_DIR, both messages are
 * written there (module.eml, gmime.eml) for a reader to compare.
 */

#include <stdlib.h>
#include <time.h>
#include <gmime/gmime.h>

#include "tap.h"
#include "ngx_xyz_mime.h"


#define ROUNDS  20000


static char  *text, *html;
static char   out[65536];


static char *
slurp(const char *path)
{
    long   n;
    char  *p;
    FILE  *f;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);

    p = malloc(n + 1);
    if (p && fread(p, 1, n, f) != (size_t) n) {
        free(p);
        p = NULL;
    }

    if (p) {
        p[n] = '\0';
    }

    fclose(f);

    return p;
}


static void
module_fields(ngx_xyz_mime_t *m, const char *subject)
{
    memset(m, 0, sizeof(ngx_xyz_mime_t));

    m->from = "XYZ <no-reply@xyz.example>";
    m->to_addr = "ana@example.com";
    m->to_name = "Ana P\xc3\xa9rez Garc\xc3\xad" "a";
    m->subject = subject;
    m->message_id = "xyz-123@xyz.example";
    m->date = "Fri, 27 Nov 2026 18:00:00 +0000";
    m->boundary = "=_xyz_123";
    m->text = text;
    m->text_len = strlen(text);
    m->html = html;
    m->html_len = strlen(html);
    m->language = "es";
}


static int
module_build(const char *subject)
{
    ngx_xyz_mime_t  m;

    module_fields(&m, subject);

    return ngx_xyz_mime_build(&m, out, sizeof(out));
}


static GMimeObject *
gmime_part(const char *subtype, const char *body)
{
    GMimeTextPart  *t;

    t = g_mime_text_part_new_with_subtype(subtype);
    g_mime_text_part_set_text(t, body);
    g_mime_part_set_content_encoding(GMIME_PART(t),
                                     GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);

    return GMIME_OBJECT(t);
}


/* the same fields through GMime; the caller frees the string */

static char *
gmime_build(const char *subject, GMimeFormatOptions *fo)
{
    char            *s;
    GDateTime       *dt;
    GMimeMessage    *msg;
    GMimeMultipart  *alt;
    GMimeObject     *part;

    msg = g_mime_message_new(TRUE);

    g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, "XYZ",
                               "no-reply@xyz.example");
    g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO,
                               "Ana P\xc3\xa9rez Garc\xc3\xad" "a",
                               "ana@example.com");
    g_mime_message_set_subject(msg, subject, "utf-8");
    g_mime_message_set_message_id(msg, "xyz-123@xyz.example");

    dt = g_date_time_new_from_unix_utc(1795802400);
    g_mime_message_set_date(msg, dt);
    g_date_time_unref(dt);

    g_mime_object_set_header(GMIME_OBJECT(msg), "Content-Language", "es",
                             NULL);

    alt = g_mime_multipart_new_with_subtype("alternative");
    g_mime_multipart_set_boundary(alt, "=_xyz_123");

    part = gmime_part("plain", text);
    g_mime_multipart_add(alt, part);
    g_object_unref(part);

    part = gmime_part("html", html);
    g_mime_multipart_add(alt, part);
    g_object_unref(part);

    g_mime_message_set_mime_part(msg, GMIME_OBJECT(alt));
    g_object_unref(alt);

    s = g_mime_object_to_string(GMIME_OBJECT(msg), fo);
    g_object_unref(msg);

    return s;
}


static size_t
longest_line(const char *s)
{
    size_t       n, max;
    const char  *p;

    max = 0;

    for (p = s; *p; p += n + (p[n] == '\n')) {
        n = strcspn(p, "\n");
        if (n > 0 && p[n - 1] == '\r') {
            n--;
            if (n > max) {
                max = n;
            }
            n++;

        } else if (n > max) {
            max = n;
        }
    }

    return max;
}


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


int
main(int argc, char **argv)
{
    int                  i, n;
    char                *g, path[4096];
    FILE                *f;
    double               t0, module_us, gmime_us;
    const char          *subject, *evil, *p;
    GMimeFormatOptions  *fo;

    if (argc < 3 || (text = slurp(argv[1])) == NULL
        || (html = slurp(argv[2])) == NULL)
    {
        printf("Bail out! usage: check_gmime TEXT HTML [OUT_DIR]\n");
        return 1;
    }

    printf("# GMime %u.%u.%u\n", gmime_major_version, gmime_minor_version,
           gmime_micro_version);

    g_mime_init();

    fo = g_mime_format_options_new();
    g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);

    subject = "Confirma tu cuenta en XYZ \xe2\x9c\x94";

    n = module_build(subject);
    g = gmime_build(subject, fo);

    ok(n > 0, "module: message built");
    ok(g != NULL, "gmime: message built");

    if (n <= 0 || g == NULL) {
        return done_testing();
    }

    if (argc > 3) {
        snprintf(path, sizeof(path), "%s/module.eml", argv[3]);
        f = fopen(path, "wb");
        if (f) {
            fwrite(out, 1, n, f);
            fclose(f);
        }

        snprintf(path, sizeof(path), "%s/gmime.eml", argv[3]);
        f = fopen(path, "wb");
        if (f) {
            fputs(g, f);
            fclose(f);
        }
    }

    printf("# bytes: module %d, gmime %zu\n", n, strlen(g));
    printf("# longest line: module %zu, gmime %zu\n", longest_line(out),
           longest_line(g));

    ok(longest_line(out) <= 76, "module: no line over 76");
    ok(longest_line(g) <= 78, "gmime: no line over 78");
    ok(strstr(out, "Subject: =?UTF-8?B?") != NULL,
       "module: subject as base64 encoded words");

    p = strstr(g, "Subject: ");
    ok(p && strstr(p, "=?UTF-8?B?") != NULL
       && strstr(p, "=?UTF-8?B?") < p + strcspn(p, "\r"),
       "gmime: the non-ASCII word of the subject encoded");
    printf("# gmime subject: %.*s\n", (int) strcspn(p, "\r"), p);
    p = strstr(out, "Subject: ");
    printf("# module subject: %.*s\n", (int) strcspn(p, "\r"), p);

    g_free(g);

    /*
     * A CR LF in a field from a user (here the subject) must not become a
     * header of its own: the module refuses to build the message.
     */

    evil = "Hola\r\nBcc: victim@example.net";

    ok(module_build(evil) == -1, "module: CR LF in the subject refused");

    g = gmime_build(evil, fo);
    p = g ? strstr(g, "\r\nBcc:") : NULL;
    printf("# gmime with CR LF in the subject: %s\n",
           p ? "a Bcc header line in the output"
             : "no Bcc header line in the output");
    ok(g != NULL && p == NULL, "gmime: CR LF in the subject is no header");

    if (g) {
        p = strstr(g, "Subject: ");
        printf("# gmime subject: %.*s\n", (int) strcspn(p, "\r"), p);
    }

    g_free(g);

    /* cost of one message, the same fields; built on the event loop */

    t0 = now();
    for (i = 0; i < ROUNDS; i++) {
        (void) module_build(subject);
    }
    module_us = (now() - t0) * 1e6 / ROUNDS;

    t0 = now();
    for (i = 0; i < ROUNDS; i++) {
        g_free(gmime_build(subject, fo));
    }
    gmime_us = (now() - t0) * 1e6 / ROUNDS;

    printf("# microseconds a message (%d rounds): module %.1f, gmime %.1f"
           " (x%.1f)\n", ROUNDS, module_us, gmime_us, gmime_us / module_us);

    g_mime_format_options_free(fo);
    g_mime_shutdown();

    return done_testing();
}
