# xyz_ready: the readiness probe answers 200 only when the database pool
# answers and, where SQS is configured, AWS credentials are loaded; 503
# with the reason otherwise.

use Test::Nginx::Socket;
use XyzTest;

BEGIN {
    if (!$ENV{TEST_NGINX_PG_DSN}) {
        Test::More::plan(skip_all => 'needs PostgreSQL (make test)');
    }
}

plan 'no_plan';

no_shuffle();
no_long_string();

repeat_each(2);

add_block_preprocessor(sub {
    my $block = shift;

    quiet_error_log($block);

    if (!defined $block->main_config) {
        $block->set_value("main_config", <<'_EOC_');
    thread_pool xyz_hash threads=1 max_queue=16;
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: ready when the database answers
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
--- config
    location = /readyz { xyz_ready; }
--- request
GET /readyz
--- error_code: 200
--- response_headers
Content-Type: application/json; charset=utf-8
Cache-Control: no-store
--- response_body
{"status":"ready"}



=== TEST 2: not ready while the database cannot be reached
The pool logs each failed connection at [error]: expected here.
--- http_config
    xyz_pg_dsn "host=127.0.0.1 port=$TEST_NGINX_RAND_PORT_1 dbname=none user=none connect_timeout=1";
    xyz_pg_connect_timeout 1s;
    xyz_hash_thread_pool xyz_hash;
--- config
    location = /readyz { xyz_ready; }
--- request
GET /readyz
--- error_code: 503
--- response_headers
Retry-After: 2
--- response_body
{"status":"unavailable","reason":"database"}
--- no_error_log
[alert]
[crit]



=== TEST 3: not ready while SQS is configured and no AWS credentials are loaded
The failed fetch of the credentials is logged at [error]: expected here.
--- main_config
    thread_pool xyz_hash threads=1 max_queue=16;
    env AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/creds;
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_sqs_region us-east-1;
    xyz_sqs_endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    xyz_sqs_queue email http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/000000000000/e;
    xyz_sqs_queue crm http://127.0.0.1:$TEST_NGINX_RAND_PORT_2/000000000000/c;
--- config
    location = /readyz { xyz_ready; }
--- request
GET /readyz
--- error_code: 503
--- response_body
{"status":"unavailable","reason":"credentials"}
--- no_error_log
[alert]
[crit]



=== TEST 4: HEAD works for probes, other methods are refused
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
--- config
    location = /readyz { xyz_ready; }
--- request eval
["HEAD /readyz", "POST /readyz\nx=1"]
--- error_code eval
[200, 405]
--- response_body eval
["", qr/405/]
