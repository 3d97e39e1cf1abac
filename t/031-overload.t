# Overload control: requests that need a hash or a database connection
# wait in order, in a bounded queue with a deadline, and only when the
# queue is full or the wait runs out get 503 with Retry-After and JSON.
# A waiting request whose client goes away leaves the queue.
#
# One worker, one hashing thread, one task handed to it at a time: the
# queue is this suite's to fill.  Clients are curl processes started one
# after the other, 50 to 300 ms apart, so that they queue in a known order.

use Test::Nginx::Socket 'no_plan';
use File::Temp ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use XyzTest;

our $run = run_id();

workers(1);
no_shuffle();
check_accum_error_log();

# clients: post($id, max_time) starts one registration in the background;
# results() waits for them and gives, for each, status, seconds,
# Retry-After and the decoded JSON body
our $dir = File::Temp::tempdir(CLEANUP => 1);
our (@pids, %sent);

sub post {
    my ($id, $max) = @_;
    my $body = XyzTest::register_json(
        email => "ov$id-$run-" . int(rand 1e9) . '@example.com');
    $sent{$id} = Time::HiRes::time();
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', "$dir/$id.w" or POSIX::_exit(1);
        { exec 'curl', '-s', '-D', "$dir/$id.h", '-o', "$dir/$id.b",
              '-w', '%{http_code} %{time_total}', '-m', $max // 30,
              '-H', 'Content-Type: application/json', '--data-binary', $body,
              'http://127.0.0.1:' . XyzTest::port() . '/api/register' };
        POSIX::_exit(1);
    }
    push @pids, $pid;
    return $pid;
}

sub results {
    my (@ids) = @_;
    waitpid $_, 0 for @pids;
    @pids = ();
    my %r;
    for my $id (@ids) {
        my ($status, $time) = split ' ', slurp("$dir/$id.w");
        my ($retry) = slurp("$dir/$id.h") =~ /^Retry-After:\s*(\S+)/mi;
        my $json = eval { JSON::PP->new->decode(slurp("$dir/$id.b")) };
        $r{$id} = { status => $status, time => $time, retry => $retry,
                    json => $json, end => $sent{$id} + $time };
    }
    return \%r;
}

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return '';
    local $/;
    return scalar <$fh>;
}

sub pause { select undef, undef, undef, $_[0] }

# a refusal as the issue asks for it: 503, Retry-After in whole seconds
# (at least $min), and the JSON error
sub refused_ok {
    my ($r, $min, $what) = @_;
    Test::More::is($r->{status}, 503, "$what: 503");
    Test::More::like($r->{retry} // '', qr/^[1-9][0-9]*\z/,
                     "$what: Retry-After in seconds");
    Test::More::cmp_ok($r->{retry} // 0, '>=', $min,
                       "$what: Retry-After is at least $min s");
    Test::More::is($r->{json} && $r->{json}{error}, 'unavailable',
                   "$what: a JSON error");
}


# the blocks' scenarios, called from their --- init

sub test1 {
    # 1 hashes; 2-31 take the 30 places of the queue; of 32-40 those that
    # come before a place frees up are refused at once.  A hash takes
    # 0.3 s on an idle machine, 3 s on a busy one: with a wait of 5 s
    # some of 2-31 are served late and the others run out of time.  1-12
    # come 0.1 s apart, so that they reach nginx in order however busy
    # the machine, the others in a rush
    for my $i (1 .. 40) { post($i); pause($i <= 12 ? 0.1 : 0.02) }
    my $r = results(1 .. 40);
    diag(join ' ', map { "$_:$r->{$_}{status}/$r->{$_}{time}s" } 1 .. 40);
    is(scalar(grep { $r->{$_}{status} !~ /^(202|503)\z/ } 1 .. 40), 0,
       'only 202 and 503');
    is($r->{1}{status}, 202, 'the first is served');
    my @served = grep { $r->{$_}{status} == 202 } 2 .. 40;
    ok(@served >= 1, 'requests that waited are served');
    cmp_ok($r->{$served[-1]}{time}, '>', $r->{1}{time},
           '... late: after the first') if @served;
    my @late = grep { $r->{$_}{status} == 503 && $r->{$_}{time} >= 1 }
               1 .. 40;
    ok(@late >= 1, 'requests whose wait ran out are refused');
    is(scalar(grep { $r->{$_}{time} < 4.9 } @late), 0,
       '... when their wait ran out, not before');
    refused_ok($r->{$_}, 1, "$_, its wait ran out") for @late;
    my @first = grep { $_ <= 12 } @served;
    is(join(',', @first),
       join(',', sort { $r->{$a}{end} <=> $r->{$b}{end} } @first),
       'in order: those that came first were served first');
    my @full = grep { $r->{$_}{status} == 503 && $r->{$_}{time} < 1 } 1 .. 40;
    ok(@full >= 1, 'requests that find the queue full are refused at once');
    cmp_ok(scalar(@full), '<=', 9,
           '... only when it is full: 31 fit (one hashing, 30 waiting)');
    refused_ok($r->{$_}, 1, "$_, queue full") for @full;
}

sub test2 {
    # 1 hashes (1 to 6 s); 2 takes the one place and gives up after
    # 0.2 s; 3 comes when 2 has gone and must get the place
    post(1);
    pause(0.1);
    waitpid post(2, 0.2), 0;
    pause(0.2);
    post(3);
    my $r = results(1 .. 3);
    diag(join ' ', map { "$_:$r->{$_}{status}/$r->{$_}{time}s" } 1 .. 3);
    is($r->{1}{status}, 202, 'the first is served');
    is($r->{2}{status}, '000', 'the second gave up while it waited');
    is($r->{3}{status}, 202, 'the third took the place the second left');
}

sub test3 {
    # 1 takes the one connection and waits for the lock (4 s); 2 waits in the
    # queue for 3 s; 3 finds the queue full
    XyzTest::lock_users(4);
    post(1);
    pause(0.3);
    post(2);
    pause(0.3);
    post(3);
    my $r = results(1 .. 3);
    diag(join ' ', map { "$_:$r->{$_}{status}/$r->{$_}{time}s/" . ($r->{$_}{retry} // "-") }
                   1 .. 3);
    is($r->{1}{status}, 202, 'the one that held the connection is served');
    cmp_ok($r->{2}{time}, '>=', 2.9, 'the second waited its 3 s');
    refused_ok($r->{2}, 3, 'wait ran out');
    cmp_ok($r->{3}{time}, '<', 1, 'the third was refused at once');
    refused_ok($r->{3}, 3, 'queue full');
}

sub test4 {
    # 1 takes the one connection and waits for the lock (2 s); 2 takes the
    # one place in the queue and gives up after 0.5 s; 3 comes after that and
    # must get the place
    XyzTest::lock_users(2);
    post(1);
    pause(0.3);
    post(2, 0.5);
    pause(0.9);
    post(3);
    my $r = results(1 .. 3);
    diag(join ' ', map { "$_:$r->{$_}{status}/$r->{$_}{time}s" } 1 .. 3);
    is($r->{1}{status}, 202, 'the one that held the connection is served');
    is($r->{2}{status}, '000', 'the second gave up while it waited');
    is($r->{3}{status}, 202, 'the third took the place the second left');
}

add_block_preprocessor(\&quiet_error_log);

run_tests();

__DATA__

=== TEST 1: hash queue: the first served, those within the wait served late, the rest 503 with Retry-After
--- main_config
    thread_pool xyz_hash threads=1 max_queue=64;
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_hash_queue length=30 wait=5s tasks=1;
    xyz_argon2id m=65536 t=12 p=1;
--- config
    location = /api/register {
        xyz_register;
    }
--- init
main::test1();
--- request
GET /index.html
--- error_code: 200
--- error_log
xyz: hash wait queue is full (30 waiting); answering 503
--- no_error_log
[alert]
[crit]
thread pool "xyz_hash" queue overflow



=== TEST 2: hash queue: a waiting request whose client goes away leaves the queue, the next one moves up
--- main_config
    thread_pool xyz_hash threads=1 max_queue=64;
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_hash_queue length=1 wait=20s tasks=1;
    xyz_argon2id m=131072 t=20 p=1;
--- config
    location = /api/register {
        xyz_register;
    }
--- init
main::test2();
--- request
GET /index.html
--- error_code: 200
--- error_log
xyz hash: a waiting request left the queue
--- no_error_log
[alert]
[crit]
hash wait queue is full



=== TEST 3: database queue: full at once, or the wait runs out: 503 with a Retry-After of the wait
--- main_config
    thread_pool xyz_hash threads=1 max_queue=64;
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=64 t=1 p=1;
    xyz_pg_pool_size 1;
    xyz_pg_queue_size 1;
    xyz_pg_queue_timeout 3s;
--- config
    location = /api/register {
        xyz_register;
    }
--- init
main::test3();
--- request
GET /index.html
--- error_code: 200
--- timeout: 10
--- error_log
xyz: no PostgreSQL connection became free in time
xyz: PostgreSQL wait queue is full
--- no_error_log
[alert]
[crit]



=== TEST 4: database queue: a waiting request whose client goes away leaves the queue, the next one moves up
--- main_config
    thread_pool xyz_hash threads=1 max_queue=64;
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=64 t=1 p=1;
    xyz_pg_pool_size 1;
    xyz_pg_queue_size 1;
    xyz_pg_queue_timeout 10s;
--- config
    location = /api/register {
        xyz_register;
    }
--- init
main::test4();
--- request
GET /index.html
--- error_code: 200
--- timeout: 10
--- no_error_log
[alert]
[crit]
xyz: PostgreSQL wait queue is full



=== TEST 5: nginx -t refuses an xyz_hash_queue it cannot use, saying what to give
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_queue length=10 wait=0;
--- config
    location = /api/register {
        xyz_register;
    }
--- must_die
--- error_log
invalid "wait=0" in "xyz_hash_queue"; give length=N
