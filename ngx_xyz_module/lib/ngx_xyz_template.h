
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * "{{name}}" placeholders over plain buffers: no nginx types, so that unit
 * tests and fuzzers can call them directly.
 *
 * A placeholder is "{{", optional blanks, a name of letters, digits and
 * "_", optional blanks, "}}".  Any other text between "{{" and "}}" is an
 * error, and so is a "{{" that is never closed: a typo must show at
 * "nginx -t", not as a half-rendered email.  Extra opening braces before a
 * placeholder are text ("{{{name}}}" is "{", the value, "}"), so JSON
 * templates may put a placeholder right after an object's brace.
 */


#ifndef _NGX_XYZ_TEMPLATE_H_INCLUDED_
#define _NGX_XYZ_TEMPLATE_H_INCLUDED_


#include <stddef.h>


#define NGX_XYZ_TPL_RAW   0
#define NGX_XYZ_TPL_HTML  1     /* & < > " ' escaped */
#define NGX_XYZ_TPL_JSON  2     /* JSON string content escaped (no quotes
                                   added) */


typedef struct {
    const char                    *name;
    const char                    *value;   /* NULL renders as nothing */
} ngx_xyz_tpl_var_t;


/*
 * Renders tpl with the values of vars, escaped as asked; values are
 * copied as they are after escaping and never scanned for placeholders.
 * Returns the length written (out is NUL-terminated), or -1 for a
 * malformed template, a name missing from vars, or a short buffer.
 */
int ngx_xyz_template_render(const char *tpl, size_t len,
    const ngx_xyz_tpl_var_t *vars, size_t nvars, int escape, char *out,
    size_t size);

/*
 * Checks a template at configuration time: every placeholder well formed
 * and one of names[].  Returns the number of placeholders, or -1 with a
 * phrase in err that says what is wrong, e.g.
 * 'unknown placeholder "{{nmae}}"' or 'unclosed "{{" at byte 12'.
 */
int ngx_xyz_template_check(const char *tpl, size_t len,
    const char *const *names, size_t nnames, char *err, size_t err_size);

/*
 * Splits an email template's text part: its first line must be
 * "Subject: ..." (CRLF or LF), the body follows, an empty line right after
 * the subject is skipped.  Returns the subject's length, or -1 when the
 * first line is not a subject.
 */
int ngx_xyz_template_subject(const char *txt, size_t len,
    const char **subject, const char **body, size_t *body_len);


#endif /* _NGX_XYZ_TEMPLATE_H_INCLUDED_ */
