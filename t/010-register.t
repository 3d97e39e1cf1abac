# Registration: validation answers, the stored rows, and the same answer
# for a new and a known address.

use Test::Nginx::Socket 'no_plan';
use XyzTest;

our $run = run_id();
our $accepted = qr/\A\{"status":"accepted","message":"Check your inbox[^"]*"\}\n\z/;

no_shuffle();
no_long_string();

add_block_preprocessor(sub {
    my $block = shift;

    quiet_error_log($block);

    if (!defined $block->main_config) {
        $block->set_value("main_config",
                          "thread_pool xyz_hash threads=2 max_queue=64;");
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<'_EOC_');
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location = /api/register {
        xyz_register;
    }

    location = /metrics {
        xyz_metrics;
    }
_EOC_
    }
});

run_tests();

# What the requests above left in PostgreSQL.

is(psql("SELECT count(*) FROM users WHERE email_normalized = 'new-$run\@example.com'"),
   1, 'a new address makes one user');
like(psql("SELECT password_hash FROM users WHERE email_normalized = 'new-$run\@example.com'"),
     qr/\A\$argon2id\$v=19\$m=1024,t=1,p=1\$/, 'the password is stored as an Argon2id PHC string');
is(psql("SELECT name || '|' || locale || '|' || status "
        . "FROM users WHERE email_normalized = 'new-$run\@example.com'"),
   'Ana Pérez|en|pending', 'name, locale and status stored');
is(psql("SELECT t.name || '|' || t.locale || '|' || t.marketing_consent || '|' "
        . "|| (t.password_hash = u.password_hash) FROM confirmation_tokens t "
        . "JOIN users u ON u.id = t.user_id WHERE u.email_normalized = 'new-$run\@example.com'"),
   'Ana Pérez|en|true|true', 'the registration (consent, password) is kept with its token until confirmed');
is(psql("SELECT count(*) FROM confirmation_tokens t JOIN users u ON u.id = t.user_id "
        . "WHERE u.email_normalized = 'new-$run\@example.com' "
        . "AND octet_length(t.token_hash) = 32 AND t.used_at IS NULL "
        . "AND t.expires_at BETWEEN now() + interval '23 hours' AND now() + interval '25 hours'"),
   1, 'one unused token hash expiring in 24 hours');
is(psql("SELECT string_agg(kind || ':' || (payload->>'type'), ',' ORDER BY id) FROM outbox "
        . "WHERE payload->>'user_id' = (SELECT id::text FROM users "
        . "WHERE email_normalized = 'new-$run\@example.com')"),
   'email:confirm', 'a confirmation email in the outbox (the CRM report waits for the confirmation)');
my $token = psql("SELECT payload->>'token' FROM outbox WHERE payload->>'type' = 'confirm' "
                 . "AND payload->>'email' = 'New-$run\@Example.com'");
like($token, qr/\A[A-Za-z0-9_-]{43}\z/, 'the emailed token is 256 random bits, base64url');
is(psql("SELECT count(*) FROM confirmation_tokens WHERE token_hash = sha256('$token')"),
   1, 'only the SHA-256 of the token is stored');

is(psql("SELECT count(*) FROM users WHERE email_normalized = 'dup-$run\@example.com'"),
   1, 'a known address makes no second user');
is(psql("SELECT string_agg(kind || ':' || (payload->>'type'), ',' ORDER BY id) FROM outbox "
        . "WHERE payload->>'user_id' = (SELECT id::text FROM users "
        . "WHERE email_normalized = 'dup-$run\@example.com')"),
   'email:confirm',
   'a pending address registered again within the mail cooldown: no second email, no CRM report');

is(psql("SELECT count(*) FROM users WHERE email_normalized LIKE '%-bad-$run\@example.com'"),
   0, 'refused requests store nothing');
is(psql("SELECT t.name || '|' || t.marketing_consent FROM confirmation_tokens t JOIN users u "
        . "ON u.id = t.user_id WHERE u.email_normalized = 'form-$run\@example.com'"),
   'Ana Pérez|true', 'the form post stored the decoded name and the ticked consent');

__DATA__

=== TEST 1: a new address is accepted with 202
--- request eval
"POST /api/register\n"
. XyzTest::register_json(email => "New-$::run\@Example.com", name => " Ana Pérez ",
                         locale => "en", marketing_consent => JSON::PP::true)
--- more_headers
Content-Type: application/json
--- error_code: 202
--- response_headers
Content-Type: application/json; charset=utf-8
Cache-Control: no-store
--- response_body_like eval
$::accepted
--- no_error_log
[error]



=== TEST 2: a known address, in other letter case, gets the same status and body
--- request eval
["POST /api/register\n" . XyzTest::register_json(email => "dup-$::run\@example.com"),
 "POST /api/register\n" . XyzTest::register_json(email => "DUP-$::run\@Example.COM",
                                                 password => "another long password")]
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 202]
--- response_body_like eval
[$::accepted, $::accepted]
--- no_error_log
[error]



=== TEST 3: GET is refused with 405 and Allow
--- request
GET /api/register
--- error_code: 405
--- response_headers
Allow: POST
Content-Type: application/json; charset=utf-8
--- response_body
{"error":"method_not_allowed","message":"use POST to register"}



=== TEST 4: a body neither JSON nor a form is refused with 415
--- request eval
"POST /api/register\nemail=x-bad-$::run%40example.com&password=correct+horse+battery&name=A"
--- more_headers
Content-Type: text/plain
--- error_code: 415
--- response_body
{"error":"unsupported_media_type","message":"send the body as application/json"}



=== TEST 5: no content type is refused with 415
--- request eval
"POST /api/register\n" . XyzTest::register_json(email => "notype-bad-$::run\@example.com")
--- error_code: 415
--- response_body_like: "unsupported_media_type"



=== TEST 6: application/json with a charset parameter is accepted
--- request eval
"POST /api/register\n" . XyzTest::register_json(email => "charset-$::run\@example.com")
--- more_headers
Content-Type: application/json; charset=utf-8
--- error_code: 202



=== TEST 7: malformed JSON is a 400, counted as rejected
--- request eval
["POST /api/register\n{\"email\": \"broken-bad-$::run\@example.com\"",
 "POST /api/register\n[\"not\", \"an\", \"object\"]",
 "POST /api/register\n",
 "GET /metrics"]
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 400, 400, 200]
--- response_body eval
['{"error":"malformed_json","message":"the request body is not valid JSON"}' . "\n",
 '{"error":"malformed_json","message":"the request body must be a JSON object"}' . "\n",
 '{"error":"malformed_json","message":"the request body is empty"}' . "\n",
 qr/xyz_registration_errors_total\{reason="rejected"\} 3\n/]



=== TEST 8: each missing field is named in a 422
--- request eval
["POST /api/register\n" . XyzTest::register_json(email => undef),
 "POST /api/register\n" . XyzTest::register_json(email => "nopw-bad-$::run\@example.com", password => undef),
 "POST /api/register\n" . XyzTest::register_json(email => "noname-bad-$::run\@example.com", name => undef)]
--- more_headers
Content-Type: application/json
--- error_code eval
[422, 422, 422]
--- response_body eval
['{"error":"missing_field","field":"email","message":"email is required"}' . "\n",
 '{"error":"missing_field","field":"password","message":"password is required"}' . "\n",
 '{"error":"missing_field","field":"name","message":"name is required"}' . "\n"]



=== TEST 9: each invalid field is named in a 422
--- request eval
["POST /api/register\n" . XyzTest::register_json(email => "not-an-address-bad-$::run"),
 "POST /api/register\n" . XyzTest::register_json(email => "crlf-bad-$::run\@example.com\r\nBcc: x\@example.com"),
 "POST /api/register\n" . XyzTest::register_json(email => "name-bad-$::run\@example.com", name => ""),
 "POST /api/register\n" . XyzTest::register_json(email => "locale-bad-$::run\@example.com", locale => "fr"),
 "POST /api/register\n" . XyzTest::register_json(email => "consent-bad-$::run\@example.com", marketing_consent => "yes"),
 "POST /api/register\n" . XyzTest::register_json(email => "extra-bad-$::run\@example.com", role => "admin"),
 "POST /api/register\n" . XyzTest::register_json(email => ["array-bad-$::run\@example.com"])]
--- more_headers
Content-Type: application/json
--- error_code eval
[422, 422, 422, 422, 422, 422, 422]
--- response_body_like eval
[qr/"field":"email","message":"email is not a valid address"/,
 qr/"field":"email"/,
 qr/"field":"name"/,
 qr/"field":"locale"/,
 qr/"field":"marketing_consent"/,
 qr/"error":"unknown_field","field":"role"/,
 qr/"field":"email","message":"this field must be a string"/]



=== TEST 10: passwords outside the configured bounds are a 422 naming them
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
    xyz_password_length 15 20;
--- request eval
["POST /api/register\n" . XyzTest::register_json(email => "pw14-bad-$::run\@example.com", password => "a" x 14),
 "POST /api/register\n" . XyzTest::register_json(email => "pw21-bad-$::run\@example.com", password => "a" x 21),
 "POST /api/register\n" . XyzTest::register_json(email => "pw15-$::run\@example.com", password => "ñ" x 15)]
--- more_headers
Content-Type: application/json
--- error_code eval
[422, 422, 202]
--- response_body_like eval
['{"error":"invalid_field","field":"password","message":"password must be 15 to 20 characters without control characters"}',
 '"field":"password"',
 '"status":"accepted"']



=== TEST 11: a body over the limit is a 413, announced or chunked
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
--- config
    location = /api/register {
        xyz_body_max_size 1k;
        xyz_register;
    }
--- raw_request eval
my $body = XyzTest::register_json(email => "big-bad-$::run\@example.com", name => "x" x 2000);
["POST /api/register HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
 . "Content-Type: application/json\r\nContent-Length: " . length($body) . "\r\n\r\n" . $body]
--- error_code: 413
--- response_body
{"error":"body_too_large","message":"the request body is too large"}



=== TEST 12: a chunked body over the limit is a 413 too
--- config
    location = /api/register {
        xyz_body_max_size 1k;
        xyz_register;
    }
--- raw_request eval
my $body = XyzTest::register_json(email => "chunk-bad-$::run\@example.com", name => "x" x 2000);
["POST /api/register HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
 . "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
 . sprintf("%x\r\n%s\r\n0\r\n\r\n", length($body), $body)]
--- error_code: 413
--- response_body_like: body_too_large



=== TEST 13: the sign-up page's plain form: 303 to the next page, errors back to the form
--- request eval
["POST /api/register\nemail=form-$::run%40example.com&password=correct+horse+battery&name=Ana+P%C3%A9rez&marketing_consent=on&submit=Sign+up",
 "POST /api/register\nemail=form-bad-$::run%40example.com&password=short&name=Ana",
 "POST /api/register\nemail=form-bad2-$::run%40example.com&password=correct+horse+battery&name=Ana"]
--- more_headers eval
["Content-Type: application/x-www-form-urlencoded\nOrigin: http://localhost",
 "Content-Type: application/x-www-form-urlencoded\nOrigin: http://localhost",
 "Content-Type: application/x-www-form-urlencoded\nOrigin: http://evil.example"]
--- error_code eval
[303, 303, 403]
--- response_headers_like eval
["Location: http://localhost(:\\d+)?/check-email.html",
 "Location: http://localhost(:\\d+)?/\\?error=invalid_field&field=password",
 ""]
