package XyzTest;

# Helpers the project's suites share: JSON bodies, a look into PostgreSQL,
# stopping and starting the private cluster, and clients that run in the
# background while a test block sends its own requests.  Kept apart from
# the Test::Nginx runner so that suites run unchanged under upstream
# Test::Nginx.

use strict;
use warnings;

use Exporter 'import';
use File::Temp ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();

our @EXPORT = qw(
    run_id register_json psql pg_stop pg_start pg_start_in
    bg_register bg_wait port
);

my $root = $ENV{XYZ_ROOT} or die "XYZ_ROOT is not set; run the suites "
                                 . "through 'make test'\n";

my $json = JSON::PP->new->canonical;

# a tag that keeps the addresses of one run apart from earlier runs
my $run = sprintf "%x%x", time, $$;

sub run_id { $run }

sub port {
    return $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
}

sub register_json {
    my %f = (password => 'correct horse battery staple', name => 'Ana',
             @_);
    delete $f{$_} for grep { !defined $f{$_} } keys %f;
    return $json->encode(\%f);
}

sub psql {
    my ($sql) = @_;
    open my $fh, '-|', 'psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1',
        '-d', $ENV{TEST_NGINX_PG_DSN}, '-c', $sql
        or die "cannot run psql: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh or die "psql failed on: $sql\n";
    $out =~ s/\n+\z//;
    return $out;
}

sub pg_stop {
    system("$root/scripts/pg.sh", 'stop') == 0 or die "pg.sh stop failed\n";
}

sub pg_start {
    system("$root/scripts/pg.sh", 'start') == 0 or die "pg.sh start failed\n";
}

# starts the cluster from a child process after $secs seconds
sub pg_start_in {
    my ($secs) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        Time::HiRes::sleep($secs);
        { exec "$root/scripts/pg.sh", 'start' };
        POSIX::_exit(1);
    }
    push @XyzTest::children, $pid;
    return $pid;
}

# $n registrations sent at once by curl in the background; returns a handle
# for bg_wait, which gives back "STATUS SECONDS" for each
sub bg_register {
    my ($n, %opt) = @_;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    my $uri = $opt{uri} // '/api/register';
    my @pids;

    for my $i (1 .. $n) {
        my $body = register_json(email => "bg$i-$run-" . int(rand 1e9)
                                          . '@example.com');
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            open STDOUT, '>', "$dir/$i" or POSIX::_exit(1);
            { exec 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code} %{time_total}',
                  '-m', '60', '-H', 'Content-Type: application/json',
                  '--data-binary', $body, 'http://127.0.0.1:' . port() . $uri };
            POSIX::_exit(1);
        }
        push @pids, $pid;
    }

    return { dir => $dir, pids => \@pids };
}

sub bg_wait {
    my ($h) = @_;
    waitpid $_, 0 for @{ $h->{pids} };
    my @results;
    for my $i (1 .. @{ $h->{pids} }) {
        open my $fh, '<', "$h->{dir}/$i" or die "no result $i\n";
        push @results, scalar <$fh>;
    }
    return @results;
}

END {
    waitpid $_, 0 for @XyzTest::children;
}

1;
