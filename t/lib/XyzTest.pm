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
    bg_register bg_wait port start_instance stop_instance register_now api
    quiet_error_log
);

my $root = $ENV{XYZ_ROOT} or die "XYZ_ROOT is not set; run the suites "
                                 . "through 'make test'\n";

my $json = JSON::PP->new->canonical;

# a tag that keeps the addresses of one run apart from earlier runs
my $run = sprintf "%x%x", time, $$;

sub run_id { $run }

# The suites' block preprocessor calls this first, as lua-nginx-module's
# suites do: a block that says nothing about the error log must leave no
# [error], [alert] or [crit] line in it.  A block with its own error_log or
# no_error_log section decides for itself; one that expects such a line
# says so there.
sub quiet_error_log {
    my ($block) = @_;
    return if defined $block->error_log || defined $block->no_error_log;
    $block->set_value(no_error_log => "[error]\n[alert]\n[crit]");
}

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

# holds the users table for $secs seconds, from a psql in the background,
# and gives it 0.3 s to take the lock
sub lock_users {
    my ($secs) = @_;
    system("psql -X -q -d '$ENV{TEST_NGINX_PG_DSN}' -c 'BEGIN; LOCK TABLE "
           . "users; SELECT pg_sleep($secs); COMMIT;' >/dev/null &");
    select undef, undef, undef, 0.3;
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

# one request to the nginx of the running block: api(METHOD, PATH, BODY,
# HEADERS) with BODY a hash (sent as JSON), a string or undef; returns
# (status, headers hash, body, decoded JSON or undef)
sub api {
    my ($method, $path, $body, $headers) = @_;
    require HTTP::Tiny;
    my %h = %{ $headers || {} };
    my %opt = (headers => \%h);
    if (ref $body) {
        $h{'Content-Type'} //= 'application/json';
        $opt{content} = JSON::PP->new->encode($body);
    } elsif (defined $body) {
        $opt{content} = $body;
    }
    my $res = HTTP::Tiny->new(timeout => 30, max_redirect => 0)
        ->request($method, 'http://127.0.0.1:' . port() . $path, \%opt);
    my $json = eval { JSON::PP->new->utf8->decode($res->{content}) };
    return ($res->{status}, $res->{headers}, $res->{content}, $json);
}

# one registration, sent now to the nginx of the running block; returns
# the HTTP status
sub register_now {
    my (%f) = @_;
    require HTTP::Tiny;
    my $res = HTTP::Tiny->new(timeout => 30)->request('POST',
        'http://127.0.0.1:' . port() . '/api/register',
        { headers => { 'Content-Type' => 'application/json' },
          content => register_json(%f) });
    return $res->{status};
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

# A second nginx with the module, next to the one Test::Nginx runs: same
# database and queues, its own prefix and port, publishing straight to the
# emulator.  Returns a handle for stop_instance, which returns its log.
sub start_instance {
    my (%opt) = @_;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    mkdir "$dir/$_" for qw(logs conf html);
    my $port = $opt{port} // 20000 + int(rand 10000);
    my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $modules = join '', map { "load_module $_;\n" }
                           split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';
    my $user = $> == 0 ? "user root;\n" : '';

    my $relay = $opt{relay} // 1;
    my $sqs = $relay ? <<"_SQS_" : '';
    xyz_sqs_endpoint $ENV{TEST_NGINX_SQS_ENDPOINT};
    xyz_sqs_queue email $ENV{TEST_NGINX_SQS_EMAIL_QUEUE};
    xyz_sqs_queue crm $ENV{TEST_NGINX_SQS_CRM_QUEUE};
    xyz_outbox_lease 2s;
    xyz_outbox_sweep 200ms 1s;
_SQS_
    my $http_extra = $opt{http_extra} // '';
    my $server_extra = $opt{server_extra} // '';
    my $workers = $opt{workers} // 1;

    open my $fh, '>', "$dir/conf/nginx.conf" or die "$dir: $!";
    print $fh <<"_EOC_";
$modules$user
daemon on;
master_process on;
worker_processes $workers;
pid logs/nginx.pid;
error_log logs/error.log info;
thread_pool xyz_hash threads=1;
env AWS_ACCESS_KEY_ID=AKIDTEST;
env AWS_SECRET_ACCESS_KEY=test-secret;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    xyz_pg_dsn "$ENV{TEST_NGINX_PG_DSN}";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
$sqs$http_extra
    server {
        listen 127.0.0.1:$port;
        location = /api/register { xyz_register; }
        location = /metrics { xyz_metrics; }
$server_extra
    }
}
_EOC_
    close $fh;

    system($bin, '-p', "$dir/", '-c', "$dir/conf/nginx.conf") == 0
        or die "the second nginx did not start; see $dir/logs/error.log\n";

    my $h = { dir => $dir, port => $port, bin => $bin };
    push @XyzTest::instances, $h;
    return $h;
}

sub stop_instance {
    my ($h) = @_;
    return '' if $h->{stopped}++;
    my $pid;
    if (open my $pf, '<', "$h->{dir}/logs/nginx.pid") {
        ($pid) = (<$pf> // '') =~ /(\d+)/;
    }
    system($h->{bin}, '-p', "$h->{dir}/", '-c', "$h->{dir}/conf/nginx.conf",
           '-s', 'quit');
    for (1 .. 50) {
        last unless -e "$h->{dir}/logs/nginx.pid";
        Time::HiRes::sleep(0.1);
    }
    # the master removes its pid file before it exits (and before a leak
    # check at exit writes its report)
    for (1 .. 50) {
        last unless $pid && kill 0, $pid;
        Time::HiRes::sleep(0.1);
    }
    check_sanitizer_reports("$h->{dir}/logs/sanitizer", 'the second nginx');
    open my $fh, '<', "$h->{dir}/logs/error.log" or return '';
    local $/;
    return scalar <$fh>;
}

# Reports of the sanitizer build (scripts/sanitizer-nginx writes them into
# PREFIX/logs/sanitizer/; UBSan into the error log) of an nginx that a suite
# runs itself: one failed test with the reports as its diagnostic.
sub check_sanitizer_reports {
    my ($dir, $what) = @_;
    my $report = '';
    # UBSan writes to stderr, which nginx points at its error log
    (my $logs = $dir) =~ s{/sanitizer/?\z}{};
    for my $log ("$logs/error.log", "$logs/stderr.log") {
        open my $in, '<', $log or next;
        my $in_report = 0;
        while (my $line = <$in>) {
            if ($line =~ /: runtime error: /) {
                $in_report = 1;
            } elsif ($in_report && $line !~ /^\s+#\d+ /) {
                $in_report = 0;
            }
            $report .= $line if $in_report;
        }
        close $in;
    }
    my @files;
    if (opendir my $dh, $dir) {
        @files = sort grep { !/^\./ && -f "$dir/$_" } readdir $dh;
        closedir $dh;
    }
    return if !@files && $report eq '';
    for my $f (@files) {
        open my $in, '<', "$dir/$f" or next;
        local $/;
        my $text = <$in> // '';
        close $in;
        unlink "$dir/$f";
        # LeakSanitizer's own failure at exit, no finding (as in t/lib's
        # runner, Test::Nginx::Util::lsan_could_not_check)
        if ($text =~ /LeakSanitizer has encountered a fatal error/
            && $text !~ /ERROR: (?:AddressSanitizer|LeakSanitizer: detected)|runtime error:/)
        {
            warn "WARNING: $what - LeakSanitizer could not check one process "
                 . "at its exit:\n$text";
            next;
        }
        $report .= "--- $f\n$text";
    }
    return if $report eq '';
    Test::More::diag($report);
    Test::More::fail("$what - sanitizer reported errors");
}

END {
    stop_instance($_) for @XyzTest::instances;
    waitpid $_, 0 for @XyzTest::children;
}

1;
