/*
 * Unit tests: temporary AWS credentials (ngx_xyz_aws_creds.c): the answers
 * of the container credentials endpoint and of STS, ISO 8601 times, and the
 * query of AssumeRoleWithWebIdentity.
 */

#include <stdlib.h>

#include "tap.h"
#include "ngx_xyz_aws_creds.h"


/* 2026-11-27T19:00:00Z */
#define EXPIRES  1795806000


static ngx_xyz_aws_creds_t  c;
static char                 err[128];


static int
json(const char *s)
{
    err[0] = '\0';
    return ngx_xyz_aws_creds_parse_json(s, strlen(s), &c, err, sizeof(err));
}


static int
xml(const char *s)
{
    err[0] = '\0';
    return ngx_xyz_aws_creds_parse_sts_xml(s, strlen(s), &c, err,
                                           sizeof(err));
}


static int
wiped(void)
{
    return c.access_key[0] == '\0' && c.secret_key[0] == '\0'
           && c.session_token[0] == '\0' && c.expiration == 0;
}


static void
test_time(void)
{
    time_t  t;

#define TIME(s, want, name)                                                   \
    t = 1;                                                                    \
    ok(ngx_xyz_aws_time_parse(s, strlen(s), &t) == 0 && t == (want), name)

#define BAD_TIME(s, name)                                                     \
    ok(ngx_xyz_aws_time_parse(s, strlen(s), &t) == -1, name)

    TIME("2026-11-27T19:00:00Z", EXPIRES, "UTC time");
    TIME("1970-01-01T00:00:00Z", 0, "the epoch");
    TIME("2026-11-27T19:00:00.123Z", EXPIRES, "fraction dropped");
    TIME("2026-11-27T21:00:00+02:00", EXPIRES, "positive offset");
    TIME("2026-11-27T18:30:00-00:30", EXPIRES, "negative offset");
    TIME("2000-02-29T23:59:59Z", 951868799, "leap day of 2000");
    TIME("2015-08-30T12:36:00Z", 1440938160, "time of the SigV4 suite");

    BAD_TIME("2023-02-29T00:00:00Z", "no leap day in 2023");
    BAD_TIME("2100-02-29T00:00:00Z", "no leap day in 2100");
    BAD_TIME("2026-13-01T00:00:00Z", "month 13");
    BAD_TIME("2026-04-31T00:00:00Z", "April 31st");
    BAD_TIME("2026-11-27T24:00:00Z", "hour 24");
    BAD_TIME("2026-11-27T19:60:00Z", "minute 60");
    BAD_TIME("2026-11-27T19:00:00", "no zone");
    BAD_TIME("2026-11-27 19:00:00Z", "space for T");
    BAD_TIME("2026-11-27T19:00:00.Z", "empty fraction");
    BAD_TIME("2026-11-27T19:00:00Zjunk", "trailing bytes");
    BAD_TIME("2026-11-27T19:00:00+0200", "offset without colon");
    BAD_TIME("1969-12-31T23:59:59Z", "before the epoch");
    BAD_TIME("1970-01-01T00:00:00+00:01", "offset before the epoch");
    BAD_TIME("2026-1-27T19:00:00Z", "one-digit month");
    BAD_TIME("", "empty");

#undef TIME
#undef BAD_TIME
}


static void
test_json(void)
{
    char        *buf;
    const char  *good;

    good = "{\"RoleArn\":\"arn:aws:iam::123456789012:role/signup\","
           "\"AccessKeyId\":\"ASIAIOSFODNN7EXAMPLE\","
           "\"SecretAccessKey\":\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\","
           "\"Token\":\"IQoJb3JpZ2luX2VjEXAMPLE+/==\","
           "\"Expiration\":\"2026-11-27T19:00:00Z\"}";

    ok(json(good) == 0, "container answer accepted");
    is_str(c.access_key, "ASIAIOSFODNN7EXAMPLE", "access key id");
    is_str(c.secret_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
           "secret key");
    is_str(c.session_token, "IQoJb3JpZ2luX2VjEXAMPLE+/==", "session token");
    ok(c.expiration == EXPIRES, "expiration");

    /* the answer need not be NUL-terminated */

    buf = malloc(strlen(good) + 8);
    memcpy(buf, good, strlen(good));
    memcpy(buf + strlen(good), "garbage", 8);
    ok(ngx_xyz_aws_creds_parse_json(buf, strlen(good), &c, err, sizeof(err))
       == 0, "answer without a NUL accepted");
    free(buf);

    ok(json("{\"Code\":\"Success\",\"LastUpdated\":\"2026-11-27T13:00:00Z\","
            "\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"A\","
            "\"SecretAccessKey\":\"S\",\"Token\":\"T\","
            "\"Expiration\":\"2026-11-27T19:00:00Z\"}") == 0,
       "instance metadata style accepted");

#define BAD_JSON(s, reason, name)                                             \
    ok(json(s) == -1 && strstr(err, reason) != NULL && wiped(), name);        \
    if (strstr(err, reason) == NULL) {                                        \
        printf("#   reason: '%s'\n", err);                                    \
    }

    BAD_JSON("{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"AccessKeyId\":"
             "\"A\",\"SecretAccessKey\":\"S\",\"Token\":\"T\","
             "\"Expiration\":\"2026-11-27T19:00:00Z\"}",
             "Code \"AssumeRoleUnauthorizedAccess\"", "failure code named");
    BAD_JSON("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
             "\"Expiration\":\"2026-11-27T19:00:00Z\"}",
             "lacks Token", "missing Token named");
    BAD_JSON("{\"SecretAccessKey\":\"S\",\"Token\":\"T\","
             "\"Expiration\":\"2026-11-27T19:00:00Z\"}",
             "lacks AccessKeyId", "missing AccessKeyId named");
    BAD_JSON("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
             "\"Token\":\"T\"}", "lacks Expiration",
             "missing Expiration named");
    BAD_JSON("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
             "\"Token\":\"T\",\"Expiration\":\"2026-02-30T19:00:00Z\"}",
             "Expiration is not", "bad date refused");
    BAD_JSON("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
             "\"Token\":\"T\",\"Expiration\":1795806000}",
             "Expiration is not", "numeric date refused");
    BAD_JSON("{\"AccessKeyId\":7,\"SecretAccessKey\":\"S\","
             "\"Token\":\"T\",\"Expiration\":\"2026-11-27T19:00:00Z\"}",
             "AccessKeyId is not a string", "number for a key refused");
    BAD_JSON("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
             "\"Token\":\"T\\r\\nX-Injected: 1\","
             "\"Expiration\":\"2026-11-27T19:00:00Z\"}",
             "Token holds characters", "CR LF in a token refused");
    BAD_JSON("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"\","
             "\"Token\":\"T\",\"Expiration\":\"2026-11-27T19:00:00Z\"}",
             "SecretAccessKey is empty", "empty secret refused");
    BAD_JSON("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\\u0000X\","
             "\"Token\":\"T\",\"Expiration\":\"2026-11-27T19:00:00Z\"}",
             "NUL", "escaped NUL refused");
    BAD_JSON("{\"AccessKeyId\":\"A\",", "not valid JSON", "truncated JSON");
    BAD_JSON("[]", "not a JSON object", "array refused");
    BAD_JSON("", "empty", "empty answer refused");

#undef BAD_JSON

    ok(ngx_xyz_aws_creds_parse_json("{}", 2, &c, NULL, 0) == -1,
       "no room for a reason is fine");
}


static void
test_xml(void)
{
    const char  *good;

    good =
        "<AssumeRoleWithWebIdentityResponse "
        "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
        "  <AssumeRoleWithWebIdentityResult>\n"
        "    <SubjectFromWebIdentityToken>system:serviceaccount:xyz:signup"
        "</SubjectFromWebIdentityToken>\n"
        "    <Audience>sts.amazonaws.com</Audience>\n"
        "    <AssumedRoleUser>\n"
        "      <Arn>arn:aws:sts::123456789012:assumed-role/signup/xyz</Arn>\n"
        "      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:xyz</AssumedRoleId>\n"
        "    </AssumedRoleUser>\n"
        "    <Credentials>\n"
        "      <SessionToken>FwoGZX&amp;IvY&lt;x&gt;&quot;q&apos;&#43;&#x2F;z"
        "</SessionToken>\n"
        "      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        "</SecretAccessKey>\n"
        "      <Expiration>2026-11-27T19:00:00Z</Expiration>\n"
        "      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>\n"
        "    </Credentials>\n"
        "    <SourceIdentity>SourceIdentityValue</SourceIdentity>\n"
        "    <Provider>www.amazon.com</Provider>\n"
        "  </AssumeRoleWithWebIdentityResult>\n"
        "  <ResponseMetadata>\n"
        "    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>\n"
        "  </ResponseMetadata>\n"
        "</AssumeRoleWithWebIdentityResponse>\n";

    ok(xml(good) == 0, "STS answer accepted");
    is_str(c.access_key, "ASIAIOSFODNN7EXAMPLE", "access key id");
    is_str(c.secret_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
           "secret key");
    is_str(c.session_token, "FwoGZX&IvY<x>\"q'+/z", "entities decoded");
    ok(c.expiration == EXPIRES, "expiration");

    ok(xml("<R><Credentials>"
           "<AccessKeyIdOld>old</AccessKeyIdOld>"
           "<AccessKeyId>\n  A1\n</AccessKeyId>"
           "<SecretAccessKey>S</SecretAccessKey>"
           "<SessionToken>T</SessionToken>"
           "<Expiration>2026-11-27T19:00:00.000Z</Expiration>"
           "</Credentials></R>") == 0
       && strcmp(c.access_key, "A1") == 0 && c.expiration == EXPIRES,
       "longer names skipped, white space trimmed, fraction taken");

#define BAD_XML(s, reason, name)                                              \
    ok(xml(s) == -1 && strstr(err, reason) != NULL && wiped(), name);        \
    if (strstr(err, reason) == NULL) {                                        \
        printf("#   reason: '%s'\n", err);                                    \
    }

    BAD_XML("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/"
            "2011-06-15/\"><Error><Type>Sender</Type>"
            "<Code>InvalidIdentityToken</Code>"
            "<Message>No OpenIDConnect provider found</Message></Error>"
            "<RequestId>x</RequestId></ErrorResponse>",
            "error \"InvalidIdentityToken\"", "STS error code named");
    BAD_XML("<html>Service Unavailable</html>", "no Credentials",
            "answer without credentials");
    BAD_XML("<Credentials><AccessKeyId>A</AccessKeyId>"
            "<SecretAccessKey>S</SecretAccessKey>"
            "<Expiration>2026-11-27T19:00:00Z</Expiration></Credentials>",
            "lacks SessionToken", "missing SessionToken named");
    BAD_XML("<Credentials><AccessKeyId>A</AccessKeyId>"
            "<SecretAccessKey>S</SecretAccessKey>"
            "<SessionToken>T</SessionToken></Credentials>",
            "lacks Expiration", "missing Expiration named");
    BAD_XML("<Credentials><AccessKeyId>A</AccessKeyId>"
            "<SecretAccessKey>S</SecretAccessKey>"
            "<SessionToken>T</SessionToken>"
            "<Expiration>27/11/2026 19:00</Expiration></Credentials>",
            "Expiration is not", "bad date refused");
    BAD_XML("<Credentials><AccessKeyId>A</AccessKeyId>"
            "<SecretAccessKey>S</SecretAccessKey>"
            "<SessionToken>T&nbsp;</SessionToken>"
            "<Expiration>2026-11-27T19:00:00Z</Expiration></Credentials>",
            "unknown entity", "unknown entity refused");
    BAD_XML("<Credentials><AccessKeyId>A</AccessKeyId>"
            "<SecretAccessKey>S</SecretAccessKey>"
            "<SessionToken>T&amp</SessionToken>"
            "<Expiration>2026-11-27T19:00:00Z</Expiration></Credentials>",
            "unknown entity", "unterminated entity refused");
    BAD_XML("<Credentials><AccessKeyId>A</AccessKeyId>"
            "<SecretAccessKey>S</SecretAccessKey>"
            "<SessionToken>T&#10;X</SessionToken>"
            "<Expiration>2026-11-27T19:00:00Z</Expiration></Credentials>",
            "SessionToken holds characters", "encoded newline refused");
    BAD_XML("<Credentials><AccessKeyId>A</AccessKeyId>"
            "<SecretAccessKey>S</SecretAccessKey>"
            "<SessionToken><b>T</b></SessionToken>"
            "<Expiration>2026-11-27T19:00:00Z</Expiration></Credentials>",
            "SessionToken holds markup", "markup in a value refused");
    BAD_XML("<Credentials><AccessKeyId/>"
            "<SecretAccessKey>S</SecretAccessKey>"
            "<SessionToken>T</SessionToken>"
            "<Expiration>2026-11-27T19:00:00Z</Expiration></Credentials>",
            "AccessKeyId is empty", "empty element refused");
    BAD_XML("<Credentials><AccessKeyId>A</AccessKeyId>"
            "<SecretAccessKey>S</SecretAccessKey>"
            "<SessionToken>T", "no Credentials", "truncated answer refused");

#undef BAD_XML
}


static void
test_sts_query(void)
{
    int    n;
    char   buf[512];

    n = ngx_xyz_aws_sts_web_identity_query(
            "arn:aws:iam::123456789012:role/signup", "xyz-signup",
            "eyJhbGciOi.J9+/= &x\n", 20, 3600, buf, sizeof(buf));

    is_str(n > 0 ? buf : NULL,
           "Action=AssumeRoleWithWebIdentity&DurationSeconds=3600"
           "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fsignup"
           "&RoleSessionName=xyz-signup&Version=2011-06-15"
           "&WebIdentityToken=eyJhbGciOi.J9%2B%2F%3D%20%26x",
           "query encoded, token trimmed");
    ok(n == (int) strlen(buf), "query length returned");

    n = ngx_xyz_aws_sts_web_identity_query(
            "arn:aws:iam::123456789012:role/signup", "a.b@c=d,e+f_g",
            "tok", 3, 0, buf, sizeof(buf));

    is_str(n > 0 ? buf : NULL,
           "Action=AssumeRoleWithWebIdentity"
           "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fsignup"
           "&RoleSessionName=a.b@c=d,e+f_g&Version=2011-06-15"
           "&WebIdentityToken=tok", "duration left to STS");

#define BAD_QUERY(arn, name_, tok, dur, size, name)                           \
    ok(ngx_xyz_aws_sts_web_identity_query(arn, name_, tok, strlen(tok), dur, \
                                          buf, size) == -1, name)

    BAD_QUERY("arn:aws:iam::1:role/r", "x", "t", 0, sizeof(buf),
              "one-character session name refused");
    BAD_QUERY("arn:aws:iam::1:role/r", "has space", "t", 0, sizeof(buf),
              "session name with a space refused");
    BAD_QUERY("arn:aws:iam::1:role/r", "s&x", "t", 0, sizeof(buf),
              "session name with & refused");
    BAD_QUERY("role/r", "ok", "t", 0, sizeof(buf), "role without arn:");
    BAD_QUERY("arn:aws:iam::1:role/r", "ok", " \n", 0, sizeof(buf),
              "blank token refused");
    BAD_QUERY("arn:aws:iam::1:role/r", "ok", "t", 899, sizeof(buf),
              "duration under 15 minutes refused");
    BAD_QUERY("arn:aws:iam::1:role/r", "ok", "t", 43201, sizeof(buf),
              "duration over 12 hours refused");
    BAD_QUERY("arn:aws:iam::1:role/r", "ok", "token", 0, 100,
              "short buffer refused");

#undef BAD_QUERY
}


int
main(void)
{
    test_time();
    test_json();
    test_xml();
    test_sts_query();

    return done_testing();
}
