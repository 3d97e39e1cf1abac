package XyzCluster;

# Many instances of the image on one database, on loopback: web containers
# behind an nginx load balancer, dispatcher containers, the local stand-ins
# (PostgreSQL, SQS emulator, maildev, fake CRM). Registrations run through
# the balancer while one web and one dispatcher container are killed with
# SIGKILL and started again; then every committed registration must get
# its email once, every CRM outbox row its record once, and the CRM must
# never have seen more than the cap in any second. Used by
# `make bench-cluster` (bench/cluster.pl) and t/094-cluster.t.
#
#   run_cluster(users => N, webs => 3, dispatchers => 2, concurrency => 16,
#               kill => 1, cap => 20, baseline => N, tag => 'x')
#   returns a hash of figures (see the end of run_cluster)

use strict;
use warnings;

use Exporter 'import';
use File::Temp ();
use HTTP::Tiny ();
use POSIX ();
use Time::HiRes ();
use XyzTest;
use XyzMail;
use XyzCrm;
use XyzPodman;

our @EXPORT = qw(run_cluster cluster_cleanup);

my $root = $ENV{XYZ_ROOT} or die "XYZ_ROOT is not set\n";
my $LABEL = 'xyz-test=cluster';
my ($lb_pid, $lb_prefix);

sub cluster_cleanup {
    my $ids = podman('ps', '-a', '-q', '--filter', "label=$LABEL");
    podman('rm', '-f', '--ignore', '-t', '0', split ' ', $ids) if $ids;
    if ($lb_pid) {
        kill 'QUIT', $lb_pid;
        waitpid $lb_pid, 0;
        undef $lb_pid;
    }
}

# N registrations through $url with $c clients at once; on_progress(done)
# is called by the parent as results come in. Returns status => [email...]
sub load {
    my ($url, $emails, $c, $on_progress) = @_;
    my $dir = File::Temp->newdir();
    my @chunks;
    push @{ $chunks[$_ % $c] }, $emails->[$_] for 0 .. $#$emails;
    my @pids;
    for my $i (0 .. $#chunks) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $http = HTTP::Tiny->new(timeout => 30, keep_alive => 1);
            open my $out, '>', "$dir/$i" or POSIX::_exit(1);
            $out->autoflush(1);
            for my $e (@{ $chunks[$i] }) {
                my $res = $http->request('POST', "$url/api/register", {
                    headers => { 'Content-Type' => 'application/json' },
                    content => XyzTest::register_json(email => $e, name => 'Cluster') });
                print $out "$res->{status} $e\n";
            }
            close $out;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    my %left = map { $_ => 1 } @pids;
    while (%left) {
        for my $p (keys %left) {
            delete $left{$p} if waitpid($p, POSIX::WNOHANG()) > 0;
        }
        if ($on_progress) {
            my $n = 0;
            for my $i (0 .. $#chunks) {
                open my $fh, '<', "$dir/$i" or next;
                $n++ while <$fh>;
            }
            $on_progress->($n);
        }
        Time::HiRes::sleep(0.1);
    }
    my %by;
    for my $i (0 .. $#chunks) {
        open my $fh, '<', "$dir/$i" or next;
        while (<$fh>) {
            my ($s, $e) = split;
            push @{ $by{$s} }, $e;
        }
    }
    return \%by;
}

sub run_cluster {
    my (%o) = @_;
    my $users = $o{users} // 300;
    my $nweb = $o{webs} // 3;
    my $ndisp = $o{dispatchers} // 2;
    my $conc = $o{concurrency} // 16;
    my $cap = $o{cap} // 20;
    my $tag = ($o{tag} // 'cluster') . '-' . run_id();
    my %r = (users => $users, webs => $nweb, dispatchers => $ndisp, cap => $cap);

    cluster_cleanup();
    my $image = image_build();

    my $secrets = File::Temp->newdir("/tmp/xyz-cluster-XXXXXX");
    chmod 0755, "$secrets";
    {
        open my $fh, '>', "$secrets/jwt" or die $!;
        print $fh "cluster-signing-key-" . ('c' x 44) . "\n";
        close $fh;
        chmod 0644, "$secrets/jwt";
    }

    my $lb_port = free_port();
    my $lb = "http://127.0.0.1:$lb_port";
    my %env = container_env(
        XYZ_PUBLIC_URL => $lb,
        XYZ_JWT_KEY => '/run/secrets/xyz/jwt',
        XYZ_DISPATCH_POLL => '2s',
        XYZ_DISPATCH_LEASE => '10s',
        XYZ_CRM_RATE => $cap,
        # each instance one CPU's worth, as on a cluster
        XYZ_CPUS => 1,
    );
    my (@web, @disp);
    my $start = sub {
        my ($role, $i, $port) = @_;
        my $name = "xyz-cluster-$role-$i";
        podman_ok('run', '-d', '--name', $name, '--label', $LABEL, '--network', 'host',
            '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096',
            '-v', "$secrets:/run/secrets/xyz:ro",
            (map { ('-e', "$_=$env{$_}") } sort keys %env),
            '-e', "XYZ_ROLE=$role", '-e', "XYZ_PORT=$port", $image);
        return { name => $name, port => $port };
    };
    push @web, $start->('web', $_, free_port()) for 1 .. $nweb;
    push @disp, $start->('dispatcher', $_, free_port()) for 1 .. $ndisp;
    for my $c (@web, @disp) {
        wait_http("http://127.0.0.1:$c->{port}/readyz", 200, 60)
            or die "$c->{name} is not ready:\n" . podman('logs', $c->{name}) . "\n";
    }

    # the load balancer: plain nginx; a POST that reached a dead instance is
    # not retried (its outcome is unknown), a refused connection is
    $lb_prefix = File::Temp->newdir("/tmp/xyz-cluster-lb-XXXXXX");
    mkdir "$lb_prefix/logs";
    open my $cf, '>', "$lb_prefix/nginx.conf" or die $!;
    print $cf "daemon off;\nworker_processes 1;\npid $lb_prefix/nginx.pid;\n"
        . "error_log $lb_prefix/logs/error.log warn;\nevents { worker_connections 1024; }\n"
        . "http {\n  access_log off;\n  client_body_temp_path $lb_prefix/cb;\n"
        . "  proxy_temp_path $lb_prefix/pt;\n"
        . "  upstream web {\n" . join('', map { "    server 127.0.0.1:$_->{port} max_fails=1 fail_timeout=2s;\n" } @web)
        . "    keepalive 32;\n  }\n"
        . "  server {\n    listen 127.0.0.1:$lb_port;\n"
        . "    location / { proxy_pass http://web; proxy_http_version 1.1;\n"
        . "      proxy_set_header Connection \"\"; proxy_next_upstream error timeout; }\n  }\n}\n";
    close $cf;
    $lb_pid = fork // die;
    if (!$lb_pid) {
        { exec '/usr/sbin/nginx', '-p', "$lb_prefix/", '-c', "$lb_prefix/nginx.conf",
               '-e', "$lb_prefix/logs/error.log" };
        POSIX::_exit(127);
    }
    wait_http("$lb/healthz", 200, 10) or die "the load balancer does not answer\n";

    crm_reset();
    mail_clear();

    # a single instance first, for the ratio (registrations/s)
    if (my $b = $o{baseline}) {
        my @e = map { "single-$_-$tag\@example.com" } 1 .. $b;
        my $t0 = Time::HiRes::time();
        my $by = load("http://127.0.0.1:$web[0]{port}", \@e, $conc);
        $r{single_per_s} = scalar(@{ $by->{202} || [] }) / (Time::HiRes::time() - $t0);
        $t0 = Time::HiRes::time();
        @e = map { "lb-$_-$tag\@example.com" } 1 .. $b;
        $by = load($lb, \@e, $conc);
        $r{cluster_per_s} = scalar(@{ $by->{202} || [] }) / (Time::HiRes::time() - $t0);
    }

    # the run: SIGKILL one web and one dispatcher at 40 %, start them at 60 %
    my @emails = map { "run-$_-$tag\@example.com" } 1 .. $users;
    my ($killed, $restarted) = (0, 0);
    my $t0 = Time::HiRes::time();
    my $by = load($lb, \@emails, $conc, sub {
        my ($done) = @_;
        if ($o{kill} // 1) {
            if (!$killed && $done >= 0.4 * $users) {
                # deliveries claimed and not finished: the most that a
                # dispatcher killed now can leave as unknown outcomes
                $r{in_flight_at_kill} = psql("SELECT count(*) FROM deliveries "
                    . "WHERE state = 'sending' AND claimed_until > now()");
                podman('kill', '--signal', 'KILL', $web[-1]{name}, $disp[0]{name});
                $killed = $done;
            } elsif ($killed && !$restarted && $done >= 0.6 * $users) {
                podman('start', $web[-1]{name}, $disp[0]{name});
                $restarted = $done;
            }
        }
    });
    $r{load_seconds} = Time::HiRes::time() - $t0;
    podman('start', $web[-1]{name}, $disp[0]{name}) if $killed && !$restarted;
    $r{killed_at} = $killed;
    $r{accepted} = scalar @{ $by->{202} || [] };
    my @unknown = map { @{ $by->{$_} } } grep { $_ ne '202' } keys %$by;
    $r{unknown} = scalar @unknown;
    $r{statuses} = join ' ', map { "$_:" . scalar @{ $by->{$_} } } sort keys %$by;

    # what the database committed decides what must arrive
    my %committed = map { lc($_) => 1 } split /\n/, psql(
        "SELECT lower(email) FROM users WHERE email LIKE 'run-%-$tag\@example.com'");
    $r{committed} = scalar keys %committed;
    $r{accepted_not_committed} = scalar grep { !$committed{lc $_} } @{ $by->{202} || [] };
    my $crm_rows = psql("SELECT count(*) FROM outbox WHERE kind = 'crm' "
                        . "AND lower(payload->>'email') LIKE 'run-%-$tag\@example.com'");
    $r{crm_rows} = $crm_rows;

    my $deadline = time + ($o{drain_timeout} // 120);
    my (%mails, @recs);
    while (time < $deadline) {
        %mails = ();
        $mails{$_}++ for grep { $committed{$_} } map { mail_to($_) } mail_list();
        @recs = grep { $_->{key} =~ /^run-\d+-\Q$tag\E\@example\.com$/ } crm_records();
        last if keys %mails >= keys %committed && @recs >= $crm_rows;
        sleep 1;
    }
    $r{drain_seconds} = time - $t0 - $r{load_seconds};
    $r{emails} = scalar keys %mails;
    $r{emails_lost} = scalar grep { !$mails{$_} } keys %committed;
    my @twice = grep { $mails{$_} > 1 } keys %mails;
    $r{emails_twice} = scalar @twice;
    # a second email is an unknown outcome only if its delivery was claimed
    # again after a claim lapsed (the first claimer died while sending)
    $r{emails_twice_unexplained} = 0;
    if (@twice) {
        my $list = join ',', map { "'$_'" } @twice;
        my %att = map { split /\|/ } split /\n/, psql(
            "SELECT lower(o.payload->>'email'), max(d.attempts) FROM outbox o "
            . "JOIN deliveries d ON d.outbox_id = o.id WHERE o.kind = 'email' "
            . "AND lower(o.payload->>'email') IN ($list) GROUP BY 1");
        $r{emails_twice_unexplained} = scalar grep { ($att{$_} // 0) < 2 } @twice;
    }
    $r{crm_records} = scalar @recs;
    my @crm_twice = map { lc $_->{key} } grep { ($_->{upserts} // 1) > 1 } @recs;
    $r{crm_twice} = scalar @crm_twice;
    $r{crm_twice_unexplained} = 0;
    if (@crm_twice) {
        my $list = join ',', map { "'$_'" } @crm_twice;
        my %att = map { split /\|/ } split /\n/, psql(
            "SELECT lower(o.payload->>'email'), max(d.attempts) FROM outbox o "
            . "JOIN deliveries d ON d.outbox_id = o.id WHERE o.kind = 'crm' "
            . "AND lower(o.payload->>'email') IN ($list) GROUP BY 1");
        $r{crm_twice_unexplained} = scalar grep { ($att{$_} // 0) < 2 } @crm_twice;
    }
    # the busiest windows at the CRM, from its own call log: one second (the
    # cap), and five seconds (where the late stamping of a busy machine's
    # fake CRM cannot bunch calls enough to matter)
    my @t = sort { $a <=> $b } map { $_->{t_ms} } crm_calls(0);
    for my $w (1, 5) {
        my ($max, $j, $at) = (0, 0, 0);
        for my $i (0 .. $#t) {
            $j++ while $j < @t && $t[$j] < $t[$i] + 1000 * $w;
            ($max, $at) = ($j - $i, $t[$i]) if $j - $i > $max;
        }
        $r{"crm_max_calls_in_${w}s"} = $max;
        $r{"crm_busiest_${w}s_after_first_call_ms"} = @t ? $at - $t[0] : 0;
    }
    my $st = crm_stats();
    $r{crm_max_calls_in_any_second} = $st->{max_calls_in_any_second};
    $r{crm_429} = $st->{rejected_429};
    $r{registrations_per_s} = $r{accepted} / $r{load_seconds};

    cluster_cleanup();
    return %r;
}

1;
