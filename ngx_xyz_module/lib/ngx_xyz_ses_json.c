
/*
 * Copyright (C) the XYZ sign-up authors
 */


#include <stdio.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "ngx_xyz_json.h"
#include "ngx_xyz_validate.h"
#include "ngx_xyz_ses_json.h"


static int ngx_xyz_ses_notification(yajl_val n, ngx_xyz_ses_feedback_t *fb,
    char *arena, size_t arena_size, char *err, size_t size);
static int ngx_xyz_ses_recipients(yajl_val list, ngx_xyz_ses_feedback_t *fb,
    char *arena, size_t arena_size);
static void ngx_xyz_ses_copy(char *dst, size_t size, const char *a,
    const char *b);


int
ngx_xyz_ses_feedback_parse(const char *body, size_t len,
    ngx_xyz_ses_feedback_t *fb, char *arena, size_t arena_size, char *err,
    size_t size)
{
    int          rc;
    yajl_val     root, inner;
    const char  *type, *message, *id;

    memset(fb, 0, sizeof(ngx_xyz_ses_feedback_t));

    if (size) {
        err[0] = '\0';
    }

    /* yajl reads up to a NUL: a body with one inside is not what it says */

    if (body == NULL || strlen(body) != len) {
        snprintf(err, size, "the body holds a NUL byte");
        return -1;
    }

    root = yajl_tree_parse(body, NULL, 0);

    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        snprintf(err, size, "the body is not a JSON object");
        rc = -1;
        goto done;
    }

    type = ngx_xyz_json_string(root, "Type");

    if (type == NULL) {
        /* raw message delivery: the SES notification itself */
        rc = ngx_xyz_ses_notification(root, fb, arena, arena_size, err, size);
        goto done;
    }

    if (strcmp(type, "Notification") != 0) {
        snprintf(err, size, "an SNS message of another type than "
                 "Notification");
        rc = -1;
        goto done;
    }

    message = ngx_xyz_json_string(root, "Message");

    if (message == NULL) {
        snprintf(err, size, "an SNS notification without a Message");
        rc = -1;
        goto done;
    }

    inner = yajl_tree_parse(message, NULL, 0);

    if (inner == NULL || !YAJL_IS_OBJECT(inner)) {
        if (inner) {
            yajl_tree_free(inner);
        }

        snprintf(err, size, "the SNS Message is not a JSON object");
        rc = -1;
        goto done;
    }

    rc = ngx_xyz_ses_notification(inner, fb, arena, arena_size, err, size);

    /* a notification without a feedbackId is known by the SNS message */

    id = ngx_xyz_json_string(root, "MessageId");

    if (rc == 0 && fb->feedback_id[0] == '\0' && id) {
        ngx_xyz_ses_copy(fb->feedback_id, sizeof(fb->feedback_id), id, NULL);
    }

    yajl_tree_free(inner);

done:

    if (root) {
        yajl_tree_free(root);
    }

    return rc;
}


static int
ngx_xyz_ses_notification(yajl_val n, ngx_xyz_ses_feedback_t *fb,
    char *arena, size_t arena_size, char *err, size_t size)
{
    yajl_val     part, list;
    const char  *type, *sub, *id;

    /* identity notifications say "notificationType", configuration set
     * events "eventType"; the rest is the same */

    type = ngx_xyz_json_string(n, "notificationType");
    if (type == NULL) {
        type = ngx_xyz_json_string(n, "eventType");
    }

    if (type == NULL) {
        snprintf(err, size, "no notificationType nor eventType");
        return -1;
    }

    if (strcmp(type, "Bounce") == 0) {
        part = ngx_xyz_json_member(n, "bounce");
        list = ngx_xyz_json_member(part, "bouncedRecipients");
        sub = ngx_xyz_json_string(part, "bounceType");

        /* "Undetermined" too is counted, not suppressed: SES could not
         * tell, and one more bounce costs less than a lost customer */

        fb->type = (sub && strcmp(sub, "Permanent") == 0)
                   ? NGX_XYZ_SES_PERMANENT : NGX_XYZ_SES_TRANSIENT;

        ngx_xyz_ses_copy(fb->detail, sizeof(fb->detail), sub ? sub : "Bounce",
                         ngx_xyz_json_string(part, "bounceSubType"));

    } else if (strcmp(type, "Complaint") == 0) {
        part = ngx_xyz_json_member(n, "complaint");
        list = ngx_xyz_json_member(part, "complainedRecipients");
        fb->type = NGX_XYZ_SES_COMPLAINT;

        ngx_xyz_ses_copy(fb->detail, sizeof(fb->detail), "Complaint",
                         ngx_xyz_json_string(part, "complaintFeedbackType"));

    } else {
        /* deliveries, sends, rejects, opens ...: nothing to mark */
        fb->type = NGX_XYZ_SES_OTHER;
        ngx_xyz_ses_copy(fb->detail, sizeof(fb->detail), type, NULL);
        return 0;
    }

    if (part == NULL || !YAJL_IS_OBJECT(part)) {
        snprintf(err, size, "a %s without its \"%s\" object", type,
                 fb->type == NGX_XYZ_SES_COMPLAINT ? "complaint" : "bounce");
        return -1;
    }

    id = ngx_xyz_json_string(part, "feedbackId");
    if (id) {
        ngx_xyz_ses_copy(fb->feedback_id, sizeof(fb->feedback_id), id, NULL);
    }

    if (list == NULL || !YAJL_IS_ARRAY(list)) {
        snprintf(err, size, "a %s without its list of recipients", type);
        return -1;
    }

    if (ngx_xyz_ses_recipients(list, fb, arena, arena_size) != 0) {
        snprintf(err, size, "a %s with too many recipients to hold", type);
        return -1;
    }

    if (fb->nrcpt == 0) {
        snprintf(err, size, "a %s without a valid recipient", type);
        return -1;
    }

    return 0;
}


static int
ngx_xyz_ses_recipients(yajl_val list, ngx_xyz_ses_feedback_t *fb,
    char *arena, size_t arena_size)
{
    char         out[NGX_XYZ_EMAIL_MAX + 1];
    size_t       i, j, n, pos;
    const char  *addr, *lt, *gt, *start;

    pos = 0;

    for (i = 0; i < list->u.array.len; i++) {
        addr = ngx_xyz_json_string(list->u.array.values[i], "emailAddress");

        if (addr == NULL) {
            fb->invalid++;
            continue;
        }

        /* "Name <address>" gives the address */

        n = strlen(addr);
        lt = strchr(addr, '<');
        gt = lt ? strchr(lt, '>') : NULL;

        if (lt && gt) {
            addr = lt + 1;
            n = gt - addr;
        }

        if (ngx_xyz_email_normalize(addr, n, out, &start, &n) != 0) {
            fb->invalid++;
            continue;
        }

        /* the same address twice is marked once */

        for (j = 0; j < fb->nrcpt; j++) {
            if (strcmp(fb->rcpt[j], out) == 0) {
                break;
            }
        }

        if (j < fb->nrcpt) {
            continue;
        }

        if (fb->nrcpt == NGX_XYZ_SES_RCPT_MAX) {
            /* SES names at most 50; more is not an SES notification */
            return -1;
        }

        fb->rcpt[fb->nrcpt] = ngx_xyz_json_arena_copy(arena, arena_size,
                                                      &pos, out, n);
        if (fb->rcpt[fb->nrcpt] == NULL) {
            return -1;
        }

        fb->nrcpt++;
    }

    return 0;
}


/* a, "/" and b (when given), printable ASCII only, cut to fit */

static void
ngx_xyz_ses_copy(char *dst, size_t size, const char *a, const char *b)
{
    size_t       n;
    const char  *s;

    n = 0;

    for (s = a; *s && n + 1 < size; s++) {
        if (*s >= ' ' && *s <= '~') {
            dst[n++] = *s;
        }
    }

    if (b && *b && n + 2 < size) {
        dst[n++] = '/';

        for (s = b; *s && n + 1 < size; s++) {
            if (*s >= ' ' && *s <= '~') {
                dst[n++] = *s;
            }
        }
    }

    dst[n] = '\0';
}


int
ngx_xyz_ses_feedback_join(const ngx_xyz_ses_feedback_t *fb, char *out,
    size_t size)
{
    size_t  i, n, len;

    len = 0;

    for (i = 0; i < fb->nrcpt; i++) {
        n = strlen(fb->rcpt[i]);

        if (len + n + 2 > size) {
            return -1;
        }

        if (i) {
            out[len++] = '\n';
        }

        memcpy(out + len, fb->rcpt[i], n);
        len += n;
    }

    if (size == 0) {
        return -1;
    }

    out[len] = '\0';

    return (int) len;
}
