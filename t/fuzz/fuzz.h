/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Helpers shared by the libFuzzer harnesses: copies of the input with a
 * NUL after them (the parsers that need one say so), and a split of one
 * input into parts at "\n--\n" so that one harness can feed several
 * arguments.
 */

#ifndef _XYZ_FUZZ_H_INCLUDED_
#define _XYZ_FUZZ_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


#define XYZ_FUZZ_PARTS  4


typedef struct {
    const char  *p[XYZ_FUZZ_PARTS];
    size_t       len[XYZ_FUZZ_PARTS];
    char        *buf;       /* the parts, each followed by a NUL */
} xyz_fuzz_parts_t;


/* a malloc()ed copy of data followed by a NUL; exact size, so that ASan
 * sees a read past the end */
static inline char *
xyz_fuzz_str(const uint8_t *data, size_t size)
{
    char  *s;

    s = malloc(size + 1);
    if (s == NULL) {
        abort();
    }

    memcpy(s, data, size);
    s[size] = '\0';

    return s;
}


/* splits data at "\n--\n" into at most XYZ_FUZZ_PARTS parts; missing
 * parts are empty strings */
static inline void
xyz_fuzz_split(const uint8_t *data, size_t size, xyz_fuzz_parts_t *fp)
{
    size_t  i, n, start;
    char   *s;

    s = xyz_fuzz_str(data, size);
    fp->buf = s;

    for (i = 0; i < XYZ_FUZZ_PARTS; i++) {
        fp->p[i] = s + size;
        fp->len[i] = 0;
    }

    n = 0;
    start = 0;

    for (i = 0; i + 4 <= size && n < XYZ_FUZZ_PARTS - 1; i++) {
        if (memcmp(s + i, "\n--\n", 4) == 0) {
            s[i] = '\0';
            fp->p[n] = s + start;
            fp->len[n] = i - start;
            n++;
            start = i + 4;
            i += 3;
        }
    }

    fp->p[n] = s + start;
    fp->len[n] = size - start;
}


#endif /* _XYZ_FUZZ_H_INCLUDED_ */
