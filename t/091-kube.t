# The Kubernetes manifests (deploy/k8s/): every object of the base and of
# the local overlay, rendered, is valid against the Kubernetes schemas
# (npm kubernetes-models, offline); the renderer agrees with kubectl
# kustomize where kubectl exists; and the local overlay's Deployments,
# played by podman against the local stand-ins, register a user who gets
# the email.

use strict;
use warnings;

use Test::More;
use File::Temp ();
use JSON::PP ();
use XyzTest;
use XyzMail;

my $root = $ENV{XYZ_ROOT} or die "run through make test\n";
my @node = ('node', "$root/scripts/k8s.mjs");

sub run_cmd {
    my (@cmd) = @_;
    open my $fh, '-|', @cmd or die "@cmd: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($out, $? >> 8);
}

# --- offline: schemas
for my $dir ('deploy/k8s/base', 'deploy/k8s/overlays/local') {
    my ($out, $rc) = run_cmd(@node, 'validate', "$root/$dir");
    is($rc, 0, "$dir: every rendered object is valid against the Kubernetes schemas")
        or diag $out;
    my ($n) = $out =~ /^(\d+) passed, 0 failed$/m;
    cmp_ok($n // 0, '>=', 11, "$dir: $n objects checked");
}

{
    my $kinds = join ' ', sort map { /^ok - \S+ (\S+)/ ? $1 : () }
        split /\n/, (run_cmd(@node, 'validate', "$root/deploy/k8s/base"))[0];
    for my $k (qw(ConfigMap Deployment HorizontalPodAutoscaler Job NetworkPolicy
                  PodDisruptionBudget Service ServiceAccount)) {
        like($kinds, qr/\b$k\b/, "the base has a $k");
    }
}

# the validator can fail: a Deployment with a wrong type and a missing field
{
    my $dir = File::Temp->newdir();
    open my $fh, '>', "$dir/kustomization.yaml" or die $!;
    print $fh "resources:\n  - bad.yaml\n";
    close $fh;
    open $fh, '>', "$dir/bad.yaml" or die $!;
    print $fh "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad\n"
            . "spec:\n  replicas: two\n  template:\n    spec:\n      containers: []\n";
    close $fh;
    my ($out, $rc) = run_cmd(@node, 'validate', "$dir");
    is($rc, 1, 'an invalid Deployment is refused') or diag $out;
    like($out, qr/not ok - apps\/v1 Deployment bad/, 'and named');
}

SKIP: {
    my ($out, $rc) = run_cmd(@node, 'compare', "$root/deploy/k8s/overlays/local");
    skip 'kubectl kustomize is not available: rendered by scripts/k8s.mjs only', 2 if $rc == 2;
    is($rc, 0, 'overlays/local: scripts/k8s.mjs renders what kubectl kustomize renders') or diag $out;
    ($out, $rc) = run_cmd(@node, 'compare', "$root/deploy/k8s/base");
    is($rc, 0, 'base: the same as kubectl kustomize') or diag $out;
}

# --- podman kube play of the local overlay
SKIP: {
    skip 'needs the local stand-ins (make test)', 1
        unless $ENV{TEST_NGINX_SQS_ENDPOINT} && $ENV{TEST_NGINX_SMTP_URL};
    require XyzPodman;
    XyzPodman->import;
    my $why = podman_skip_reason();
    skip "kube play skipped: $why", 1 if $why;

    image_build();
    my $web_port = free_port();
    my %env = (
        XYZ_PG_DSN => $ENV{TEST_NGINX_PG_DSN},
        XYZ_WEB_PORT => $web_port,
        XYZ_DISPATCHER_PORT => free_port(),
        XYZ_SQS_ENDPOINT => $ENV{TEST_NGINX_SQS_ENDPOINT},
        XYZ_SQS_EMAIL_QUEUE => $ENV{TEST_NGINX_SQS_EMAIL_QUEUE},
        XYZ_SQS_EMAIL_DLQ => $ENV{TEST_NGINX_SQS_EMAIL_DLQ},
        XYZ_SQS_CRM_QUEUE => $ENV{TEST_NGINX_SQS_CRM_QUEUE},
        XYZ_SQS_CRM_DLQ => $ENV{TEST_NGINX_SQS_CRM_DLQ},
        XYZ_SMTP_URL => $ENV{TEST_NGINX_SMTP_URL},
        XYZ_CRM_URL => $ENV{TEST_NGINX_CRM_URL},
    );
    my $rendered = do {
        local @ENV{keys %env} = values %env;
        local $ENV{ENV} = 1;
        my ($out, $rc) = run_cmd(@node, 'render', "$root/deploy/k8s/overlays/local");
        die "render failed: $out\n" if $rc;
        $out;
    };

    # podman 4.3 plays Pods, Deployments and ConfigMaps; Secrets come from
    # its own secret store (a Secret's YAML as the secret's data, with
    # base64 data); Services, HPAs, PDBs, NetworkPolicies and Jobs are not
    # run (they are checked against the schemas above).
    my $tmp = File::Temp->newdir();
    my $src = "$tmp/rendered.yaml";
    { open my $fh, '>', $src or die $!; print $fh $rendered; close $fh; }
    my ($out, $rc) = run_cmd('node', "$root/t/lib/kube-split.mjs", $src, "$tmp");
    is($rc, 0, 'the rendered overlay splits into what podman plays') or diag $out;
    my $parts = JSON::PP->new->decode($out);

    for my $s (@{ $parts->{secrets} }) {
        podman('secret', 'rm', $s->{name});
        podman_ok('secret', 'create', $s->{name}, $s->{file});
    }
    my $play = $parts->{play};
    # the pods, and the volumes podman made for their ConfigMap and
    # emptyDir volumes, from an earlier run
    my $down = sub {
        my @r = podman('kube', 'down', $play);
        my @vols = grep { /^(secret-volume-xyz-|web-runtime$|dispatcher-runtime$)/ }
            split /\n/, scalar podman('volume', 'ls', '--format', '{{.Name}}');
        podman('volume', 'rm', '-f', @vols) if @vols;
        return @r;
    };
    $down->();
    my $t0 = time;
    ($out, $rc) = podman('kube', 'play', '--network', 'host', $play);
    is($rc, 0, 'podman kube play starts the Deployments of the local overlay') or diag $out;

    my $web = "http://127.0.0.1:$web_port";
    ok(wait_http("$web/readyz", 200, 60), 'the web pod is ready (/readyz)')
        or diag scalar podman('logs', 'xyz-web-pod-0-web');
    ok(wait_http("http://127.0.0.1:$env{XYZ_DISPATCHER_PORT}/readyz", 200, 60),
       'the dispatcher pod is ready (/readyz)')
        or diag scalar podman('logs', 'xyz-dispatcher-pod-0-dispatcher');
    diag "pods ready in " . (time - $t0) . " s";

    # the migration Job's container, run as a one-off with the Job's own
    # arguments and environment: the database is already migrated
    my $job = $parts->{job};
    my @jenv;
    for my $e (@{ $job->{env} }) {
        my $v = $e->{value} // $parts->{secret_values}{ $e->{valueFrom}{secretKeyRef}{name} }
                                                     { $e->{valueFrom}{secretKeyRef}{key} };
        push @jenv, '-e', "$e->{name}=$v";
    }
    ($out, $rc) = podman('run', '--rm', '--network', 'host', @jenv, $job->{image}, @{ $job->{args} });
    is($rc, 0, 'the migration Job\'s command runs') or diag $out;
    like($out, qr/migrate: up to date/, 'and finds the database up to date');

    my $email = "kube-" . run_id() . "\@example.com";
    my %j = journey($web, $email);
    is($j{register}, 202, 'a user registers through the played web pod');
    ok($j{mail}, 'the played dispatcher pod sent the confirmation email');
    is($j{login}, 200, 'the user confirms and logs in')
        or diag scalar podman('logs', 'xyz-dispatcher-pod-0-dispatcher');

    ($out, $rc) = $down->();
    is($rc, 0, 'podman kube down removes the pods') or diag $out;
    podman('secret', 'rm', $_->{name}) for @{ $parts->{secrets} };
}

done_testing();
