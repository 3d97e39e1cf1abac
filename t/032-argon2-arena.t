# Argon2id's working memory is kept by each hashing thread and used again
# for the next hash (lib/ngx_xyz_argon2_arena.c): libsodium's own mapping
# and unmapping of it for every hash was more than half of the hash's CPU.
# /metrics counts the mappings made (one per thread) and the reuses.
#
# One worker.  m=2048 (2 MiB) is above the arena's 1 MiB threshold; m=64
# is below it and goes to the kernel every time, as before.

use Test::Nginx::Socket 'no_plan';
use XyzTest;

BEGIN {
    my $f = "/tmp/xyz-arena-jwt-$$";
    open my $fh, '>', $f or die $!;
    print $fh 'arena-test-signing-key-' . ('x' x 40) . "\n";
    close $fh;
    $ENV{TEST_NGINX_ARENA_JWT} = $f;
}

END { unlink "/tmp/xyz-arena-jwt-$$" }

our $run = run_id();

workers(1);
no_shuffle();
no_long_string();

# n registrations of new addresses, then the metrics
sub registrations_then_metrics {
    my ($tag, $n) = @_;
    return [ (map { "POST /api/register\n"
                    . XyzTest::register_json(email => "ar-$tag$_-$run\@example.com") }
              1 .. $n),
             "GET /metrics" ];
}

add_block_preprocessor(sub {
    my $block = shift;

    quiet_error_log($block);

    # every block: the database, the hashing pool, a session key; the
    # block's own http_config adds its Argon2id parameters
    $block->set_value("http_config", <<'_EOC_' . ($block->http_config // ''));
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_jwt_key k1 $TEST_NGINX_ARENA_JWT;
_EOC_

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location = /api/register { xyz_register; }
    location = /api/login    { xyz_login; }
    location = /metrics      { xyz_metrics; }
_EOC_
    }
});

run_tests();

# the failed logins of TEST 2 counted against this client: leave no trace
# for the suites after this one
XyzTest::psql("DELETE FROM login_throttle");

__DATA__

=== TEST 1: one thread hashes four times in one mapping
--- main_config
thread_pool xyz_hash threads=1 max_queue=64;
--- http_config
    xyz_argon2id m=2048 t=1 p=1;
--- request eval
::registrations_then_metrics('a', 4)
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 202, 202, 202, 200]
--- response_body_like eval
[qr/accepted/, qr/accepted/, qr/accepted/, qr/accepted/,
 qr/^xyz_argon2_memory_total\{result="mapped"\} 1\n(?s:.*)^xyz_argon2_memory_total\{result="reused"\} 3\n/m]



=== TEST 2: logins check passwords in the same memory: the stored hash matches, a wrong password does not
--- main_config
thread_pool xyz_hash threads=1 max_queue=64;
--- http_config
    xyz_argon2id m=2048 t=1 p=1;
    xyz_cookie_secure off;
    xyz_public_url http://localhost;
--- init
XyzTest::psql("UPDATE users SET status = 'confirmed' WHERE email_normalized = 'ar-a1-$::run\@example.com'");
--- request eval
["POST /api/login\n{\"email\":\"ar-a1-$::run\@example.com\",\"password\":\"correct horse battery staple\"}",
 "POST /api/login\n{\"email\":\"ar-a1-$::run\@example.com\",\"password\":\"wrong horse battery staple\"}",
 "POST /api/login\n{\"email\":\"ar-nobody-$::run\@example.com\",\"password\":\"correct horse battery staple\"}",
 "GET /metrics"]
--- more_headers
Content-Type: application/json
--- error_code eval
[200, 401, 401, 200]
--- response_body_like eval
[qr/"ar-a1-/, qr/"error"/, qr/"error"/,
 qr/^xyz_argon2_memory_total\{result="mapped"\} 1\n(?s:.*)^xyz_argon2_memory_total\{result="reused"\} 2\n/m]



=== TEST 3: two threads map at most one each
--- main_config
thread_pool xyz_hash threads=2 max_queue=64;
--- http_config
    xyz_argon2id m=2048 t=1 p=1;
--- request eval
::registrations_then_metrics('b', 6)
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 202, 202, 202, 202, 202, 200]
--- response_body_like eval
[qr/accepted/, qr/accepted/, qr/accepted/, qr/accepted/, qr/accepted/, qr/accepted/,
 qr/^xyz_argon2_memory_total\{result="mapped"\} [12]\n(?s:.*)^xyz_argon2_memory_total\{result="reused"\} [45]\n/m]



=== TEST 4: below 1 MiB the memory is the kernel's, as before
--- main_config
thread_pool xyz_hash threads=1 max_queue=64;
--- http_config
    xyz_argon2id m=64 t=1 p=1;
--- request eval
::registrations_then_metrics('c', 2)
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 202, 200]
--- response_body_like eval
[qr/accepted/, qr/accepted/,
 qr/^xyz_argon2_memory_total\{result="mapped"\} 0\n(?s:.*)^xyz_argon2_memory_total\{result="reused"\} 0\n/m]
