# "me" sends a query and waits for it; if the request is torn down first
# (here: a chunked body that turns out malformed while it is discarded),
# the query must be cancelled with the request's pool, so that its answer
# finds no freed memory and the pool connection comes back.  Freed memory
# is scribbled over (MALLOC_PERTURB_), so a use after free shows.

use Test::Nginx::Socket;
use Digest::SHA qw(hmac_sha256);
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64url);
use Time::HiRes ();
use XyzTest;

BEGIN {
    my $f = "/tmp/xyz-jwt-me-$$";
    open my $fh, '>', $f or die $!;
    print $fh "test-signing-key-me-" . ('x' x 40) . "\n";
    close $fh;
    $ENV{TEST_NGINX_JWT_ME} = $f;
    $ENV{MALLOC_PERTURB_} = 165;
}

END { unlink "/tmp/xyz-jwt-me-$$" }

plan 'no_plan';

no_shuffle();

sub jwt {
    my $key = "test-signing-key-me-" . ('x' x 40);
    my $data = encode_base64url('{"alg":"HS256","typ":"JWT","kid":"me"}')
               . '.' . encode_base64url(JSON::PP->new->canonical->encode({
                   sub => '987654321', email => 'gone@example.com',
                   role => 'user', ver => 0, iat => time,
                   exp => time + 600 }));
    return $data . '.' . encode_base64url(hmac_sha256($data, $key));
}

our $session = jwt();

add_block_preprocessor(\&quiet_error_log);

run_tests();

__DATA__

=== TEST 1: a "me" request torn down while its query runs: no crash, the pool connection comes back
--- main_config
thread_pool xyz_hash threads=1;
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_pg_pool_size 1;
    xyz_hash_thread_pool xyz_hash;
    xyz_jwt_key me $TEST_NGINX_JWT_ME;
    xyz_cookie_secure off;
--- config
    location = /api/me { xyz_me; }
--- init
# hold the users table so that the query of "me" waits
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    { exec 'psql', '-X', '-q', '-d', $ENV{TEST_NGINX_PG_DSN}, '-c',
         'BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(1.5); COMMIT;' };
    POSIX::_exit(1);
}
Time::HiRes::sleep(0.4);
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => XyzTest::port(),
                              Proto => 'tcp', Timeout => 5) or die "connect: $!";
$s->syswrite("GET /api/me HTTP/1.1\r\nHost: localhost\r\nCookie: xyz_session=$::session\r\n"
             . "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
Time::HiRes::sleep(0.3);
# the rest of the body is not a chunk: nginx ends the request
$s->syswrite("zz\r\n\r\n");
my $out = '';
eval {
    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm 5;
    while ($s->sysread(my $buf, 4096)) { $out .= $buf }
    alarm 0;
};
alarm 0;
close $s;
waitpid $pid, 0;
Time::HiRes::sleep(0.3);
--- request
GET /api/me
--- more_headers eval
"Cookie: xyz_session=$::session"
--- error_code: 401
--- response_body
{"error":"session_ended","message":"this session has ended; log in again"}
--- no_error_log
[alert]
[crit]
signal
