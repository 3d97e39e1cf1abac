
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The JSON of SQS's consumer side (ReceiveMessage, DeleteMessageBatch,
 * ChangeMessageVisibility, SendMessage to a dead-letter queue) over plain
 * buffers, and the backoff arithmetic: no nginx types, so that unit tests
 * and fuzzers call them directly.
 */


#ifndef _NGX_XYZ_SQS_CONSUME_H_INCLUDED_
#define _NGX_XYZ_SQS_CONSUME_H_INCLUDED_


#include <stddef.h>


#define NGX_XYZ_SQS_RECEIVE_MAX     10
#define NGX_XYZ_SQS_WAIT_MAX        20
#define NGX_XYZ_SQS_VISIBILITY_MAX  43200


typedef struct {
    char                          *message_id;      /* "" when absent */
    char                          *receipt_handle;
    char                          *body;            /* "" when absent */
    size_t                         body_len;

    /* Attributes.ApproximateReceiveCount, 0 if absent */
    unsigned                       receive_count;

    /* MessageAttributes.outbox_id.StringValue, else the body's
     * "outbox_id", else -1 */
    long long                      outbox_id;
} ngx_xyz_sqs_received_t;


/*
 * An upper bound of the length of any request below, for the caller's
 * buffer; payload_len is the sum of the lengths of the receipt handles,
 * the body and the attribute it carries.
 */
size_t ngx_xyz_sqs_consume_len(const char *queue_url, size_t payload_len);

/*
 * ReceiveMessage: max 1-10, wait_seconds 0-20, visibility 0-43200 or -1
 * for the queue's default.  Asks for ApproximateReceiveCount both as
 * MessageSystemAttributeNames and as the older AttributeNames (emulators
 * read one or the other), and for all message attributes.  Returns the
 * length, or -1.
 */
int ngx_xyz_sqs_receive_json(char *out, size_t size, const char *queue_url,
    int max, int wait_seconds, int visibility);

/*
 * Reads a ReceiveMessage answer into msgs, the strings copied into the
 * arena (the body's length plus about 1 KiB a message is plenty).
 * Messages without a ReceiptHandle cannot be deleted and are skipped; any
 * beyond max are left (they come back after their visibility timeout).
 * Returns the count, 0 for "{}" or no Messages, -1 for garbage or a full
 * arena.
 */
int ngx_xyz_sqs_receive_result(const char *json, ngx_xyz_sqs_received_t *msgs,
    size_t max, char *arena, size_t arena_size);

/* DeleteMessageBatch, 1-10 entries with Ids "0".."n-1" */
int ngx_xyz_sqs_delete_batch_json(char *out, size_t size,
    const char *queue_url, const char *const *receipt_handles, size_t n);

/*
 * Reads a DeleteMessageBatch answer: ok[i] is 1 when Id "i" is listed in
 * Successful, 0 otherwise (Failed, or not mentioned).  Returns the count of
 * deleted entries, or -1 for garbage.
 */
int ngx_xyz_sqs_delete_batch_result(const char *json, size_t n,
    unsigned char *ok);

/* ChangeMessageVisibility, timeout 0-43200 seconds */
int ngx_xyz_sqs_visibility_json(char *out, size_t size,
    const char *queue_url, const char *receipt_handle, int timeout);

/* ChangeMessageVisibilityBatch, 1-10 entries, the same timeout for all */
int ngx_xyz_sqs_visibility_batch_json(char *out, size_t size,
    const char *queue_url, const char *const *receipt_handles, size_t n,
    int timeout);

/*
 * SendMessage with one String message attribute (attr_name NULL: none),
 * to move a message to a dead-letter queue with the reason.  The name
 * must be an SQS attribute name (letters, digits, "_", "-", "."; 1-256)
 * and the value not empty.  Standard queues only: there is no group id.
 */
int ngx_xyz_sqs_send_json(char *out, size_t size, const char *queue_url,
    const char *body, size_t body_len, const char *attr_name,
    const char *attr_value);

/*
 * The same with a MessageGroupId and a MessageDeduplicationId, which a FIFO
 * queue needs (NULL: left out; each 1-128 characters of letters, digits
 * and ASCII punctuation).
 */
int ngx_xyz_sqs_send_group_json(char *out, size_t size,
    const char *queue_url, const char *body, size_t body_len,
    const char *attr_name, const char *attr_value, const char *group_id,
    const char *dedup_id);

/*
 * Visibility timeout for a failed delivery: exponential backoff with
 * jitter, min(cap, base * 2^(receive_count - 1)) scaled by a factor in
 * [0.5, 1.0) given as r1000 in [0, 1000) (e.g. from a random source), and
 * at least 1.  A receive_count of 0 counts as 1.  base >= 1,
 * base <= cap <= 43200.  Returns the seconds, or -1 for bad arguments.
 */
int ngx_xyz_backoff_seconds(unsigned receive_count, int base, int cap,
    unsigned r1000);


#endif /* _NGX_XYZ_SQS_CONSUME_H_INCLUDED_ */
