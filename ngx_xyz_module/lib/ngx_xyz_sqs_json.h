
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The JSON of SQS's SendMessageBatch, both ways, over plain buffers: no
 * nginx types, so unit tests and fuzzers call it directly.
 */


#ifndef _NGX_XYZ_SQS_JSON_H_INCLUDED_
#define _NGX_XYZ_SQS_JSON_H_INCLUDED_


#include <stddef.h>


#define NGX_XYZ_SQS_BATCH_MAX  10


typedef struct {
    long long      id;          /* the outbox id: entry Id and dedup id */
    const char    *body;        /* UTF-8 JSON text */
    size_t         body_len;
    const char    *group;       /* MessageGroupId for FIFO queues */
} ngx_xyz_sqs_msg_t;


/* an upper bound of the request's length, for the caller's buffer */
size_t ngx_xyz_sqs_batch_len(const char *queue_url,
    const ngx_xyz_sqs_msg_t *m, size_t n);

/*
 * Writes the SendMessageBatch request body.  Each entry carries the id as
 * its Id and as a Number attribute "outbox_id"; on a FIFO queue also as
 * MessageDeduplicationId, with the group.  Returns the length, or -1.
 */
int ngx_xyz_sqs_batch_json(char *out, size_t size, const char *queue_url,
    const ngx_xyz_sqs_msg_t *m, size_t n, int fifo);

/*
 * Reads a SendMessageBatch answer: ok[i] becomes NGX_XYZ_SQS_SENT for every
 * id listed in "Successful", NGX_XYZ_SQS_REFUSED for one listed in "Failed"
 * with "SenderFault": true (its content is at fault), and NGX_XYZ_SQS_RETRY
 * otherwise: a failure on SQS's side ("SenderFault": false) or an entry
 * whose fate is not stated, which may succeed when sent again.  On the
 * first failure err receives its code and message.  Returns the number of
 * entries sent, or -1 when the text is not such an answer.
 */
#define NGX_XYZ_SQS_REFUSED  0
#define NGX_XYZ_SQS_SENT     1
#define NGX_XYZ_SQS_RETRY    2

int ngx_xyz_sqs_batch_result(const char *json, const ngx_xyz_sqs_msg_t *m,
    size_t n, unsigned char *ok, char *err, size_t err_size);

/*
 * From an SQS error answer ({"__type": "...#Code", "message": "..."}),
 * writes "Code: message" to err.  Returns 0, or -1 if it is not one.
 */
int ngx_xyz_sqs_error(const char *json, char *err, size_t err_size);


#endif /* _NGX_XYZ_SQS_JSON_H_INCLUDED_ */
