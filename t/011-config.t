# Mistakes in the configuration fail "nginx -t" with a message that says
# what to fix.

use Test::Nginx::Socket 'no_plan';
use XyzTest;

no_shuffle();

repeat_each(2);

# TEST 12 checks a warning written once, at start: every repetition looks at the
# whole log of its block (each block starts a fresh server).
check_accum_error_log();

add_block_preprocessor(sub {
    my $block = shift;

    quiet_error_log($block);

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location = /api/register {
        xyz_register;
    }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: xyz_register without a database
--- http_config
--- must_die
--- error_log
"xyz_register" needs "xyz_pg_dsn" in the http block



=== TEST 2: a DSN libpq cannot parse
--- http_config
    xyz_pg_dsn "host=127.0.0.1 port";
--- must_die
--- error_log
invalid "xyz_pg_dsn"



=== TEST 3: sslmode=prefer is refused with the alternatives
--- http_config
    xyz_pg_dsn "host=127.0.0.1 dbname=x sslmode=prefer";
--- must_die
--- error_log
"xyz_pg_dsn": sslmode=prefer may reconnect on a new socket; use sslmode=disable on a trusted network or sslmode=require, verify-ca or verify-full



=== TEST 4: several hosts are accepted: the pool follows libpq to the next one
--- http_config
    xyz_pg_dsn "host=10.0.0.1,10.0.0.2 port=5432,5433 dbname=x";
--- request
GET /
--- error_code: 200



=== TEST 5: xyz_argon2id with more than one lane
--- http_config
    xyz_pg_dsn "host=127.0.0.1 dbname=x";
    xyz_argon2id m=19456 t=2 p=4;
--- must_die
--- error_log
"xyz_argon2id": only p=1 is supported



=== TEST 6: xyz_argon2id with an unknown parameter
--- http_config
    xyz_pg_dsn "host=127.0.0.1 dbname=x";
    xyz_argon2id memory=19m;
--- must_die
--- error_log
invalid parameter "memory=19m" in "xyz_argon2id"; expected m=KiB t=passes p=1



=== TEST 7: xyz_password_length upside down
--- http_config
    xyz_pg_dsn "host=127.0.0.1 dbname=x";
    xyz_password_length 20 10;
--- must_die
--- error_log
invalid "xyz_password_length 20 10"; give the shortest and the longest length in characters



=== TEST 8: a thread pool that is not defined
--- http_config
    xyz_pg_dsn "host=127.0.0.1 dbname=x";
    xyz_hash_thread_pool nosuchpool;
--- must_die
--- error_log
unknown thread pool "nosuchpool"



=== TEST 9: a pool size of zero
--- http_config
    xyz_pg_dsn "host=127.0.0.1 dbname=x";
    xyz_pg_pool_size 0;
--- must_die
--- error_log
value must be between 1 and 1024



=== TEST 10: a backoff whose longest delay is shorter than the first
--- http_config
    xyz_pg_dsn "host=127.0.0.1 dbname=x";
    xyz_pg_backoff 5s 1s;
--- must_die
--- error_log
invalid longest delay "1s" in "xyz_pg_backoff"



=== TEST 11: xyz_register in the http block is out of place
--- http_config
    xyz_pg_dsn "host=127.0.0.1 dbname=x";
    xyz_register;
--- config
--- must_die
--- error_log
"xyz_register" directive is not allowed here



=== TEST 12: weak hash parameters start, with a warning
--- http_config
    xyz_pg_dsn "host=127.0.0.1 dbname=x";
    xyz_argon2id m=1024 t=1 p=1;
--- request
GET /
--- error_code: 200
--- user_files
>>> index.html
ok
--- error_log
"xyz_argon2id" m=1024 t=1 is below the OWASP minimum (m=19456 t=2); use it for tests only



=== TEST 13: account locations without a database: their message, before registration's
--- http_config
--- config
    location = /api/register {
        xyz_register;
    }

    location = /api/confirm {
        xyz_confirm;
    }
--- must_die
--- error_log
the account locations need "xyz_pg_dsn"



=== TEST 14: xyz_login without a key to sign sessions
--- http_config
    xyz_pg_dsn "host=127.0.0.1 dbname=x";
--- config
    location = /api/login {
        xyz_login;
    }
--- must_die
--- error_log
"xyz_login" and "xyz_me" need at least one "xyz_jwt_key KID FILE" to sign sessions



=== TEST 15: xyz_logout needs neither a database nor a key
--- http_config
--- config
    location = /api/logout {
        xyz_logout;
    }
--- request
GET /api/logout
--- error_code: 405
--- response_headers
Allow: POST



=== TEST 16: xyz_crm_rate with a margin that is not a time, or too long
--- http_config
    xyz_crm_rate 90 margin=soon;
--- config
--- must_die
--- error_log
invalid "margin=soon" in "xyz_crm_rate"; give how late a call may reach the CRM, e.g. "margin=50ms", at most 500ms



=== TEST 17: xyz_crm_rate with force and a margin, in either order
--- http_config
    xyz_crm_rate 120 margin=80ms force;
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok



=== TEST 18: xyz_crm_rate with an unknown option
--- http_config
    xyz_crm_rate 90 fast;
--- config
--- must_die
--- error_log
invalid "fast" in "xyz_crm_rate"; the options are "force" and "margin="



=== TEST 19: xyz_retry_pace that is not a time, or too long
--- http_config
    xyz_pg_dsn "host=127.0.0.1 dbname=x";
    xyz_retry_pace 2m;
--- must_die
--- error_log
invalid "xyz_retry_pace" "2m"; give a time from 1ms to 60s (e.g. 5s), or off



=== TEST 20: xyz_retry_pace off
--- http_config
    xyz_pg_dsn "host=127.0.0.1 dbname=x";
    xyz_retry_pace off;
--- request
GET /
--- error_code: 200
--- user_files
>>> index.html
ok
