
/*
 * Copyright (C) the XYZ sign-up authors
 */


#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_xyz_password.h"


static int ngx_xyz_blocklist_cmp(const void *a, const void *b);
static int ngx_xyz_blocklist_find(const ngx_xyz_blocklist_t *bl,
    const char *s, size_t len);
static int ngx_xyz_blocklist_cmp_word(const char *word, const char *s,
    size_t len);
static int ngx_xyz_blocklist_decoration(unsigned char ch);
static unsigned char ngx_xyz_blocklist_lower(unsigned char ch);


int
ngx_xyz_blocklist_load(const char *buf, size_t len, ngx_xyz_blocklist_t *bl)
{
    char        *storage, *dst, **words;
    size_t       n, i, j, wlen;
    const char  *p, *end, *eol, *s, *e;

    bl->words = NULL;
    bl->n = 0;
    bl->storage = NULL;

    if (len >= INT_MAX) {
        return -1;
    }

    /* every word with its NUL fits in len + 1 bytes, and there are at most
     * as many words as lines */

    n = 1;

    for (i = 0; i < len; i++) {
        if (buf[i] == '\n') {
            n++;
        }
    }

    storage = malloc(len + 1);
    words = malloc(n * sizeof(char *));

    if (storage == NULL || words == NULL) {
        free(storage);
        free(words);
        return -1;
    }

    dst = storage;
    n = 0;
    p = buf;
    end = buf + len;

    while (p < end) {
        eol = memchr(p, '\n', end - p);
        if (eol == NULL) {
            eol = end;
        }

        s = p;
        e = eol;
        p = eol + 1;

        if (s < e && *s == '#') {
            continue;
        }

        while (s < e && (*s == ' ' || *s == '\t')) {
            s++;
        }

        while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }

        wlen = e - s;

        if (wlen == 0 || memchr(s, '\0', wlen) != NULL) {
            continue;
        }

        words[n++] = dst;

        for (i = 0; i < wlen; i++) {
            *dst++ = (char) ngx_xyz_blocklist_lower((unsigned char) s[i]);
        }

        *dst++ = '\0';
    }

    if (n > 1) {
        qsort(words, n, sizeof(char *), ngx_xyz_blocklist_cmp);
    }

    /* drop duplicates, now neighbours */

    j = 0;

    for (i = 0; i < n; i++) {
        if (j == 0 || strcmp(words[j - 1], words[i]) != 0) {
            words[j++] = words[i];
        }
    }

    bl->words = words;
    bl->n = j;
    bl->storage = storage;

    return (int) j;
}


void
ngx_xyz_blocklist_free(ngx_xyz_blocklist_t *bl)
{
    free(bl->words);
    free(bl->storage);

    bl->words = NULL;
    bl->n = 0;
    bl->storage = NULL;
}


int
ngx_xyz_blocklist_contains(const ngx_xyz_blocklist_t *bl,
    const char *password, size_t len)
{
    size_t  lead, trail;

    if (bl == NULL || bl->n == 0 || password == NULL || len == 0) {
        return 0;
    }

    if (ngx_xyz_blocklist_find(bl, password, len)) {
        return 1;
    }

    lead = 0;

    while (lead < len
           && ngx_xyz_blocklist_decoration((unsigned char) password[lead]))
    {
        lead++;
    }

    if (lead == len) {
        return 0;           /* decoration only: nothing is left to look up */
    }

    trail = 0;

    while (ngx_xyz_blocklist_decoration(
               (unsigned char) password[len - 1 - trail]))
    {
        trail++;
    }

    /* trailing run off ("password123!"), leading run off ("2024qwerty"),
     * then both ("!!dragon!!") */

    if (trail && ngx_xyz_blocklist_find(bl, password, len - trail)) {
        return 1;
    }

    if (lead && ngx_xyz_blocklist_find(bl, password + lead, len - lead)) {
        return 1;
    }

    if (lead && trail
        && ngx_xyz_blocklist_find(bl, password + lead, len - lead - trail))
    {
        return 1;
    }

    return 0;
}


static int
ngx_xyz_blocklist_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


/* binary search in the order of strcmp, lowercasing s on the way */

static int
ngx_xyz_blocklist_find(const ngx_xyz_blocklist_t *bl, const char *s,
    size_t len)
{
    int     rc;
    size_t  lo, hi, mid;

    lo = 0;
    hi = bl->n;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        rc = ngx_xyz_blocklist_cmp_word(bl->words[mid], s, len);

        if (rc == 0) {
            return 1;
        }

        if (rc < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return 0;
}


/* strcmp(word, lowercase(s[0..len))), s being no C string */

static int
ngx_xyz_blocklist_cmp_word(const char *word, const char *s, size_t len)
{
    size_t         i;
    unsigned char  w, c;

    for (i = 0; i < len; i++) {
        w = (unsigned char) word[i];
        c = ngx_xyz_blocklist_lower((unsigned char) s[i]);

        /* a NUL in the password sorts before every byte, as in strcmp;
         * listed words hold none, so it can never match */

        if (w != c) {
            return w < c ? -1 : 1;
        }

        if (w == '\0') {
            return -1;
        }
    }

    return word[len] == '\0' ? 0 : 1;
}


/* ASCII digits, punctuation and the space */

static int
ngx_xyz_blocklist_decoration(unsigned char ch)
{
    return (ch >= ' ' && ch <= '@')
           || (ch >= '[' && ch <= '`')
           || (ch >= '{' && ch <= '~');
}


static unsigned char
ngx_xyz_blocklist_lower(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') ? ch | 0x20 : ch;
}
