# A connection refused with 503 is not read again before its pause
# (xyz_retry_pace, at most its Retry-After): a client that never backs off
# and sends its next request at once on the same connection waits there,
# holding only its idle connection, instead of being refused again at once
# (a storm of refusals) or held as a request (about 9 KB each).
#
# The refusal is made deterministic with the database queue: one
# connection, held by a registration waiting on a locked table; one place
# in the queue, taken by a second; the third finds it full.  That third
# client (curl) sends a second request on the same connection right after
# its 503.

use Test::Nginx::Socket 'no_plan';
use File::Temp ();
use POSIX ();
use Time::HiRes ();
use XyzTest;

our $run = run_id();

workers(1);
no_shuffle();
check_accum_error_log();

our $dir = File::Temp::tempdir(CLEANUP => 1);
our @pids;

sub body { XyzTest::register_json(email => "pace$_[0]-$run-" . int(rand 1e9) . '@example.com') }

sub url { 'http://127.0.0.1:' . XyzTest::port() . $_[0] }

# one registration in the background
sub post {
    my ($id) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', "$dir/$id.w" or POSIX::_exit(1);
        { exec 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', 20,
              '-H', 'Content-Type: application/json', '--data-binary', body($id),
              url('/api/register') };
        POSIX::_exit(1);
    }
    push @pids, $pid;
}

# a registration, then at once a GET on the same connection: for each,
# status, seconds and the connections curl opened
sub post_then_get {
    my $out = `curl -s -m 20 -H 'Content-Type: application/json' --data-binary '${\ body('x')}' -o /dev/null -w '%{http_code} %{time_total} %{num_connects}\\n' ${\ url('/api/register')} --next -s -m 20 -o /dev/null -w '%{http_code} %{time_total} %{num_connects}\\n' ${\ url('/index.html')}`;
    my @r = map { [ split ' ' ] } split /\n/, $out;
    return @r;
}

sub scenario {
    my ($want_min, $want_max, $what) = @_;
    XyzTest::lock_users(6);
    post(1);
    Time::HiRes::sleep(0.3);
    post(2);
    Time::HiRes::sleep(0.3);
    my $t0 = Time::HiRes::time();
    my ($reg, $get) = post_then_get();
    # meanwhile another client, on a connection of its own, is not held up
    waitpid $_, 0 for @pids;
    @pids = ();
    diag("$what: register @$reg; then GET @$get");
    is($reg->[0], 503, "$what: the third registration finds the queue full");
    cmp_ok($reg->[1], '<', 1, "$what: ... and is refused at once");
    is($get->[2], 0, "$what: the GET goes on the same connection");
    is($get->[0], 200, "$what: ... and is answered");
    cmp_ok($get->[1], '>=', $want_min, "$what: ... after at least $want_min s");
    cmp_ok($get->[1], '<', $want_max, "$what: ... and less than $want_max s");
}

sub other_client {
    # while the third client's connection pauses, a new connection is served
    XyzTest::lock_users(6);
    post(1);
    Time::HiRes::sleep(0.3);
    post(2);
    Time::HiRes::sleep(0.3);
    my $pid = fork // die;
    if ($pid == 0) { post_then_get(); POSIX::_exit(0) }
    Time::HiRes::sleep(0.5);
    my $out = `curl -s -m 5 -o /dev/null -w '%{http_code} %{time_total}' ${\ url('/index.html')}`;
    my ($code, $t) = split ' ', $out;
    waitpid $pid, 0;
    waitpid $_, 0 for @pids;
    @pids = ();
    is($code, 200, 'another connection is served during the pause');
    cmp_ok($t, '<', 0.5, '... at once');
}

add_block_preprocessor(sub {
    my $block = shift;
    quiet_error_log($block);
    $block->set_value("main_config", "thread_pool xyz_hash threads=1 max_queue=64;")
        unless defined $block->main_config;
    # every block: one database connection, one place in its queue; the
    # block's own http_config adds its xyz_retry_pace
    $block->set_value("http_config", <<'_EOC_' . ($block->http_config // ''));
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=64 t=1 p=1;
    xyz_pg_pool_size 1;
    xyz_pg_queue_size 1;
    xyz_pg_queue_timeout 3s;
_EOC_
    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /api/register {
        xyz_register;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: the refused connection's next request is read after the pause (2 s, the Retry-After being 3 s or more)
--- http_config
    xyz_retry_pace 2s;
--- init
main::scenario(1.9, 3, 'pace 2s');
--- request
GET /index.html
--- error_code: 200
--- timeout: 15
--- error_log
xyz: PostgreSQL wait queue is full
--- no_error_log
[alert]
[crit]



=== TEST 2: off: the next request is read at once
--- http_config
    xyz_retry_pace off;
--- init
main::scenario(0, 0.5, 'pace off');
--- request
GET /index.html
--- error_code: 200
--- timeout: 15
--- no_error_log
[alert]
[crit]



=== TEST 3: the pause holds only that connection
--- http_config
    xyz_retry_pace 2s;
--- init
main::other_client();
--- request
GET /index.html
--- error_code: 200
--- timeout: 15
--- no_error_log
[alert]
[crit]



=== TEST 4: the pause is at most the Retry-After: a long pace waits the Retry-After (3 s here, the queue's timeout)
--- http_config
    xyz_retry_pace 30s;
--- init
main::scenario(2.5, 8, 'pace 30s');
--- request
GET /index.html
--- error_code: 200
--- timeout: 20
--- no_error_log
[alert]
[crit]
