# libpq moves to the next address of a host list (or of a name with several
# addresses) on a new socket, which often gets the number of the one it
# closed: the pool must follow it onto nginx's events, not wait for the
# connect timeout on a descriptor epoll has forgotten.

use Test::Nginx::Socket;
use IO::Socket::INET;
use Time::HiRes ();
use XyzTest;

plan 'no_plan';

no_shuffle();
no_long_string();

# the DSN of the test database, with a first address that refuses
# connections (a port nothing listens on) before the real one
BEGIN {
    my $dsn = $ENV{TEST_NGINX_PG_DSN} // '';
    my ($host) = $dsn =~ /\bhost=(\S+)/;
    my ($port) = $dsn =~ /\bport=(\d+)/;
    $host //= '127.0.0.1';
    $port //= 5432;

    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1)
        or die "no free port: $!";
    my $refused = $l->sockport;
    close $l;

    (my $multi = $dsn) =~ s/\bhost=\S+\s*//;
    $multi =~ s/\bport=\d+\s*//;
    $ENV{TEST_NGINX_PG_MULTI_DSN} = "host=127.0.0.1,$host port=$refused,$port $multi";
}

# one GET, timed: (status, seconds)
sub timed_get {
    my ($path) = @_;
    require HTTP::Tiny;
    my $t0 = Time::HiRes::time();
    my $res = HTTP::Tiny->new(timeout => 30)
        ->get('http://127.0.0.1:' . XyzTest::port() . $path);
    return ($res->{status}, Time::HiRes::time() - $t0);
}

add_block_preprocessor(sub {
    my $block = shift;

    quiet_error_log($block);

    if (!defined $block->main_config) {
        $block->set_value("main_config",
                          "thread_pool xyz_hash threads=1 max_queue=64;");
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location = /metrics { xyz_metrics; }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: the first address refuses, the second answers: the query runs at once, not after the connect timeout
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_MULTI_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_pg_connect_timeout 10s;
    xyz_pg_queue_timeout 20s;
    xyz_pg_pool_size 2;
--- init
my ($s, $t) = ::timed_get('/metrics');
Test::More::is($s, 200, 'the first query (a new connection) succeeds');
Test::More::cmp_ok($t, '<', 2, "in ${\ sprintf '%.2f', $t}s, well within the 10s connect timeout");
my ($s2, $t2) = ::timed_get('/metrics');
Test::More::is($s2, 200, 'the next one too');
--- request
GET /metrics
--- response_body_like: xyz_
--- no_error_log
[alert]
cannot connect to PostgreSQL



=== TEST 2: several connections opened at once all come up
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_MULTI_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_pg_connect_timeout 10s;
    xyz_pg_queue_timeout 20s;
    xyz_pg_pool_size 4;
--- init
my @pids;
my $dir = File::Temp::tempdir(CLEANUP => 1);
my $t0 = Time::HiRes::time();
for my $i (1 .. 4) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my ($s) = ::timed_get('/metrics');
        open my $fh, '>', "$dir/$i" or POSIX::_exit(1);
        print $fh $s;
        close $fh;
        POSIX::_exit(0);
    }
    push @pids, $pid;
}
waitpid $_, 0 for @pids;
my $t = Time::HiRes::time() - $t0;
my @s = map { open my $fh, '<', "$dir/$_" or die; scalar <$fh> } 1 .. 4;
Test::More::is("@s", '200 200 200 200', 'four at once: all 200');
Test::More::cmp_ok($t, '<', 3, "in ${\ sprintf '%.2f', $t}s");
--- request
GET /metrics
--- response_body_like: xyz_
--- no_error_log
[alert]
cannot connect to PostgreSQL
