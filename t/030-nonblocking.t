# The worker is never blocked by password hashing: with one worker, one
# hashing thread and 20 registrations in flight (about 4 s of Argon2id in
# all at m=64 MiB t=12, with the memory kept per thread), static requests
# are still answered at once.

use Test::Nginx::Socket 'no_plan';
use List::Util qw(max);
use XyzTest;

our $bg;

workers(1);
no_shuffle();

add_block_preprocessor(\&quiet_error_log);

run_tests();

my @results = XyzTest::bg_wait($bg);
my @codes = map { (split)[0] } @results;
my $slowest = max(map { (split)[1] } @results);

is(scalar(grep { $_ eq '202' } @codes), 20, 'all 20 registrations were accepted')
    or diag("@codes");
cmp_ok($slowest, '>', 1.5,
       'the registrations were still running after the static requests were answered');

__DATA__

=== TEST 1: static requests are answered while 20 hashes run on the thread pool
--- main_config
    thread_pool xyz_hash threads=1 max_queue=64;
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=65536 t=12 p=1;
    xyz_hash_queue wait=60s;
--- config
    location = /api/register {
        xyz_register;
    }
--- user_files
>>> index.html
static page
--- init
$::bg = XyzTest::bg_register(20);
select undef, undef, undef, 0.3;
--- request eval
["GET /index.html", "GET /index.html", "GET /index.html"]
--- timeout: 1
--- error_code eval
[200, 200, 200]
--- response_body eval
["static page\n", "static page\n", "static page\n"]
--- wait: 2
--- no_error_log
[error]
