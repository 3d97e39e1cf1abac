# PostgreSQL going away and coming back, and a pool with no room left:
# clear 503 answers, static files served all along, no restart needed.
#
# These blocks stop and start the private cluster that "make test" runs,
# so they are skipped against an external database (XYZ_DATABASE_URL).

use Test::Nginx::Socket;
use XyzTest;

BEGIN {
    if ($ENV{XYZ_DATABASE_URL}) {
        Test::More::plan(skip_all => 'needs the private cluster to stop it');
    }
}

plan 'no_plan';

our $run = run_id();
our ($bg, @codes);

no_shuffle();
no_long_string();

# error_log patterns are looked for in everything a block logged, not only
# in what its last request did
check_accum_error_log();

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
    xyz_pg_backoff 100ms 500ms;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location = /api/register {
        xyz_register;
    }
_EOC_
    }

    if (!defined $block->user_files) {
        $block->set_value("user_files", ">>> index.html\nstatic page\n");
    }
});

# whatever happens above, leave the cluster running for the next suites
END { XyzTest::pg_start() }

run_tests();

is(psql("SELECT count(*) FROM users WHERE email_normalized = 'down-$run\@example.com'"),
   0, 'a registration refused while the database was down stored nothing');
is(psql("SELECT count(*) FROM users WHERE email_normalized = 'back-$run\@example.com'"),
   1, 'the registration after the database came back is stored');
is(join(',', sort map { (split)[0] } @codes), '202,202',
   'the registrations that held the pool were answered once it freed up');

__DATA__

=== TEST 1: PostgreSQL down: a 503 JSON answer with Retry-After, static files still served
--- init
XyzTest::pg_stop();
--- request eval
["POST /api/register\n" . XyzTest::register_json(email => "down-$::run\@example.com"),
 "GET /index.html",
 "POST /api/register\n" . XyzTest::register_json(email => "down-$::run\@example.com")]
--- more_headers
Content-Type: application/json
--- error_code eval
[503, 200, 503]
--- response_headers eval
["Retry-After: 2\nContent-Type: application/json; charset=utf-8", "", "Retry-After: 2"]
--- response_body eval
["{\"error\":\"unavailable\",\"message\":\"the service is temporarily unavailable; try again shortly\"}\n",
 "static page\n",
 "{\"error\":\"unavailable\",\"message\":\"the service is temporarily unavailable; try again shortly\"}\n"]
--- error_log
xyz: cannot connect to PostgreSQL
--- no_error_log
[alert]
[crit]



=== TEST 2: PostgreSQL back: registrations succeed again without restarting nginx
--- init
XyzTest::pg_stop();
XyzTest::pg_start_in(2);
--- request eval
["POST /api/register\n" . XyzTest::register_json(email => "back-$::run\@example.com"),
 "GET /index.html",
 [ "POST /api/register\n",
   { value => XyzTest::register_json(email => "back-$::run\@example.com"),
     delay_before => 5 } ]]
--- more_headers
Content-Type: application/json
--- error_code eval
[503, 200, 202]
--- timeout: 15
--- error_log
xyz: cannot connect to PostgreSQL
--- no_error_log
[alert]
[crit]



=== TEST 3: pool exhausted: a 503 at once, no pile-up
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
    xyz_pg_pool_size 1;
    xyz_pg_queue_size 1;
--- init
# hold the users table so that the one connection stays busy for 3 s
system("psql -X -q -d '$ENV{TEST_NGINX_PG_DSN}' -c 'BEGIN; LOCK TABLE users; "
       . "SELECT pg_sleep(3); COMMIT;' >/dev/null &");
select undef, undef, undef, 0.5;
# the first takes the only connection, the second the only queue place
$::bg = XyzTest::bg_register(1);
select undef, undef, undef, 0.5;
push @{ $::bg->{more} }, XyzTest::bg_register(1);
select undef, undef, undef, 0.5;
--- request eval
"POST /api/register\n" . XyzTest::register_json(email => "crowded-$::run\@example.com")
--- more_headers
Content-Type: application/json
--- timeout: 1
--- error_code: 503
--- response_headers_like
Retry-After: [1-9][0-9]*
--- response_body_like: "unavailable"
--- wait: 3
--- error_log
xyz: PostgreSQL wait queue is full
--- no_error_log
[alert]
[crit]



=== TEST 4: the held registrations went through
--- init
@::codes = (XyzTest::bg_wait($::bg), XyzTest::bg_wait($::bg->{more}[0]));
--- request
GET /index.html
--- error_code: 200
