# An escaped NUL ("\u0000") in a JSON string would cut the string short
# (yajl hands strings back NUL-terminated): a password "abc\u0000..." would
# be checked as "abc".  Every JSON body parser refuses it with 422 naming
# the field, as registration does; a raw NUL byte is malformed JSON.

use Test::Nginx::Socket;
use XyzTest;

plan 'no_plan';

no_shuffle();
no_long_string();

repeat_each(2);

add_block_preprocessor(sub {
    my $block = shift;

    quiet_error_log($block);

    if (!defined $block->main_config) {
        $block->set_value("main_config",
                          "thread_pool xyz_hash threads=1 max_queue=256;");
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<'_EOC_');
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
    xyz_jwt_key k1 $TEST_NGINX_JWT_KEY;
    xyz_cookie_secure off;
    xyz_public_url http://localhost;
    xyz_mail_requests_per_hour 1000;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location = /api/register { xyz_register; }
    location = /api/confirm { xyz_confirm; }
    location = /api/resend { xyz_resend; }
    location = /api/login { xyz_login; }
    location = /api/reset { xyz_reset_request; }
    location = /api/reset/complete { xyz_reset; }
_EOC_
    }

    if (!defined $block->more_headers) {
        $block->set_value("more_headers", "Content-Type: application/json");
    }
});

BEGIN {
    my $f = "/tmp/xyz-jwt-nul-$$";
    open my $fh, '>', $f or die $!;
    print $fh "test-signing-key-nul-" . ('x' x 40) . "\n";
    close $fh;
    $ENV{TEST_NGINX_JWT_KEY} = $f;
}

END { unlink "/tmp/xyz-jwt-nul-$$" }

run_tests();

__DATA__

=== TEST 1: login: a NUL in the password is refused, not cut short
--- request
POST /api/login
{"email": "nul-login@example.com", "password": "abc\u0000defghijklmnop"}
--- error_code: 422
--- response_body
{"error":"invalid_field","field":"password","message":"text fields must not contain NUL characters"}



=== TEST 2: login: a NUL in the email is refused
--- request
POST /api/login
{"email": "nul-login@example.com\u0000.evil", "password": "abcdefghijklmnop"}
--- error_code: 422
--- response_body
{"error":"invalid_field","field":"email","message":"text fields must not contain NUL characters"}



=== TEST 3: password reset: a NUL in the new password is refused
--- request
POST /api/reset/complete
{"token": "AAAAbogusAAAAbogusAAAAbogusAAAAbogusAAAAbog", "password": "a whole new passphrase\u0000"}
--- error_code: 422
--- response_body
{"error":"invalid_field","field":"password","message":"text fields must not contain NUL characters"}



=== TEST 4: password reset request: a NUL in the email is refused
--- request
POST /api/reset
{"email": "someone@example.com\u0000x"}
--- error_code: 422
--- response_body
{"error":"invalid_field","field":"email","message":"text fields must not contain NUL characters"}



=== TEST 5: resend: a NUL in the email is refused
--- request
POST /api/resend
{"email": "someone@example.com\u0000x"}
--- error_code: 422
--- response_body
{"error":"invalid_field","field":"email","message":"text fields must not contain NUL characters"}



=== TEST 6: confirm: a NUL in the token is refused
--- request
POST /api/confirm
{"token": "AAAAbogus\u0000AAAAbogus"}
--- error_code: 422
--- response_body
{"error":"invalid_field","field":"token","message":"text fields must not contain NUL characters"}



=== TEST 7: a NUL inside a nested value names the member it is in
--- request
POST /api/login
{"email": "nul-login@example.com", "extra": {"a": ["x", "y\u0000"]}, "password": "abcdefghijklmnop"}
--- error_code: 422
--- response_body
{"error":"invalid_field","field":"extra","message":"text fields must not contain NUL characters"}



=== TEST 8: a raw NUL byte in the body is malformed JSON
--- request eval
"POST /api/login\n{\"email\": \"nul-login\@example.com\", \"password\": \"abcdefghijklmnop\"}\0{\"x\":1}"
--- error_code: 400
--- response_body
{"error":"malformed_json","message":"the request body holds a NUL byte"}



=== TEST 9: an escaped backslash before "u0000" is no NUL: the login goes on
--- request
POST /api/login
{"email": "nul-login@example.com", "password": "abc\\u0000defghijklmnop"}
--- error_code: 401
--- response_body_like: "invalid_credentials"



=== TEST 10: registration still refuses it
--- request
POST /api/register
{"email": "nul-register@example.com", "password": "abc\u0000defghijklmnop", "name": "N"}
--- error_code: 422
--- response_body_like: "invalid_field"
