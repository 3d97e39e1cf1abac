# Request smuggling through unread bodies: every location of the module,
# whatever the method and however early it answers, must read or discard
# the request body, so that nginx never parses a body as the next request
# of a keep-alive connection.  Each request carries a body that is itself
# a request for /smuggled; a connection must get exactly one answer, and
# never the one of /smuggled.

use Test::Nginx::Socket;
use Digest::SHA qw(hmac_sha256);
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64url);
use XyzTest;

BEGIN {
    my $f = "/tmp/xyz-jwt-smuggling-$$";
    open my $fh, '>', $f or die $!;
    print $fh "test-signing-key-s1-" . ('x' x 40) . "\n";
    close $fh;
    $ENV{TEST_NGINX_JWT_S1} = $f;
}

END { unlink "/tmp/xyz-jwt-smuggling-$$" }

plan 'no_plan';

no_shuffle();
no_long_string();

our @locations = qw(/api/register /confirm /api/confirm /api/resend
                    /api/login /api/logout /api/me /api/reset
                    /api/reset/complete /api/admin/users /metrics
                    /members/x);

our @methods = qw(GET HEAD POST PUT DELETE PATCH OPTIONS);

# a token for a user that does not exist (ids from 9000000 up): the real
# users of the shared test database may have ended sessions, whatever their ids
sub jwt {
    my (%c) = @_;
    my $key = "test-signing-key-s1-" . ('x' x 40);
    my $data = encode_base64url('{"alg":"HS256","typ":"JWT","kid":"s1"}')
               . '.' . encode_base64url(JSON::PP->new->canonical->encode({
                   sub => '9000001', email => 'a@example.com', role => 'user',
                   ver => 0, iat => time, exp => time + 600, %c }));
    return $data . '.' . encode_base64url(hmac_sha256($data, $key));
}

# one keep-alive request with a body, the write side closed after it;
# returns everything the server sent until it closed the connection
sub exchange {
    my ($method, $path, $headers, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => XyzTest::port(),
                                  Proto => 'tcp', Timeout => 5)
        or die "connect: $!";
    my $req = "$method $path HTTP/1.1\r\nHost: localhost\r\n"
              . "Connection: keep-alive\r\n$headers"
              . "Content-Length: " . length($body) . "\r\n\r\n$body";
    $s->syswrite($req);
    shutdown($s, 1);
    my $out = '';
    my $ok = eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm 10;
        while (1) {
            my $n = $s->sysread(my $buf, 65536);
            last if !$n;
            $out .= $buf;
        }
        alarm 0;
        1;
    };
    alarm 0;
    close $s;
    return $ok ? $out : "$out\n(timed out)";
}

# the body: a whole request of its own
our $smuggled = "GET /smuggled HTTP/1.1\r\nHost: localhost\r\n"
                . "Connection: close\r\n\r\n";

sub check_all {
    my (%variants) = @_;
    my ($n, $bad) = (0, 0);
    for my $v (sort keys %variants) {
        for my $path (@::locations) {
            for my $m (@::methods) {
                my $out = exchange($m, $path, $variants{$v}, $::smuggled);
                my $count = () = $out =~ m{^HTTP/1\.[01] \d{3} }mg;
                $n++;
                next if $count == 1 && $out !~ /SMUGGLED-RESPONSE/;
                $bad++;
                my ($status) = $out =~ m{^HTTP/1\.[01] (\d{3})}m;
                Test::More::fail("$v: $m $path: $count answers (the first "
                                 . ($status // 'none') . ')'
                                 . ($out =~ /SMUGGLED-RESPONSE/
                                    ? ', /smuggled answered' : ''));
            }
        }
    }
    Test::More::is($bad, 0, "$n requests: one answer each, none for /smuggled");
}

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
    xyz_jwt_key s1 $TEST_NGINX_JWT_S1;
    xyz_cookie_secure off;
    xyz_public_url http://localhost;
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

    location = /metrics {
        allow 127.0.0.1;
        deny all;
        xyz_metrics;
    }

    location /members/ {
        xyz_auth on;
        # the client closes its side after the request; wait for the answer
        proxy_ignore_client_abort on;
        proxy_set_header X-User-Id $xyz_user_id;
        proxy_pass http://127.0.0.1:$server_port/echo;
    }

    location = /echo {
        return 200 "member $http_x_user_id\n";
    }

    location = /smuggled {
        return 200 "SMUGGLED-RESPONSE\n";
    }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: /smuggled answers when asked for itself (the probe the suite looks for)
--- request
GET /smuggled
--- response_body
SMUGGLED-RESPONSE



=== TEST 2: a body that is a request is never answered as one: anonymous JSON requests
--- init
::check_all(anonymous => "Content-Type: application/json\r\n");
--- request
GET /smuggled
--- response_body
SMUGGLED-RESPONSE
--- no_error_log
[alert]
[crit]



=== TEST 3: nor with an admin session from another site, as text/plain
--- init
my $admin = ::jwt(sub => '9000042', role => 'admin');
::check_all('admin, cross-origin' =>
            "Cookie: xyz_session=$admin\r\nOrigin: http://evil.example\r\n"
            . "Content-Type: text/plain\r\n",
            'admin, bearer' =>
            "Authorization: Bearer $admin\r\nContent-Type: application/json\r\n");
--- request
GET /smuggled
--- response_body
SMUGGLED-RESPONSE
--- no_error_log
[alert]
[crit]



=== TEST 4: nor with a user session from this site
--- init
my $user = ::jwt(sub => '9000007', role => 'user');
::check_all('user, same origin' =>
            "Cookie: xyz_session=$user\r\nOrigin: http://localhost\r\n"
            . "Content-Type: application/json\r\n");
--- request
GET /smuggled
--- response_body
SMUGGLED-RESPONSE
--- no_error_log
[alert]
[crit]



=== TEST 5: a chunked body is discarded as well
--- init
my $admin = ::jwt(sub => '9000042', role => 'admin');
my $bad = 0;
for my $path (@::locations) {
    for my $m (qw(POST PUT DELETE)) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => XyzTest::port(),
                                      Proto => 'tcp', Timeout => 5) or die "connect: $!";
        $s->syswrite("$m $path HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n"
                     . "Cookie: xyz_session=$admin\r\nTransfer-Encoding: chunked\r\n\r\n"
                     . sprintf("%x\r\n%s\r\n0\r\n\r\n", length $::smuggled, $::smuggled));
        shutdown($s, 1);
        my $out = '';
        eval {
            local $SIG{ALRM} = sub { die "timeout\n" };
            alarm 10;
            while ($s->sysread(my $buf, 65536)) { $out .= $buf }
            alarm 0;
        };
        alarm 0;
        my $count = () = $out =~ m{^HTTP/1\.[01] \d{3} }mg;
        if ($count != 1 || $out =~ /SMUGGLED-RESPONSE/) {
            $bad++;
            Test::More::fail("chunked $m $path: $count answers");
        }
    }
}
Test::More::is($bad, 0, 'chunked bodies: one answer each');
--- request
GET /smuggled
--- response_body
SMUGGLED-RESPONSE
