# curl's error message may fill its whole buffer (255 characters); the
# copy the SQS client hands on, and logs, must still end where it ends,
# not run on into whatever follows it in memory.  What follows is often a
# zero by chance, so nginx runs under valgrind here when it is installed:
# the read of the byte after the copy is then reported.

BEGIN {
    if (!defined $ENV{TEST_NGINX_USE_VALGRIND}
        && grep { -x "$_/valgrind" } split /:/, $ENV{PATH} // '')
    {
        $ENV{TEST_NGINX_USE_VALGRIND} = 1;
    }
}

use Test::Nginx::Socket;
use IO::Socket::INET;
use XyzTest;

plan 'no_plan';

no_shuffle();
no_long_string();

BEGIN {
    # a host name curl takes for the loopback without asking DNS, long
    # enough to make "Failed to connect to HOST port N after ..." overflow
    # curl's 256-byte error buffer; nothing listens on the port
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1) or die $!;
    my $port = $l->sockport;
    close $l;
    $ENV{TEST_NGINX_LONG_HOST} = join('.', ('a' x 63) x 3) . '.localhost';
    $ENV{TEST_NGINX_DEAD_PORT} = $port;
}

our $run = run_id();

add_block_preprocessor(\&quiet_error_log);

run_tests();

__DATA__

=== TEST 1: a curl error that fills curl's buffer is logged whole and nothing after it
--- main_config
    thread_pool xyz_hash threads=1 max_queue=64;
    env AWS_ACCESS_KEY_ID=AKIDTEST;
    env AWS_SECRET_ACCESS_KEY=test-secret;
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
    xyz_sqs_region us-east-1;
    xyz_sqs_endpoint http://$TEST_NGINX_LONG_HOST:$TEST_NGINX_DEAD_PORT;
    xyz_sqs_queue email http://$TEST_NGINX_LONG_HOST:$TEST_NGINX_DEAD_PORT/000000000000/xyz-email;
    xyz_sqs_queue crm http://$TEST_NGINX_LONG_HOST:$TEST_NGINX_DEAD_PORT/000000000000/xyz-crm;
    xyz_sqs_timeout 2s;
    xyz_outbox_lease 2s;
    xyz_outbox_sweep 200ms 1s;
--- config
    location = /api/register { xyz_register; }
--- request eval
"POST /api/register\n" . XyzTest::register_json(email => "sqs-error-$::run\@example.com")
--- more_headers
Content-Type: application/json
--- error_code: 202
--- wait: 1.5
--- error_log eval
[qr/SQS did not take \d+ of \d+ outbox rows: Failed to connect to a{63}\.a{63}\.a{63}\.localhost port \d+ after \d+ ms: Couldn't[a-z' ]*; they are tried again later/]
--- no_error_log
[alert]
[crit]
