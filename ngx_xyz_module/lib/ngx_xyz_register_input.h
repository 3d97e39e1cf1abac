
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Parsing and validation of a registration body.  Pure C over plain
 * buffers: no nginx types, so unit tests and fuzzers call it directly.
 */


#ifndef _NGX_XYZ_REGISTER_INPUT_H_INCLUDED_
#define _NGX_XYZ_REGISTER_INPUT_H_INCLUDED_


#include <stddef.h>

#include "ngx_xyz_validate.h"


#define NGX_XYZ_NAME_MAX          100     /* code points */
#define NGX_XYZ_PASSWORD_MAX      1024    /* code points, hard limit */


typedef struct {
    char         email[NGX_XYZ_EMAIL_MAX + 1];
    char         email_normalized[NGX_XYZ_EMAIL_MAX + 1];
    char         name[NGX_XYZ_NAME_MAX * 4 + 1];
    char         password[NGX_XYZ_PASSWORD_MAX * 4 + 1];
    size_t       password_len;
    char         locale[3];
    int          marketing_consent;
} ngx_xyz_register_input_t;


typedef struct {
    int          status;        /* 400 or 422 */
    const char  *code;          /* machine-readable, e.g. "invalid_field" */
    const char  *field;         /* NULL when the body as a whole is wrong */
    const char  *message;       /* for people; never echoes the input */
    char         field_buf[64];
    char         message_buf[96];
} ngx_xyz_input_error_t;


/*
 * Parses a JSON body of len bytes at buf (which must be followed by a NUL
 * byte) into *in.  Returns 0, or -1 with *err filled.  Password length
 * bounds are in code points.
 */
int ngx_xyz_register_input_parse(const char *buf, size_t len,
    size_t password_min, size_t password_max, ngx_xyz_register_input_t *in,
    ngx_xyz_input_error_t *err);


/*
 * Turns a form post (application/x-www-form-urlencoded) of the sign-up
 * page into the JSON body the parser takes: the fields it knows, decoded;
 * "marketing_consent" present (a ticked box) means true.  Other fields
 * (buttons) are dropped.  Writes NUL-terminated JSON to out; returns its
 * length, or -1 when the form is malformed or out is too small.
 */
int ngx_xyz_register_form_to_json(const char *form, size_t len, char *out,
    size_t size);


#endif /* _NGX_XYZ_REGISTER_INPUT_H_INCLUDED_ */
