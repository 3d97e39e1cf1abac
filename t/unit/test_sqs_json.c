/*
 * Unit tests: the SendMessageBatch request and answer (ngx_xyz_sqs_json.c).
 */

#include <stdlib.h>

#include <yajl/yajl_tree.h>

#include "tap.h"
#include "ngx_xyz_sqs_json.h"


int
main(void)
{
    int                 n;
    char                out[4096], err[128];
    yajl_val            v;
    unsigned char       ok[3];
    ngx_xyz_sqs_msg_t   m[3];

    static const char  *p_url[] = { "QueueUrl", NULL };
    static const char  *p_body[] = { "Entries", NULL };

    m[0].id = 41;
    m[0].body = "{\"type\":\"confirm\",\"name\":\"Ana \\\"A\\\" P\xc3\xa9rez\"}";
    m[0].body_len = strlen(m[0].body);
    m[0].group = "email";
    m[1].id = 42;
    m[1].body = "line\nbreak\ttab";
    m[1].body_len = strlen(m[1].body);
    m[1].group = NULL;
    m[2].id = 43;
    m[2].body = "x";
    m[2].body_len = 1;
    m[2].group = NULL;

    n = ngx_xyz_sqs_batch_json(out, sizeof(out),
                               "http://sqs.us-east-1.localhost:4566/000/xyz-email",
                               m, 2, 0);
    ok(n > 0 && (size_t) n == strlen(out), "batch written");
    ok((size_t) n < ngx_xyz_sqs_batch_len("http://sqs.us-east-1.localhost:"
                                          "4566/000/xyz-email", m, 2),
       "the length bound holds");

    v = yajl_tree_parse(out, NULL, 0);
    ok(v != NULL, "the batch is valid JSON");
    is_str(YAJL_GET_STRING(yajl_tree_get(v, p_url, yajl_t_string)),
           "http://sqs.us-east-1.localhost:4566/000/xyz-email", "queue URL");

    {
        yajl_val  e = yajl_tree_get(v, p_body, yajl_t_array);
        yajl_val  first, second;

        static const char  *id[] = { "Id", NULL };
        static const char  *body[] = { "MessageBody", NULL };
        static const char  *attr[] = { "MessageAttributes", "outbox_id",
                                       "StringValue", NULL };
        static const char  *dedup[] = { "MessageDeduplicationId", NULL };

        ok(e && e->u.array.len == 2, "two entries");
        first = e->u.array.values[0];
        second = e->u.array.values[1];
        is_str(YAJL_GET_STRING(yajl_tree_get(first, id, yajl_t_string)), "41",
               "entry Id is the outbox id");
        is_str(YAJL_GET_STRING(yajl_tree_get(first, body, yajl_t_string)),
               m[0].body, "quotes and UTF-8 survive the round trip");
        is_str(YAJL_GET_STRING(yajl_tree_get(second, body, yajl_t_string)),
               m[1].body, "control characters survive the round trip");
        is_str(YAJL_GET_STRING(yajl_tree_get(first, attr, yajl_t_string)),
               "41", "outbox_id attribute");
        ok(yajl_tree_get(first, dedup, yajl_t_any) == NULL,
           "no deduplication id on a standard queue");
    }

    yajl_tree_free(v);

    n = ngx_xyz_sqs_batch_json(out, sizeof(out), "https://q/x.fifo", m, 1, 1);
    ok(n > 0 && strstr(out, "\"MessageDeduplicationId\":\"41\"") != NULL
       && strstr(out, "\"MessageGroupId\":\"email\"") != NULL,
       "FIFO queues get deduplication id and group");

    ok(ngx_xyz_sqs_batch_json(out, 40, "https://q/x", m, 2, 0) == -1,
       "a short buffer is refused");
    ok(ngx_xyz_sqs_batch_json(out, sizeof(out), "https://q/x", m, 0, 0) == -1,
       "an empty batch is refused");

    n = ngx_xyz_sqs_batch_result("{\"Successful\":[{\"Id\":\"41\","
                                 "\"MessageId\":\"a\"},{\"Id\":\"43\","
                                 "\"MessageId\":\"b\"}],\"Failed\":[{\"Id\":"
                                 "\"42\",\"SenderFault\":false,\"Code\":"
                                 "\"InternalError\",\"Message\":\"try "
                                 "again\"}]}", m, 3, ok, err, sizeof(err));
    ok(n == 2 && ok[0] == NGX_XYZ_SQS_SENT && ok[1] == NGX_XYZ_SQS_RETRY
       && ok[2] == NGX_XYZ_SQS_SENT,
       "a partial failure on SQS's side marks only that entry, to retry");
    is_str(err, "InternalError: try again", "the failure's code and message");

    n = ngx_xyz_sqs_batch_result("{\"Successful\":[{\"Id\":\"41\"}],"
                                 "\"Failed\":[]}", m, 3, ok, err,
                                 sizeof(err));
    ok(n == 1 && ok[0] == NGX_XYZ_SQS_SENT && ok[1] == NGX_XYZ_SQS_RETRY
       && ok[2] == NGX_XYZ_SQS_RETRY,
       "entries missing from the answer are sent again, not refused");

    n = ngx_xyz_sqs_batch_result("{\"Successful\":[{\"Id\":\"41\"}],"
                                 "\"Failed\":[{\"Id\":\"42\",\"SenderFault\":"
                                 "true,\"Code\":\"InvalidMessageContents\"},"
                                 "{\"Id\":\"43\",\"SenderFault\":\"true\"}]}",
                                 m, 3, ok, err, sizeof(err));
    ok(n == 1 && ok[1] == NGX_XYZ_SQS_REFUSED && ok[2] == NGX_XYZ_SQS_RETRY,
       "only SenderFault true is a refusal (not the string \"true\")");
    is_str(err, "InvalidMessageContents", "the refusal's code");

    ok(ngx_xyz_sqs_batch_result("<xml/>", m, 3, ok, err, sizeof(err)) == -1,
       "garbage is refused");

    ok(ngx_xyz_sqs_error("{\"__type\":\"com.amazonaws.sqs#QueueDoesNotExist\","
                         "\"message\":\"The specified queue does not exist.\"}",
                         err, sizeof(err)) == 0, "error answer read");
    is_str(err, "QueueDoesNotExist: The specified queue does not exist.",
           "error code and message");

    return done_testing();
}
