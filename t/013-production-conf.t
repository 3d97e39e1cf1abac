#!/usr/bin/env perl
# conf/production.conf.example passes "nginx -t" with the module, and keeps
# the sizing rules of the solution document: workers written out (not
# "auto"), one hashing thread per worker, and the longest wait of an
# accepted request below the load balancer's idle timeout.

use strict;
use warnings;
use FindBin;
use File::Temp qw(tempdir);
use Test::More;

my $root = "$FindBin::Bin/..";
my $example = "$root/conf/production.conf.example";
my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $module = $ENV{TEST_NGINX_LOAD_MODULES} || "$root/build/ngx_xyz_module.so";

sub slurp {
    open my $fh, '<', $_[0] or die "$_[0]: $!";
    local $/;
    return scalar <$fh>;
}

sub seconds {
    my ($v) = @_;
    return $1 / 1000 if $v =~ /^(\d+)ms$/;
    return $1 * 60 if $v =~ /^(\d+)m$/;
    return $1 if $v =~ /^(\d+)s?$/;
    die "cannot read the time \"$v\"";
}

my $conf = slurp($example);
my ($alb_idle) = slurp("$root/deploy/terraform/alb.tf")
    =~ /^\s*idle_timeout\s*=\s*(\d+)/m;
ok($alb_idle, "the load balancer's idle timeout: ${\ ($alb_idle // '?') } s");

like($conf, qr/^worker_processes\s+\d+;/m,
     'worker_processes is a number (the task\'s vCPUs), not auto');
like($conf, qr/^thread_pool\s+xyz_hash\s+threads=1\b/m,
     'one hashing thread per worker');

my ($keepalive) = $conf =~ /^\s*keepalive_timeout\s+(\S+?);/m;
cmp_ok(seconds($keepalive), '>', $alb_idle,
       'keepalive_timeout is longer than the load balancer\'s idle timeout');

my ($hash_wait) = $conf =~ /^\s*xyz_hash_queue\b[^;]*\bwait=(\S+?)[\s;]/m;
my ($pg_wait) = $conf =~ /^\s*xyz_pg_queue_timeout\s+(\S+?);/m;
my ($query) = $conf =~ /^\s*xyz_pg_query_timeout\s+(\S+?);/m;
my ($m, $t) = $conf =~ /^\s*xyz_argon2id\s+m=(\d+)\s+t=(\d+)/m;
# one hash at these parameters: about 16 ms per core measured; allow 1 s
my $longest = seconds($hash_wait) + 1 + seconds($pg_wait) + seconds($query);
cmp_ok($longest, '<', $alb_idle,
       "the longest accepted wait ($hash_wait + a hash + $pg_wait + $query)"
       . ' is below the load balancer\'s idle timeout');
is("$m $t", '19456 2', 'the OWASP Argon2id parameters');

SKIP: {
    skip "no module at $module (scripts/build.sh)", 2 unless -f $module;
    skip "no nginx at $nginx", 2 unless -x $nginx;

    # The example as operators copy it: only the paths that point into a
    # real system (module, pid, logs, the session key) move into a
    # temporary prefix; the includes it names sit next to it there.
    my $dir = tempdir(CLEANUP => 1);
    mkdir "$dir/logs";
    symlink("$root/conf/$_", "$dir/$_") or die $!
        for qw(security-headers.conf passwords templates);
    open my $key, '>', "$dir/jwt.key" or die $!;
    print $key 'k' x 48, "\n";
    close $key;

    my $r = $conf;
    $r =~ s{^load_module\s+\S+;}{load_module $module;}m;
    $r =~ s{^user\s+\S+;}{}m if $> != 0;
    $r =~ s{^pid\s+\S+;}{pid $dir/nginx.pid;}m;
    $r =~ s{^error_log\s+\S+}{error_log $dir/logs/error.log}m;
    $r =~ s{access_log\s+/var/log/nginx/access.log}{access_log $dir/logs/access.log};
    $r =~ s{(xyz_jwt_key\s+\S+\s+)\S+;}{$1$dir/jwt.key;};
    open my $fh, '>', "$dir/nginx.conf" or die $!;
    print $fh $r;
    close $fh;

    # nginx -t returns from main() with the configuration still allocated:
    # under the sanitizer build that is no leak worth a report
    local $ENV{ASAN_OPTIONS} = join ':', grep { $_ ne '' }
        $ENV{ASAN_OPTIONS} // '', 'detect_leaks=0';
    my $out = `'$nginx' -t -p '$dir/' -c '$dir/nginx.conf' 2>&1`;
    is($?, 0, 'nginx -t accepts the example') or diag($out);
    like($out, qr/test is successful/, 'nginx says the test is successful');
}

done_testing();
