# Sessions end everywhere: a password reset, a disabled account, a demoted
# administrator and a logout, made through one nginx, make a second nginx
# on the same database refuse the old cookie and Bearer token within
# seconds, on an "xyz_auth" location and on "xyz_admin_users", without a
# query per request.  And a password reset checks its token before it
# spends a hash.

use Test::Nginx::Socket;
use Time::HiRes ();
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url);
use XyzTest;

BEGIN {
    my $f = "/tmp/xyz-jwt-rev-$$";
    open my $fh, '>', $f or die $!;
    print $fh "revocation-test-key-" . ('r' x 40) . "\n";
    close $fh;
    $ENV{TEST_NGINX_JWT_KEY} = $f;
}

END { unlink "/tmp/xyz-jwt-rev-$$" }

plan 'no_plan';

our $run = run_id();
our $pw = 'correct horse battery staple';

no_shuffle();
no_long_string();

sub addr { "$_[0]-$::run\@example.com" }

sub token_of {
    my ($tag, $type) = @_;
    return XyzTest::psql("SELECT payload->>'token' FROM outbox "
        . "WHERE payload->>'type' = '$type' AND lower(payload->>'email') = '"
        . lc addr($tag) . "' ORDER BY id DESC LIMIT 1");
}

sub cookie_of {
    my ($headers) = @_;
    my $sc = $headers->{'set-cookie'} // '';
    $sc = join ',', @$sc if ref $sc;
    return $sc =~ /(?:__Host-)?xyz_session=([^;]+)/ ? $1 : undef;
}

# a confirmed account (an admin with role => 'admin'), logged in through
# the first nginx: (cookie, Bearer token)
sub session {
    my ($tag, %o) = @_;
    XyzTest::register_now(email => addr($tag), password => $::pw);
    XyzTest::psql("UPDATE users SET status = 'confirmed', role = '"
                  . ($o{role} // 'user') . "' WHERE email_normalized = '"
                  . lc addr($tag) . "'");
    my ($s, $h, undef, $j) = XyzTest::api('POST', '/api/login',
        { email => addr($tag), password => $::pw, token => JSON::PP::true() });
    Test::More::is($s, 200, "$tag logs in");
    return (cookie_of($h), $j ? $j->{token} : undef);
}

# a request to the nginx on $port
sub on {
    my ($port, $method, $path, $headers, $body) = @_;
    local $ENV{TEST_NGINX_SERVER_PORT} = $port;
    return XyzTest::api($method, $path, $body, $headers);
}

sub both {
    my ($cookie, $bearer) = @_;
    return ({ Cookie => "xyz_session=$cookie" },
            { Authorization => "Bearer $bearer" });
}

# asks until the answer is one of @want (a list of statuses) or $secs
# pass; returns the last status and the seconds it took
sub until_status {
    my ($secs, $port, $path, $headers, @want) = @_;
    my $start = Time::HiRes::time();
    my $s;
    while (1) {
        ($s) = on($port, 'GET', $path, $headers);
        last if grep { $s == $_ } @want;
        last if Time::HiRes::time() - $start > $secs;
        Time::HiRes::sleep(0.2);
    }
    return ($s, Time::HiRes::time() - $start);
}

our $second_conf = <<'_EOC_';
        location /members/ {
            xyz_auth on;
            add_header X-User "$xyz_user_id $xyz_user_role";
            empty_gif;
        }
        location /private/ {
            xyz_auth on;
            xyz_auth_role admin;
            empty_gif;
        }
        location = /api/admin/users {
            xyz_auth on;
            xyz_auth_role admin;
            xyz_admin_users;
        }
        location = /api/admin/users-unguarded { xyz_admin_users; }
_EOC_

sub second {
    return XyzTest::start_instance(relay => 0,
        http_extra => "    xyz_jwt_key k $ENV{TEST_NGINX_JWT_KEY};\n"
                      . "    xyz_cookie_secure off;\n",
        server_extra => $::second_conf);
}

# every guarded location of the second nginx, for the old session: each
# must refuse it within a few seconds
sub refused_everywhere {
    my ($what, $second, $cookie, $bearer, @paths) = @_;
    for my $h (both($cookie, $bearer)) {
        my $kind = exists $h->{Cookie} ? 'cookie' : 'Bearer';
        for my $path (@paths) {
            my ($s, $t) = until_status(5, $second->{port}, $path, $h,
                                       401, 403);
            Test::More::ok($s == 401 || $s == 403,
                           "$what: the second nginx refuses the old $kind "
                           . "on $path (got $s)");
            Test::More::cmp_ok($t, '<', 5, "within seconds ("
                               . sprintf('%.1f', $t) . " s)");
        }
    }
}

# a token of a user no change names, issued $delta seconds from now
sub jwt {
    my ($delta) = @_;
    my $key = "revocation-test-key-" . ('r' x 40);
    my $data = encode_base64url('{"alg":"HS256","typ":"JWT","kid":"k"}') . '.'
        . encode_base64url(JSON::PP->new->canonical->encode({
              sub => '900000001', email => 'z@example.com', role => 'user',
              ver => 0, iat => int(CORE::time()) + $delta,
              exp => int(CORE::time()) + 600 }));
    return $data . '.' . encode_base64url(hmac_sha256($data, $key));
}

# the log's count of hashing tasks handed to the thread pool
sub hashes {
    open my $fh, '<', "$Test::Nginx::Util::ServRoot/logs/error.log" or return 0;
    my $n = 0;
    while (<$fh>) {
        $n++ if /added to thread pool "xyz_hash"/;
    }
    return $n;
}

add_block_preprocessor(sub {
    my $block = shift;

    quiet_error_log($block);

    if (!defined $block->main_config) {
        $block->set_value("main_config",
                          "thread_pool xyz_hash threads=1 max_queue=64;");
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<'_EOC_');
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
    xyz_jwt_key k $TEST_NGINX_JWT_KEY;
    xyz_cookie_secure off;
    xyz_mail_requests_per_hour 1000;
    xyz_mail_cooldown 1s;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location = /api/register { xyz_register; }
    location = /api/login { xyz_login; }
    location = /api/logout { xyz_logout; }
    location = /api/me { xyz_me; }
    location = /api/reset { xyz_reset_request; }
    location = /api/reset/complete { xyz_reset; }
    location /members/ {
        xyz_auth on;
        empty_gif;
    }
    location = /api/admin/users {
        xyz_auth on;
        xyz_auth_role admin;
        xyz_admin_users;
    }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: a password reset through one nginx ends the old session on the other within seconds
--- init
my $second = ::second();
my ($cookie, $bearer) = ::session('rv-reset');
for my $h (::both($cookie, $bearer)) {
    my ($s) = ::on($second->{port}, 'GET', '/members/x', $h);
    Test::More::is($s, 200, 'before the reset the second nginx lets the session in');
}
XyzTest::api('POST', '/api/reset', { email => ::addr('rv-reset') });
my ($s) = XyzTest::api('POST', '/api/reset/complete',
    { token => ::token_of('rv-reset', 'reset'), password => 'a whole new passphrase' });
Test::More::is($s, 200, 'the password is reset through the first nginx');
::refused_everywhere('reset', $second, $cookie, $bearer, '/members/x');
my ($s1) = XyzTest::api('GET', '/members/x', undef, { Cookie => "xyz_session=$cookie" });
Test::More::is($s1, 401, 'and the first nginx refuses it too');
my (undef, $h) = XyzTest::api('POST', '/api/login', { email => ::addr('rv-reset'), password => 'a whole new passphrase' });
my ($s2) = ::on($second->{port}, 'GET', '/members/x', { Cookie => 'xyz_session=' . ::cookie_of($h) });
Test::More::is($s2, 200, 'a session made after the reset opens');
XyzTest::stop_instance($second);
--- request
GET /members/x
--- error_code: 401



=== TEST 2: a disabled account is refused by the other nginx within seconds
--- init
my $second = ::second();
my ($cookie, $bearer) = ::session('rv-off');
my ($s) = ::on($second->{port}, 'GET', '/members/x', { Cookie => "xyz_session=$cookie" });
Test::More::is($s, 200, 'before: in');
XyzTest::psql("UPDATE users SET status = 'disabled' WHERE email_normalized = '" . ::addr('rv-off') . "'");
::refused_everywhere('disabled', $second, $cookie, $bearer, '/members/x');
XyzTest::stop_instance($second);
--- request
GET /members/x
--- error_code: 401



=== TEST 3: a demoted administrator loses the admin list and admin locations on the other nginx within seconds
--- init
my $second = ::second();
my ($cookie, $bearer) = ::session('rv-adm', role => 'admin');
for my $path ('/api/admin/users', '/private/x', '/api/admin/users-unguarded') {
    my ($s) = ::on($second->{port}, 'GET', $path, { Authorization => "Bearer $bearer" });
    Test::More::is($s, 200, "before: the admin gets $path");
}
XyzTest::psql("UPDATE users SET role = 'user' WHERE email_normalized = '" . ::addr('rv-adm') . "'");
::refused_everywhere('demoted', $second, $cookie, $bearer,
                     '/api/admin/users', '/private/x', '/api/admin/users-unguarded');
my (undef, $h) = XyzTest::api('POST', '/api/login', { email => ::addr('rv-adm'), password => $::pw });
my $c2 = ::cookie_of($h);
my ($s2, $h2) = ::on($second->{port}, 'GET', '/members/x', { Cookie => "xyz_session=$c2" });
Test::More::is($s2, 200, 'a new session opens');
Test::More::like($h2->{'x-user'} // '', qr/ user$/, 'with the role "user"');
my ($s3) = ::on($second->{port}, 'GET', '/api/admin/users', { Cookie => "xyz_session=$c2" });
Test::More::is($s3, 403, 'and no admin list');
XyzTest::stop_instance($second);
--- request
GET /members/x
--- error_code: 401



=== TEST 4: a logout through one nginx ends the session on both within seconds
--- init
my $second = ::second();
my ($cookie, $bearer) = ::session('rv-out');
my ($s) = ::on($second->{port}, 'GET', '/members/x', { Authorization => "Bearer $bearer" });
Test::More::is($s, 200, 'before: in');
my ($s1, $h1) = XyzTest::api('POST', '/api/logout', undef, { Cookie => "xyz_session=$cookie" });
Test::More::is($s1, 200, 'logged out through the first nginx');
my ($s2) = XyzTest::api('GET', '/members/x', undef, { Authorization => "Bearer $bearer" });
Test::More::is($s2, 401, 'the first nginx refuses the session at once');
my ($s3, undef, undef, $j3) = XyzTest::api('GET', '/api/me', undef, { Cookie => "xyz_session=$cookie" });
Test::More::is($s3, 401, 'and so does "me"');
Test::More::is($j3 && $j3->{error}, 'session_ended', 'saying the session ended');
::refused_everywhere('logout', $second, $cookie, $bearer, '/members/x');
XyzTest::stop_instance($second);
--- request
GET /members/x
--- error_code: 401



=== TEST 5: a password reset with a dead token answers 400 or 410 at once and hashes nothing
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=32768 t=3 p=1;
    xyz_jwt_key k $TEST_NGINX_JWT_KEY;
    xyz_cookie_secure off;
    xyz_mail_requests_per_hour 1000;
    xyz_mail_cooldown 1s;
--- init
XyzTest::register_now(email => ::addr('rv-hash'), password => $::pw);
XyzTest::api('POST', '/api/reset', { email => ::addr('rv-hash') });
my $token = ::token_of('rv-hash', 'reset');
my $n = ::hashes();
my $t0 = Time::HiRes::time();
my ($s, undef, undef, $j) = XyzTest::api('POST', '/api/reset/complete',
    { token => 'x' x 43, password => 'a whole new passphrase' });
my $t = Time::HiRes::time() - $t0;
Test::More::is($s, 400, 'an unknown token: 400');
Test::More::is($j && $j->{error}, 'invalid_token', 'invalid_token');
Test::More::is(::hashes() - $n, 0, 'no hash for an unknown token');
Test::More::cmp_ok($t, '<', 1, sprintf('answered at once (%.3f s)', $t));
$n = ::hashes();
($s) = XyzTest::api('POST', '/api/reset/complete', { token => $token, password => 'a whole new passphrase' });
Test::More::is($s, 200, 'the live token resets the password');
Test::More::is(::hashes() - $n, 1, 'with one hash');
$n = ::hashes();
($s) = XyzTest::api('POST', '/api/reset/complete', { token => $token, password => 'another new passphrase' });
Test::More::is($s, 410, 'the used token: 410');
Test::More::is(::hashes() - $n, 0, 'no hash for a used token');
--- request
POST /api/reset/complete
{"token": "bogus", "password": "a whole new passphrase"}
--- more_headers
Content-Type: application/json
--- error_code: 400



=== TEST 6: a new hash stored at login (new Argon2id parameters, the same password) ends no session
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=2 p=1;
    xyz_jwt_key k $TEST_NGINX_JWT_KEY;
    xyz_cookie_secure off;
--- init
my $who = "email_normalized = '" . ::addr('rv-reset') . "'";
my $before = XyzTest::psql("SELECT token_version || ' ' || password_hash FROM users WHERE $who");
my ($s, $h) = XyzTest::api('POST', '/api/login', { email => ::addr('rv-reset'), password => 'a whole new passphrase' });
Test::More::is($s, 200, 'logged in with the old parameters\' hash');
my $after = XyzTest::psql("SELECT token_version || ' ' || password_hash FROM users WHERE $who");
my ($v0, $h0) = split ' ', $before;
my ($v1, $h1) = split ' ', $after;
Test::More::like($h1, qr/t=2/, 'the hash was made again with t=2');
Test::More::is($v1, $v0, 'the token version stays');
Time::HiRes::sleep(1.5);
my ($s2) = XyzTest::api('GET', '/members/x', undef, { Cookie => 'xyz_session=' . ::cookie_of($h) });
Test::More::is($s2, 200, 'the session that login made opens');
my ($s3) = XyzTest::api('GET', '/api/me', undef, { Cookie => 'xyz_session=' . ::cookie_of($h) });
Test::More::is($s3, 200, 'and "me" knows it');
--- request
GET /members/x
--- error_code: 401



=== TEST 7: a full xyz_session_zone makes room and refuses the sessions it can no longer judge
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
    xyz_jwt_key k $TEST_NGINX_JWT_KEY;
    xyz_cookie_secure off;
    xyz_session_zone 32k;
    xyz_session_poll 200ms;
--- init
# more ended sessions than 32k holds, of users that do not exist
XyzTest::psql("INSERT INTO session_changes (user_id, token_version, status, role) "
              . "SELECT 800000000 + g, 1, 'confirmed', 'user' FROM generate_series(1, 3000) g");
Time::HiRes::sleep(1.5);
my ($s1, undef, undef, $j1) = XyzTest::api('GET', '/members/x', undef, { Authorization => 'Bearer ' . ::jwt(-30) });
Test::More::is($s1, 401, 'a session from before the forgotten changes is refused');
Test::More::is($j1 && $j1->{error}, 'session_ended', 'as ended');
my ($s2) = XyzTest::api('GET', '/members/x', undef, { Authorization => 'Bearer ' . ::jwt(2) });
Test::More::is($s2, 200, 'a session from after them opens');
XyzTest::psql("DELETE FROM session_changes WHERE user_id > 800000000");
--- request
GET /members/x
--- error_code: 401
--- error_log
"xyz_session_zone" is full



=== TEST 8: too small an xyz_session_zone is refused at start with what to give
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_jwt_key k $TEST_NGINX_JWT_KEY;
    xyz_session_zone 4k;
--- must_die
--- error_log
"xyz_session_zone" of 4096 bytes is too small; give at least



=== TEST 9: a poll interval out of range is refused at start
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_jwt_key k $TEST_NGINX_JWT_KEY;
    xyz_session_poll 2m;
--- must_die
--- error_log
"xyz_session_poll" must be from 50ms to 60s
