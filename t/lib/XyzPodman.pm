package XyzPodman;

# Helpers for the suites that build and run the container image with
# podman (t/090-container.t, t/091-kube.t): whether podman can run here,
# building the image (scripts/image.sh), running containers on the host
# network against the local stand-ins, and the sign-up journey.
#
#   podman_skip_reason()   undef when podman + runc can run containers
#                          here, else why not (the suite skips with it)
#   podman(@args)          runs podman --runtime runc @args; returns its
#                          output (stdout and stderr), and the exit code
#                          in list context
#   podman_ok(@args)       the same, dying when podman fails
#   image_build()          scripts/image.sh; returns the image name
#   free_port()            a free TCP port on 127.0.0.1
#   wait_http($url, $status, $secs)  polls until GET $url answers $status
#   container_env(%over)   the environment of a container against the
#                          stand-ins (XYZ_* and AWS_* as the image wants)
#   journey($base, $email) register -> email -> confirm -> log in; returns
#                          a hash of what each step gave (see below)

use strict;
use warnings;

use Exporter 'import';
use HTTP::Tiny ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use XyzMail;

our @EXPORT = qw(
    podman_skip_reason podman podman_ok image_build free_port wait_http
    container_env journey http_json podman_conf
);

my $root = $ENV{XYZ_ROOT} or die "XYZ_ROOT is not set; run through make test\n";
our $IMAGE = $ENV{XYZ_IMAGE} || 'localhost/xyz-signup:latest';
my @PODMAN = ('podman', '--runtime', 'runc');

# podman's containers.conf for this kind of host: explicit limits (the
# defaults cannot be set here) and runc, also for kube play's infra container
sub podman_conf {
    my $f = "$root/.run/image/containers.conf";
    if (!-f $f) {
        mkdir "$root/.run"; mkdir "$root/.run/image";
        open my $fh, '>', $f or die "$f: $!";
        print $fh "[containers]\n"
            . "default_ulimits = [\"nofile=20000:20000\", \"nproc=4096:4096\"]\n"
            . "[engine]\nruntime = \"runc\"\n";
        close $fh;
    }
    return $f;
}

# Test::More's diag in a suite, plain stderr elsewhere (bench/cluster.pl)
sub _diag {
    if (defined &Test::More::diag) {
        Test::More::diag(@_);
    } else {
        print STDERR map { "# $_\n" } @_;
    }
}

sub podman_skip_reason {
    for my $tool (qw(podman runc debootstrap)) {
        return "$tool is not installed (scripts/deps.sh installs it as root)"
            unless grep { -x "$_/$tool" } split /:/, $ENV{PATH};
    }
    return "podman needs root here (rootless podman is not set up)" if $> != 0;
    my $out = `podman --runtime runc info --format '{{.Host.OCIRuntime.Name}}' 2>&1`;
    return "podman cannot run here: $out" if $? != 0;
    return undef;
}

sub podman {
    my @args = @_;
    local $ENV{CONTAINERS_CONF} = podman_conf();
    # stderr too: the output is shown when a test fails
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>&', \*STDOUT or die $!;
        exec @PODMAN, @args or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    $out =~ s/\s+\z//;
    return wantarray ? ($out, $? >> 8) : $out;
}

sub podman_ok {
    my ($out, $rc) = podman(@_);
    die "podman @_ failed ($rc): $out\n" if $rc;
    return $out;
}

sub image_build {
    my $t0 = Time::HiRes::time();
    system("$root/scripts/image.sh") == 0 or die "scripts/image.sh failed\n";
    my $secs = Time::HiRes::time() - $t0;
    _diag(sprintf "image %s built in %.0f s, %.1f MB", $IMAGE,
        $secs, podman('image', 'inspect', '--format', '{{.Size}}', $IMAGE) / 1e6);
    return $IMAGE;
}

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1) or die $!;
    return $s->sockport;
}

sub wait_http {
    my ($url, $want, $secs) = @_;
    my $http = HTTP::Tiny->new(timeout => 2);
    my $deadline = Time::HiRes::time() + ($secs // 30);
    my $res;
    while (Time::HiRes::time() < $deadline) {
        $res = $http->get($url);
        return 1 if $res->{status} == $want;
        Time::HiRes::sleep(0.2);
    }
    _diag("$url: last answer $res->{status} $res->{content}") if $res;
    return 0;
}

sub container_env {
    my (%over) = @_;
    my %e = (
        XYZ_ADDR => '127.0.0.1',
        XYZ_PG_DSN => $ENV{TEST_NGINX_PG_DSN},
        XYZ_SQS_ENDPOINT => $ENV{TEST_NGINX_SQS_ENDPOINT},
        XYZ_SQS_EMAIL_QUEUE => $ENV{TEST_NGINX_SQS_EMAIL_QUEUE},
        XYZ_SQS_CRM_QUEUE => $ENV{TEST_NGINX_SQS_CRM_QUEUE},
        XYZ_SQS_EMAIL_DLQ => $ENV{TEST_NGINX_SQS_EMAIL_DLQ},
        XYZ_SQS_CRM_DLQ => $ENV{TEST_NGINX_SQS_CRM_DLQ},
        XYZ_SMTP_URL => $ENV{TEST_NGINX_SMTP_URL},
        XYZ_MAIL_FROM => 'XYZ <no-reply@xyz.example>',
        XYZ_CRM_URL => $ENV{TEST_NGINX_CRM_URL},
        XYZ_ALLOW_HTTP => 1,
        # the suites' hashing cost: the path is the same, the CPU is spared
        XYZ_ARGON2ID => 'm=1024 t=1 p=1',
        XYZ_LOG_LEVEL => 'notice',
        # one test client registers many addresses: lift the per-address limits
        XYZ_REGISTER_RATE => '1000r/s',
        XYZ_ACCOUNT_RATE => '1000r/s',
        AWS_ACCESS_KEY_ID => 'test',
        AWS_SECRET_ACCESS_KEY => 'test',
        AWS_REGION => 'us-east-1',
        %over,
    );
    delete $e{$_} for grep { !defined $e{$_} } keys %e;
    return %e;
}

sub http_json {
    my ($method, $url, $body, $headers) = @_;
    my %opt = (headers => { %{ $headers || {} } });
    if (defined $body) {
        $opt{headers}{'Content-Type'} = 'application/json';
        $opt{content} = JSON::PP->new->encode($body);
    }
    my $res = HTTP::Tiny->new(timeout => 30, max_redirect => 0)
        ->request($method, $url, \%opt);
    my $json = eval { JSON::PP->new->utf8->decode($res->{content}) };
    return ($res, $json);
}

# The sign-up journey as a visitor's programs see it, against the web
# role at $base (http://127.0.0.1:PORT), for the address $email. Kept in
# this one function so that a change of the account API (how the emailed
# token is confirmed, when the CRM hears of the address) is met here.
# Returns a hash: register (status), mail (the message or undef), token,
# confirm (status), login (status), cookie, me (decoded /api/me or undef).
sub journey {
    my ($base, $email, %opt) = @_;
    my %r;
    my ($res, $json) = http_json('POST', "$base/api/register",
        { email => $email, password => 'correct horse battery staple',
          name => 'Ana', locale => 'en' });
    $r{register} = $res->{status};

    my ($msg) = mail_wait(count => 1, timeout => $opt{timeout} // 30,
        match => sub { grep { lc($_) eq lc($email) } XyzMail::mail_to($_[0]) });
    $r{mail} = $msg;
    return %r unless $msg;

    # the link carries the token; the confirmation itself is a POST of it
    my $text = ($msg->{text} // '') . ($msg->{html} // '');
    ($r{token}) = $text =~ /[?#&]token=([A-Za-z0-9_\-]+)/;
    return %r unless $r{token};
    ($res) = http_json('POST', "$base/api/confirm", { token => $r{token} });
    $r{confirm} = $res->{status};

    ($res, $json) = http_json('POST', "$base/api/login",
        { email => $email, password => 'correct horse battery staple' });
    $r{login} = $res->{status};
    my $sc = $res->{headers}{'set-cookie'} // '';
    $sc = join ',', @$sc if ref $sc;
    # __Host-xyz_session: the image's configuration has secure cookies
    my $name;
    ($name, $r{cookie}) = $sc =~ /((?:__Host-)?xyz_session)=([^;]*)/;
    return %r unless $r{cookie};

    ($res, $json) = http_json('GET', "$base/api/me", undef,
        { Cookie => "$name=$r{cookie}" });
    $r{me} = $res->{status} == 200 ? $json : undef;
    return %r;
}

1;
