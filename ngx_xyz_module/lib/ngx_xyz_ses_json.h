
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * SES bounce and complaint notifications, as the SES feedback queue holds
 * them: an SNS envelope whose "Message" is the notification as a JSON
 * string, or (raw message delivery) the notification itself.  Both SES
 * formats are read: identity notifications ("notificationType") and
 * configuration set events ("eventType").  Plain buffers, no nginx types,
 * so that unit tests and fuzzers call it directly.
 */


#ifndef _NGX_XYZ_SES_JSON_H_INCLUDED_
#define _NGX_XYZ_SES_JSON_H_INCLUDED_


#include <stddef.h>


#define NGX_XYZ_SES_RCPT_MAX       50      /* SES's recipients a message */

#define NGX_XYZ_SES_OTHER          0       /* a delivery, a send, ...: no
                                              concern of the feedback */
#define NGX_XYZ_SES_PERMANENT      1       /* a hard bounce: suppress */
#define NGX_XYZ_SES_TRANSIENT      2       /* soft (or undetermined):
                                              counted only */
#define NGX_XYZ_SES_COMPLAINT      3       /* suppress */


typedef struct {
    int                      type;           /* NGX_XYZ_SES_* */

    /* "Permanent/General", "Transient/MailboxFull", "abuse", ... for
     * the record; printable ASCII, cut at 127 bytes, "" when absent */
    char                     detail[128];

    /* the notification's feedbackId (or the SNS MessageId), printable
     * ASCII, cut at 127 bytes; "" when absent */
    char                     feedback_id[128];

    /* the recipients concerned, normalised (trimmed, ASCII lowercased);
     * addresses that are not valid are left out and counted */
    char                    *rcpt[NGX_XYZ_SES_RCPT_MAX];
    size_t                   nrcpt;
    size_t                   invalid;
} ngx_xyz_ses_feedback_t;


/*
 * Reads one SQS message body (len bytes, NUL-terminated).  Returns 0 and
 * fills fb (the addresses copied into arena, which len + 1 KiB always
 * fits), or -1 when the body is not an SES notification (not JSON, an SNS
 * message of another type, no notification type, a bounce or complaint
 * without recipients); err (size bytes) then says why, without quoting
 * the body.
 */
int ngx_xyz_ses_feedback_parse(const char *body, size_t len,
    ngx_xyz_ses_feedback_t *fb, char *arena, size_t arena_size, char *err,
    size_t size);

/*
 * The recipients joined by newlines into out (size bytes), for one SQL
 * parameter; returns the length, or -1 when they do not fit.
 */
int ngx_xyz_ses_feedback_join(const ngx_xyz_ses_feedback_t *fb, char *out,
    size_t size);


#endif /* _NGX_XYZ_SES_JSON_H_INCLUDED_ */
