
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The password blocklist (NIST SP 800-63B: check new passwords against a
 * list of common or compromised ones), over plain buffers: no nginx types,
 * so that unit tests and fuzzers can call it directly.  The length rule
 * lives with the other registration checks; this file only answers "is it
 * on the list".
 */


#ifndef _NGX_XYZ_PASSWORD_H_INCLUDED_
#define _NGX_XYZ_PASSWORD_H_INCLUDED_


#include <stddef.h>


/*
 * A sorted set of lowercased words.  words[i] point into storage; both are
 * allocated with malloc() by ngx_xyz_blocklist_load() and released by
 * ngx_xyz_blocklist_free().  Read-only once loaded, so one list can be
 * shared by every thread.
 */

typedef struct {
    char    **words;
    size_t    n;
    char     *storage;
} ngx_xyz_blocklist_t;


/*
 * Loads a list from the contents of a file: one password a line; a line
 * whose first character is "#" is a comment; a "\r" before the "\n" is
 * dropped, and so are blanks (spaces, tabs) around a word; blank lines,
 * and lines holding a NUL byte, are skipped.  ASCII letters are lowercased
 * (other bytes are kept as they are), then the words are sorted (strcmp)
 * and duplicates dropped.
 *
 * Returns the number of words and fills bl, or -1 when memory runs out
 * or len is INT_MAX or more (bl then holds nothing to free).  An empty
 * list is valid.
 */
int ngx_xyz_blocklist_load(const char *buf, size_t len,
    ngx_xyz_blocklist_t *bl);

/* releases what ngx_xyz_blocklist_load() allocated; bl is then empty */
void ngx_xyz_blocklist_free(ngx_xyz_blocklist_t *bl);

/*
 * Returns 1 when the password is on the list, 0 if not.  ASCII letters
 * compare without regard to case.  The rule, kept simple on purpose: the
 * password is refused when it is on the list as it is, or once its
 * leading run, its trailing run, or both runs of "decoration" are taken
 * off, provided something is left.  Decoration is ASCII digits,
 * punctuation and the space.  So "Password123!", "2024qwerty" and
 * "!!dragon!!" count as their listed words, while "correct horse
 * battery" (decoration only inside) or "password-manager" (letters after
 * the punctuation) do not.
 */
int ngx_xyz_blocklist_contains(const ngx_xyz_blocklist_t *bl,
    const char *password, size_t len);


#endif /* _NGX_XYZ_PASSWORD_H_INCLUDED_ */
