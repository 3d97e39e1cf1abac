
/*
 * Copyright (C) the XYZ sign-up authors
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "ngx_xyz_json.h"
#include "ngx_xyz_sqs_json.h"


size_t
ngx_xyz_sqs_batch_len(const char *queue_url, const ngx_xyz_sqs_msg_t *m,
    size_t n)
{
    size_t  i, len;

    /* every byte may become a six-byte \u00XX escape */

    len = 64 + 6 * strlen(queue_url);

    for (i = 0; i < n; i++) {
        len += 256 + 6 * m[i].body_len
               + (m[i].group ? 6 * strlen(m[i].group) : 0);
    }

    return len;
}


int
ngx_xyz_sqs_batch_json(char *out, size_t size, const char *queue_url,
    const ngx_xyz_sqs_msg_t *m, size_t n, int fifo)
{
    int     k;
    char   *p, *last;
    size_t  i;

    if (n == 0 || n > NGX_XYZ_SQS_BATCH_MAX || size == 0) {
        return -1;
    }

    p = out;
    last = out + size;

#define NGX_XYZ_PUT(s)                                                        \
    do {                                                                      \
        size_t  l_ = strlen(s);                                               \
        if ((size_t) (last - p) <= l_) {                                      \
            return -1;                                                        \
        }                                                                     \
        memcpy(p, s, l_);                                                     \
        p += l_;                                                              \
    } while (0)

    NGX_XYZ_PUT("{\"QueueUrl\":");
    p = ngx_xyz_json_quote(p, last, queue_url, strlen(queue_url));
    if (p == NULL) {
        return -1;
    }

    NGX_XYZ_PUT(",\"Entries\":[");

    for (i = 0; i < n; i++) {
        if ((size_t) (last - p) < 160) {
            return -1;
        }

        k = snprintf(p, last - p,
                     "%s{\"Id\":\"%lld\",\"MessageAttributes\":{\"outbox_id\":"
                     "{\"DataType\":\"Number\",\"StringValue\":\"%lld\"}},"
                     "\"MessageBody\":",
                     i ? "," : "", m[i].id, m[i].id);

        if (k < 0 || k >= last - p) {
            return -1;
        }

        p += k;

        p = ngx_xyz_json_quote(p, last, m[i].body, m[i].body_len);
        if (p == NULL) {
            return -1;
        }

        if (fifo) {
            if ((size_t) (last - p) < 64) {
                return -1;
            }

            p += snprintf(p, last - p, ",\"MessageDeduplicationId\":"
                                       "\"%lld\",\"MessageGroupId\":",
                          m[i].id);

            p = ngx_xyz_json_quote(p, last, m[i].group ? m[i].group : "xyz",
                                   m[i].group ? strlen(m[i].group) : 3);
            if (p == NULL) {
                return -1;
            }
        }

        NGX_XYZ_PUT("}");
    }

    NGX_XYZ_PUT("]}");

#undef NGX_XYZ_PUT

    *p = '\0';

    return (int) (p - out);
}


int
ngx_xyz_sqs_batch_result(const char *json, const ngx_xyz_sqs_msg_t *m,
    size_t n, unsigned char *ok, char *err, size_t err_size)
{
    int          sent;
    char        *end;
    size_t       j, k;
    yajl_val     root, list, entry;
    long long    id;
    const char  *s, *code, *msg;

    static const char  *succeeded[] = { "Successful", NULL };
    static const char  *failed[] = { "Failed", NULL };

    memset(ok, NGX_XYZ_SQS_RETRY, n);

    if (err_size) {
        err[0] = '\0';
    }

    root = yajl_tree_parse(json, NULL, 0);
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        if (root) {
            yajl_tree_free(root);
        }

        return -1;
    }

    sent = 0;

    list = yajl_tree_get(root, succeeded, yajl_t_array);

    for (k = 0; list && k < list->u.array.len; k++) {
        entry = list->u.array.values[k];
        s = ngx_xyz_json_string(entry, "Id");

        if (s == NULL) {
            continue;
        }

        id = strtoll(s, &end, 10);
        if (*end != '\0') {
            continue;
        }

        for (j = 0; j < n; j++) {
            if (m[j].id == id && ok[j] != NGX_XYZ_SQS_SENT) {
                ok[j] = NGX_XYZ_SQS_SENT;
                sent++;
                break;
            }
        }
    }

    list = yajl_tree_get(root, failed, yajl_t_array);

    /*
     * Only the sender's fault is a refusal that counts towards parking a
     * row; SQS's own failures (InternalError, ServiceUnavailable) leave
     * the entry to be sent again, however long they last.
     */

    for (k = 0; list && k < list->u.array.len; k++) {
        entry = list->u.array.values[k];
        s = ngx_xyz_json_string(entry, "Id");

        /* the JSON literal true: a string "true" is not */

        if (s == NULL
            || !YAJL_IS_TRUE(ngx_xyz_json_member(entry, "SenderFault")))
        {
            continue;
        }

        id = strtoll(s, &end, 10);
        if (*end != '\0') {
            continue;
        }

        for (j = 0; j < n; j++) {
            if (m[j].id == id && ok[j] == NGX_XYZ_SQS_RETRY) {
                ok[j] = NGX_XYZ_SQS_REFUSED;
                break;
            }
        }
    }

    if (list && list->u.array.len && err_size) {
        entry = list->u.array.values[0];
        code = ngx_xyz_json_string(entry, "Code");
        msg = ngx_xyz_json_string(entry, "Message");

        snprintf(err, err_size, "%s%s%s", code ? code : "failed",
                 msg ? ": " : "", msg ? msg : "");
    }

    if ((size_t) sent < n && err_size && err[0] == '\0') {
        snprintf(err, err_size, "entries missing from the answer");
    }

    yajl_tree_free(root);

    return sent;
}


int
ngx_xyz_sqs_error(const char *json, char *err, size_t err_size)
{
    yajl_val     root;
    const char  *type, *msg, *hash;

    root = yajl_tree_parse(json, NULL, 0);
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        if (root) {
            yajl_tree_free(root);
        }

        return -1;
    }

    type = ngx_xyz_json_string(root, "__type");
    msg = ngx_xyz_json_string(root, "message");

    if (msg == NULL) {
        msg = ngx_xyz_json_string(root, "Message");
    }

    if (type == NULL) {
        yajl_tree_free(root);
        return -1;
    }

    /* "com.amazonaws.sqs#QueueDoesNotExist" -> "QueueDoesNotExist" */
    hash = strrchr(type, '#');

    snprintf(err, err_size, "%s%s%s", hash ? hash + 1 : type,
             msg ? ": " : "", msg ? msg : "");

    yajl_tree_free(root);

    return 0;
}
