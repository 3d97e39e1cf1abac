/*
 * Unit tests: AWS Signature Version 4 (ngx_xyz_sigv4.c).
 *
 * The vectors are those of the AWS SigV4 test suite (as kept in
 * awslabs/aws-c-auth, tests/aws-signing-test-suite/v4/): key id AKIDEXAMPLE,
 * time 20150830T123600Z, region us-east-1, service "service".  The expected
 * canonical requests, string-to-sign hashes and signatures are theirs.
 */

#include <stdlib.h>

#include "tap.h"
#include "ngx_xyz_sigv4.h"


#define KEY_ID     "AKIDEXAMPLE"
#define SECRET     "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define DATE       "20150830T123600Z"
#define SCOPE      "20150830/us-east-1/service/aws4_request"
#define STS_HEAD   "AWS4-HMAC-SHA256\n" DATE "\n" SCOPE "\n"

#define EMPTY_SHA                                                             \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define FORM_SHA                                                              \
    "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"

#define L_HOST     "host:example.amazonaws.com\n"
#define L_DATE     "x-amz-date:" DATE "\n"
#define SIGNED     "\nhost;x-amz-date\n"
#define HOST       { "Host", "example.amazonaws.com" }

#define UNRESERVED                                                            \
    "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

#define STS_TOKEN                                                             \
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWs" \
    "KWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGde" \
    "ehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8T" \
    "x6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FD" \
    "rypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="


typedef struct {
    const char              *name;
    const char              *method;
    const char              *path;
    const char              *query;
    ngx_xyz_sigv4_header_t   headers[5];    /* up to the first NULL name */
    const char              *payload;
    const char              *token;
    unsigned                 sign_sha256;
    unsigned                 no_normalize;
    const char              *creq;
    const char              *sts_hash;
    const char              *signature;
} vector_t;


static const vector_t  vectors[] = {

    { .name = "get-vanilla", .method = "GET", .path = "/", .query = "",
      .headers = { HOST },
      .creq = "GET\n/\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .sts_hash =
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
      .signature =
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31" },

    { .name = "get-vanilla-query-order-key-case", .method = "GET",
      .path = "/", .query = "Param2=value2&Param1=value1",
      .headers = { HOST },
      .creq = "GET\n/\nParam1=value1&Param2=value2\n" L_HOST L_DATE SIGNED
              EMPTY_SHA,
      .sts_hash =
        "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
      .signature =
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500" },

    { .name = "get-vanilla-query-order-encoded", .method = "GET",
      .path = "/", .query = "Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
      .headers = { HOST },
      .creq = "GET\n/\n%E1%88%B4=Value1&Param=Value2&Param-3=Value3\n"
              L_HOST L_DATE SIGNED EMPTY_SHA,
      .sts_hash =
        "868294f5c38bd141c4972a373a76654f1418a8e4fc18b2e7903ae45e8ae0ec71",
      .signature =
        "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac" },

    { .name = "get-vanilla-query-unreserved", .method = "GET", .path = "/",
      .query = UNRESERVED "=" UNRESERVED,
      .headers = { HOST },
      .creq = "GET\n/\n" UNRESERVED "=" UNRESERVED "\n" L_HOST L_DATE SIGNED
              EMPTY_SHA,
      .sts_hash =
        "c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177",
      .signature =
        "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197" },

    { .name = "get-vanilla-utf8-query", .method = "GET", .path = "/",
      .query = "\xe1\x88\xb4=bar",
      .headers = { HOST },
      .creq = "GET\n/\n%E1%88%B4=bar\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .sts_hash =
        "eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073",
      .signature =
        "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04" },

    { .name = "get-utf8", .method = "GET", .path = "/\xe1\x88\xb4",
      .headers = { HOST },
      .creq = "GET\n/%E1%88%B4\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .sts_hash =
        "2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102",
      .signature =
        "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85" },

    { .name = "get-space-normalized", .method = "GET",
      .path = "/example space/",
      .headers = { HOST },
      .creq = "GET\n/example%20space/\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .sts_hash =
        "63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86",
      .signature =
        "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741" },

    { .name = "get-unreserved", .method = "GET", .path = "/" UNRESERVED,
      .headers = { HOST },
      .creq = "GET\n/" UNRESERVED "\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .sts_hash =
        "6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9",
      .signature =
        "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f" },

    { .name = "get-header-value-trim", .method = "GET", .path = "/",
      .headers = { HOST, { "My-Header1", " value1" },
                   { "My-Header2", " \"a   b   c\"" } },
      .creq = "GET\n/\n\n" L_HOST "my-header1:value1\n"
              "my-header2:\"a b c\"\n" L_DATE
              "\nhost;my-header1;my-header2;x-amz-date\n" EMPTY_SHA,
      .sts_hash =
        "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
      .signature =
        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736" },

    { .name = "get-header-value-order", .method = "GET", .path = "/",
      .headers = { HOST, { "My-Header1", "value4" },
                   { "My-Header1", "value1" }, { "My-Header1", "value3" },
                   { "My-Header1", "value2" } },
      .creq = "GET\n/\n\n" L_HOST "my-header1:value4,value1,value3,value2\n"
              L_DATE "\nhost;my-header1;x-amz-date\n" EMPTY_SHA,
      .sts_hash =
        "31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86",
      .signature =
        "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01" },

    { .name = "get-header-key-duplicate", .method = "GET", .path = "/",
      .headers = { HOST, { "My-Header1", "value2" },
                   { "My-Header1", "value2" }, { "My-Header1", "value1" } },
      .creq = "GET\n/\n\n" L_HOST "my-header1:value2,value2,value1\n"
              L_DATE "\nhost;my-header1;x-amz-date\n" EMPTY_SHA,
      .sts_hash =
        "dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c",
      .signature =
        "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea" },

    { .name = "get-header-value-multiline", .method = "GET", .path = "/",
      .headers = { HOST, { "My-Header1", "value1\n  value2\n     value3" } },
      .creq = "GET\n/\n\n" L_HOST "my-header1:value1 value2 value3\n"
              L_DATE "\nhost;my-header1;x-amz-date\n" EMPTY_SHA,
      .sts_hash =
        "e99419459a677bc11de234014be3c4e72c1ea5b454ceb58b613061f5d7a162e8",
      .signature =
        "cfd34249e4b1c8d6b91ef74165d41a32e5fab3306300901bb65a51a73575eefd" },

    { .name = "get-slashes-normalized", .method = "GET",
      .path = "//example//",
      .headers = { HOST },
      .creq = "GET\n/example/\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .sts_hash =
        "cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015",
      .signature =
        "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84" },

    { .name = "get-slash-dot-slash-normalized", .method = "GET",
      .path = "/./",
      .headers = { HOST },
      .creq = "GET\n/\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .sts_hash =
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
      .signature =
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31" },

    { .name = "get-slash-pointless-dot-normalized", .method = "GET",
      .path = "/./example",
      .headers = { HOST },
      .creq = "GET\n/example\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .sts_hash =
        "214d50c111a8edc4819da6a636336472c916b5240f51e9a51b5c3305180cf702",
      .signature =
        "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5" },

    { .name = "get-relative-relative-normalized", .method = "GET",
      .path = "/example1/example2/../..",
      .headers = { HOST },
      .creq = "GET\n/\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .sts_hash =
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
      .signature =
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31" },

    { .name = "get-slashes-unnormalized", .method = "GET",
      .path = "//example//", .no_normalize = 1,
      .headers = { HOST },
      .creq = "GET\n//example//\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .sts_hash =
        "528ec3105ee1f34ab014bb0a1a45da0ed2742a4fea3555149e5b4d5d201eb240",
      .signature =
        "87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5" },

    { .name = "get-relative-relative-unnormalized", .method = "GET",
      .path = "/example1/example2/../..", .no_normalize = 1,
      .headers = { HOST },
      .creq = "GET\n/example1/example2/../..\n\n" L_HOST L_DATE SIGNED
              EMPTY_SHA,
      .sts_hash =
        "76115030c0f3ff06c20fdff5ceb6d5e0b835a1743e00b94fea7c7f381269437b",
      .signature =
        "dc33e0856fd4baca4d7aa2146c38958283844764f38c74252a333df5e613003b" },

    { .name = "get-slash-pointless-dot-unnormalized", .method = "GET",
      .path = "/./example", .no_normalize = 1,
      .headers = { HOST },
      .creq = "GET\n/./example\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .sts_hash =
        "73895e0e829507e28e39fd24669aedc2434a8e179e547e3c075b42921f952cdb",
      .signature =
        "beb03f223f7deae4146464f06e29eebbee9c8afbe15c290cf07aa8b119e14cff" },

    { .name = "get-vanilla-with-session-token", .method = "GET",
      .path = "/",
      .headers = { HOST },
      .token =
        "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
      .creq = "GET\n/\n\n" L_HOST L_DATE "x-amz-security-token:"
              "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
              "\n\nhost;x-amz-date;x-amz-security-token\n" EMPTY_SHA,
      .sts_hash =
        "067b36aa60031588cea4a4cde1f21215227a047690c72247f1d70b32fbbfad2b",
      .signature =
        "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8" },

    { .name = "post-vanilla", .method = "POST", .path = "/",
      .headers = { HOST },
      .creq = "POST\n/\n\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .sts_hash =
        "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87",
      .signature =
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b" },

    { .name = "post-vanilla-query", .method = "POST", .path = "/",
      .query = "Param1=value1",
      .headers = { HOST },
      .creq = "POST\n/\nParam1=value1\n" L_HOST L_DATE SIGNED EMPTY_SHA,
      .sts_hash =
        "9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd",
      .signature =
        "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11" },

    /* post-header-key-case and -key-sort: names sorted whatever their case */

    { .name = "post-header-key-sort", .method = "POST", .path = "/",
      .headers = { { "My-Header1", "value1" }, HOST },
      .creq = "POST\n/\n\n" L_HOST "my-header1:value1\n" L_DATE
              "\nhost;my-header1;x-amz-date\n" EMPTY_SHA,
      .sts_hash =
        "9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65",
      .signature =
        "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c" },

    { .name = "post-header-value-case", .method = "POST", .path = "/",
      .headers = { HOST, { "MY-HEADER1", "VALUE1" } },
      .creq = "POST\n/\n\n" L_HOST "my-header1:VALUE1\n" L_DATE
              "\nhost;my-header1;x-amz-date\n" EMPTY_SHA,
      .sts_hash =
        "d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93",
      .signature =
        "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d" },

    { .name = "post-sts-header-before", .method = "POST", .path = "/",
      .headers = { HOST },
      .token = STS_TOKEN,
      .creq = "POST\n/\n\n" L_HOST L_DATE "x-amz-security-token:" STS_TOKEN
              "\n\nhost;x-amz-date;x-amz-security-token\n" EMPTY_SHA,
      .sts_hash =
        "c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6",
      .signature =
        "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead" },

    { .name = "post-x-www-form-urlencoded", .method = "POST", .path = "/",
      .headers = { { "Content-Type", "application/x-www-form-urlencoded" },
                   HOST, { "Content-Length", "13" } },
      .payload = "Param1=value1", .sign_sha256 = 1,
      .creq = "POST\n/\n\ncontent-length:13\n"
              "content-type:application/x-www-form-urlencoded\n" L_HOST
              "x-amz-content-sha256:" FORM_SHA "\n" L_DATE "\n"
              "content-length;content-type;host;x-amz-content-sha256;"
              "x-amz-date\n" FORM_SHA,
      .sts_hash =
        "b1edd1d03544c25390e32085d55b57acc9a3961bb59415ff86c45c3d89d16cfb",
      .signature =
        "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b" },

    { .name = "post-x-www-form-urlencoded-parameters", .method = "POST",
      .path = "/",
      .headers = { { "Content-Type",
                     "application/x-www-form-urlencoded; charset=utf-8" },
                   HOST, { "Content-Length", "13" } },
      .payload = "Param1=value1", .sign_sha256 = 1,
      .creq = "POST\n/\n\ncontent-length:13\n"
              "content-type:application/x-www-form-urlencoded; charset=utf-8"
              "\n" L_HOST "x-amz-content-sha256:" FORM_SHA "\n" L_DATE "\n"
              "content-length;content-type;host;x-amz-content-sha256;"
              "x-amz-date\n" FORM_SHA,
      .sts_hash =
        "a89f1a5b53e37702ee6363ce1da3ce8f54386f3c8f352ae652153c2982a0bc4d",
      .signature =
        "328d1b9eaadca9f5818ef05e8392801e091653bafec24fcab71e7344e7f51422" },
};


static void
request_init(ngx_xyz_sigv4_request_t *r, const vector_t *v)
{
    size_t  n;

    for (n = 0; n < 5 && v->headers[n].name; n++) {
        /* void */
    }

    memset(r, 0, sizeof(ngx_xyz_sigv4_request_t));

    r->method = v->method;
    r->path = v->path;
    r->query = v->query;
    r->headers = v->headers;
    r->nheaders = n;
    r->payload = (const unsigned char *) v->payload;
    r->payload_len = v->payload ? strlen(v->payload) : 0;
    r->access_key = KEY_ID;
    r->secret_key = SECRET;
    r->session_token = v->token;
    r->region = "us-east-1";
    r->service = "service";
    r->amz_date = DATE;
    r->sign_content_sha256 = v->sign_sha256;
    r->no_normalize = v->no_normalize;
}


/* the Authorization header a vector expects */

static void
vector_authorization(const vector_t *v, char *out, size_t size)
{
    const char  *signed_headers, *last;

    /* the signed-header list is the line before the payload hash */

    last = strrchr(v->creq, '\n');
    for (signed_headers = last; signed_headers[-1] != '\n'; signed_headers--)
    {
        /* void */
    }

    snprintf(out, size, "AWS4-HMAC-SHA256 Credential=" KEY_ID "/" SCOPE
             ", SignedHeaders=%.*s, Signature=%s",
             (int) (last - signed_headers), signed_headers, v->signature);
}


static void
test_vectors(void)
{
    int                       n;
    size_t                    i;
    char                      name[128], buf[4096], want[4096];
    const vector_t           *v;
    ngx_xyz_sigv4_request_t   r;

    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        v = &vectors[i];
        request_init(&r, v);

        n = ngx_xyz_sigv4_canonical_request(&r, buf, sizeof(buf));
        snprintf(name, sizeof(name), "%s: canonical request", v->name);
        is_str(n >= 0 ? buf : NULL, v->creq, name);

        n = ngx_xyz_sigv4_string_to_sign(&r, buf, sizeof(buf));
        snprintf(want, sizeof(want), STS_HEAD "%s", v->sts_hash);
        snprintf(name, sizeof(name), "%s: string to sign", v->name);
        is_str(n >= 0 ? buf : NULL, want, name);

        n = ngx_xyz_sigv4_signature(&r, buf);
        snprintf(name, sizeof(name), "%s: signature", v->name);
        is_str(n == 0 ? buf : NULL, v->signature, name);

        vector_authorization(v, want, sizeof(want));

        n = ngx_xyz_sigv4_authorization(&r, buf, sizeof(buf));
        snprintf(name, sizeof(name), "%s: authorization", v->name);
        is_str(n >= 0 ? buf : NULL, want, name);
        ok(n == (int) strlen(want), "authorization length returned");
    }
}


static void
test_sqs(void)
{
    char                     buf[1024];
    const char              *body;
    ngx_xyz_sigv4_request_t  r;

    /*
     * A request shaped like SendMessageBatch; the expected signature was
     * worked out independently, with Python's hmac and hashlib.
     */

    static const ngx_xyz_sigv4_header_t  headers[] = {
        { "Host", "sqs.us-east-1.amazonaws.com" },
        { "Content-Type", "application/x-amz-json-1.0" },
        { "X-Amz-Target", "AmazonSQS.SendMessageBatch" },
    };

    body = "{\"QueueUrl\":\"http://sqs.us-east-1.localhost:4566/000000000000/"
           "signup\",\"Entries\":[{\"Id\":\"1\",\"MessageBody\":\"hello\"}]}";

    memset(&r, 0, sizeof(ngx_xyz_sigv4_request_t));
    r.method = "POST";
    r.path = "/";
    r.headers = headers;
    r.nheaders = 3;
    r.payload = (const unsigned char *) body;
    r.payload_len = strlen(body);
    r.access_key = KEY_ID;
    r.secret_key = SECRET;
    r.session_token = "FQoGZXIvYXdzEXAMPLE/token+with=chars";
    r.region = "us-east-1";
    r.service = "sqs";
    r.amz_date = DATE;

    ok(ngx_xyz_sigv4_string_to_sign(&r, buf, sizeof(buf)) > 0
       && strstr(buf, "0fb7799ed05b74fc189aec4da95b0de5393fd70bdbef871946e14f"
                      "b1a33a2474") != NULL,
       "sqs: canonical request hash");

    ngx_xyz_sigv4_authorization(&r, buf, sizeof(buf));
    is_str(buf, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
           "sqs/aws4_request, SignedHeaders=content-type;host;x-amz-date;"
           "x-amz-security-token;x-amz-target, Signature=65056e9c4c874212ff"
           "c6bdc7fdb8ed61ef2ea9ff1ed164a0f16d55cba78e1f1a",
           "sqs: authorization");

    /* the caller may hash the payload itself, e.g. to send it as well */

    r.payload = NULL;
    r.payload_len = 0;
    r.payload_hash =
        "c9565dcf8e190cd84e3aee44b1d0151dafac84ce824cf962e75c10dd774d7067";

    ngx_xyz_sigv4_signature(&r, buf);
    is_str(buf,
           "65056e9c4c874212ffc6bdc7fdb8ed61ef2ea9ff1ed164a0f16d55cba78e1f1a",
           "sqs: same signature from a given payload hash");
}


static void
test_canonical_parts(void)
{
    char                          buf[1024];
    ngx_xyz_sigv4_request_t       r;
    static ngx_xyz_sigv4_header_t  host[] = { HOST };

    memset(&r, 0, sizeof(ngx_xyz_sigv4_request_t));
    r.method = "GET";
    r.headers = host;
    r.nheaders = 1;
    r.access_key = KEY_ID;
    r.secret_key = SECRET;
    r.region = "us-east-1";
    r.service = "service";
    r.amz_date = DATE;

#define CANON(p, q, want, name)                                               \
    r.path = p;                                                               \
    r.query = q;                                                              \
    is_str(ngx_xyz_sigv4_canonical_request(&r, buf, sizeof(buf)) >= 0        \
           ? buf : NULL,                                                      \
           "GET\n" want "\n" L_HOST L_DATE SIGNED EMPTY_SHA, name)

    CANON(NULL, NULL, "/\n", "no path signs as /");
    CANON("", "", "/\n", "empty path signs as /");
    CANON("/", "Param1=value2&Param1=Value1", "/\nParam1=Value1&Param1=value2",
          "repeated key sorted by value");
    CANON("/", "b&a=", "/\na=&b=", "parameter without = gets an empty value");
    CANON("/", "a=1&&b=2&", "/\na=1&b=2", "empty parameters dropped");
    CANON("/", "k=%7e%2f%2F%41", "/\nk=~%2F%2FA",
          "escapes decoded and encoded again");
    CANON("/", "k=a+b c", "/\nk=a%2Bb%20c", "plus kept literal, space %20");
    CANON("/", "k=%zz%4", "/\nk=%25zz%254", "stray percent encoded");
    CANON("/", "k=\x7e&k=\xc2\x80", "/\nk=%C2%80&k=~",
          "values sorted in encoded form");
    CANON("/a/%20b", NULL, "/a/%2520b\n", "path encoded twice");
    CANON("/a/b/..", NULL, "/a/\n", "path ending in .. keeps a slash");
    CANON("/../a", NULL, "/a\n", ".. above the root dropped");
    CANON("/q/./r/.", NULL, "/q/r/\n", "path ending in . keeps a slash");

#undef CANON
}


static void
test_errors(void)
{
    char                           buf[1024];
    ngx_xyz_sigv4_request_t        r, good;
    static ngx_xyz_sigv4_header_t  host[] = { HOST };
    static ngx_xyz_sigv4_header_t  no_host[] = { { "X-Other", "1" } };
    static ngx_xyz_sigv4_header_t  date[] = { HOST, { "X-Amz-Date", DATE } };
    static ngx_xyz_sigv4_header_t  token[] = {
        HOST, { "x-amz-security-token", "t" }
    };
    static ngx_xyz_sigv4_header_t  bad_name[] = { HOST, { "My Header", "" } };

    memset(&good, 0, sizeof(ngx_xyz_sigv4_request_t));
    good.method = "POST";
    good.path = "/";
    good.headers = host;
    good.nheaders = 1;
    good.access_key = KEY_ID;
    good.secret_key = SECRET;
    good.region = "us-east-1";
    good.service = "service";
    good.amz_date = DATE;

    ok(ngx_xyz_sigv4_authorization(&good, buf, sizeof(buf)) > 0,
       "baseline signs");

#define REFUSED(change, name)                                                 \
    r = good;                                                                 \
    change;                                                                   \
    ok(ngx_xyz_sigv4_authorization(&r, buf, sizeof(buf)) == -1, name)

    REFUSED(r.headers = no_host, "host header required");
    REFUSED((r.headers = date, r.nheaders = 2), "x-amz-date in headers");
    REFUSED((r.headers = token, r.nheaders = 2),
            "x-amz-security-token in headers");
    REFUSED((r.headers = bad_name, r.nheaders = 2), "space in a name");
    REFUSED(r.amz_date = "2015-08-30T12:36:00Z", "ISO date refused");
    REFUSED(r.amz_date = "20150830T123600", "date without Z refused");
    REFUSED(r.amz_date = NULL, "no date refused");
    REFUSED(r.region = "us/east", "slash in region refused");
    REFUSED(r.service = "", "empty service refused");
    REFUSED(r.access_key = "AKID/X", "slash in key id refused");
    REFUSED(r.secret_key = "", "empty secret refused");
    REFUSED(r.method = "GET /", "space in method refused");
    REFUSED(r.payload_len = 3, "payload length without payload");

#undef REFUSED

    ok(ngx_xyz_sigv4_authorization(&good, buf, 60) == -1,
       "short output buffer refused");
    ok(ngx_xyz_sigv4_canonical_request(&good, buf, 20) == -1,
       "short canonical buffer refused");
    ok(ngx_xyz_sigv4_canonical_request(&good, buf, 0) == -1,
       "empty canonical buffer refused");
}


static void
test_helpers(void)
{
    char  buf[128];

    ok(ngx_xyz_sigv4_amz_date(1440938160, buf) == 0, "amz date formats");
    is_str(buf, DATE, "amz date of the test suite");
    ngx_xyz_sigv4_amz_date(0, buf);
    is_str(buf, "19700101T000000Z", "amz date of the epoch");
    ngx_xyz_sigv4_amz_date(951868799, buf);
    is_str(buf, "20000229T235959Z", "amz date of a leap day");
    ngx_xyz_sigv4_amz_date(253402300799, buf);
    is_str(buf, "99991231T235959Z", "amz date of the last second of 9999");
    ok(ngx_xyz_sigv4_amz_date(253402300800, buf) == -1, "year 10000 refused");
    ok(ngx_xyz_sigv4_amz_date(-1, buf) == -1, "negative time refused");

    ngx_xyz_sigv4_sha256_hex("", 0, buf);
    is_str(buf, EMPTY_SHA, "sha256 of nothing");
    ngx_xyz_sigv4_sha256_hex("Param1=value1", 13, buf);
    is_str(buf, FORM_SHA, "sha256 of a form");

    ok(ngx_xyz_sigv4_uri_encode("a b/c~\xc3\xb1", 8, buf, sizeof(buf)) == 16,
       "uri encode length");
    is_str(buf, "a%20b%2Fc~%C3%B1", "uri encode");
    ok(ngx_xyz_sigv4_uri_encode("a b", 3, buf, 5) == -1,
       "uri encode refuses a short buffer");
    ok(ngx_xyz_sigv4_uri_encode("a b", 3, buf, 6) == 5,
       "uri encode fills a buffer exactly");
}


int
main(void)
{
    test_vectors();
    test_sqs();
    test_canonical_parts();
    test_errors();
    test_helpers();

    return done_testing();
}
