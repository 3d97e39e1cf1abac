/*
 * Unit tests: SES bounce and complaint notifications from the feedback
 * queue (ngx_xyz_ses_json.c), in an SNS envelope and raw.
 */

#include <stdlib.h>

#include "tap.h"
#include "ngx_xyz_ses_json.h"


#define BOUNCE_PERMANENT                                                      \
    "{\"notificationType\":\"Bounce\",\"bounce\":{\"feedbackId\":"            \
    "\"0100abc-000000\",\"bounceType\":\"Permanent\",\"bounceSubType\":"      \
    "\"General\",\"bouncedRecipients\":[{\"emailAddress\":"                   \
    "\"Ann.Lee@Example.COM\",\"action\":\"failed\",\"status\":\"5.1.1\","     \
    "\"diagnosticCode\":\"smtp; 550 5.1.1 user unknown\"}],\"timestamp\":"    \
    "\"2026-11-30T01:00:00.000Z\"},\"mail\":{\"messageId\":\"m1\","           \
    "\"destination\":[\"Ann.Lee@Example.COM\"]}}"


static int
parse(const char *body, ngx_xyz_ses_feedback_t *fb, char *err)
{
    static char  arena[65536];

    return ngx_xyz_ses_feedback_parse(body, strlen(body), fb, arena,
                                      sizeof(arena), err, 128);
}


/* the notification as the "Message" string of an SNS envelope */

static char *
envelope(const char *type, const char *message)
{
    char        *out, *p;
    const char  *s;

    out = malloc(strlen(message) * 2 + 512);
    p = out;

    p += sprintf(p, "{\"Type\":\"%s\",\"MessageId\":\"sns-1\",\"TopicArn\":"
                 "\"arn:aws:sns:us-east-1:000000000000:xyz-ses-events\","
                 "\"Message\":\"", type);

    for (s = message; *s; s++) {
        if (*s == '"' || *s == '\\') {
            *p++ = '\\';
        }

        *p++ = *s;
    }

    strcpy(p, "\",\"Timestamp\":\"2026-11-30T01:00:00.000Z\"}");

    return out;
}


int
main(void)
{
    int                      rc;
    char                     err[128], joined[1024], *env, *big, *p;
    size_t                   i;
    ngx_xyz_ses_feedback_t   fb;

    /* raw message delivery: the notification itself */

    rc = parse(BOUNCE_PERMANENT, &fb, err);
    ok(rc == 0, "raw permanent bounce parses");
    ok(fb.type == NGX_XYZ_SES_PERMANENT, "raw: permanent");
    ok(fb.nrcpt == 1, "raw: one recipient");
    is_str(fb.nrcpt ? fb.rcpt[0] : NULL, "ann.lee@example.com",
           "raw: the address normalised");
    is_str(fb.detail, "Permanent/General", "raw: the detail");
    is_str(fb.feedback_id, "0100abc-000000", "raw: the feedback id");

    /* the SNS envelope */

    env = envelope("Notification", BOUNCE_PERMANENT);
    rc = parse(env, &fb, err);
    ok(rc == 0 && fb.type == NGX_XYZ_SES_PERMANENT && fb.nrcpt == 1,
       "SNS envelope: permanent bounce with one recipient");
    is_str(fb.nrcpt ? fb.rcpt[0] : NULL, "ann.lee@example.com",
           "SNS envelope: the address");
    free(env);

    /* a transient bounce, several recipients, one twice, one invalid */

    env = envelope("Notification",
                   "{\"notificationType\":\"Bounce\",\"bounce\":"
                   "{\"bounceType\":\"Transient\",\"bounceSubType\":"
                   "\"MailboxFull\",\"bouncedRecipients\":["
                   "{\"emailAddress\":\"a@example.com\"},"
                   "{\"emailAddress\":\"\\\"B\\\" <B@Example.com>\"},"
                   "{\"emailAddress\":\"A@EXAMPLE.COM\"},"
                   "{\"emailAddress\":\"not an address\"},"
                   "{\"status\":\"4.2.2\"}]}}");
    rc = parse(env, &fb, err);
    ok(rc == 0 && fb.type == NGX_XYZ_SES_TRANSIENT, "transient bounce");
    ok(fb.nrcpt == 2, "two distinct valid recipients");
    ok(fb.invalid == 2, "two left out as invalid");
    is_str(fb.nrcpt > 1 ? fb.rcpt[1] : NULL, "b@example.com",
           "the address inside <>");
    is_str(fb.feedback_id, "sns-1", "no feedbackId: the SNS MessageId");
    is_str(fb.detail, "Transient/MailboxFull", "transient detail");
    ok(ngx_xyz_ses_feedback_join(&fb, joined, sizeof(joined)) > 0,
       "join");
    is_str(joined, "a@example.com\nb@example.com", "joined by newlines");
    ok(ngx_xyz_ses_feedback_join(&fb, joined, 10) == -1,
       "join refuses a short buffer");
    free(env);

    /* an undetermined bounce only counts */

    rc = parse("{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":"
               "\"Undetermined\",\"bouncedRecipients\":[{\"emailAddress\":"
               "\"u@example.com\"}]}}", &fb, err);
    ok(rc == 0 && fb.type == NGX_XYZ_SES_TRANSIENT,
       "undetermined bounce: counted as transient");

    /* complaints, in the configuration set event format too */

    rc = parse("{\"eventType\":\"Complaint\",\"complaint\":{\"feedbackId\":"
               "\"f2\",\"complaintFeedbackType\":\"abuse\","
               "\"complainedRecipients\":[{\"emailAddress\":"
               "\"c@example.org\"}]},\"mail\":{}}", &fb, err);
    ok(rc == 0 && fb.type == NGX_XYZ_SES_COMPLAINT, "event format complaint");
    is_str(fb.nrcpt ? fb.rcpt[0] : NULL, "c@example.org",
           "complaint: the address");
    is_str(fb.detail, "Complaint/abuse", "complaint: the detail");

    rc = parse("{\"eventType\":\"Bounce\",\"bounce\":{\"bounceType\":"
               "\"Permanent\",\"bouncedRecipients\":[{\"emailAddress\":"
               "\"p@example.org\"}]}}", &fb, err);
    ok(rc == 0 && fb.type == NGX_XYZ_SES_PERMANENT,
       "event format permanent bounce");

    /* other notifications: nothing to mark, not garbage */

    rc = parse("{\"notificationType\":\"Delivery\",\"delivery\":{}}", &fb,
               err);
    ok(rc == 0 && fb.type == NGX_XYZ_SES_OTHER && fb.nrcpt == 0,
       "a delivery notification: other");

    /* garbage */

    ok(parse("", &fb, err) == -1, "empty body refused");
    ok(parse("not json", &fb, err) == -1, "not JSON refused");
    ok(strlen(err) > 0 && strstr(err, "not json") == NULL,
       "the reason says why without quoting the body");
    ok(parse("[1,2]", &fb, err) == -1, "an array refused");
    ok(parse("{\"outbox_id\":3}", &fb, err) == -1,
       "an object without a type refused");
    ok(ngx_xyz_ses_feedback_parse("{}\0x", 4, &fb, joined, sizeof(joined),
                                  err, sizeof(err)) == -1,
       "a NUL inside the body refused");

    env = envelope("SubscriptionConfirmation", "{}");
    ok(parse(env, &fb, err) == -1, "an SNS subscription confirmation refused");
    free(env);

    ok(parse("{\"Type\":\"Notification\",\"Message\":\"garbage\"}", &fb, err)
       == -1, "an SNS Message that is not JSON refused");
    ok(parse("{\"Type\":\"Notification\"}", &fb, err) == -1,
       "an SNS notification without Message refused");
    ok(parse("{\"notificationType\":\"Bounce\"}", &fb, err) == -1,
       "a bounce without its object refused");
    ok(parse("{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":"
             "\"Permanent\"}}", &fb, err) == -1,
       "a bounce without recipients refused");
    ok(parse("{\"notificationType\":\"Complaint\",\"complaint\":{"
             "\"complainedRecipients\":[{\"emailAddress\":\"x\"}]}}", &fb,
             err) == -1,
       "a complaint without a valid recipient refused");
    ok(parse("{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":"
             "\"Permanent\",\"bouncedRecipients\":[{\"emailAddress\":"
             "\"a\\u0000b@example.com\"}]}}", &fb, err) == -1,
       "an address cut by an escaped NUL is not taken");

    /* 51 distinct recipients is more than SES sends */

    big = malloc(8192);
    p = big + sprintf(big, "{\"notificationType\":\"Bounce\",\"bounce\":{"
                      "\"bounceType\":\"Permanent\",\"bouncedRecipients\":[");
    for (i = 0; i < 51; i++) {
        p += sprintf(p, "%s{\"emailAddress\":\"r%zu@example.com\"}",
                     i ? "," : "", i);
    }
    strcpy(p, "]}}");
    ok(parse(big, &fb, err) == -1, "51 recipients refused");
    free(big);

    /* the detail and id are printable and bounded */

    rc = parse("{\"notificationType\":\"Bounce\",\"bounce\":{\"feedbackId\":"
               "\"a\\nb\",\"bounceType\":\"Permanent\",\"bounceSubType\":"
               "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",\"bouncedRecipients\":"
               "[{\"emailAddress\":\"z@example.com\"}]}}", &fb, err);
    ok(rc == 0 && strlen(fb.detail) == 127, "the detail is cut at 127");
    is_str(fb.feedback_id, "ab", "control characters left out of the id");

    return done_testing();
}
