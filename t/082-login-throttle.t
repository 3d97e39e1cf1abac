# Login throttling that holds under parallel guesses and cannot be turned
# against an account's owner: an attempt is reserved in PostgreSQL before
# its password is hashed; the hard lock is per (account, client), IPv6
# clients counted by their /64, with a softer limit per account across all
# clients; old throttle and cooldown rows are purged; the first mail
# cooldown of an address cannot be raced; a known address whose hash was
# made with older parameters costs what an unknown one costs.

use Test::Nginx::Socket;
use File::Temp ();
use POSIX ();
use Time::HiRes ();
use XyzTest;

BEGIN {
    my $f = "/tmp/xyz-jwt-lt-$$";
    open my $fh, '>', $f or die $!;
    print $fh "login-throttle-test-key-" . ('w' x 40) . "\n";
    close $fh;
    $ENV{TEST_NGINX_JWT_KEY} = $f;
}

END { unlink "/tmp/xyz-jwt-lt-$$" }

plan 'no_plan';

our $run = run_id();

# "correct horse battery staple" with the parameters these suites use
# (m=19456 t=2) and with cheaper, older ones (m=1024 t=1)
our $h_current = '$argon2id$v=19$m=19456,t=2,p=1$kffcDUk6YEYRz5eBTOsTDA$'
                 . 'rl9EJfw25HjXKBRo3xaHTdJW+igCE/OEduJ0c7O0mWo';
our $h_old = '$argon2id$v=19$m=1024,t=1,p=1$yb/VOfv6yXB3cY+I6EBvsg$'
             . 'Hwp43xGX6dHHh3+HYlFxnF38pplHwsVscO7GXTXzqvM';
our $good = 'correct horse battery staple';

no_shuffle();

sub addr { "$_[0]-$::run\@example.com" }

# a confirmed account with the given stored hash, made in the database
sub account {
    my ($tag, $hash) = @_;
    my $e = addr($tag);
    XyzTest::psql("INSERT INTO users (email, email_normalized, name, "
                  . "password_hash, status, confirmed_at) VALUES ('$e', '$e', "
                  . "'T', '$hash', 'confirmed', now())");
    return $e;
}

sub login {
    my ($email, $password, $client) = @_;
    return XyzTest::api('POST', '/api/login',
                        { email => $email, password => $password },
                        $client ? { 'X-Forwarded-For' => $client } : {});
}

# $n logins sent at once by curl; returns a list of
# { status, retry_after, body }
sub parallel_logins {
    my ($n, $email, $password) = @_;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    my $body = JSON::PP->new->encode({ email => $email,
                                       password => $password });
    my @pids;
    for my $i (1 .. $n) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            open STDOUT, '>', "$dir/s$i" or POSIX::_exit(1);
            { exec 'curl', '-s', '-D', "$dir/h$i", '-o', "$dir/b$i",
                  '-w', '%{http_code}', '-m', '60',
                  '-H', 'Content-Type: application/json',
                  '--data-binary', $body,
                  'http://127.0.0.1:' . XyzTest::port() . '/api/login' };
            POSIX::_exit(1);
        }
        push @pids, $pid;
    }
    waitpid $_, 0 for @pids;
    my @r;
    for my $i (1 .. $n) {
        local $/;
        open my $s, '<', "$dir/s$i" or die;
        open my $h, '<', "$dir/h$i" or die;
        open my $b, '<', "$dir/b$i" or die;
        my ($st, $hd, $bd) = (<$s>, <$h>, <$b>);
        push @r, { status => $st,
                   retry_after => $hd =~ /^Retry-After:\s*(\d+)/mi ? $1 : undef,
                   body => $bd };
    }
    return @r;
}

sub median {
    my @s = sort { $a <=> $b } @_;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

add_block_preprocessor(sub {
    my $block = shift;

    quiet_error_log($block);

    $block->set_value("main_config",
                      "thread_pool xyz_hash threads=1 max_queue=256;")
        unless defined $block->main_config;

    $block->set_value("http_config", <<'_EOC_') unless defined $block->http_config;
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=19456 t=2 p=1;
    xyz_jwt_key k $TEST_NGINX_JWT_KEY;
    xyz_cookie_secure off;
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;
_EOC_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location = /api/login { xyz_login; }
_EOC_

    $block->set_value("request", "GET /api/login")
        unless defined $block->request;
    $block->set_value("error_code", 405)
        unless defined $block->error_code;
    $block->set_value("timeout", 120) unless defined $block->timeout;
});

run_tests();

__DATA__

=== TEST 1: twenty parallel wrong passwords: at most three are hashed, the rest wait with 429
--- init
XyzTest::psql("DELETE FROM login_throttle");
my $e = ::account('par', $::h_current);
my @r = ::parallel_logins(20, $e, 'not the password at all');
my %n;
$n{ $_->{status} }++ for @r;
my $hashed = $n{401} // 0;
Test::More::ok($hashed >= 1 && $hashed <= 3,
               "hashed $hashed of 20 (401), at most 3");
Test::More::is(($n{401} // 0) + ($n{429} // 0), 20,
               'every other one is 429: ' . join(' ', map { "$_ x$n{$_}" } sort keys %n));
my @w = grep { $_->{status} == 429 } @r;
Test::More::ok(@w && !grep({ !defined $_->{retry_after} || $_->{retry_after} < 1 } @w),
               'each 429 carries Retry-After');
Test::More::ok(@w && !grep({ $_->{body} !~ /^\{"error":"too_many_attempts"/ } @w),
               'and the JSON error');
Test::More::is(XyzTest::psql("SELECT max(failures) FROM login_throttle "
                             . "WHERE key LIKE '%' || '$e' || '%'"),
               $hashed, 'the failures recorded are the hashes made');
XyzTest::psql("DELETE FROM login_throttle");



=== TEST 2: one client's failures lock that client only; the owner elsewhere logs in
--- init
XyzTest::psql("DELETE FROM login_throttle");
my $e = ::account('target', $::h_current);
my @s = map { (::login($e, "wrong $_", '192.0.2.10'))[0] } 1 .. 3;
Test::More::is("@s", '401 401 401', 'three failures from one client');
my ($s, $h, undef, $j) = ::login($e, $::good, '192.0.2.10');
Test::More::is($s, 429, 'that client then waits, even with the right password');
Test::More::ok(($h->{'retry-after'} // 0) >= 1, 'with Retry-After');
($s) = ::login($e, $::good, '198.51.100.7');
Test::More::is($s, 200, 'the owner from another address logs in');
XyzTest::psql("DELETE FROM login_throttle");



=== TEST 3: IPv6 clients are counted by their /64
--- init
XyzTest::psql("DELETE FROM login_throttle");
my $e = ::account('six', $::h_current);
my @s = map { (::login($e, "wrong $_", "2001:db8:1:2::$_"))[0] } 1 .. 3;
Test::More::is("@s", '401 401 401', 'three failures from three addresses of one /64');
my ($s) = ::login($e, $::good, '2001:db8:1:2:ffff::9');
Test::More::is($s, 429, 'a fourth address of that /64 waits');
($s) = ::login($e, $::good, '2001:db8:1:3::1');
Test::More::is($s, 200, 'the next /64 logs in');
XyzTest::psql("DELETE FROM login_throttle");



=== TEST 4: failures spread over many clients meet the softer limit per account
--- init
XyzTest::psql("DELETE FROM login_throttle");
my $e = ::account('spread', $::h_current);
my @s = map { (::login($e, "wrong $_", "203.0.113.$_"))[0] } 1 .. 20;
Test::More::is(scalar(grep { $_ == 401 } @s), 20, 'twenty failures from twenty clients');
my ($s, $h) = ::login($e, $::good, '198.51.100.200');
Test::More::is($s, 429, 'then the account waits for everyone');
my $ra = $h->{'retry-after'} // 0;
Test::More::ok($ra >= 1 && $ra <= 60, "a short wait ($ra s), not a lockout");
XyzTest::psql("DELETE FROM login_throttle");



=== TEST 5: old throttle and cooldown rows are purged
--- init
XyzTest::psql("DELETE FROM login_throttle");
XyzTest::psql("INSERT INTO login_throttle (key, failures, locked_until, updated_at) "
              . "SELECT 'client:old-$::run-' || i, 5, now() - interval '2 days', "
              . "now() - interval '2 days' FROM generate_series(1, 30) i");
XyzTest::psql("INSERT INTO login_throttle (key, failures, locked_until, updated_at) "
              . "VALUES ('client:new-$::run', 5, now() + interval '10 minutes', now())");
XyzTest::psql("INSERT INTO mail_requests (key, last_at, window_start, count) "
              . "SELECT 'old-$::run-' || i, now() - interval '3 days', "
              . "now() - interval '3 days', 1 FROM generate_series(1, 30) i");
::login(::addr('nobody'), 'whatever it is', '192.0.2.99');
XyzTest::psql("SELECT xyz_mail_request_allowed('"
              . ::addr('purge') . "', '60 seconds', 'purge-client-$::run', 100)");
Test::More::is(XyzTest::psql("SELECT count(*) FROM login_throttle WHERE key LIKE 'client:old-$::run-%'"),
               0, 'old login throttle rows are gone');
Test::More::is(XyzTest::psql("SELECT count(*) FROM login_throttle WHERE key = 'client:new-$::run'"),
               1, 'a live lock stays');
Test::More::is(XyzTest::psql("SELECT count(*) FROM mail_requests WHERE key LIKE 'old-$::run-%'"),
               0, 'old cooldown rows are gone');
Test::More::is(XyzTest::psql("SELECT count(*) FROM mail_requests WHERE key = '"
                             . ::addr('purge') . "'"),
               1, 'the new cooldown is kept');
XyzTest::psql("DELETE FROM login_throttle");



=== TEST 6: two first mail requests for one address at once: only one may send
--- init
my $dir = File::Temp::tempdir(CLEANUP => 1);
my $key = ::addr('race');
my $q = "SELECT xyz_mail_request_allowed('$key', '60 seconds', 'race-client-$::run-%s', 100);";
# the first session holds its transaction open while the second one asks
open my $first, '|-', "psql -X -q -At -d '$ENV{TEST_NGINX_PG_DSN}' > $dir/1 2>&1"
    or die "psql: $!";
select((select($first), $| = 1)[0]);
print $first "BEGIN;\n" . sprintf($q, 1) . "\n";
Time::HiRes::sleep(0.5);
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    open STDOUT, '>', "$dir/2" or POSIX::_exit(1);
    open STDERR, '>&', \*STDOUT;
    { exec 'psql', '-X', '-q', '-At', '-d', $ENV{TEST_NGINX_PG_DSN}, '-c', sprintf($q, 2) };
    POSIX::_exit(1);
}
Time::HiRes::sleep(1);
print $first "COMMIT;\n";
close $first;
waitpid $pid, 0;
my @out = map { local $/; open my $fh, '<', "$dir/$_" or die; my $o = <$fh>; $o =~ s/\s+\z//; $o } 1, 2;
Test::More::is($out[0], '0', 'the first request may send');
Test::More::is($out[1], '-1', 'the second, racing it, is held by the cooldown');



=== TEST 7: a known address with a hash of older, cheaper parameters costs what an unknown one costs
--- init
my $e = ::account('stale', $::h_old);
my (@tk, @tu, %st);
for my $i (1 .. 15) {
    for my $side ([k => $e], [u => ::addr("ghost$i")]) {
        XyzTest::psql("DELETE FROM login_throttle");
        my $t0 = Time::HiRes::time();
        my ($s) = ::login($side->[1], 'not the password at all');
        push @{ $side->[0] eq 'k' ? \@tk : \@tu }, Time::HiRes::time() - $t0;
        $st{ $side->[0] }{$s}++;
    }
}
Test::More::is(join(',', keys %{ $st{k} }), '401', 'the known address: 401');
Test::More::is(join(',', keys %{ $st{u} }), '401', 'the unknown address: 401');
my ($mk, $mu) = (::median(@tk), ::median(@tu));
my $diff = abs($mk - $mu) / ($mk > $mu ? $mk : $mu);
Test::More::cmp_ok($diff, '<=', 0.25,
    sprintf("median %.1f ms (known, old hash) vs %.1f ms (unknown), %.0f %% apart",
            $mk * 1000, $mu * 1000, $diff * 100));
XyzTest::psql("DELETE FROM login_throttle");
my ($s) = ::login($e, $::good);
Test::More::is($s, 200, 'the right password still logs in');
Test::More::like(XyzTest::psql("SELECT password_hash FROM users WHERE email_normalized = '$e'"),
                 qr/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/, 'and the hash is remade with the current parameters');
XyzTest::psql("DELETE FROM login_throttle");



=== TEST 8: a login refused by a full hashing queue gives its reservation back
nginx's thread pool logs "queue overflow" at [error] when it refuses a task: expected here.
--- main_config
    thread_pool xyz_hash threads=1 max_queue=1;
--- init
XyzTest::psql("DELETE FROM login_throttle");
my $e = ::account('queue', $::h_current);
my @r = ::parallel_logins(20, $e, 'not the password at all');
my %n;
$n{ $_->{status} }++ for @r;
Test::More::ok(!grep({ !/^(401|429|503)$/ } keys %n),
               'answers: ' . join(' ', map { "$_ x$n{$_}" } sort keys %n));
Test::More::is(XyzTest::psql("SELECT coalesce(sum(in_flight), 0) FROM login_throttle"),
               0, 'nothing is left in flight');
XyzTest::psql("DELETE FROM login_throttle");
--- no_error_log
[alert]
[crit]



=== TEST 9: a password reset ends the account's locks
--- init
XyzTest::psql("DELETE FROM login_throttle");
my $e = ::account('reset', $::h_current);
::login($e, "wrong $_") for 1 .. 3;
my ($s) = ::login($e, $::good);
Test::More::is($s, 429, 'locked after three failures');
XyzTest::psql("UPDATE users SET password_hash = '$::h_current', "
              . "token_version = token_version + 1 WHERE email_normalized = '$e'");
($s) = ::login($e, $::good);
Test::More::is($s, 200, 'the new password logs in at once');
XyzTest::psql("DELETE FROM login_throttle");
