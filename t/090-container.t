# The container image, built (scripts/image.sh) and run with podman on the
# host network against the local stand-ins: a web and a dispatcher
# container carry a visitor from registration to the CRM record; a
# dispatcher stopped with SIGQUIT in the middle of a backlog and started
# again loses nothing; the configuration follows the CPU quota.

use strict;
use warnings;

use Test::More;
use File::Temp ();
use XyzTest;
use XyzMail;
use XyzCrm;

BEGIN {
    if (!$ENV{TEST_NGINX_SQS_ENDPOINT} || !$ENV{TEST_NGINX_SMTP_URL}) {
        plan skip_all => 'needs the local stand-ins (make test)';
    }
}

use XyzPodman;

BEGIN {
    my $why = podman_skip_reason();
    plan skip_all => "container suite skipped: $why" if $why;
}

my $run = run_id();
my $image = image_build();
my @started;

# this suite's containers (label xyz-test=t090), from this run or from
# an earlier run that was interrupted: they would consume the queues
sub remove_ours {
    my $ids = podman('ps', '-a', '-q', '--filter', 'label=xyz-test=t090');
    podman('rm', '-f', '--ignore', '-t', '0', split ' ', $ids) if $ids;
}
remove_ours();
END { local $?; remove_ours() }

my $secrets = File::Temp->newdir("/tmp/xyz-t090-XXXXXX");
chmod 0755, "$secrets";
{
    open my $fh, '>', "$secrets/jwt" or die $!;
    print $fh "container-test-signing-key-" . ('k' x 40) . "\n";
    close $fh;
    chmod 0644, "$secrets/jwt";   # read by the image's unprivileged user
}

# runs a container of the image in the background; returns its name
sub start {
    my ($role, $port, %env) = @_;
    my $name = "xyz-t090-$role-$$-" . scalar @started;
    my @env = map { ('-e', "$_=$env{$_}") } sort keys %env;
    podman_ok('run', '-d', '--name', $name, '--label', 'xyz-test=t090',
        '--network', 'host',
        '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096',
        '-v', "$secrets:/run/secrets/xyz:ro", @env, $image);
    push @started, $name;
    return $name;
}

sub logs { scalar podman('logs', $_[0]) }

my $web_port = free_port();
my $disp_port = free_port();
my $web = "http://127.0.0.1:$web_port";

my %common = container_env(
    XYZ_PUBLIC_URL => $web,
    XYZ_JWT_KEY => '/run/secrets/xyz/jwt',
    # a short long poll, so that a graceful stop is quick
    XYZ_DISPATCH_POLL => '2s',
    # a message a stopped dispatcher had received but not handled comes
    # back when its lease ends: keep that short
    XYZ_DISPATCH_LEASE => '10s',
);

# --- the web role, given one CPU by its cgroup quota
my $w = start('web', $web_port, %common, XYZ_ROLE => 'web', XYZ_PORT => $web_port);
ok(wait_http("$web/healthz", 200, 30), 'web: /healthz answers 200')
    or diag logs($w);
ok(wait_http("$web/readyz", 200, 30), 'web: /readyz answers 200 (database and credentials)')
    or diag logs($w);

my $conf = podman('exec', $w, 'cat', '/var/lib/xyz/conf/nginx.conf');
like($conf, qr/^\s*xyz_cookie_secure on;/m, 'web: production configuration, secure cookies');
unlike($conf, qr/xyz_dispatch /, 'web: no consumers in the web role');
is(podman('exec', $w, 'id', '-u'), '10001', 'web: runs as an unprivileged user');
my ($ps) = podman('top', $w, 'user', 'args');
unlike($ps, qr/^root\s/m, 'web: no process of the container runs as root') or diag $ps;

# --- the worker count follows the CPU quota, not the host's CPUs
{
    my ($out, $rc) = podman('run', '--rm', '--network', 'host', '--cpus', '1',
        '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096',
        '-v', "$secrets:/run/secrets/xyz:ro",
        (map { ('-e', "$_=$common{$_}") } sort keys %common),
        '-e', 'XYZ_ROLE=web', $image, 'render');
    is($rc, 0, 'render with --cpus 1') or diag $out;
    like($out, qr/^worker_processes 1;/m, '--cpus 1: one worker, whatever the host has');
    like($out, qr/^thread_pool xyz_hash threads=1 max_queue=64;/m,
         '--cpus 1: one hashing thread, a queue sized from it');
}

# cgroup v2 (cpu.max) and v1 (cfs quota and period) files, and no quota:
# the entrypoint's reading, on files made here (XYZ_CGROUP_ROOT)
{
    my %cases = (
        'v2 quota 1.5 CPUs' => [ { 'cpu.max' => "150000 100000\n" }, 2 ],
        'v2 no quota' => [ { 'cpu.max' => "max 100000\n" }, 'nproc' ],
        'v1 quota 0.5 CPU' => [ { 'cpu/cpu.cfs_quota_us' => "50000\n",
                                  'cpu/cpu.cfs_period_us' => "100000\n" }, 1 ],
        'v1 no quota' => [ { 'cpu/cpu.cfs_quota_us' => "-1\n",
                             'cpu/cpu.cfs_period_us' => "100000\n" }, 'nproc' ],
    );
    my $nproc = podman('run', '--rm', '--ulimit', 'nofile=1024:1024',
                       '--ulimit', 'nproc=1024:1024', '--entrypoint', 'nproc', $image);
    for my $name (sort keys %cases) {
        my ($files, $want) = @{ $cases{$name} };
        $want = $nproc if $want eq 'nproc' || $want > $nproc;   # at most nproc
        my $cg = File::Temp->newdir("/tmp/xyz-t090-cg-XXXXXX");
        chmod 0755, "$cg";
        for my $f (keys %$files) {
            mkdir "$cg/cpu";
            chmod 0755, "$cg/cpu";
            open my $fh, '>', "$cg/$f" or die $!;
            print $fh $files->{$f};
            close $fh;
            chmod 0644, "$cg/$f";
        }
        my ($out) = podman('run', '--rm', '--network', 'host',
            '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096',
            '-v', "$secrets:/run/secrets/xyz:ro", '-v', "$cg:/fakecg:ro",
            (map { ('-e', "$_=$common{$_}") } sort keys %common),
            '-e', 'XYZ_ROLE=web', '-e', 'XYZ_CGROUP_ROOT=/fakecg', $image, 'render');
        like($out, qr/^worker_processes $want;/m, "cgroup $name: $want worker(s)")
            or diag $out;
    }
}

# --- the dispatcher role
my %disp = (%common, XYZ_ROLE => 'dispatcher', XYZ_PORT => $disp_port);
my $d = start('dispatcher', $disp_port, %disp);
ok(wait_http("http://127.0.0.1:$disp_port/readyz", 200, 30), 'dispatcher: /readyz answers 200')
    or diag logs($d);
is((http_json('GET', "http://127.0.0.1:$disp_port/api/register"))[0]{status}, 404,
   'dispatcher: serves no site');

# --- the journey: register, email, confirm, log in, CRM record
crm_reset();
my $email = "container-$run\@example.com";
my %j = journey($web, $email);
is($j{register}, 202, 'journey: registered');
ok($j{mail}, 'journey: the confirmation email arrived in the mail catcher');
ok($j{token}, 'journey: the email carries the confirmation link');
is($j{confirm}, 200, 'journey: confirmed');
is($j{login}, 200, 'journey: logged in');
is($j{me} && lc $j{me}{email}, lc $email, 'journey: the session names the user');
my @rec;
for (1 .. 100) {
    @rec = grep { $_->{key} eq lc $email } crm_records();
    last if @rec;
    select undef, undef, undef, 0.2;
}
is(scalar @rec, 1, 'journey: the CRM has the record, once');

# --- SIGQUIT the dispatcher in the middle of a backlog
podman_ok('rm', '-f', '-t', '0', $d);
my $n = 40;
my @addr = map { "backlog-$_-$run\@example.com" } 1 .. $n;
for my $a (@addr) {
    my ($res) = http_json('POST', "$web/api/register",
        { email => $a, password => 'correct horse battery staple', name => 'Bo' });
    $res->{status} == 202 or diag "register $a: $res->{status}";
}
# capped rates (5 emails/s, 5 CRM calls/s) make the backlog last seconds
my $d2 = start('dispatcher', $disp_port, %disp, XYZ_MAIL_RATE => 5, XYZ_CRM_RATE => 5);
my %mine = map { lc($_) => 1 } @addr;
my $mine_re = qr/^backlog-\d+-\Q$run\E\@example\.com$/;
my $crm_rows = sub {
    psql("SELECT count(*) FROM outbox WHERE kind = 'crm' AND "
         . "lower(payload->>'email') LIKE 'backlog-%-$run\@example.com'");
};
my $done = sub {
    (scalar grep { grep { $mine{$_} } mail_to($_) } mail_list())
    + (scalar grep { $_->{key} =~ $mine_re } crm_records());
};
for (1 .. 200) { last if $done->() >= 5; select undef, undef, undef, 0.1 }
my $before = $done->();
my $t0 = time;
podman_ok('kill', '--signal', 'QUIT', $d2);
my ($code) = podman('wait', $d2);
my $after = $done->();
my $total = $n + $crm_rows->();
diag "SIGQUIT after $before of $total deliveries (emails and CRM calls); "
     . "stopped in " . (time - $t0) . " s with $after done, exit code $code";
is($code, 0, 'dispatcher: SIGQUIT is a graceful stop (exit code 0)') or diag logs($d2);
cmp_ok($after, '<', $total, 'the stop came in the middle of the backlog');

my $d3 = start('dispatcher', $disp_port, %disp);
my @got = mail_wait(count => $n, timeout => 40,
                    match => sub { grep { $mine{$_} } mail_to($_[0]) });
is(scalar @got, $n, 'after the restart every email of the backlog arrived');
my %per;
$per{$_}++ for map { grep { $mine{$_} } mail_to($_) } mail_list();
is(scalar(grep { $per{$_} > 1 } keys %per), 0, 'and none twice');

# the CRM hears of a registration at registration or at confirmation,
# whatever the API does: every crm outbox row of these addresses is sent
my $crm_n = $crm_rows->();
my @crm;
for (1 .. 300) {
    @crm = grep { $_->{key} =~ $mine_re } crm_records();
    last if @crm >= $crm_n;
    select undef, undef, undef, 0.2;
}
is(scalar @crm, $crm_n, "the CRM has all $crm_n records of the backlog");
is(scalar(grep { ($_->{upserts} // 1) > 1 } @crm), 0, 'and none twice');

# --- any stop is graceful: SIGTERM (what Kubernetes sends) too
podman_ok('kill', '--signal', 'TERM', $w);
my ($wcode) = podman('wait', $w);
is($wcode, 0, 'web: SIGTERM becomes a graceful stop (exit code 0)') or diag logs($w);
like(logs($w), qr/gracefully shutting down/, 'web: nginx shut down gracefully');

done_testing();
