# No user enumeration: for resend, login and reset, a known and an unknown
# address get the same status and body, and median response times within
# 10 % of each other over 50 tries each (production hash parameters).

use Test::Nginx::Socket;
use List::Util qw(sum);
use Time::HiRes ();
use XyzTest;

BEGIN {
    my $f = "/tmp/xyz-jwt-enum-$$";
    open my $fh, '>', $f or die $!;
    print $fh "enumeration-test-key-" . ('y' x 40) . "\n";
    close $fh;
    $ENV{TEST_NGINX_JWT_KEY} = $f;
}

END { unlink "/tmp/xyz-jwt-enum-$$" }

plan 'no_plan';

our $run = run_id();
our $tries = 50;

no_shuffle();

sub median {
    my @s = sort { $a <=> $b } @_;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

# times $n rounds of (known, unknown) requests, interleaved
sub compare {
    my ($what, $path, $known, $unknown, $before) = @_;
    my (@tk, @tu, %status, %body);
    for my $i (1 .. $::tries) {
        for my $side ([known => $known], [unknown => $unknown]) {
            $before->() if $before;
            my $body = $side->[1]->($i);
            my $t0 = Time::HiRes::time();
            my ($s, undef, $b) = XyzTest::api('POST', $path, $body);
            my $dt = Time::HiRes::time() - $t0;
            push @{ $side->[0] eq 'known' ? \@tk : \@tu }, $dt;
            $status{ $side->[0] }{$s}++;
            $body{ $side->[0] }{$b}++;
        }
    }
    Test::More::is(join(',', sort keys %{ $status{known} }),
                   join(',', sort keys %{ $status{unknown} }), "$what: the same status");
    Test::More::is(join('|', sort keys %{ $body{known} }),
                   join('|', sort keys %{ $body{unknown} }), "$what: the same body");
    my ($mk, $mu) = (median(@tk), median(@tu));
    my $diff = abs($mk - $mu) / ($mk > $mu ? $mk : $mu);
    Test::More::cmp_ok($diff, '<=', 0.10,
        sprintf("%s: median %.2f ms (known) vs %.2f ms (unknown), %.1f %% apart",
                $what, $mk * 1000, $mu * 1000, $diff * 100));
}

add_block_preprocessor(\&quiet_error_log);

run_tests();

__DATA__

=== TEST 1: resend, login and reset answer known and unknown addresses alike
--- main_config
    thread_pool xyz_hash threads=2 max_queue=256;
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=19456 t=2 p=1;
    xyz_jwt_key k $TEST_NGINX_JWT_KEY;
    xyz_mail_requests_per_hour 100000;
--- config
    location = /api/register { xyz_register; }
    location = /api/resend { xyz_resend; }
    location = /api/login { xyz_login; }
    location = /api/reset { xyz_reset_request; }
--- init
for my $i (1 .. $::tries) {
    XyzTest::register_now(email => "enum$i-$::run\@example.com");
}
::compare('resend', '/api/resend',
          sub { { email => "enum$_[0]-$::run\@example.com" } },
          sub { { email => "none$_[0]-$::run\@example.com" } });
::compare('reset', '/api/reset',
          sub { { email => "enum$_[0]-$::run\@example.com" } },
          sub { { email => "nope$_[0]-$::run\@example.com" } });
::compare('login', '/api/login',
          sub { { email => "enum$_[0]-$::run\@example.com", password => 'not the password at all' } },
          sub { { email => "nada$_[0]-$::run\@example.com", password => 'not the password at all' } },
          sub { XyzTest::psql("DELETE FROM login_throttle") });
--- request
GET /api/login
--- error_code: 405
--- timeout: 120
