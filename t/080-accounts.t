# The account lifecycle: confirm, resend, log in and out, "me", password
# reset, the password blocklist, authorization by role on any location,
# the admin list, and CSRF.  Multi-step flows run through XyzTest::api in
# each block's init; the block's own request checks what is left to see.

use Test::Nginx::Socket;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url);
use XyzTest;

BEGIN {
    for my $k (qw(k1 k2)) {
        my $f = "/tmp/xyz-jwt-$k-$$";
        open my $fh, '>', $f or die $!;
        print $fh "test-signing-key-$k-" . ('x' x 40) . "\n";
        close $fh;
        $ENV{'TEST_NGINX_JWT_' . uc $k} = $f;
    }

    $ENV{TEST_NGINX_BLOCKLIST} = "$ENV{XYZ_ROOT}/conf/passwords/common.txt";
}

END { unlink "/tmp/xyz-jwt-k1-$$", "/tmp/xyz-jwt-k2-$$" }

plan 'no_plan';

our $run = run_id();

# failed logins of earlier suites from this client would throttle this one's
XyzTest::psql("DELETE FROM login_throttle");
our %jar;

no_shuffle();
no_long_string();

sub addr { "$_[0]-$::run\@example.com" }

# a token signed with key k1 (or another key) from the claims given; its
# users (ids from 9000000 up) are nobody in the test database, whose real
# users' sessions other suites end (a logout, a reset), whatever their ids
sub jwt {
    my (%c) = @_;
    my $key = delete $c{key} // "test-signing-key-k1-" . ('x' x 40);
    my $header = delete $c{header} // '{"alg":"HS256","typ":"JWT","kid":"k1"}';
    my $payload = JSON::PP->new->canonical->encode({
        sub => '9000001', email => 'a@example.com', role => 'user', ver => 0,
        iat => time, exp => time + 600, %c });
    my $data = encode_base64url($header) . '.' . encode_base64url($payload);
    return $data . '.' . encode_base64url(hmac_sha256($data, $key));
}

sub token_of {
    my ($tag, $type) = @_;
    return XyzTest::psql("SELECT payload->>'token' FROM outbox WHERE payload->>'type' = '$type' "
                         . "AND lower(payload->>'email') = '" . lc addr($tag) . "' ORDER BY id DESC LIMIT 1");
}

sub cookie_of {
    my ($headers) = @_;
    my $sc = $headers->{'set-cookie'} // '';
    $sc = join ',', @$sc if ref $sc;
    return $sc =~ /xyz_session=([^;]*)/ ? $1 : undef;
}

add_block_preprocessor(sub {
    my $block = shift;

    quiet_error_log($block);

    if (!defined $block->main_config) {
        $block->set_value("main_config",
                          "thread_pool xyz_hash threads=2 max_queue=256;");
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<'_EOC_');
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
    xyz_jwt_key k1 $TEST_NGINX_JWT_K1;
    xyz_jwt_key k2 $TEST_NGINX_JWT_K2;
    xyz_cookie_secure off;
    xyz_public_url http://localhost;
    xyz_password_blocklist $TEST_NGINX_BLOCKLIST;
    xyz_mail_requests_per_hour 1000;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location = /api/register { xyz_register; }
    location = /confirm { xyz_confirm; }
    location = /api/confirm { xyz_confirm; }
    location = /api/resend { xyz_resend; }
    location = /api/login { xyz_login; }
    location = /api/logout { xyz_logout; }
    location = /api/me { xyz_me; }
    location = /api/reset { xyz_reset_request; }
    location = /api/reset/complete { xyz_reset; }

    location = /api/admin/users {
        xyz_auth on;
        xyz_auth_role admin;
        xyz_admin_users;
    }

    location /private/ {
        xyz_auth on;
        xyz_auth_role admin;
        proxy_set_header X-User-Id $xyz_user_id;
        proxy_set_header X-User-Role $xyz_user_role;
        proxy_pass http://127.0.0.1:$server_port/echo;
    }

    location /members/ {
        xyz_auth on;
        proxy_set_header X-User-Email $xyz_user_email;
        proxy_pass http://127.0.0.1:$server_port/echo_email;
    }

    location = /echo_email {
        return 200 "member $http_x_user_email\n";
    }

    location = /echo {
        return 200 "id=$http_x_user_id role=$http_x_user_role\n";
    }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: the emailed link's form confirms once; used, expired and unknown links say so and nothing more
--- init
Test::More::is(XyzTest::register_now(email => ::addr('conf')), 202, 'registered');
my $t = ::token_of('conf', 'confirm');
my $form = { Origin => 'http://127.0.0.1:' . XyzTest::port(),
             'Content-Type' => 'application/x-www-form-urlencoded' };
my ($s, $h) = XyzTest::api('POST', "/confirm?token=$t", 'confirm=1', $form);
Test::More::is($s, 303, 'the landing page form post redirects');
Test::More::like($h->{location}, qr{/confirmed\.html\?result=ok$}, 'to the result page: ok');
Test::More::is(XyzTest::psql("SELECT status FROM users WHERE email_normalized = '" . ::addr('conf') . "'"),
               'confirmed', 'the account is confirmed');
($s, $h) = XyzTest::api('POST', "/confirm?token=$t", 'confirm=1', $form);
Test::More::like($h->{location}, qr{/confirmed\.html\?result=used$}, 'the second use: used');
($s, $h) = XyzTest::api('POST', "/confirm?token=AAAAbogusAAAAbogusAAAAbogusAAAAbogusAAAAbog", 'confirm=1', $form);
Test::More::like($h->{location}, qr{/confirmed\.html\?result=invalid$}, 'an unknown token: invalid');
($s, $h) = XyzTest::api('POST', "/confirm", 'confirm=1', $form);
Test::More::like($h->{location}, qr{/confirmed\.html\?result=invalid$}, 'no token: invalid');
Test::More::is(XyzTest::register_now(email => ::addr('exp')), 202, 'registered another');
my $te = ::token_of('exp', 'confirm');
XyzTest::psql("UPDATE confirmation_tokens SET expires_at = now() - interval '1 second' "
              . "WHERE token_hash = sha256('$te')");
my ($s2, undef, undef, $j) = XyzTest::api('POST', '/api/confirm', { token => $te },
                                          { Origin => 'http://localhost' });
Test::More::is($s2, 410, 'an expired token: 410');
Test::More::is($j->{error}, 'token_expired', 'token_expired');
--- request
POST /api/confirm
{"token": "not-a-real-token"}
--- more_headers
Content-Type: application/json
--- error_code: 400
--- response_body
{"error":"invalid_token","field":"token","message":"this link is not valid"}



=== TEST 2: log in: unconfirmed only after the right password, the same answer for unknown and wrong
--- init
Test::More::is(XyzTest::register_now(email => ::addr('pend'), password => 'correct horse battery staple'), 202, 'registered');
my ($s, undef, $b) = XyzTest::api('POST', '/api/login', { email => ::addr('pend'), password => 'wrong password here' });
Test::More::is($s, 401, 'a wrong password: 401');
my ($s2, undef, $b2) = XyzTest::api('POST', '/api/login', { email => ::addr('nobody'), password => 'wrong password here' });
Test::More::is($s2, 401, 'an unknown address: 401');
Test::More::is($b2, $b, 'the same body for both');
my ($s3, undef, undef, $j3) = XyzTest::api('POST', '/api/login', { email => ::addr('pend'), password => 'correct horse battery staple' });
Test::More::is($s3, 403, 'the right password on an unconfirmed account: 403');
Test::More::is($j3->{error}, 'unconfirmed', 'unconfirmed');
--- request
POST /api/login
{"email": "nobody@example.com"}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like: "field":"password"



=== TEST 3: log in, "me" by cookie and by bearer token, log out
--- init
XyzTest::register_now(email => ::addr('ok'), name => 'Ana Pérez', password => 'correct horse battery staple');
XyzTest::api('POST', '/api/confirm', { token => ::token_of('ok', 'confirm') });
my ($s, $h, undef, $j) = XyzTest::api('POST', '/api/login',
    { email => uc ::addr('ok'), password => 'correct horse battery staple', token => JSON::PP::true });
Test::More::is($s, 200, 'logged in');
Test::More::is($j->{user}{email}, ::addr('ok'), 'the user in the body');
Test::More::like($j->{token} // '', qr/^[\w-]+\.[\w-]+\.[\w-]+$/, 'the token in the body when asked');
my $sc = ref $h->{'set-cookie'} ? join(',', @{ $h->{'set-cookie'} }) : $h->{'set-cookie'};
Test::More::like($sc, qr/^xyz_session=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; Max-Age=7200; HttpOnly; SameSite=Lax/,
                 'an HttpOnly, SameSite=Lax session cookie');
my $cookie = ::cookie_of($h);
my ($s2, undef, undef, $me) = XyzTest::api('GET', '/api/me', undef, { Cookie => "xyz_session=$cookie" });
Test::More::is($s2, 200, 'me with the cookie');
Test::More::is($me->{name}, "Ana P\x{e9}rez", 'the name');
my ($s3, undef, undef, $me3) = XyzTest::api('GET', '/api/me', undef, { Authorization => "Bearer $j->{token}" });
Test::More::is($s3, 200, 'me with the bearer token');
my ($s4, $h4) = XyzTest::api('POST', '/api/logout', undef, { Cookie => "xyz_session=$cookie" });
Test::More::is($s4, 200, 'logged out');
Test::More::like(ref $h4->{'set-cookie'} ? "@{$h4->{'set-cookie'}}" : $h4->{'set-cookie'},
                 qr/^xyz_session=; Path=\/; Max-Age=0/, 'the cookie is cleared');
$::jar{ok} = $cookie;
--- request
GET /api/me
--- error_code: 401
--- response_body
{"error":"not_logged_in","message":"log in first"}



=== TEST 4: throttling: after three failures the account waits for that client
--- init
XyzTest::psql("DELETE FROM login_throttle");
XyzTest::register_now(email => ::addr('thr'), password => 'correct horse battery staple');
XyzTest::api('POST', '/api/confirm', { token => ::token_of('thr', 'confirm') });
my @s = map { (XyzTest::api('POST', '/api/login', { email => ::addr('thr'), password => "wrong $_ password" }))[0] } 1 .. 3;
Test::More::is("@s", '401 401 401', 'three failures');
my ($s, $h, undef, $j) = XyzTest::api('POST', '/api/login', { email => ::addr('thr'), password => 'correct horse battery staple' });
Test::More::is($s, 429, 'then even the right password waits');
Test::More::ok($h->{'retry-after'} >= 1, 'with Retry-After');
Test::More::is(XyzTest::psql("SELECT failures FROM login_throttle WHERE key = 'account:" . ::addr('thr') . "'"),
               3, 'the count is in PostgreSQL, for every worker and instance');
my ($s2) = XyzTest::api('POST', '/api/login', { email => ::addr('ok'), password => 'correct horse battery staple' });
Test::More::is($s2, 200, 'another account from the same client still logs in');
XyzTest::psql("DELETE FROM login_throttle");
--- request
GET /api/me
--- error_code: 401



=== TEST 5: xyz_auth on a proxied location: the role decides, the variables carry the user
--- init
my $admin = ::jwt(sub => '9000042', role => 'admin', email => 'boss@example.com');
my ($s, undef, $b) = XyzTest::api('GET', '/private/x', undef, { Cookie => "xyz_session=$admin" });
Test::More::is($s, 200, 'an admin passes');
Test::More::is($b, "id=9000042 role=admin\n", 'proxy_set_header got $xyz_user_id and $xyz_user_role');
my $user = ::jwt(sub => '9000007', role => 'user');
($s, undef, $b) = XyzTest::api('GET', '/private/x', undef, { Authorization => "Bearer $user" });
Test::More::is($s, 403, 'a user is forbidden');
($s, undef, $b) = XyzTest::api('GET', '/members/x', undef, { Authorization => "Bearer $user" });
Test::More::is($b, "member a\@example.com\n", 'a location without a role lets a user in');
my %bad = (
    'tampered payload' => do { my $t = ::jwt(sub => '9000042', role => 'user'); my ($h, $p, $sig) = split /\./, $t;
                               $p = MIME::Base64::encode_base64url(JSON::PP->new->encode({ sub => '9000042', role => 'admin', email => 'x',
                                                                             iat => time, exp => time + 600, ver => 0 }));
                               "$h.$p.$sig" },
    'another key' => ::jwt(role => 'admin', key => 'an attacker key that is long enough to be accepted'),
    'an unknown kid' => ::jwt(role => 'admin', header => '{"alg":"HS256","typ":"JWT","kid":"k9"}'),
    'alg none' => do { my $t = ::jwt(role => 'admin', header => '{"alg":"none","typ":"JWT","kid":"k1"}');
                       my ($h, $p) = split /\./, $t; "$h.$p." },
    'expired' => ::jwt(role => 'admin', iat => time - 7200, exp => time - 3600),
    'garbage' => 'not.a.token',
);
for my $name (sort keys %bad) {
    my ($s2, undef, undef, $j) = XyzTest::api('GET', '/private/x', undef, { Cookie => "xyz_session=$bad{$name}" });
    Test::More::is($s2, 401, "$name: 401");
    Test::More::is($j->{error}, 'not_logged_in', "$name: a JSON error");
}
my $k2 = ::jwt(role => 'admin', sub => '9000009', header => '{"alg":"HS256","typ":"JWT","kid":"k2"}',
               key => "test-signing-key-k2-" . ('x' x 40));
($s, undef, $b) = XyzTest::api('GET', '/private/x', undef, { Cookie => "xyz_session=$k2" });
Test::More::is($s, 200, 'a token signed with the second key (rotation) passes');
--- request
GET /private/x
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="xyz"
Content-Type: application/json; charset=utf-8
--- no_error_log
[alert]
header already sent



=== TEST 6: resend: the same answer for known and unknown addresses, a cooldown per address
--- init
XyzTest::register_now(email => ::addr('rs'));
my $before = XyzTest::psql("SELECT count(*) FROM outbox WHERE payload->>'email' = '" . ::addr('rs') . "'");
my ($s1, undef, $b1) = XyzTest::api('POST', '/api/resend', { email => ::addr('rs') });
my ($s2, undef, $b2) = XyzTest::api('POST', '/api/resend', { email => ::addr('nobody-rs') });
Test::More::is("$s1 $s2", '202 202', '202 for both');
Test::More::is($b1, $b2, 'the same body for both');
Test::More::is(XyzTest::psql("SELECT count(*) FROM outbox WHERE payload->>'email' = '" . ::addr('rs') . "'"),
               $before + 1, 'the known address got one new email');
XyzTest::api('POST', '/api/resend', { email => ::addr('rs') });
Test::More::is(XyzTest::psql("SELECT count(*) FROM outbox WHERE payload->>'email' = '" . ::addr('rs') . "'"),
               $before + 1, 'a second request within the cooldown sends nothing');
my ($s3, undef, undef, $j) = XyzTest::api('POST', '/api/confirm', { token => ::token_of('rs', 'confirm') });
Test::More::is($s3, 200, 'the resent link confirms');
--- request
POST /api/resend
{"email": "not an address"}
--- more_headers
Content-Type: application/json
--- error_code: 422



=== TEST 7: password reset: same answer, the new password works, the old one and old sessions do not
--- init
XyzTest::register_now(email => ::addr('rp'), password => 'correct horse battery staple');
XyzTest::api('POST', '/api/confirm', { token => ::token_of('rp', 'confirm') });
my (undef, $h) = XyzTest::api('POST', '/api/login', { email => ::addr('rp'), password => 'correct horse battery staple' });
my $old = ::cookie_of($h);
my ($s1, undef, $b1) = XyzTest::api('POST', '/api/reset', { email => ::addr('rp') });
my ($s2, undef, $b2) = XyzTest::api('POST', '/api/reset', { email => ::addr('nobody-rp') });
Test::More::is("$s1 $s2", '202 202', '202 for both');
Test::More::is($b1, $b2, 'the same body');
my $t = ::token_of('rp', 'reset');
my ($s3, undef, undef, $j3) = XyzTest::api('POST', '/api/reset/complete', { token => $t, password => 'password1234' });
Test::More::is($s3, 422, 'a common password is refused');
Test::More::is($j3->{error}, 'common_password', 'common_password') if $j3;
my ($s4) = XyzTest::api('POST', '/api/reset/complete', { token => $t, password => 'a whole new passphrase' });
Test::More::is($s4, 200, 'the new password is set');
my ($s5) = XyzTest::api('POST', '/api/reset/complete', { token => $t, password => 'yet another passphrase' });
Test::More::is($s5, 410, 'the link works once');
my ($s6) = XyzTest::api('POST', '/api/login', { email => ::addr('rp'), password => 'correct horse battery staple' });
Test::More::is($s6, 401, 'the old password fails');
my ($s7) = XyzTest::api('POST', '/api/login', { email => ::addr('rp'), password => 'a whole new passphrase' });
Test::More::is($s7, 200, 'the new one works');
my ($s8, undef, undef, $j8) = XyzTest::api('GET', '/api/me', undef, { Cookie => "xyz_session=$old" });
Test::More::is($s8, 401, 'a session from before the reset has ended');
Test::More::is($j8->{error}, 'session_ended', 'session_ended');
--- request
POST /api/reset/complete
{"token": "bogus", "password": "a whole new passphrase"}
--- more_headers
Content-Type: application/json
--- error_code: 400



=== TEST 8: a common password is refused at registration
--- request
POST /api/register
{"email": "common@example.com", "password": "iloveyou1234", "name": "C"}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body
{"error":"common_password","field":"password","message":"this password is too common; choose another"}



=== TEST 9: the admin list, for admins only, filtered by state and paged
--- init
XyzTest::register_now(email => ::addr('adm'), password => 'correct horse battery staple');
XyzTest::psql("UPDATE users SET role = 'admin', status = 'confirmed' WHERE email_normalized = '" . ::addr('adm') . "'");
my (undef, $h) = XyzTest::api('POST', '/api/login', { email => ::addr('adm'), password => 'correct horse battery staple' });
my $c = ::cookie_of($h);
my ($s, undef, undef, $j) = XyzTest::api('GET', '/api/admin/users?state=pending&per_page=2', undef, { Cookie => "xyz_session=$c" });
Test::More::is($s, 200, 'an admin gets the list');
Test::More::is(scalar @{ $j->{users} || [] }, 2, 'two per page');
Test::More::ok($j->{total} >= 2, 'and the total');
Test::More::is(scalar(grep { $_->{status} ne 'pending' } @{ $j->{users} || [] }), 0, 'only pending ones');
Test::More::ok(exists $j->{users}[0]{email_sent} && exists $j->{users}[0]{crm_synced}
               && exists $j->{users}[0]{dead_lettered}, 'with the delivery states');
# the session of TEST 3 ended with its logout: a new one
my (undef, $hu) = XyzTest::api('POST', '/api/login', { email => ::addr('ok'), password => 'correct horse battery staple' });
my ($s2) = XyzTest::api('GET', '/api/admin/users', undef, { Cookie => 'xyz_session=' . ::cookie_of($hu) });
Test::More::is($s2, 403, 'a user is forbidden');
--- request
GET /api/admin/users
--- error_code: 401



=== TEST 10: CSRF: a state-changing request from another site is refused
--- request
POST /api/login
{"email": "a@example.com", "password": "whatever it is"}
--- more_headers
Content-Type: application/json
Origin: http://evil.example
--- error_code: 403
--- response_body
{"error":"cross_origin","message":"the request does not come from this site"}
