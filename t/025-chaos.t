# Chaos in the PostgreSQL pool and the outbox relay: PostgreSQL answering
# slowly (a lock held while pg_sleep runs), refusing connections, dropping
# them mid-query and while idle (pg_terminate_backend); SQS answering 500,
# throttling, failing part of a batch, and answering garbage (a proxy,
# scripts/sqs-chaos.mjs, in front of the emulator).  Every answer is a clear
# one, a 503 stores nothing, and every row reaches the queue, none parked.

use Test::Nginx::Socket;
use IO::Socket::INET;
use POSIX ();
use XyzTest;
use XyzSqs;

our ($chaos_pid, $chaos_url);

BEGIN {
    if (!$ENV{TEST_NGINX_SQS_ENDPOINT}) {
        Test::More::plan(skip_all => 'needs the SQS emulator (make test)');
    }

    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1) or die "no free port: $!";
    my $port = $s->sockport;
    close $s;
    $chaos_pid = fork // die "fork: $!";
    if ($chaos_pid == 0) {
        open STDOUT, '>', '/dev/null';
        { exec 'node', "$ENV{XYZ_ROOT}/scripts/sqs-chaos.mjs", '--port', $port,
               '--target', $ENV{TEST_NGINX_SQS_ENDPOINT} };
        POSIX::_exit(1);
    }
    $chaos_url = "http://127.0.0.1:$port";
    require HTTP::Tiny;
    for (1 .. 50) {
        last if HTTP::Tiny->new->get("$chaos_url/_chaos")->{success};
        select undef, undef, undef, 0.1;
    }
    $ENV{TEST_NGINX_CHAOS_SQS} = $chaos_url;
}

END {
    if ($chaos_pid) {
        kill 'TERM', $chaos_pid;
        waitpid $chaos_pid, 0;
    }
    # whatever happened, the database takes connections again
    ::admin_sql("ALTER DATABASE " . ::dbname() . " ALLOW_CONNECTIONS true")
        if $ENV{TEST_NGINX_PG_DSN};
}

plan 'no_plan';

our $run = run_id();
our (@drop, @lockers);

no_shuffle();
no_long_string();
check_accum_error_log();

sub addr { "$_[0]-$::run\@example.com" }

sub reg {
    my ($tag) = @_;
    return "POST /api/register\n" . XyzTest::register_json(email => addr($tag));
}

sub stored {
    my ($tag) = @_;
    return XyzTest::psql("SELECT count(*) FROM users WHERE email_normalized = '"
                         . lc(addr($tag)) . "'");
}

sub dbname { ($ENV{TEST_NGINX_PG_DSN} =~ /dbname=(\w+)/)[0] // 'xyz_test' }

# a statement in the maintenance database: ALTER DATABASE cannot run in the
# database it changes while that refuses connections
sub admin_sql {
    my ($sql) = @_;
    (my $dsn = $ENV{TEST_NGINX_PG_DSN}) =~ s/dbname=\w+/dbname=postgres/;
    system('psql', '-X', '-q', '-At', '-o', '/dev/null', '-d', $dsn, '-c', $sql) == 0
        or warn "psql failed: $sql\n";
}

# holds a lock on users for $secs seconds from a psql in the background:
# every registration's insert waits for it
sub hold_lock {
    my ($secs) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        { exec 'psql', '-X', '-q', '-o', '/dev/null', '-d', $ENV{TEST_NGINX_PG_DSN}, '-c',
               "BEGIN; LOCK TABLE users IN SHARE MODE; SELECT pg_sleep($secs); COMMIT;" };
        POSIX::_exit(1);
    }
    push @lockers, $pid;
    # the lock is taken once the statement shows up waiting in pg_sleep
    for (1 .. 50) {
        last if XyzTest::psql("SELECT count(*) FROM pg_stat_activity WHERE "
                              . "query LIKE 'BEGIN; LOCK TABLE users%'") > 0;
        select undef, undef, undef, 0.05;
    }
    return $pid;
}

sub wait_lockers { waitpid $_, 0 for splice @lockers }

# ends every connection of the module's pool (the relay's too)
sub terminate_pool {
    my ($admin) = @_;
    if ($admin) {
        admin_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  . "WHERE application_name = 'ngx_xyz_module' AND datname = '"
                  . dbname() . "'");
        return;
    }
    return XyzTest::psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                         . "WHERE application_name = 'ngx_xyz_module' "
                         . "AND datname = current_database()");
}

# registrations of these tags sent at once by curl; returns [tag, pid, file]
sub bg_tags {
    my @h;
    for my $tag (@_) {
        my $file = "/tmp/xyz-chaos-$$-$tag";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            open STDOUT, '>', $file or POSIX::_exit(1);
            { exec 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '20',
                   '-H', 'Content-Type: application/json', '--data-binary',
                   XyzTest::register_json(email => addr($tag)),
                   'http://127.0.0.1:' . XyzTest::port() . '/api/register' };
            POSIX::_exit(1);
        }
        push @h, [$tag, $pid, $file];
    }
    return @h;
}

sub bg_codes {
    my @out;
    for my $h (@_) {
        waitpid $h->[1], 0;
        open my $fh, '<', $h->[2] or die "no result for $h->[0]\n";
        push @out, [$h->[0], scalar <$fh>];
        unlink $h->[2];
    }
    return @out;
}

sub chaos {
    my (%f) = @_;
    require HTTP::Tiny;
    my $res = HTTP::Tiny->new->request('POST', "$::chaos_url/_chaos",
        { content => JSON::PP->new->encode(\%f) });
    die "sqs-chaos: $res->{status}\n" unless $res->{success};
    return JSON::PP->new->decode($res->{content});
}

add_block_preprocessor(sub {
    my $block = shift;

    quiet_error_log($block);

    if (!defined $block->main_config) {
        $block->set_value("main_config", <<'_EOC_');
    thread_pool xyz_hash threads=2 max_queue=64;
    env AWS_ACCESS_KEY_ID=AKIDTEST;
    env AWS_SECRET_ACCESS_KEY=test-secret;
_EOC_
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<'_EOC_');
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
    xyz_pg_query_timeout 1s;
    xyz_pg_backoff 100ms 500ms;

    xyz_sqs_endpoint $TEST_NGINX_CHAOS_SQS;
    xyz_sqs_queue email $TEST_NGINX_SQS_EMAIL_QUEUE;
    xyz_sqs_queue crm $TEST_NGINX_SQS_CRM_QUEUE;
    xyz_sqs_timeout 2s;
    xyz_outbox_lease 2s;
    xyz_outbox_sweep 200ms 1s;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location = /api/register {
        xyz_register;
    }

    location = /metrics {
        xyz_metrics;
    }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: a statement slower than usual but within the query timeout only delays the answer
--- init
::hold_lock(0.6);
--- request eval
::reg("slow")
--- more_headers
Content-Type: application/json
--- error_code: 202
--- no_error_log
[alert]
[crit]



=== TEST 2: a statement past the query timeout is answered 503 with Retry-After
--- init
::wait_lockers();
::hold_lock(3);
--- request eval
::reg("late")
--- more_headers
Content-Type: application/json
--- error_code: 503
--- response_headers
Retry-After: 2
--- response_body_like: "unavailable"
--- error_log eval
qr/PostgreSQL query timed out|statement timeout/
--- no_error_log
[alert]
[crit]



=== TEST 3: the registration answered 503 is not stored once the slow statement ends, and the pool serves the next one
--- init
::wait_lockers();
select undef, undef, undef, 0.5;
Test::More::is(::stored("slow"), 1, 'the delayed registration is stored');
Test::More::is(::stored("late"), 0,
               'the registration answered 503 after the query timeout is not stored');
--- request eval
::reg("after-slow")
--- more_headers
Content-Type: application/json
--- error_code: 202
--- no_error_log
[alert]
[crit]



=== TEST 4: PostgreSQL refusing connections: 503, then registrations again without a restart
--- init
::admin_sql("ALTER DATABASE " . ::dbname() . " ALLOW_CONNECTIONS false");
::terminate_pool(1);
Test::More::is(XyzTest::register_now(email => ::addr("refused")), 503,
               'a registration while connections are refused: 503');
::admin_sql("ALTER DATABASE " . ::dbname() . " ALLOW_CONNECTIONS true");
select undef, undef, undef, 1;              # past xyz_pg_backoff's longest
--- request eval
::reg("accepted-again")
--- more_headers
Content-Type: application/json
--- error_code: 202
--- no_error_log
[alert]
[crit]



=== TEST 5: connections dropped mid-query: every request answered, 503 stores nothing, 202 stores the user
--- init
Test::More::is(::stored("refused"), 0, 'the refused registration is not stored');
Test::More::is(::stored("accepted-again"), 1, 'the one after is stored');
::hold_lock(1.5);
my @h = ::bg_tags(map { "drop$_" } 1 .. 4);
select undef, undef, undef, 0.5;
Test::More::cmp_ok(::terminate_pool(), '>', 0, 'connections terminated mid-query');
@::drop = ::bg_codes(@h);
::wait_lockers();
--- request eval
::reg("after-drop")
--- more_headers
Content-Type: application/json
--- error_code: 202
--- no_error_log
[alert]
[crit]



=== TEST 6: idle pool connections closed by the server: the next registration is served
--- init
for my $d (@::drop) {
    my ($tag, $code) = @$d;
    Test::More::like($code, qr/^(202|503)$/, "$tag: answered 202 or 503 ($code)");
    Test::More::is(::stored($tag), $code eq '202' ? 1 : 0,
                   "$tag: stored only if answered 202");
}
Test::More::is(XyzTest::register_now(email => ::addr("warm")), 202, 'the pool is warm');
Test::More::cmp_ok(::terminate_pool(), '>', 0, 'idle connections terminated');
select undef, undef, undef, 0.2;
--- request eval
::reg("idle")
--- more_headers
Content-Type: application/json
--- error_code: 202
--- no_error_log
[alert]
[crit]



=== TEST 7: SQS answering 500: the rows wait and are sent when it recovers
--- init
XyzSqs::sqs_purge($ENV{TEST_NGINX_SQS_EMAIL_QUEUE});
::chaos(mode => "500", count => 3);
--- request eval
[ map { ::reg("r500-$_") } 1 .. 3 ]
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 202, 202]
--- wait: 2
--- error_log
InternalError
--- no_error_log
[alert]
[crit]



=== TEST 8: SQS throttling: the relay pauses and sends the rows again
--- init
::chaos(mode => "throttle", count => 3);
--- request eval
[ map { ::reg("throttle-$_") } 1 .. 3 ]
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 202, 202]
--- wait: 2
--- error_log
ThrottlingException
--- no_error_log
[alert]
[crit]



=== TEST 9: SQS answering garbage with 200: the rows are sent again
--- init
::chaos(mode => "garbage", count => 3);
--- request eval
[ map { ::reg("garbage-$_") } 1 .. 3 ]
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 202, 202]
--- wait: 2
--- error_log
an answer SQS should not give
--- no_error_log
[alert]
[crit]



=== TEST 10: an SQS answer cut short: the outcome is unknown, the rows are sent again
--- init
::chaos(mode => "truncated", count => 2);
--- request eval
[ map { ::reg("cut-$_") } 1 .. 2 ]
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 202]
--- wait: 2
--- no_error_log
[alert]
[crit]



=== TEST 11: SQS failing part of every batch on its side (SenderFault false) for longer than the attempts
--- init
::chaos(mode => "partial", seconds => 9);
--- request eval
[ map { ::reg("partial-$_") } 1 .. 6 ]
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 202, 202, 202, 202, 202]
--- wait: 1
--- no_error_log
[alert]
[crit]



=== TEST 12: every row of the faulted blocks reached the queue, none parked, no duplicate where SQS refused
--- init
my %once = map { $_ => 1 } qw(r500 throttle garbage partial);
my @tags = ((map { "r500-$_" } 1 .. 3), (map { "throttle-$_" } 1 .. 3),
            (map { "garbage-$_" } 1 .. 3), (map { "cut-$_" } 1 .. 2),
            (map { "partial-$_" } 1 .. 6));
my $in = join ',', map { "'" . lc(::addr($_)) . "'" } @tags;
my $pending;
for (1 .. 100) {
    $pending = XyzTest::psql("SELECT count(*) FROM outbox WHERE payload->>'email' IN ($in) "
                             . "AND published_at IS NULL");
    last if $pending == 0;
    select undef, undef, undef, 0.2;
}
Test::More::is($pending, 0, 'every outbox row of the faulted blocks is published');
Test::More::is(XyzTest::psql("SELECT count(*) FROM outbox WHERE payload->>'email' IN ($in) "
                             . "AND parked_at IS NOT NULL"), 0, 'none is parked');
my %got;
$got{ lc($_->{Body}{email} // '') }++
    for XyzSqs::sqs_receive_all($ENV{TEST_NGINX_SQS_EMAIL_QUEUE}, timeout => 10);
for my $tag (@tags) {
    my $n = $got{ lc ::addr($tag) } // 0;
    my ($kind) = $tag =~ /^(\w+)-/;
    if ($once{$kind}) {
        Test::More::is($n, 1, "$tag: in the queue once");
    } else {
        Test::More::ok($n >= 1 && $n <= 3, "$tag: in the queue ($n times: outcome was unknown)");
    }
}
Test::More::like(XyzTest::psql("SELECT string_agg(DISTINCT last_error, ' ') FROM outbox "
                                . "WHERE payload->>'email' IN ($in)") // '',
                 qr/InternalError/, 'the partial failures were recorded as SQS errors');
my $st = ::chaos(mode => "none");
Test::More::cmp_ok($st->{faulted}, '>=', 11, "SQS answered badly $st->{faulted} times");
--- request
GET /metrics
--- error_code: 200
--- no_error_log
[alert]
[crit]
