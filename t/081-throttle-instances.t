# Login throttling holds across the workers of one nginx and across two
# nginx instances on one database: the counts are in PostgreSQL.

use Test::Nginx::Socket;
use XyzTest;

BEGIN {
    my $f = "/tmp/xyz-jwt-thr-$$";
    open my $fh, '>', $f or die $!;
    print $fh "throttle-test-key-" . ('z' x 40) . "\n";
    close $fh;
    $ENV{TEST_NGINX_JWT_KEY} = $f;
}

END { unlink "/tmp/xyz-jwt-thr-$$" }

plan 'no_plan';

our $run = run_id();

master_on();
workers(2);
no_shuffle();

add_block_preprocessor(\&quiet_error_log);

run_tests();

__DATA__

=== TEST 1: failures through two workers and a second instance add up; the next attempt anywhere waits
--- main_config
    thread_pool xyz_hash threads=1 max_queue=64;
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
    xyz_jwt_key k $TEST_NGINX_JWT_KEY;
--- config
    location = /api/register { xyz_register; }
    location = /confirm { xyz_confirm; }
    location = /api/login { xyz_login; }
--- init
my $email = "inst-$::run\@example.com";
XyzTest::psql("DELETE FROM login_throttle");
XyzTest::register_now(email => $email, password => 'correct horse battery staple');
my $t = XyzTest::psql("SELECT payload->>'token' FROM outbox WHERE payload->>'email' = '$email'");
XyzTest::api('POST', '/confirm', { token => $t });
my $second = XyzTest::start_instance(relay => 0,
    http_extra => "    xyz_jwt_key k $ENV{TEST_NGINX_JWT_KEY};\n",
    server_extra => "        location = /api/login { xyz_login; }\n");
my $port = XyzTest::port();
my @s;
# two failures on this nginx (new connections: either worker may take them)
push @s, (XyzTest::api('POST', '/api/login', { email => $email, password => "wrong one $_" }))[0] for 1 .. 2;
# the third on the other instance
{
    local $ENV{TEST_NGINX_SERVER_PORT} = $second->{port};
    push @s, (XyzTest::api('POST', '/api/login', { email => $email, password => 'wrong three' }))[0];
    my ($s4, $h4) = XyzTest::api('POST', '/api/login', { email => $email, password => 'correct horse battery staple' });
    Test::More::is("@s", '401 401 401', 'three failures over two workers and two instances');
    Test::More::is($s4, 429, 'the other instance makes the right password wait');
    Test::More::ok(($h4->{'retry-after'} // 0) >= 1, 'with Retry-After');
}
my ($s5) = XyzTest::api('POST', '/api/login', { email => $email, password => 'correct horse battery staple' });
Test::More::is($s5, 429, 'and so does the first');
Test::More::is(XyzTest::psql("SELECT failures FROM login_throttle WHERE key = 'account:$email'"), 3,
               'one count in PostgreSQL');
XyzTest::stop_instance($second);
XyzTest::psql("DELETE FROM login_throttle");
--- request
GET /api/login
--- error_code: 405
