# The session cookie: "__Host-xyz_session" when xyz_cookie_secure is on
# (Secure, Path=/, no Domain: no sibling subdomain and no plain-HTTP answer
# can set one), "xyz_session" when it is off (plain-HTTP local runs); only
# that name is read.  A request carrying the session cookie more than once
# (a cookie planted next to the real one) is treated as logged out.

use Test::Nginx::Socket;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url);
use XyzTest;

BEGIN {
    my $f = "/tmp/xyz-jwt-cookie-$$";
    open my $fh, '>', $f or die $!;
    print $fh "test-signing-key-c1-" . ('x' x 40) . "\n";
    close $fh;
    $ENV{TEST_NGINX_JWT_C1} = $f;
}

END { unlink "/tmp/xyz-jwt-cookie-$$" }

plan 'no_plan';

no_shuffle();
no_long_string();

our $run = run_id();

sub addr { "$_[0]-$::run\@example.com" }

# a token for a user that does not exist (ids from 9000000 up): the real
# users of the shared test database may have ended sessions, whatever their ids
sub jwt {
    my (%c) = @_;
    my $key = "test-signing-key-c1-" . ('x' x 40);
    my $data = encode_base64url('{"alg":"HS256","typ":"JWT","kid":"c1"}')
               . '.' . encode_base64url(JSON::PP->new->canonical->encode({
                   sub => '9000001', email => 'a@example.com', role => 'user',
                   ver => 0, iat => time, exp => time + 600, %c }));
    return $data . '.' . encode_base64url(hmac_sha256($data, $key));
}

# a confirmed account, logged in: returns the Set-Cookie header
sub login {
    my ($tag) = @_;
    Test::More::is(XyzTest::register_now(email => addr($tag)), 202, "$tag: registered");
    XyzTest::psql("UPDATE users SET status = 'confirmed' WHERE email_normalized = '"
                  . addr($tag) . "'");
    my ($s, $h) = XyzTest::api('POST', '/api/login',
        { email => addr($tag), password => 'correct horse battery staple' });
    Test::More::is($s, 200, "$tag: logged in");
    my $sc = $h->{'set-cookie'} // '';
    return ref $sc ? join(',', @$sc) : $sc;
}

sub config {
    my ($secure) = @_;
    return <<"_EOC_";
    xyz_pg_dsn "\$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
    xyz_jwt_key c1 \$TEST_NGINX_JWT_C1;
    xyz_cookie_secure $secure;
_EOC_
}

repeat_each(2);

add_block_preprocessor(sub {
    my $block = shift;

    quiet_error_log($block);

    if (!defined $block->main_config) {
        $block->set_value("main_config",
                          "thread_pool xyz_hash threads=1 max_queue=256;");
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location = /api/register { xyz_register; }
    location = /api/login { xyz_login; }
    location = /api/logout { xyz_logout; }
    location = /api/me { xyz_me; }

    location /members/ {
        xyz_auth on;
        proxy_set_header X-User-Id $xyz_user_id;
        proxy_pass http://127.0.0.1:$server_port/echo;
    }

    location = /echo {
        return 200 "member $http_x_user_id\n";
    }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: xyz_cookie_secure on: the session is "__Host-xyz_session", and only that name is read
--- http_config eval: ::config('on')
--- init
my $sc = ::login('host');
Test::More::like($sc, qr/^__Host-xyz_session=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; Max-Age=\d+; HttpOnly; Secure; SameSite=Lax$/,
                 'Set-Cookie: __Host-xyz_session, Secure, Path=/, no Domain');
my ($t) = $sc =~ /^__Host-xyz_session=([^;]+)/;
my ($s, undef, undef, $j) = XyzTest::api('GET', '/api/me', undef, { Cookie => "__Host-xyz_session=$t" });
Test::More::is($s, 200, 'me with __Host-xyz_session');
Test::More::is($j->{email}, ::addr('host'), 'the user');
($s, undef, undef, $j) = XyzTest::api('GET', '/api/me', undef, { Cookie => "xyz_session=$t" });
Test::More::is($s, 401, 'the name without the prefix is not read');
my ($s2, $h2) = XyzTest::api('POST', '/api/logout', undef, { Cookie => "__Host-xyz_session=$t" });
Test::More::is($s2, 200, 'logged out');
Test::More::like($h2->{'set-cookie'} // '', qr/^__Host-xyz_session=; Path=\/; Max-Age=0;.*; Secure/,
                 'logout clears __Host-xyz_session');
--- request
GET /api/me
--- error_code: 401



=== TEST 2: xyz_cookie_secure off: the session stays "xyz_session" for plain-HTTP runs
--- http_config eval: ::config('off')
--- init
my $sc = ::login('plain');
Test::More::like($sc, qr/^xyz_session=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/,
                 'Set-Cookie: xyz_session, without Secure');
my ($t) = $sc =~ /^xyz_session=([^;]+)/;
my ($s) = XyzTest::api('GET', '/api/me', undef, { Cookie => "xyz_session=$t" });
Test::More::is($s, 200, 'me with xyz_session');
--- request
GET /members/x
--- more_headers eval
"Cookie: xyz_session=" . ::jwt(sub => '9000005')
--- response_body
member 9000005



=== TEST 3: the session cookie twice in one header: logged out, whichever comes first
--- http_config eval: ::config('on')
--- request
GET /members/x
--- more_headers eval
"Cookie: __Host-xyz_session=" . ::jwt(sub => '9000005') . "; __Host-xyz_session=" . ::jwt(sub => '9000006')
--- error_code: 401
--- response_body
{"error":"not_logged_in","message":"log in to see this page"}



=== TEST 4: the session cookie in two Cookie headers: logged out
--- http_config eval: ::config('on')
--- request
GET /members/x
--- more_headers eval
"Cookie: a=1; __Host-xyz_session=" . ::jwt(sub => '9000005') . "\nCookie: __Host-xyz_session=garbage"
--- error_code: 401
--- response_body
{"error":"not_logged_in","message":"log in to see this page"}



=== TEST 5: "me" treats a doubled cookie the same way
--- http_config eval: ::config('off')
--- request
GET /api/me
--- more_headers eval
"Cookie: xyz_session=" . ::jwt(sub => '9000005') . "; b=2; xyz_session=" . ::jwt(sub => '9000005')
--- error_code: 401
--- response_body
{"error":"not_logged_in","message":"log in first"}



=== TEST 6: one session cookie among others still works
--- http_config eval: ::config('on')
--- request
GET /members/x
--- more_headers eval
"Cookie: xyz_session=stale; __Host-xyz_session=" . ::jwt(sub => '9000008') . "; theme=dark"
--- response_body
member 9000008



=== TEST 7: a bearer token is read as before, whatever the cookies
--- http_config eval: ::config('on')
--- request
GET /members/x
--- more_headers eval
"Authorization: Bearer " . ::jwt(sub => '9000009') . "\nCookie: __Host-xyz_session=a; __Host-xyz_session=b"
--- response_body
member 9000009
