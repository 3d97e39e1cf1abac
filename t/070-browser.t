#!/usr/bin/env perl
# The static front end in a real browser: the suites in t/browser/*.test.mjs
# (node's test runner, Debian's chromium through playwright-core, axe-core),
# run against an nginx of their own started here: conf/dev.conf rendered by
# scripts/render-conf.sh into a temporary prefix on a free port, with the
# module, the test database, the SQS emulator, the mail catcher and the
# fake CRM of `make test` — the configuration `make run` uses. A second
# nginx of the same configuration reaches the database through a relay that
# overload.test.mjs opens and shuts (the module's real 503s); see below.
#
# Each node test is one test here (skips included); node's spec output and
# its diagnostics (the page weight) are notes (prove -v shows them).
# Skipped as a whole without chromium, node_modules/ or the test
# environment of scripts/test.sh.

use strict;
use warnings;
use File::Temp ();
use IO::Socket::INET ();
use POSIX ();
use Test::More;
use Time::HiRes ();

my $root;
BEGIN {
    $root = $ENV{XYZ_ROOT};
    plan skip_all => 'XYZ_ROOT is not set (run through make test)' unless $root;
    for my $v (qw(TEST_NGINX_BINARY TEST_NGINX_LOAD_MODULES TEST_NGINX_PG_DSN
                  TEST_NGINX_SQS_ENDPOINT TEST_NGINX_SQS_EMAIL_QUEUE
                  TEST_NGINX_SQS_CRM_QUEUE TEST_NGINX_SQS_EMAIL_DLQ
                  TEST_NGINX_SQS_CRM_DLQ TEST_NGINX_SMTP_URL
                  TEST_NGINX_MAILDEV_API TEST_NGINX_CRM_URL)) {
        plan skip_all => "$v is not set (run through make test)" unless $ENV{$v};
    }
    my $chromium = $ENV{XYZ_CHROMIUM} || '/usr/bin/chromium';
    plan skip_all => "no $chromium (apt-get install chromium; scripts/deps.sh)"
        unless -x $chromium;
    for my $m (qw(playwright-core axe-core)) {
        plan skip_all => "node_modules/$m is missing (scripts/deps.sh)"
            unless -d "$root/node_modules/$m";
    }
    my $major = `node -p 'process.versions.node.split(".")[0]' 2>/dev/null` // '';
    chomp $major;
    plan skip_all => 'Node.js 20 or later is needed'
        unless $major =~ /^\d+$/ && $major >= 20;
}

use XyzSqs;
use XyzTest ();

my ($module) = split ' ', $ENV{TEST_NGINX_LOAD_MODULES};
my $nginx = $ENV{TEST_NGINX_BINARY};

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1)
        or die "no free port: $!\n";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    return scalar <$fh>;
}

# ---- an nginx of our own, with conf/dev.conf ---------------------------------------

my $prefix = File::Temp::tempdir('xyz-browser-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $prefix;    # the workers (www-data) write temp files under it
my $port = free_port();
my $base = "http://127.0.0.1:$port";

# a session key of this run only
{
    open my $fh, '>', "$prefix/jwt.key" or die "$prefix/jwt.key: $!";
    open my $rnd, '<:raw', '/dev/urandom' or die "/dev/urandom: $!";
    read $rnd, my $bytes, 48;
    print $fh unpack('H*', $bytes), "\n";
    close $fh;
}

(my $mail_web = $ENV{TEST_NGINX_MAILDEV_API}) =~ s{/api/?\z}{/};
my %render_env = (
    XYZ_PREFIX          => $prefix,
    XYZ_PORT            => $port,
    XYZ_ADDR            => '127.0.0.1',
    XYZ_MODULE          => $module,
    XYZ_PG_DSN          => $ENV{TEST_NGINX_PG_DSN},
    XYZ_JWT_KEY         => "$prefix/jwt.key",
    XYZ_SQS_ENDPOINT    => $ENV{TEST_NGINX_SQS_ENDPOINT},
    XYZ_SQS_EMAIL_QUEUE => $ENV{TEST_NGINX_SQS_EMAIL_QUEUE},
    XYZ_SQS_CRM_QUEUE   => $ENV{TEST_NGINX_SQS_CRM_QUEUE},
    XYZ_SQS_EMAIL_DLQ   => $ENV{TEST_NGINX_SQS_EMAIL_DLQ},
    XYZ_SQS_CRM_DLQ     => $ENV{TEST_NGINX_SQS_CRM_DLQ},
    XYZ_SMTP_URL        => $ENV{TEST_NGINX_SMTP_URL},
    XYZ_MAIL_WEB        => $mail_web,
    XYZ_CRM_URL         => $ENV{TEST_NGINX_CRM_URL},
);
{
    local @ENV{keys %render_env} = values %render_env;
    my $out = `$root/scripts/render-conf.sh`;
    is($?, 0, 'conf/dev.conf renders') or BAIL_OUT('render-conf.sh failed');
}

# A second nginx, for t/browser/overload.test.mjs: conf/dev.conf again, but
# its database is reached through a TCP relay that the suite runs on
# $pg_relay_port and opens and shuts, so that the module itself answers 503
# (Retry-After) while "PostgreSQL" is down and recovers when it is back.
# It reconnects quickly (xyz_pg_backoff 100ms 500ms) and runs no dispatcher
# (the first nginx sends the emails). Only with a key=value DSN on TCP.
my ($prefix2, $port2, $pg_relay_port, $pg_target);
if ($ENV{TEST_NGINX_PG_DSN} =~ /\bport=(\d+)/) {
    my $pg_port = $1;
    my $pg_host = $ENV{TEST_NGINX_PG_DSN} =~ /\bhost=(\S+)/ ? $1 : '127.0.0.1';
    $pg_target = "$pg_host:$pg_port";
    $pg_relay_port = free_port();
    $port2 = free_port();
    $prefix2 = File::Temp::tempdir('xyz-browser2-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    chmod 0755, $prefix2;
    (my $dsn2 = $ENV{TEST_NGINX_PG_DSN}) =~ s/\bport=\d+/port=$pg_relay_port/;
    $dsn2 =~ s/\bhost=\S+/host=127.0.0.1/;
    mkdir "$prefix2/template" or die "$prefix2/template: $!";
    my $conf = slurp("$root/conf/dev.conf");
    $conf =~ s/^\s*xyz_dispatch\b[^;]*;\n//m or die "no xyz_dispatch in dev.conf\n";
    # the feedback consumer is part of the dispatcher
    $conf =~ s/^\s*xyz_ses_feedback_queue\b[^;]*;\n//m;
    $conf =~ s/^(\s*)(xyz_pg_pool_size\b[^;]*;\n)/$1$2$1xyz_pg_backoff 100ms 500ms;\n/m
        or die "no xyz_pg_pool_size in dev.conf\n";
    for (['dev.conf', $conf],
         ['security-headers.conf', slurp("$root/conf/security-headers.conf")]) {
        open my $fh, '>', "$prefix2/template/$_->[0]" or die "$_->[0]: $!";
        print $fh $_->[1];
        close $fh;
    }
    local @ENV{keys %render_env} = values %render_env;
    local $ENV{XYZ_PREFIX} = $prefix2;
    local $ENV{XYZ_PORT} = $port2;
    local $ENV{XYZ_PG_DSN} = $dsn2;
    local $ENV{XYZ_CONF_TEMPLATE} = "$prefix2/template/dev.conf";
    my $out = `$root/scripts/render-conf.sh`;
    is($?, 0, 'the second configuration (database through a relay) renders')
        or BAIL_OUT('render-conf.sh failed');
}

# Messages left in the queues by earlier suites would only delay the emails
# of this one: the dispatcher of this nginx starts on empty queues.
sqs_purge($ENV{$_}) for qw(TEST_NGINX_SQS_EMAIL_QUEUE TEST_NGINX_SQS_CRM_QUEUE
                           TEST_NGINX_SQS_EMAIL_DLQ TEST_NGINX_SQS_CRM_DLQ);

my %nginx_pids;

sub start_nginx {
    my ($pfx) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', "$pfx/logs/stderr.log" or POSIX::_exit(1);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(1);
        { exec $nginx, '-p', "$pfx/", '-c', 'conf/nginx.conf' };
        POSIX::_exit(1);
    }
    $nginx_pids{$pfx} = $pid;
    return $pid;
}

sub stop_nginx {
    for my $pfx (keys %nginx_pids) {
        my $pid = delete $nginx_pids{$pfx} or next;
        kill 'QUIT', $pid;
        for (1 .. 100) {
            last if waitpid($pid, POSIX::WNOHANG()) != 0;
            Time::HiRes::sleep(0.1);
        }
        if (kill 0, $pid) {
            kill 'TERM', $pid;
            waitpid $pid, 0;
        }
    }
}
END { stop_nginx() }

sub wait_up {
    my ($pid, $p) = @_;
    for (1 .. 100) {
        return 0 if waitpid($pid, POSIX::WNOHANG()) != 0;
        return 1 if IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $p,
                                          Timeout => 1);
        Time::HiRes::sleep(0.1);
    }
    return 0;
}

if (!ok(wait_up(start_nginx($prefix), $port), "nginx with conf/dev.conf answers on $base")) {
    diag(slurp("$prefix/logs/stderr.log"));
    BAIL_OUT('nginx did not start');
}
my %overload_env;
if ($prefix2) {
    if (!ok(wait_up(start_nginx($prefix2), $port2),
            "the second nginx answers on port $port2")) {
        diag(slurp("$prefix2/logs/stderr.log"));
        BAIL_OUT('the second nginx did not start');
    }
    %overload_env = (XYZ_OVERLOAD_URL      => "http://127.0.0.1:$port2",
                     XYZ_OVERLOAD_PG_RELAY => $pg_relay_port,
                     XYZ_OVERLOAD_PG       => $pg_target);
}

# ---- the browser suites ---------------------------------------------------------------

# XYZ_BROWSER_ONLY=overload,forms runs only the suite files named so.
my @files = sort glob("$root/t/browser/*.test.mjs");
if (my $only = $ENV{XYZ_BROWSER_ONLY}) {
    my %want = map { $_ => 1 } split /[\s,]+/, $only;
    @files = grep { m{/([^/]+)\.test\.mjs\z} && $want{$1} } @files;
}
ok(@files >= 1, scalar(@files) . ' browser suite files');

my $tap = "$prefix/results.tap";
my @cmd = ('node', '--test', '--test-concurrency=1',
           '--test-reporter=spec', '--test-reporter-destination=stdout',
           '--test-reporter=tap', "--test-reporter-destination=$tap", @files);
{
    local $ENV{XYZ_BASE_URL} = $base;
    local @ENV{keys %overload_env} = values %overload_env;
    local $ENV{FORCE_COLOR} = '0';
    local $ENV{NO_COLOR} = '1';
    open my $out, '-|', @cmd or die "cannot run node: $!";
    while (my $line = <$out>) {
        chomp $line;
        note($line);
    }
    close $out;
}
my $node_status = $? >> 8;

# One Test::More result per node test (suites only group them). Node's TAP:
# "ok N - name", optionally "# SKIP reason", then a YAML block whose
# "type: 'suite'" marks a suite.
my @lines = split /\n/, slurp($tap);
my ($leaves, $failed) = (0, 0);
for (my $i = 0; $i < @lines; $i++) {
    my ($indent, $not, $name, $dir, $reason) = $lines[$i] =~
        /^(\s*)(not )?ok \d+ - (.*?)(?: # (SKIP|TODO)\b ?(.*))?$/ or next;
    my @yaml;
    if ($i + 1 < @lines && $lines[$i + 1] =~ /^\s*---$/) {
        for ($i += 2; $i < @lines && $lines[$i] !~ /^\s*\.\.\.$/; $i++) {
            push @yaml, $lines[$i];
        }
    }
    next if grep { /^\s*type: 'suite'/ } @yaml;
    $name =~ s/\\#/#/g;
    $leaves++;
    if (defined $dir && $dir eq 'SKIP') {
        Test::More->builder->skip("browser: $name: " . ($reason || 'skipped'));
        next;
    }
    ok(!$not, "browser: $name") or do {
        $failed++;
        diag(join "\n", grep { !/^\s*(duration_ms|type):/ } @yaml);
    };
}
ok($leaves > 0, "$leaves browser tests reported");
is($node_status, 0, 'node --test exited 0') or diag("node exit status $node_status");

stop_nginx();
for my $pfx (grep { defined } $prefix, $prefix2) {
    my $log = slurp("$pfx/logs/error.log");
    unlike($log, qr/exited on signal|\[emerg\]/, "no worker crashed ($pfx)");
    XyzTest::check_sanitizer_reports("$pfx/logs/sanitizer", "nginx in $pfx");
}

done_testing();
