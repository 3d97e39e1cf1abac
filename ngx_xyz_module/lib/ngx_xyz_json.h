
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Small JSON helpers shared by the request builders and answer readers of
 * the dispatcher (SQS consumers, CRM bodies): writing strings into a
 * bounded buffer, and reading members of a yajl tree.  No nginx types.
 */


#ifndef _NGX_XYZ_JSON_H_INCLUDED_
#define _NGX_XYZ_JSON_H_INCLUDED_


#include <stddef.h>

#include <yajl/yajl_tree.h>


/*
 * The one JSON string escaper of the module.  Writes the len bytes of s as
 * the content of a JSON string (without the quotes) from p up to last;
 * returns the byte after it, or NULL when it does not fit or p is NULL.
 * '"' and '\\' are escaped with a backslash, \n \r \t as such, other
 * control characters and DEL as \u00XX; every other byte goes as it is
 * (UTF-8 is not checked, '/' is not escaped): at most 6 bytes a byte.
 */
char *ngx_xyz_json_escape(char *p, char *last, const char *s, size_t len);

/* the same, between quotes: a whole JSON string */
char *ngx_xyz_json_quote(char *p, char *last, const char *s, size_t len);

/* copies the C string s (JSON text) when it fits; NULL if not */
char *ngx_xyz_json_raw(char *p, char *last, const char *s);

/* the member key of an object, or NULL */
yajl_val ngx_xyz_json_member(yajl_val obj, const char *key);

/* the member key of an object when it is a string, or NULL */
const char *ngx_xyz_json_string(yajl_val obj, const char *key);

/*
 * Looks through the JSON text buf (len bytes, as yajl_tree_parse() reads
 * it, comments allowed) for a string or member name holding a NUL
 * character, an escaped "\u0000": yajl hands strings back NUL-terminated,
 * so such a string would be cut short without notice ("abc\u0000def" read
 * as "abc").  Returns 1 when there is one, and writes to field (size
 * bytes) the name of the top-level member it is in, or "" when that name
 * is not plain printable ASCII shorter than size; 0 when there is none;
 * -1 when buf is not valid JSON (the caller's parser will say so).
 */
int ngx_xyz_json_find_nul(const char *buf, size_t len, char *field,
    size_t size);

/*
 * Copies a string into an arena, NUL-terminated, advancing *pos; returns
 * the copy, or NULL when the arena is full.
 */
char *ngx_xyz_json_arena_copy(char *arena, size_t size, size_t *pos,
    const char *s, size_t len);


#endif /* _NGX_XYZ_JSON_H_INCLUDED_ */
