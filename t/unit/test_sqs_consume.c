/*
 * Unit tests: the consumer side of SQS (ngx_xyz_sqs_consume.c):
 * ReceiveMessage, DeleteMessageBatch, ChangeMessageVisibility, SendMessage
 * and the backoff.
 */

#include <stdlib.h>

#include <yajl/yajl_tree.h>

#include "tap.h"
#include "ngx_xyz_sqs_consume.h"


#define URL  "http://sqs.us-east-1.localhost:4566/000000000000/xyz-email"


static const char  *p_url[] = { "QueueUrl", NULL };


static long long
get_int(yajl_val v, const char *key)
{
    const char  *path[2];
    yajl_val     n;

    path[0] = key;
    path[1] = NULL;

    n = yajl_tree_get(v, path, yajl_t_number);

    return (n && YAJL_IS_INTEGER(n)) ? YAJL_GET_INTEGER(n) : -12345;
}


static const char *
get_str(yajl_val v, const char *key)
{
    const char  *path[2];
    yajl_val     s;

    path[0] = key;
    path[1] = NULL;

    s = yajl_tree_get(v, path, yajl_t_string);

    return s ? s->u.string : "(absent)";
}


static int
list_is(yajl_val v, const char *key, const char *value)
{
    const char  *path[2];
    yajl_val     a;

    path[0] = key;
    path[1] = NULL;

    a = yajl_tree_get(v, path, yajl_t_array);

    return a && a->u.array.len == 1 && YAJL_IS_STRING(a->u.array.values[0])
           && strcmp(a->u.array.values[0]->u.string, value) == 0;
}


static void
test_receive_request(void)
{
    int       n;
    char      out[1024];
    yajl_val  v;

    n = ngx_xyz_sqs_receive_json(out, sizeof(out), URL, 10, 20, 60);
    ok(n > 0 && (size_t) n == strlen(out), "ReceiveMessage written");
    ok((size_t) n < ngx_xyz_sqs_consume_len(URL, 0), "the length bound holds");

    v = yajl_tree_parse(out, NULL, 0);
    ok(v != NULL, "it is JSON");
    is_str(YAJL_GET_STRING(yajl_tree_get(v, p_url, yajl_t_string)), URL,
           "QueueUrl");
    ok(get_int(v, "MaxNumberOfMessages") == 10, "MaxNumberOfMessages");
    ok(get_int(v, "WaitTimeSeconds") == 20, "WaitTimeSeconds");
    ok(get_int(v, "VisibilityTimeout") == 60, "VisibilityTimeout");
    ok(list_is(v, "MessageSystemAttributeNames", "ApproximateReceiveCount"),
       "MessageSystemAttributeNames asks for the receive count");
    ok(list_is(v, "AttributeNames", "ApproximateReceiveCount"),
       "so does the older AttributeNames");
    ok(list_is(v, "MessageAttributeNames", "All"),
       "all message attributes are asked for");
    yajl_tree_free(v);

    n = ngx_xyz_sqs_receive_json(out, sizeof(out), URL, 1, 0, -1);
    v = yajl_tree_parse(out, NULL, 0);
    ok(n > 0 && v && get_int(v, "VisibilityTimeout") == -12345,
       "visibility -1 leaves the queue's default");
    yajl_tree_free(v);

    ok(ngx_xyz_sqs_receive_json(out, sizeof(out), URL, 0, 20, -1) == -1,
       "max 0 is refused");
    ok(ngx_xyz_sqs_receive_json(out, sizeof(out), URL, 11, 20, -1) == -1,
       "max 11 is refused");
    ok(ngx_xyz_sqs_receive_json(out, sizeof(out), URL, 10, 21, -1) == -1,
       "a wait over 20 s is refused");
    ok(ngx_xyz_sqs_receive_json(out, sizeof(out), URL, 10, 20, 43201) == -1,
       "a visibility over 12 h is refused");
    ok(ngx_xyz_sqs_receive_json(out, 100, URL, 10, 20, 30) == -1,
       "a short buffer is refused");
}


static void
test_receive_result(void)
{
    int                     n;
    char                    arena[4096];
    ngx_xyz_sqs_received_t  m[3];

    /* as SQS answers: the first message published by the relay (with the
     * outbox_id attribute), the second sent by hand without it, a third
     * without a receipt handle */

    static const char  answer[] =
        "{\"Messages\":[{"
          "\"MessageId\":\"5fea7756-0ea4-451a-a703-a558b933e274\","
          "\"ReceiptHandle\":\"MbZj6wDWli+JvwwJaBV+3dcjk2YW2vA3+STFFljTM8tJ"
            "JgoTdcZ9aVQ/KCEvlOWnG3B9vBOa9BgvbMEOQqF6Jw==\","
          "\"MD5OfBody\":\"fafb00f5732ab283681e124bf8747ed1\","
          "\"Body\":\"{\\\"type\\\":\\\"confirm\\\",\\\"user_id\\\":7,"
            "\\\"email\\\":\\\"ana@example.com\\\",\\\"name\\\":"
            "\\\"Ana P\\u00e9rez\\\",\\\"outbox_id\\\":999}\","
          "\"Attributes\":{\"SenderId\":\"AIDASSYFHUBOBT7F4XT75\","
            "\"ApproximateFirstReceiveTimestamp\":\"1795802400000\","
            "\"ApproximateReceiveCount\":\"3\","
            "\"SentTimestamp\":\"1795802399000\"},"
          "\"MD5OfMessageAttributes\":\"d25a6aea97eb8f585bfa92d314504a92\","
          "\"MessageAttributes\":{\"outbox_id\":{\"StringValue\":\"41\","
            "\"DataType\":\"Number\"}}"
        "},{"
          "\"MessageId\":\"m2\",\"ReceiptHandle\":\"rh-2\","
          "\"Body\":\"{\\\"outbox_id\\\":42,\\\"type\\\":\\\"confirm\\\"}\""
        "},{"
          "\"MessageId\":\"m3\",\"Body\":\"lost\""
        "},{"
          "\"MessageId\":\"m4\",\"ReceiptHandle\":\"rh-4\","
          "\"Body\":\"not json\","
          "\"Attributes\":{\"ApproximateReceiveCount\":\"x\"}"
        "}]}";

    n = ngx_xyz_sqs_receive_result(answer, m, 3, arena, sizeof(arena));
    ok(n == 3, "three messages with receipt handles");

    is_str(m[0].message_id, "5fea7756-0ea4-451a-a703-a558b933e274",
           "MessageId");
    is_str(m[0].receipt_handle, "MbZj6wDWli+JvwwJaBV+3dcjk2YW2vA3+STFFljTM8tJ"
           "JgoTdcZ9aVQ/KCEvlOWnG3B9vBOa9BgvbMEOQqF6Jw==", "ReceiptHandle");
    is_str(m[0].body, "{\"type\":\"confirm\",\"user_id\":7,\"email\":"
           "\"ana@example.com\",\"name\":\"Ana P\xc3\xa9rez\","
           "\"outbox_id\":999}", "the body, unescaped");
    ok(m[0].body_len == strlen(m[0].body), "body_len");
    ok(m[0].receive_count == 3, "ApproximateReceiveCount");
    ok(m[0].outbox_id == 41, "outbox_id from the message attribute first");

    is_str(m[1].receipt_handle, "rh-2", "second message");
    ok(m[1].receive_count == 0, "no Attributes: receive count 0");
    ok(m[1].outbox_id == 42, "outbox_id from the body otherwise");

    is_str(m[2].receipt_handle, "rh-4",
           "a message without receipt handle is skipped");
    ok(m[2].outbox_id == -1 && m[2].receive_count == 0,
       "no outbox id in a body that is not JSON; a bad count is 0");

    ok(ngx_xyz_sqs_receive_result(answer, m, 1, arena, sizeof(arena)) == 1,
       "no more than max");
    ok(ngx_xyz_sqs_receive_result(answer, m, 3, arena, 100) == -1,
       "a full arena is refused");
    ok(ngx_xyz_sqs_receive_result("{}", m, 3, arena, sizeof(arena)) == 0,
       "{} is no message");
    ok(ngx_xyz_sqs_receive_result("{\"Messages\":[]}", m, 3, arena,
                                  sizeof(arena)) == 0,
       "an empty list is no message");
    ok(ngx_xyz_sqs_receive_result("<ReceiveMessageResponse/>", m, 3, arena,
                                  sizeof(arena)) == -1, "XML is garbage");
    ok(ngx_xyz_sqs_receive_result("{\"Messages\":{}}", m, 3, arena,
                                  sizeof(arena)) == -1,
       "Messages that is not a list is garbage");
    ok(ngx_xyz_sqs_receive_result("[1]", m, 3, arena, sizeof(arena)) == -1,
       "a list is garbage");
}


static void
test_delete(void)
{
    int             n;
    char            out[2048];
    yajl_val        v, e;
    unsigned char   okv[3];

    static const char *const  rh[] = { "rh-0", "rh-\"1\"", "rh-2" };
    static const char        *p_entries[] = { "Entries", NULL };

    n = ngx_xyz_sqs_delete_batch_json(out, sizeof(out), URL, rh, 3);
    ok(n > 0 && (size_t) n < ngx_xyz_sqs_consume_len(URL, 14),
       "DeleteMessageBatch written");

    v = yajl_tree_parse(out, NULL, 0);
    e = yajl_tree_get(v, p_entries, yajl_t_array);
    ok(e && e->u.array.len == 3, "three entries");
    ok(e && strcmp(get_str(e->u.array.values[0], "Id"), "0") == 0
       && strcmp(get_str(e->u.array.values[2], "Id"), "2") == 0,
       "Ids are the positions");
    ok(e && strcmp(get_str(e->u.array.values[1], "ReceiptHandle"),
                   "rh-\"1\"") == 0, "receipt handles escaped");
    yajl_tree_free(v);

    ok(ngx_xyz_sqs_delete_batch_json(out, sizeof(out), URL, rh, 0) == -1,
       "an empty batch is refused");
    ok(ngx_xyz_sqs_delete_batch_json(out, 80, URL, rh, 3) == -1,
       "a short buffer is refused");

    n = ngx_xyz_sqs_delete_batch_result(
            "{\"Successful\":[{\"Id\":\"0\"},{\"Id\":\"2\"}],"
            "\"Failed\":[{\"Id\":\"1\",\"SenderFault\":true,"
            "\"Code\":\"ReceiptHandleIsInvalid\",\"Message\":\"x\"}]}",
            3, okv);
    ok(n == 2 && okv[0] == 1 && okv[1] == 0 && okv[2] == 1,
       "a partial failure marks only the failed entry");

    n = ngx_xyz_sqs_delete_batch_result(
            "{\"Successful\":[{\"Id\":\"0\"},{\"Id\":\"0\"},{\"Id\":\"7\"},"
            "{\"Id\":\"-1\"},{\"Id\":\"x\"}]}", 3, okv);
    ok(n == 1 && okv[0] && !okv[1] && !okv[2],
       "repeated, unknown and bad ids are ignored; unmentioned fail");

    ok(ngx_xyz_sqs_delete_batch_result("nope", 3, okv) == -1,
       "garbage is refused");
}


static void
test_visibility_send(void)
{
    int       n;
    char      out[2048];
    yajl_val  v;

    static const char  *p_attr[] = { "MessageAttributes", "reason",
                                     "StringValue", NULL };
    static const char  *p_type[] = { "MessageAttributes", "reason",
                                     "DataType", NULL };

    n = ngx_xyz_sqs_visibility_json(out, sizeof(out), URL, "rh-1", 120);
    v = yajl_tree_parse(out, NULL, 0);
    ok(n > 0 && v && strcmp(get_str(v, "ReceiptHandle"), "rh-1") == 0
       && get_int(v, "VisibilityTimeout") == 120,
       "ChangeMessageVisibility written");
    yajl_tree_free(v);

    ok(ngx_xyz_sqs_visibility_json(out, sizeof(out), URL, "rh", -1) == -1
       && ngx_xyz_sqs_visibility_json(out, sizeof(out), URL, "rh", 43201)
          == -1, "timeouts out of 0-43200 are refused");

    n = ngx_xyz_sqs_send_json(out, sizeof(out), URL, "{\"a\":\"\n\"}", 9,
                              "reason", "smtp 550: no such user");
    v = yajl_tree_parse(out, NULL, 0);
    ok(n > 0 && v, "SendMessage written");
    is_str(get_str(v, "MessageBody"), "{\"a\":\"\n\"}", "the body");
    is_str(YAJL_GET_STRING(yajl_tree_get(v, p_attr, yajl_t_string)),
           "smtp 550: no such user", "the attribute's value");
    is_str(YAJL_GET_STRING(yajl_tree_get(v, p_type, yajl_t_string)),
           "String", "the attribute's type");
    yajl_tree_free(v);

    n = ngx_xyz_sqs_send_json(out, sizeof(out), URL, "x", 1, NULL, NULL);
    ok(n > 0 && strstr(out, "MessageAttributes") == NULL,
       "no attribute when none is named");

    ok(ngx_xyz_sqs_send_json(out, sizeof(out), URL, "x", 1, "bad name",
                             "v") == -1, "a bad attribute name is refused");
    ok(ngx_xyz_sqs_send_json(out, sizeof(out), URL, "x", 1, "AWS.x",
                             "v") == -1, "a reserved prefix is refused");
    ok(ngx_xyz_sqs_send_json(out, sizeof(out), URL, "x", 1, "reason",
                             "") == -1, "an empty value is refused");
    ok(ngx_xyz_sqs_send_json(out, sizeof(out), URL, "", 0, NULL, NULL) == -1,
       "an empty body is refused");

    n = ngx_xyz_sqs_send_group_json(out, sizeof(out), URL, "x", 1, "reason",
                                    "why", "xyz-41", "m-1.2");
    v = yajl_tree_parse(out, NULL, 0);
    ok(n > 0 && v, "SendMessage to a FIFO queue written");
    is_str(get_str(v, "MessageGroupId"), "xyz-41", "the group id");
    is_str(get_str(v, "MessageDeduplicationId"), "m-1.2",
           "the deduplication id");
    yajl_tree_free(v);

    n = ngx_xyz_sqs_send_group_json(out, sizeof(out), URL, "x", 1, NULL, NULL,
                                    NULL, NULL);
    ok(n > 0 && strstr(out, "MessageGroupId") == NULL
       && strstr(out, "Deduplication") == NULL, "none when not given");
    ok(ngx_xyz_sqs_send_group_json(out, sizeof(out), URL, "x", 1, NULL, NULL,
                                   "a b", NULL) == -1
       && ngx_xyz_sqs_send_group_json(out, sizeof(out), URL, "x", 1, NULL,
                                      NULL, "g", "") == -1,
       "a FIFO id with a blank, or empty, is refused");
}


static void
test_backoff(void)
{
    int        t, prev, lo_ok, hi_ok;
    unsigned   i, r;

    ok(ngx_xyz_backoff_seconds(1, 30, 3600, 0) == 15,
       "first retry, lowest jitter: half the base");
    ok(ngx_xyz_backoff_seconds(1, 30, 3600, 999) == 29,
       "first retry, highest jitter: just under the base");
    ok(ngx_xyz_backoff_seconds(0, 30, 3600, 0) == 15,
       "a receive count of 0 counts as 1");
    ok(ngx_xyz_backoff_seconds(5, 30, 3600, 0) == 240,
       "fifth receive: base * 16 / 2");
    ok(ngx_xyz_backoff_seconds(100, 30, 3600, 999) == 3598,
       "the cap bounds it");
    ok(ngx_xyz_backoff_seconds(4000000000u, 30, 43200, 500) == 32400,
       "a huge receive count does not overflow");
    ok(ngx_xyz_backoff_seconds(1, 1, 1, 0) == 1, "never below 1 s");

    lo_ok = 1;
    hi_ok = 1;

    /* every receive count and a spread of jitter values */

    for (i = 1; i < 40; i++) {
        long long  full;
        unsigned   k;

        full = 10;
        for (k = 1; k < i && full < 900; k++) {
            full *= 2;
        }
        if (full > 900) {
            full = 900;
        }

        prev = 0;

        for (r = 0; r < 1000; r += 37) {
            t = ngx_xyz_backoff_seconds(i, 10, 900, r);

            if (t < full / 2 || t < prev) {
                lo_ok = 0;
            }

            if (t > full) {
                hi_ok = 0;
            }

            prev = t;
        }
    }

    ok(lo_ok, "at least half the full delay, growing with the jitter");
    ok(hi_ok, "never more than min(cap, base * 2^(n - 1))");

    ok(ngx_xyz_backoff_seconds(1, 0, 10, 0) == -1, "base 0 is refused");
    ok(ngx_xyz_backoff_seconds(1, 20, 10, 0) == -1,
       "a cap below the base is refused");
    ok(ngx_xyz_backoff_seconds(1, 20, 50000, 0) == -1,
       "a cap over 12 h is refused");
    ok(ngx_xyz_backoff_seconds(1, 20, 100, 1000) == -1,
       "r1000 of 1000 is refused");
}


static void
test_visibility_batch(void)
{
    int             n;
    char            out[2048];
    yajl_val        v, e, t;

    static const char *const  rh[] = { "rh-0", "rh-\"1\"" };
    static const char        *p_entries[] = { "Entries", NULL };
    static const char        *p_timeout[] = { "VisibilityTimeout", NULL };

    n = ngx_xyz_sqs_visibility_batch_json(out, sizeof(out), URL, rh, 2, 60);
    ok(n > 0, "ChangeMessageVisibilityBatch written");

    v = yajl_tree_parse(out, NULL, 0);
    e = yajl_tree_get(v, p_entries, yajl_t_array);
    ok(e && e->u.array.len == 2, "two entries");
    t = e ? yajl_tree_get(e->u.array.values[1], p_timeout, yajl_t_number)
          : NULL;
    ok(t && YAJL_GET_INTEGER(t) == 60
       && strcmp(get_str(e->u.array.values[1], "Id"), "1") == 0
       && strcmp(get_str(e->u.array.values[1], "ReceiptHandle"),
                 "rh-\"1\"") == 0,
       "each entry: its position, the timeout, the handle escaped");
    yajl_tree_free(v);

    ok(ngx_xyz_sqs_visibility_batch_json(out, sizeof(out), URL, rh, 11, 60)
       == -1, "more than ten entries are refused");
    ok(ngx_xyz_sqs_visibility_batch_json(out, sizeof(out), URL, rh, 2,
                                         43201) == -1,
       "a timeout beyond 12 hours is refused");
    ok(ngx_xyz_sqs_visibility_batch_json(out, 90, URL, rh, 2, 60) == -1,
       "a short buffer is refused");
}


int
main(void)
{
    test_receive_request();
    test_receive_result();
    test_delete();
    test_visibility_batch();
    test_visibility_send();
    test_backoff();

    return done_testing();
}
