# Tracing: the debug log lines of the PostgreSQL pool, the hash tasks, the
# outbox relay and the dispatcher, in the order of the states they report.
# Debian's nginx is built --with-debug and the runner writes "error_log
# ... debug" (TEST_NGINX_LOG_LEVEL), so the lines are there to grep.

use Test::Nginx::Socket;
use XyzTest;
use XyzSqs;
use XyzMail;

BEGIN {
    if (!$ENV{TEST_NGINX_SQS_ENDPOINT} || !$ENV{TEST_NGINX_SMTP_URL}) {
        Test::More::plan(skip_all => 'needs the SQS emulator and the mail '
                                     . 'catcher (make test)');
    }

    $ENV{TEST_NGINX_TEMPLATES} = "$ENV{XYZ_ROOT}/conf/templates";
}

plan 'no_plan';

our $run = run_id();

no_shuffle();
no_long_string();
log_level('debug');

# rows earlier blocks and suites left unpublished would be swept into this
# block's batches: marked published, with what waits in the email queue
# gone; and a long poll of an nginx stopped before (xyz_dispatch_poll 1s in
# the suites) would take this block's message and hide it for its lease:
# let it run out first.  TEST 2's lines are not anchored: a message another
# suite published (t/096's Node service) may still come through, in its own
# receive, before or after this block's
sub quiet_outbox {
    XyzTest::psql("UPDATE outbox SET published_at = now() "
                  . "WHERE published_at IS NULL");
    XyzSqs::sqs_purge($ENV{TEST_NGINX_SQS_EMAIL_QUEUE});
    select undef, undef, undef, 1.5;
}

sub reg {
    my ($tag) = @_;
    return "POST /api/register\n"
           . XyzTest::register_json(email => "$tag-$::run\@example.com");
}

add_block_preprocessor(sub {
    my $block = shift;

    quiet_error_log($block);

    if (!defined $block->main_config) {
        $block->set_value("main_config", <<'_EOC_');
    thread_pool xyz_hash threads=1 max_queue=64;
    env AWS_ACCESS_KEY_ID=AKIDTEST;
    env AWS_SECRET_ACCESS_KEY=test-secret;
_EOC_
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<'_EOC_'
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;

    xyz_sqs_endpoint $TEST_NGINX_SQS_ENDPOINT;
    xyz_sqs_queue email $TEST_NGINX_SQS_EMAIL_QUEUE;
    xyz_sqs_queue crm $TEST_NGINX_SQS_CRM_QUEUE;
    xyz_outbox_lease 2s;
    xyz_outbox_sweep 200ms 1s;
_EOC_
            . ($block->dispatch // ''));
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location = /api/register {
        xyz_register;
    }
_EOC_
    }

    if (!defined $block->more_headers) {
        $block->set_value("more_headers", "Content-Type: application/json");
    }
});

run_tests();

# the last block's message: no other suite is to receive it
quiet_outbox();

__DATA__

=== TEST 1: a registration: the hash task, then the pool connects for its query
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
--- request eval
::reg("trace1")
--- error_code: 202
--- grep_error_log eval: qr/xyz (?:register|hash|pg): [^,\n]*/
--- grep_error_log_out eval
qr/\A
xyz\ register:\ input\ valid\n
xyz\ hash:\ task\ \w+\ queued\n
xyz\ hash:\ task\ started\n
xyz\ hash:\ task\ done\n
xyz\ pg:\ query\ \w+\ queued\n
xyz\ pg:\ connect\ start\ \w+\n
xyz\ register:\ hashed\n
xyz\ pg:\ connect\ ok\ \w+\n
xyz\ pg:\ idle\ \w+\n
xyz\ pg:\ query\ \w+\ sent\ on\ \w+\n
xyz\ pg:\ query\ \w+\ result\ 0\n
xyz\ pg:\ idle\ \w+\n
xyz\ register:\ created\n
\z/x



=== TEST 2: a dispatched email: the dispatcher's stages in order, the sender's
--- init
::quiet_outbox();
--- dispatch
    xyz_dispatch email;
    xyz_dispatch_lease 10s;
    xyz_dispatch_poll 1s;
    xyz_public_url http://signup.test/;
    xyz_smtp_url $TEST_NGINX_SMTP_URL;
    xyz_mail_from "XYZ Altas <no-reply@xyz.example>";
    xyz_mail_templates $TEST_NGINX_TEMPLATES;
    xyz_smtp_timeout 3s;
--- request eval
::reg("trace2")
--- error_code: 202
--- wait: 4
--- grep_error_log eval: qr/xyz (?:dispatch: (?!receive from)|mail: )[^,\n]*/
--- grep_error_log_out eval
qr/
xyz\ dispatch:\ received\ 1\ messages\ from\ the\ email\ queue\n
xyz\ dispatch:\ begin\ row\ (\d+)\n
xyz\ dispatch:\ begun\ row\ \1:\ go\n
xyz\ dispatch:\ send\ row\ \1\ via\ email\n
xyz\ mail:\ message\ built\n
xyz\ mail:\ transfer\ \w+\ done\n
xyz\ dispatch:\ record\ row\ \1\ sent\n
xyz\ dispatch:\ recorded\ row\ \1\n
xyz\ dispatch:\ delete\ 1\ messages\ from\ the\ email\ queue\n
/x



=== TEST 3: the relay: its row pending, one batch published, then marked
--- init
::quiet_outbox();
--- request eval
::reg("trace3")
--- error_code: 202
--- wait: 1
--- grep_error_log eval: qr/xyz outbox: (?!sweep)[^,\n]*/
--- grep_error_log_out eval
qr/\A
xyz\ outbox:\ 1\ claimed\ rows\ to\ publish\n
xyz\ outbox:\ row\ \d+\ pending\n
xyz\ outbox:\ publish\ batch\ \w+\n
xyz\ outbox:\ batch\ \w+\ published\ 1\n
xyz\ outbox:\ batch\ \w+\ marked\n
\z/x



=== TEST 4: no database: the connect fails, backs off, the query is refused, 503 with Retry-After
--- http_config
    xyz_pg_dsn "host=127.0.0.1 port=1 dbname=xyz user=xyz";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
--- request eval
::reg("trace4")
--- error_code: 503
--- response_headers_like
Retry-After: \d+
--- grep_error_log eval: qr/xyz (?:register|pg|reply): [^,\n]*/
--- grep_error_log_out eval
qr/\A
xyz\ register:\ input\ valid\n
xyz\ pg:\ query\ \w+\ queued\n
xyz\ pg:\ connect\ start\ \w+\n
xyz\ register:\ hashed\n
xyz\ pg:\ connect\ failed\ \w+\n
xyz\ pg:\ close\ \w+\n
xyz\ pg:\ no\ connection\n
xyz\ pg:\ query\ \w+\ cancelled\n
xyz\ register:\ unavailable\n
xyz\ reply:\ unavailable\n
\z/x
--- error_log
xyz: cannot connect to PostgreSQL
--- no_error_log
[alert]
[crit]
