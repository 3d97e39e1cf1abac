
/*
 * Copyright (C) the XYZ sign-up authors
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <yajl/yajl_tree.h>

#include "ngx_xyz_json.h"
#include "ngx_xyz_sqs_consume.h"


static int ngx_xyz_sqs_entries_json(char *out, size_t size,
    const char *queue_url, const char *const *receipt_handles, size_t n,
    int timeout);
static int ngx_xyz_sqs_parse_id(const char *s, long long *id);
static long long ngx_xyz_sqs_body_outbox_id(const char *body);


size_t
ngx_xyz_sqs_consume_len(const char *queue_url, size_t payload_len)
{
    /* fixed text for up to ten entries, and every byte of the variable
     * parts as a six-byte \u00XX escape */

    return 1024 + 6 * (strlen(queue_url) + payload_len);
}


int
ngx_xyz_sqs_receive_json(char *out, size_t size, const char *queue_url,
    int max, int wait_seconds, int visibility)
{
    int    n;
    char  *p, *last;

    if (size == 0 || max < 1 || max > NGX_XYZ_SQS_RECEIVE_MAX
        || wait_seconds < 0 || wait_seconds > NGX_XYZ_SQS_WAIT_MAX
        || visibility < -1 || visibility > NGX_XYZ_SQS_VISIBILITY_MAX)
    {
        return -1;
    }

    p = out;
    last = out + size - 1;

    p = ngx_xyz_json_raw(p, last, "{\"QueueUrl\":");
    p = ngx_xyz_json_quote(p, last, queue_url, strlen(queue_url));

    if (p == NULL || last - p < 96) {
        return -1;
    }

    /* fewer than 80 characters with the largest values */

    n = snprintf(p, last - p, ",\"MaxNumberOfMessages\":%d,"
                              "\"WaitTimeSeconds\":%d", max, wait_seconds);
    p += n;

    if (visibility >= 0) {
        n = snprintf(p, last - p, ",\"VisibilityTimeout\":%d", visibility);
        p += n;
    }

    /*
     * AttributeNames is the older name of MessageSystemAttributeNames;
     * SQS takes both, and some emulators know only one of them.
     */

    p = ngx_xyz_json_raw(p, last,
                         ",\"AttributeNames\":[\"ApproximateReceiveCount\"],"
                         "\"MessageSystemAttributeNames\":"
                         "[\"ApproximateReceiveCount\"],"
                         "\"MessageAttributeNames\":[\"All\"]}");
    if (p == NULL) {
        return -1;
    }

    *p = '\0';

    return (int) (p - out);
}


int
ngx_xyz_sqs_receive_result(const char *json, ngx_xyz_sqs_received_t *msgs,
    size_t max, char *arena, size_t arena_size)
{
    int                      count;
    size_t                   i, pos;
    yajl_val                 root, list, msg, v;
    long long                id;
    const char              *handle, *s;
    ngx_xyz_sqs_received_t  *m;

    root = yajl_tree_parse(json, NULL, 0);

    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        goto failed;
    }

    list = ngx_xyz_json_member(root, "Messages");

    if (list == NULL || YAJL_IS_NULL(list)) {
        yajl_tree_free(root);
        return 0;
    }

    if (!YAJL_IS_ARRAY(list)) {
        goto failed;
    }

    count = 0;
    pos = 0;

    for (i = 0; i < list->u.array.len && (size_t) count < max; i++) {
        msg = list->u.array.values[i];

        handle = ngx_xyz_json_string(msg, "ReceiptHandle");
        if (handle == NULL || handle[0] == '\0') {
            continue;
        }

        m = &msgs[count];

        m->receipt_handle = ngx_xyz_json_arena_copy(arena, arena_size, &pos,
                                                    handle, strlen(handle));

        s = ngx_xyz_json_string(msg, "MessageId");
        s = s ? s : "";

        m->message_id = ngx_xyz_json_arena_copy(arena, arena_size, &pos, s,
                                                strlen(s));

        s = ngx_xyz_json_string(msg, "Body");
        s = s ? s : "";

        m->body_len = strlen(s);
        m->body = ngx_xyz_json_arena_copy(arena, arena_size, &pos, s,
                                          m->body_len);

        if (m->receipt_handle == NULL || m->message_id == NULL
            || m->body == NULL)
        {
            goto failed;
        }

        /* attribute values are strings, even the numeric ones */

        m->receive_count = 0;

        v = ngx_xyz_json_member(msg, "Attributes");
        s = ngx_xyz_json_string(v, "ApproximateReceiveCount");

        if (s && ngx_xyz_sqs_parse_id(s, &id) == 0 && id <= 0xffffffffLL) {
            m->receive_count = (unsigned) id;
        }

        m->outbox_id = -1;

        v = ngx_xyz_json_member(msg, "MessageAttributes");
        v = ngx_xyz_json_member(v, "outbox_id");
        s = ngx_xyz_json_string(v, "StringValue");

        if (s && ngx_xyz_sqs_parse_id(s, &id) == 0) {
            m->outbox_id = id;

        } else {
            m->outbox_id = ngx_xyz_sqs_body_outbox_id(m->body);
        }

        count++;
    }

    yajl_tree_free(root);

    return count;

failed:

    if (root) {
        yajl_tree_free(root);
    }

    return -1;
}


int
ngx_xyz_sqs_delete_batch_json(char *out, size_t size, const char *queue_url,
    const char *const *receipt_handles, size_t n)
{
    return ngx_xyz_sqs_entries_json(out, size, queue_url, receipt_handles,
                                    n, -1);
}


int
ngx_xyz_sqs_delete_batch_result(const char *json, size_t n,
    unsigned char *ok)
{
    int          deleted;
    size_t       i;
    yajl_val     root, list;
    long long    id;
    const char  *s;

    memset(ok, 0, n);

    root = yajl_tree_parse(json, NULL, 0);

    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        if (root) {
            yajl_tree_free(root);
        }

        return -1;
    }

    deleted = 0;

    list = ngx_xyz_json_member(root, "Successful");

    if (list && YAJL_IS_ARRAY(list)) {
        for (i = 0; i < list->u.array.len; i++) {
            s = ngx_xyz_json_string(list->u.array.values[i], "Id");

            if (s && ngx_xyz_sqs_parse_id(s, &id) == 0 && id >= 0
                && (size_t) id < n && !ok[id])
            {
                ok[id] = 1;
                deleted++;
            }
        }
    }

    yajl_tree_free(root);

    return deleted;
}


/*
 * ChangeMessageVisibilityBatch: the same timeout for every entry, with Ids
 * "0".."n-1"; what was not changed comes back at its lease's end, which is
 * what would have happened without the call.
 */

int
ngx_xyz_sqs_visibility_batch_json(char *out, size_t size,
    const char *queue_url, const char *const *receipt_handles, size_t n,
    int timeout)
{
    if (timeout < 0 || timeout > NGX_XYZ_SQS_VISIBILITY_MAX) {
        return -1;
    }

    return ngx_xyz_sqs_entries_json(out, size, queue_url, receipt_handles,
                                    n, timeout);
}


int
ngx_xyz_sqs_visibility_json(char *out, size_t size, const char *queue_url,
    const char *receipt_handle, int timeout)
{
    int    n;
    char  *p, *last;

    if (size == 0 || receipt_handle == NULL || timeout < 0
        || timeout > NGX_XYZ_SQS_VISIBILITY_MAX)
    {
        return -1;
    }

    p = out;
    last = out + size - 1;

    p = ngx_xyz_json_raw(p, last, "{\"QueueUrl\":");
    p = ngx_xyz_json_quote(p, last, queue_url, strlen(queue_url));
    p = ngx_xyz_json_raw(p, last, ",\"ReceiptHandle\":");
    p = ngx_xyz_json_quote(p, last, receipt_handle, strlen(receipt_handle));

    if (p == NULL || last - p < 32) {
        return -1;
    }

    n = snprintf(p, last - p, ",\"VisibilityTimeout\":%d}", timeout);
    p += n;

    *p = '\0';

    return (int) (p - out);
}


int
ngx_xyz_sqs_send_json(char *out, size_t size, const char *queue_url,
    const char *body, size_t body_len, const char *attr_name,
    const char *attr_value)
{
    return ngx_xyz_sqs_send_group_json(out, size, queue_url, body, body_len,
                                       attr_name, attr_value, NULL, NULL);
}


/* a FIFO id: 1-128 characters, letters, digits and ASCII punctuation */

static int
ngx_xyz_sqs_fifo_id(const char *s)
{
    size_t  n;

    for (n = 0; s[n]; n++) {
        if (n == 128 || s[n] <= ' ' || s[n] > '~') {
            return -1;
        }
    }

    return n ? 0 : -1;
}


int
ngx_xyz_sqs_send_group_json(char *out, size_t size, const char *queue_url,
    const char *body, size_t body_len, const char *attr_name,
    const char *attr_value, const char *group_id, const char *dedup_id)
{
    char        *p, *last;
    size_t       i, n;
    const char  *a;

    if ((group_id && ngx_xyz_sqs_fifo_id(group_id) != 0)
        || (dedup_id && ngx_xyz_sqs_fifo_id(dedup_id) != 0))
    {
        return -1;
    }

    if (size == 0 || body == NULL || body_len == 0) {
        return -1;
    }

    if (attr_name) {
        n = strlen(attr_name);

        if (n == 0 || n > 256 || attr_value == NULL || attr_value[0] == '\0'
            || attr_name[0] == '.' || attr_name[n - 1] == '.'
            || strncmp(attr_name, "AWS.", 4) == 0
            || strncmp(attr_name, "Amazon.", 7) == 0)
        {
            return -1;
        }

        for (i = 0; i < n; i++) {
            a = &attr_name[i];

            if (!((*a >= 'a' && *a <= 'z') || (*a >= 'A' && *a <= 'Z')
                  || (*a >= '0' && *a <= '9') || *a == '_' || *a == '-'
                  || *a == '.')
                || (*a == '.' && a[1] == '.'))
            {
                return -1;
            }
        }
    }

    p = out;
    last = out + size - 1;

    p = ngx_xyz_json_raw(p, last, "{\"QueueUrl\":");
    p = ngx_xyz_json_quote(p, last, queue_url, strlen(queue_url));
    p = ngx_xyz_json_raw(p, last, ",\"MessageBody\":");
    p = ngx_xyz_json_quote(p, last, body, body_len);

    if (attr_name) {
        p = ngx_xyz_json_raw(p, last, ",\"MessageAttributes\":{");
        p = ngx_xyz_json_quote(p, last, attr_name, strlen(attr_name));
        p = ngx_xyz_json_raw(p, last, ":{\"DataType\":\"String\","
                                      "\"StringValue\":");
        p = ngx_xyz_json_quote(p, last, attr_value, strlen(attr_value));
        p = ngx_xyz_json_raw(p, last, "}}");
    }

    if (group_id) {
        p = ngx_xyz_json_raw(p, last, ",\"MessageGroupId\":");
        p = ngx_xyz_json_quote(p, last, group_id, strlen(group_id));
    }

    if (dedup_id) {
        p = ngx_xyz_json_raw(p, last, ",\"MessageDeduplicationId\":");
        p = ngx_xyz_json_quote(p, last, dedup_id, strlen(dedup_id));
    }

    p = ngx_xyz_json_raw(p, last, "}");
    if (p == NULL) {
        return -1;
    }

    *p = '\0';

    return (int) (p - out);
}


int
ngx_xyz_backoff_seconds(unsigned receive_count, int base, int cap,
    unsigned r1000)
{
    unsigned   i;
    long long  t;

    if (base < 1 || cap < base || cap > NGX_XYZ_SQS_VISIBILITY_MAX
        || r1000 >= 1000)
    {
        return -1;
    }

    /* doubling stops at the cap, so nothing overflows */

    t = base;

    for (i = 1; i < receive_count && t < cap; i++) {
        t *= 2;
    }

    if (t > cap) {
        t = cap;
    }

    /* "equal jitter": half the delay is kept, the other half is random,
     * so retries spread out and yet grow with every receive */

    t = t * (1000 + r1000) / 2000;

    return t < 1 ? 1 : (int) t;
}


/*
 * The entries of a batch call, with Ids "0".."n-1": DeleteMessageBatch's
 * (timeout -1) or ChangeMessageVisibilityBatch's.
 */

static int
ngx_xyz_sqs_entries_json(char *out, size_t size, const char *queue_url,
    const char *const *receipt_handles, size_t n, int timeout)
{
    int     k;
    char   *p, *last;
    size_t  i;

    if (size == 0 || n == 0 || n > NGX_XYZ_SQS_RECEIVE_MAX) {
        return -1;
    }

    p = out;
    last = out + size - 1;

    p = ngx_xyz_json_raw(p, last, "{\"QueueUrl\":");
    p = ngx_xyz_json_quote(p, last, queue_url, strlen(queue_url));
    p = ngx_xyz_json_raw(p, last, ",\"Entries\":[");

    for (i = 0; i < n; i++) {
        if (p == NULL || last - p < (timeout < 0 ? 40 : 80)
            || receipt_handles[i] == NULL)
        {
            return -1;
        }

        if (timeout < 0) {
            k = snprintf(p, last - p, "%s{\"Id\":\"%u\",\"ReceiptHandle\":",
                         i ? "," : "", (unsigned) i);

        } else {
            k = snprintf(p, last - p, "%s{\"Id\":\"%u\","
                         "\"VisibilityTimeout\":%d,\"ReceiptHandle\":",
                         i ? "," : "", (unsigned) i, timeout);
        }

        p += k;

        p = ngx_xyz_json_quote(p, last, receipt_handles[i],
                               strlen(receipt_handles[i]));
        p = ngx_xyz_json_raw(p, last, "}");
    }

    p = ngx_xyz_json_raw(p, last, "]}");
    if (p == NULL) {
        return -1;
    }

    *p = '\0';

    return (int) (p - out);
}


/* a decimal integer, the whole string */

static int
ngx_xyz_sqs_parse_id(const char *s, long long *id)
{
    char       *end;
    long long   v;

    if (*s < '0' || *s > '9') {
        return -1;
    }

    errno = 0;
    v = strtoll(s, &end, 10);

    if (errno || *end != '\0') {
        return -1;
    }

    *id = v;

    return 0;
}


/* the "outbox_id" member of a JSON body, a number or a string of digits */

static long long
ngx_xyz_sqs_body_outbox_id(const char *body)
{
    yajl_val    root, v;
    long long   id;

    root = yajl_tree_parse(body, NULL, 0);
    if (root == NULL) {
        return -1;
    }

    id = -1;
    v = ngx_xyz_json_member(root, "outbox_id");

    if (v && YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) >= 0) {
        id = YAJL_GET_INTEGER(v);

    } else if (v && YAJL_IS_STRING(v)
               && ngx_xyz_sqs_parse_id(YAJL_GET_STRING(v), &id) != 0)
    {
        id = -1;
    }

    yajl_tree_free(root);

    return id;
}
