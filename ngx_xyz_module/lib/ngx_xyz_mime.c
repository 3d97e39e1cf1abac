
/*
 * Copyright (C) the XYZ sign-up authors
 */


#include <stdio.h>
#include <string.h>

#include "ngx_xyz_mime.h"


/* RFC 5322, 2.1.1: lines SHOULD stay within 78 characters; RFC 2045 caps
 * quoted-printable lines at 76, and the headers follow the same limit */
#define NGX_XYZ_MIME_LINE     76

/* RFC 2047, 2: an encoded word is at most 75 characters */
#define NGX_XYZ_MIME_EWORD    75

#define NGX_XYZ_MIME_NAME_MAX  256


typedef struct {
    char                          *p;
    char                          *last;    /* the NUL's place */
    size_t                         col;
    int                            fail;
} ngx_xyz_mime_out_t;


/* the From mailbox, split: its display name (unquoted) and address */
typedef struct {
    char                           name[NGX_XYZ_MIME_NAME_MAX];
    size_t                         name_len;
    const char                    *addr;
    size_t                         addr_len;
} ngx_xyz_mime_from_t;


static int ngx_xyz_mime_check(const ngx_xyz_mime_t *m,
    ngx_xyz_mime_from_t *from);
static int ngx_xyz_mime_message_id_ok(const char *id);
static int ngx_xyz_mime_date_ok(const char *date);
static int ngx_xyz_mime_language_ok(const char *lang);
static int ngx_xyz_mime_boundary_ok(const char *boundary);
static void ngx_xyz_mime_headers(ngx_xyz_mime_out_t *o,
    const ngx_xyz_mime_t *m, const ngx_xyz_mime_from_t *from);
static void ngx_xyz_mime_subject(ngx_xyz_mime_out_t *o,
    const char *subject);
static void ngx_xyz_mime_body(ngx_xyz_mime_out_t *o,
    const ngx_xyz_mime_t *m);
static void ngx_xyz_mime_put(ngx_xyz_mime_out_t *o, const char *s,
    size_t n);
static void ngx_xyz_mime_puts(ngx_xyz_mime_out_t *o, const char *s);
static int ngx_xyz_mime_header_ok(const char *s);
static int ngx_xyz_mime_addr_ok(const char *s, size_t n);
static int ngx_xyz_mime_atext(unsigned char ch);
static int ngx_xyz_mime_utf8_ok(const char *s, size_t n);
static int ngx_xyz_mime_mailbox(const char *s, char *name, size_t *name_len,
    const char **addr, size_t *addr_len);
static void ngx_xyz_mime_phrase(ngx_xyz_mime_out_t *o, const char *s,
    size_t n);
static void ngx_xyz_mime_ewords(ngx_xyz_mime_out_t *o, const char *s,
    size_t n);
static void ngx_xyz_mime_address_put(ngx_xyz_mime_out_t *o, const char *a,
    size_t n);
static void ngx_xyz_mime_part(ngx_xyz_mime_out_t *o, const char *type,
    const char *s, size_t n);
static void ngx_xyz_mime_qp(ngx_xyz_mime_out_t *o, const char *s,
    size_t n);


size_t
ngx_xyz_mime_len(const ngx_xyz_mime_t *m)
{
    size_t  len;

    /* the fixed text, then each field at its worst: base64 words with
     * their framing for names and subject, three characters a byte plus
     * soft breaks for quoted-printable */

    len = 1024;

    len += m->from ? 4 * strlen(m->from) : 0;
    len += m->to_addr ? strlen(m->to_addr) : 0;
    len += m->to_name ? 4 * strlen(m->to_name) : 0;
    len += m->subject ? 4 * strlen(m->subject) : 0;
    len += m->message_id ? strlen(m->message_id) : 0;
    len += m->date ? strlen(m->date) : 0;
    len += m->boundary ? 4 * strlen(m->boundary) : 0;
    len += m->language ? strlen(m->language) : 0;
    len += 4 * m->text_len;
    len += m->html ? 4 * m->html_len : 0;

    return len;
}


int
ngx_xyz_mime_build(const ngx_xyz_mime_t *m, char *out, size_t size)
{
    ngx_xyz_mime_out_t     o;
    ngx_xyz_mime_from_t    from;

    if (size == 0 || ngx_xyz_mime_check(m, &from) != 0) {
        return -1;
    }

    o.p = out;
    o.last = out + size - 1;
    o.col = 0;
    o.fail = 0;

    ngx_xyz_mime_headers(&o, m, &from);
    ngx_xyz_mime_body(&o, m);

    if (o.fail) {
        return -1;
    }

    *o.p = '\0';

    return (int) (o.p - out);
}


/* every field of m checked, and the From mailbox split into from */

static int
ngx_xyz_mime_check(const ngx_xyz_mime_t *m, ngx_xyz_mime_from_t *from)
{
    if (m->from == NULL || m->to_addr == NULL
        || m->subject == NULL || m->message_id == NULL || m->date == NULL
        || (m->text == NULL && m->text_len))
    {
        return -1;
    }

    /* no CR or LF in anything that goes into a header */

    if (!ngx_xyz_mime_header_ok(m->from)
        || !ngx_xyz_mime_header_ok(m->to_addr)
        || (m->to_name && !ngx_xyz_mime_header_ok(m->to_name))
        || !ngx_xyz_mime_header_ok(m->subject)
        || !ngx_xyz_mime_header_ok(m->message_id)
        || !ngx_xyz_mime_header_ok(m->date)
        || (m->boundary && !ngx_xyz_mime_header_ok(m->boundary))
        || (m->language && !ngx_xyz_mime_header_ok(m->language)))
    {
        return -1;
    }

    if (ngx_xyz_mime_mailbox(m->from, from->name, &from->name_len,
                             &from->addr, &from->addr_len)
        != 0)
    {
        return -1;
    }

    if (!ngx_xyz_mime_addr_ok(m->to_addr, strlen(m->to_addr))) {
        return -1;
    }

    if (!ngx_xyz_mime_utf8_ok(m->subject, strlen(m->subject))
        || (m->to_name
            && !ngx_xyz_mime_utf8_ok(m->to_name, strlen(m->to_name))))
    {
        return -1;
    }

    if (!ngx_xyz_mime_message_id_ok(m->message_id)
        || !ngx_xyz_mime_date_ok(m->date)
        || (m->language && !ngx_xyz_mime_language_ok(m->language))
        || (m->html && !ngx_xyz_mime_boundary_ok(m->boundary)))
    {
        return -1;
    }

    return 0;
}


/* Message-ID: dot-atom-text "@" dot-atom-text (RFC 5322, 3.6.4) */

static int
ngx_xyz_mime_message_id_ok(const char *id)
{
    size_t       i, n;
    const char  *s;

    s = strchr(id, '@');
    n = strlen(id);

    if (s == NULL || s == id || s[1] == '\0' || strchr(s + 1, '@') != NULL) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (!ngx_xyz_mime_atext((unsigned char) id[i])
            && id[i] != '.' && id[i] != '@')
        {
            return 0;
        }
    }

    return 1;
}


/* the date is the caller's, usually from ngx_xyz_mime_date(): printable
 * ASCII is all that can be checked without parsing it */

static int
ngx_xyz_mime_date_ok(const char *date)
{
    const char  *s;

    if (date[0] == '\0') {
        return 0;
    }

    for (s = date; *s; s++) {
        if (*s < 0x20 || *s > 0x7e) {
            return 0;
        }
    }

    return 1;
}


/* a language tag: 1-35 letters, digits and "-" */

static int
ngx_xyz_mime_language_ok(const char *lang)
{
    size_t  i, n;

    n = strlen(lang);

    if (n == 0 || n > 35) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (!((lang[i] >= 'a' && lang[i] <= 'z')
              || (lang[i] >= 'A' && lang[i] <= 'Z')
              || (lang[i] >= '0' && lang[i] <= '9')
              || lang[i] == '-'))
        {
            return 0;
        }
    }

    return 1;
}


/* RFC 2046 bcharsnospace, 1 to NGX_XYZ_MIME_BOUNDARY_MAX of them */

static int
ngx_xyz_mime_boundary_ok(const char *boundary)
{
    size_t  i, n;

    if (boundary == NULL) {
        return 0;
    }

    n = strlen(boundary);

    if (n == 0 || n > NGX_XYZ_MIME_BOUNDARY_MAX) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (!((boundary[i] >= 'a' && boundary[i] <= 'z')
              || (boundary[i] >= 'A' && boundary[i] <= 'Z')
              || (boundary[i] >= '0' && boundary[i] <= '9')
              || strchr("'()+_,-./:=?", boundary[i]) != NULL))
        {
            return 0;
        }
    }

    return 1;
}


/* From, To, Subject, Date, Message-ID, MIME-Version, Content-Language */

static void
ngx_xyz_mime_headers(ngx_xyz_mime_out_t *o, const ngx_xyz_mime_t *m,
    const ngx_xyz_mime_from_t *from)
{
    size_t  n;

    ngx_xyz_mime_puts(o, "From: ");

    if (from->name_len) {
        ngx_xyz_mime_phrase(o, from->name, from->name_len);
        ngx_xyz_mime_address_put(o, from->addr, from->addr_len);

    } else {
        ngx_xyz_mime_put(o, from->addr, from->addr_len);
    }

    ngx_xyz_mime_puts(o, "\r\nTo: ");

    n = m->to_name ? strlen(m->to_name) : 0;

    if (n) {
        ngx_xyz_mime_phrase(o, m->to_name, n);
        ngx_xyz_mime_address_put(o, m->to_addr, strlen(m->to_addr));

    } else {
        ngx_xyz_mime_puts(o, m->to_addr);
    }

    ngx_xyz_mime_puts(o, "\r\nSubject: ");
    ngx_xyz_mime_subject(o, m->subject);

    ngx_xyz_mime_puts(o, "\r\nDate: ");
    ngx_xyz_mime_puts(o, m->date);
    ngx_xyz_mime_puts(o, "\r\nMessage-ID: <");
    ngx_xyz_mime_puts(o, m->message_id);
    ngx_xyz_mime_puts(o, ">\r\nMIME-Version: 1.0\r\n");

    if (m->language) {
        ngx_xyz_mime_puts(o, "Content-Language: ");
        ngx_xyz_mime_puts(o, m->language);
        ngx_xyz_mime_puts(o, "\r\n");
    }
}


/* an unstructured field: plain ASCII goes as it is when it fits on the
 * line and cannot be taken for an encoded word; anything else is encoded,
 * which also folds it */

static void
ngx_xyz_mime_subject(ngx_xyz_mime_out_t *o, const char *subject)
{
    size_t  i, n;

    n = strlen(subject);

    for (i = 0; i < n; i++) {
        if (subject[i] < 0x20 || subject[i] > 0x7e) {
            break;
        }
    }

    if (i == n && o->col + n <= NGX_XYZ_MIME_LINE
        && strstr(subject, "=?") == NULL)
    {
        ngx_xyz_mime_put(o, subject, n);

    } else {
        ngx_xyz_mime_ewords(o, subject, n);
    }
}


/* the text part alone, or multipart/alternative with the HTML part */

static void
ngx_xyz_mime_body(ngx_xyz_mime_out_t *o, const ngx_xyz_mime_t *m)
{
    if (m->html == NULL) {
        ngx_xyz_mime_part(o, "text/plain", m->text, m->text_len);
        return;
    }

    ngx_xyz_mime_puts(o, "Content-Type: multipart/alternative;\r\n"
                         " boundary=\"");
    ngx_xyz_mime_puts(o, m->boundary);
    ngx_xyz_mime_puts(o, "\"\r\n\r\n--");
    ngx_xyz_mime_puts(o, m->boundary);
    ngx_xyz_mime_puts(o, "\r\n");
    ngx_xyz_mime_part(o, "text/plain", m->text, m->text_len);
    ngx_xyz_mime_puts(o, "--");
    ngx_xyz_mime_puts(o, m->boundary);
    ngx_xyz_mime_puts(o, "\r\n");
    ngx_xyz_mime_part(o, "text/html", m->html, m->html_len);
    ngx_xyz_mime_puts(o, "--");
    ngx_xyz_mime_puts(o, m->boundary);
    ngx_xyz_mime_puts(o, "--\r\n");
}


int
ngx_xyz_mime_date(time_t t, char *out, size_t size)
{
    int        n;
    struct tm  tm;

    static const char  *days[] = {
        "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
    };

    static const char  *months[] = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun",
        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
    };

    /* strftime() would follow LC_TIME; the names here never change */

    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999
        || tm.tm_year + 1900 < 0)
    {
        return -1;
    }

    n = snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d +0000",
                 days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
                 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);

    if (n < 0 || (size_t) n >= size) {
        return -1;
    }

    return n;
}


size_t
ngx_xyz_mime_address_len(const char *mailbox)
{
    size_t       n;
    const char  *lt, *gt;

    lt = strrchr(mailbox, '<');

    if (lt != NULL) {
        gt = strchr(lt, '>');
        return gt ? (size_t) (gt - lt - 1) : strlen(lt + 1);
    }

    while (*mailbox == ' ' || *mailbox == '\t') {
        mailbox++;
    }

    n = strlen(mailbox);

    while (n && (mailbox[n - 1] == ' ' || mailbox[n - 1] == '\t')) {
        n--;
    }

    return n;
}


int
ngx_xyz_mime_address(const char *mailbox, char *out, size_t size)
{
    char         name[NGX_XYZ_MIME_NAME_MAX];
    size_t       name_len, addr_len;
    const char  *addr;

    if (mailbox == NULL || !ngx_xyz_mime_header_ok(mailbox)
        || ngx_xyz_mime_mailbox(mailbox, name, &name_len, &addr, &addr_len)
           != 0
        || addr_len >= size)
    {
        return -1;
    }

    memcpy(out, addr, addr_len);
    out[addr_len] = '\0';

    return (int) addr_len;
}


static void
ngx_xyz_mime_put(ngx_xyz_mime_out_t *o, const char *s, size_t n)
{
    size_t  i;

    if (o->fail || (size_t) (o->last - o->p) < n) {
        o->fail = 1;
        return;
    }

    memcpy(o->p, s, n);
    o->p += n;

    for (i = 0; i < n; i++) {
        o->col = (s[i] == '\n') ? 0 : o->col + 1;
    }
}


static void
ngx_xyz_mime_puts(ngx_xyz_mime_out_t *o, const char *s)
{
    ngx_xyz_mime_put(o, s, strlen(s));
}


static int
ngx_xyz_mime_header_ok(const char *s)
{
    return strpbrk(s, "\r\n") == NULL;
}


/*
 * An address as registration accepts them: printable ASCII, one "@" with
 * text on both sides, nothing that would end or reopen the angle brackets
 * or start a comment or a group.
 */

static int
ngx_xyz_mime_addr_ok(const char *s, size_t n)
{
    size_t  i, at;

    if (n < 3 || n > NGX_XYZ_MIME_ADDR_MAX) {
        return 0;
    }

    at = n;

    for (i = 0; i < n; i++) {
        if (s[i] <= 0x20 || s[i] > 0x7e || strchr("<>(),;:\\\"", s[i])) {
            return 0;
        }

        if (s[i] == '@') {
            if (at != n) {
                return 0;
            }

            at = i;
        }
    }

    return at != 0 && at != n && at != n - 1;
}


static int
ngx_xyz_mime_atext(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
           || (ch >= '0' && ch <= '9')
           || (ch != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL);
}


static int
ngx_xyz_mime_utf8_ok(const char *s, size_t n)
{
    size_t          i, need, k;
    unsigned int    cp, min;
    unsigned char   ch;

    for (i = 0; i < n; /* void */ ) {
        ch = (unsigned char) s[i];

        if (ch < 0x80) {
            i++;
            continue;
        }

        if ((ch & 0xe0) == 0xc0) {
            need = 1;
            cp = ch & 0x1f;
            min = 0x80;

        } else if ((ch & 0xf0) == 0xe0) {
            need = 2;
            cp = ch & 0x0f;
            min = 0x800;

        } else if ((ch & 0xf8) == 0xf0) {
            need = 3;
            cp = ch & 0x07;
            min = 0x10000;

        } else {
            return 0;
        }

        if (n - i <= need) {
            return 0;
        }

        for (k = 1; k <= need; k++) {
            ch = (unsigned char) s[i + k];

            if ((ch & 0xc0) != 0x80) {
                return 0;
            }

            cp = (cp << 6) | (ch & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }

        i += need + 1;
    }

    return 1;
}


/*
 * Splits "Name <addr>", "\"Quoted, Name\" <addr>", "<addr>" or "addr".
 * The display name is copied to name (quotes removed, quoted pairs
 * undone); *name_len is 0 when there is none.
 */

static int
ngx_xyz_mime_mailbox(const char *s, char *name, size_t *name_len,
    const char **addr, size_t *addr_len)
{
    size_t       n;
    const char  *end, *lt, *p, *q;

    while (*s == ' ' || *s == '\t') {
        s++;
    }

    end = s + strlen(s);

    while (end > s && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    *name_len = 0;

    if (end == s || end[-1] != '>') {
        *addr = s;
        *addr_len = end - s;

        return ngx_xyz_mime_addr_ok(s, end - s) ? 0 : -1;
    }

    lt = NULL;

    for (p = s; p < end; p++) {
        if (*p == '<') {
            lt = p;
        }
    }

    if (lt == NULL) {
        return -1;
    }

    *addr = lt + 1;
    *addr_len = end - 1 - (lt + 1);

    if (!ngx_xyz_mime_addr_ok(*addr, *addr_len)) {
        return -1;
    }

    q = lt;

    while (q > s && (q[-1] == ' ' || q[-1] == '\t')) {
        q--;
    }

    n = 0;

    if (q - s >= 2 && s[0] == '"' && q[-1] == '"') {
        for (p = s + 1; p < q - 1; p++) {
            if (*p == '\\' && p + 1 < q - 1) {
                p++;

            } else if (*p == '"' || *p == '\\') {
                return -1;
            }

            if (n == NGX_XYZ_MIME_NAME_MAX) {
                return -1;
            }

            name[n++] = *p;
        }

    } else {
        if ((size_t) (q - s) > NGX_XYZ_MIME_NAME_MAX) {
            return -1;
        }

        n = q - s;
        memcpy(name, s, n);
    }

    if (!ngx_xyz_mime_utf8_ok(name, n)) {
        return -1;
    }

    *name_len = n;

    return 0;
}


/*
 * A display name: atoms as they are, ASCII with specials as a quoted
 * string, anything else (or anything too long for the line) as encoded
 * words, which are the only form a non-ASCII name may take in a header.
 */

static void
ngx_xyz_mime_phrase(ngx_xyz_mime_out_t *o, const char *s, size_t n)
{
    size_t          i, quote, extra;
    unsigned char   ch;

    quote = 0;
    extra = 0;

    for (i = 0; i < n; i++) {
        ch = (unsigned char) s[i];

        if (ch < 0x20 || ch > 0x7e) {
            ngx_xyz_mime_ewords(o, s, n);
            return;
        }

        if (ch == '"' || ch == '\\') {
            extra++;
        }

        if (!ngx_xyz_mime_atext(ch) && ch != ' ') {
            quote = 1;
        }
    }

    /* words that look like "=?...?=" would be decoded by the reader */

    for (i = 0; i + 1 < n; i++) {
        if (s[i] == '=' && s[i + 1] == '?') {
            quote = 1;
        }
    }

    if (s[0] == ' ' || s[n - 1] == ' ') {
        quote = 1;
    }

    if (o->col + n + (quote ? 2 + extra : 0) > NGX_XYZ_MIME_LINE - 10) {
        ngx_xyz_mime_ewords(o, s, n);
        return;
    }

    if (!quote) {
        ngx_xyz_mime_put(o, s, n);
        return;
    }

    ngx_xyz_mime_put(o, "\"", 1);

    for (i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            ngx_xyz_mime_put(o, "\\", 1);
        }

        ngx_xyz_mime_put(o, &s[i], 1);
    }

    ngx_xyz_mime_put(o, "\"", 1);
}


/*
 * RFC 2047 "B" encoded words, each of whole UTF-8 characters and at most
 * 75 characters long, one to a line: the words are folded with CRLF and a
 * space, which a reader removes together with the space between words.
 */

static void
ngx_xyz_mime_ewords(ngx_xyz_mime_out_t *o, const char *s, size_t n)
{
    char            b64[NGX_XYZ_MIME_EWORD];
    size_t          room, take, i, k;
    unsigned int    v;
    unsigned char   c0, c1, c2;

    static const char  prefix[] = "=?UTF-8?B?";
    static const char  alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /* a failed write leaves the column where it was: without the check
     * a full line would be folded again and again */

    while (n && !o->fail) {
        room = NGX_XYZ_MIME_LINE - o->col;

        if (room > NGX_XYZ_MIME_EWORD) {
            room = NGX_XYZ_MIME_EWORD;
        }

        room = (room > sizeof(prefix) + 1) ? room - (sizeof(prefix) + 1) : 0;

        /* base64 characters that fit, as bytes, then back to the start
         * of a character so that no word splits one */

        take = room / 4 * 3;

        if (take > n) {
            take = n;
        }

        while (take && take < n && (s[take] & 0xc0) == 0x80) {
            take--;
        }

        if (take == 0) {
            if (o->col <= 1) {
                o->fail = 1;
                return;
            }

            ngx_xyz_mime_puts(o, "\r\n ");
            continue;
        }

        k = 0;

        for (i = 0; i < take; i += 3) {
            c0 = (unsigned char) s[i];
            c1 = (i + 1 < take) ? (unsigned char) s[i + 1] : 0;
            c2 = (i + 2 < take) ? (unsigned char) s[i + 2] : 0;
            v = (c0 << 16) | (c1 << 8) | c2;

            b64[k++] = alphabet[(v >> 18) & 0x3f];
            b64[k++] = alphabet[(v >> 12) & 0x3f];
            b64[k++] = (i + 1 < take) ? alphabet[(v >> 6) & 0x3f] : '=';
            b64[k++] = (i + 2 < take) ? alphabet[v & 0x3f] : '=';
        }

        ngx_xyz_mime_put(o, prefix, sizeof(prefix) - 1);
        ngx_xyz_mime_put(o, b64, k);
        ngx_xyz_mime_put(o, "?=", 2);

        s += take;
        n -= take;

        if (n) {
            ngx_xyz_mime_puts(o, "\r\n ");
        }
    }
}


static void
ngx_xyz_mime_address_put(ngx_xyz_mime_out_t *o, const char *a, size_t n)
{
    if (o->col + n + 3 > NGX_XYZ_MIME_LINE) {
        ngx_xyz_mime_puts(o, "\r\n <");

    } else {
        ngx_xyz_mime_puts(o, " <");
    }

    ngx_xyz_mime_put(o, a, n);
    ngx_xyz_mime_put(o, ">", 1);
}


static void
ngx_xyz_mime_part(ngx_xyz_mime_out_t *o, const char *type, const char *s,
    size_t n)
{
    ngx_xyz_mime_puts(o, "Content-Type: ");
    ngx_xyz_mime_puts(o, type);
    ngx_xyz_mime_puts(o, "; charset=utf-8\r\n"
                         "Content-Transfer-Encoding: quoted-printable\r\n"
                         "\r\n");
    ngx_xyz_mime_qp(o, s, n);

    /* the CRLF before the next delimiter belongs to the delimiter */

    ngx_xyz_mime_puts(o, "\r\n");
}


/*
 * Quoted-printable (RFC 2045, 6.7): line breaks, LF or CRLF (a lone CR
 * too), become CRLF; "=", bytes outside printable ASCII, and white space
 * at the end of a line are escaped; a soft break ("=" CRLF) keeps every
 * line within 76 characters.  A "-" that would start a line is escaped as
 * well, so that no text can form a boundary delimiter ("--" at the start
 * of a line).
 */

static void
ngx_xyz_mime_qp(ngx_xyz_mime_out_t *o, const char *s, size_t n)
{
    int             literal;
    char            esc[3];
    size_t          i, col;
    unsigned char   ch, next;

    static const char  hex[] = "0123456789ABCDEF";

    col = 0;

    for (i = 0; i < n; i++) {
        ch = (unsigned char) s[i];

        if (ch == '\r' || ch == '\n') {
            if (ch == '\r' && i + 1 < n && s[i + 1] == '\n') {
                i++;
            }

            ngx_xyz_mime_put(o, "\r\n", 2);
            col = 0;
            continue;
        }

        next = (i + 1 < n) ? (unsigned char) s[i + 1] : '\n';

        if (ch == ' ' || ch == '\t') {
            literal = (next != '\r' && next != '\n');

        } else {
            literal = (ch >= 33 && ch <= 126 && ch != '=');
        }

        if (col + (literal ? 1 : 3) > NGX_XYZ_MIME_LINE - 1) {
            ngx_xyz_mime_put(o, "=\r\n", 3);
            col = 0;
        }

        if (col == 0 && ch == '-') {
            literal = 0;
        }

        if (literal) {
            ngx_xyz_mime_put(o, (const char *) &s[i], 1);
            col++;
            continue;
        }

        esc[0] = '=';
        esc[1] = hex[ch >> 4];
        esc[2] = hex[ch & 0xf];

        ngx_xyz_mime_put(o, esc, 3);
        col += 3;
    }
}
