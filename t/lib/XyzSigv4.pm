package XyzSigv4;

# A signature-checking proxy in front of the SQS emulator, which checks no
# signature itself.  Every request's AWS Signature Version 4 is worked out
# again from the known test secrets, from the request as it arrived (method,
# path, query, the headers it names in SignedHeaders, the body); a request
# whose signature does not match is refused with 403 and an SQS error
# (InvalidSignatureException), as SQS does; the others go on to the
# emulator, whose answer comes back.  Core Perl and Digest::SHA only.
#
#   sigv4_verifier_start(%secrets)   starts the proxy in a child process
#                                    (key id => secret) and returns its URL,
#                                    also in $ENV{TEST_NGINX_SIGV4_VERIFIER};
#                                    it stops when the suite's process ends
#   sigv4_check(%request)            the check alone: undef when the request
#                                    verifies, else why not
#
# Refusals are also printed on standard error, with the reason.

use strict;
use warnings;

use Exporter 'import';
use Digest::SHA qw(sha256_hex hmac_sha256 hmac_sha256_hex);
use HTTP::Tiny ();
use IO::Socket::INET ();
use POSIX ();
use Time::Local ();

our @EXPORT = qw(sigv4_verifier_start sigv4_check);

my ($pid, $owner);

# only the process that started it stops it, not one of its forks
END { kill 'TERM', $pid if $pid && $owner && $$ == $owner }

sub _enc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub _dec {
    my ($s) = @_;
    $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    return $s;
}

# %r: method, path (as on the request line), query, headers (array ref of
# [name, value] pairs as they arrived), body, secrets (hash ref), service,
# region; now (epoch seconds, for the allowed clock skew)
sub sigv4_check {
    my (%r) = @_;
    my %h;

    for my $p (@{ $r{headers} }) {
        push @{ $h{ lc $p->[0] } }, $p->[1];
    }

    my $auth = $h{authorization} or return 'no Authorization';
    return 'Authorization sent more than once' if @$auth > 1;

    my ($key, $day, $region, $service, $signed, $sig) = $auth->[0] =~ m{
        \A AWS4-HMAC-SHA256 \s Credential=([^/,]+)/(\d{8})/([^/,]+)/([^/,]+)
        /aws4_request, \s SignedHeaders=([a-z0-9;-]+), \s
        Signature=([0-9a-f]{64}) \z }x
        or return "malformed Authorization: $auth->[0]";

    my $secret = $r{secrets}{$key};
    return "unknown access key id $key" unless defined $secret;
    return "service $service, not $r{service}" if $service ne $r{service};
    return "region $region, not $r{region}" if $region ne $r{region};

    my $date = $h{'x-amz-date'} or return 'no X-Amz-Date';
    return 'X-Amz-Date sent more than once' if @$date > 1;
    $date = $date->[0];
    my @t = $date =~ /\A(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z\z/
        or return "malformed X-Amz-Date $date";
    return "X-Amz-Date $date is not of the credential's day $day"
        if substr($date, 0, 8) ne $day;
    my $when = eval { Time::Local::timegm($t[5], $t[4], $t[3], $t[2],
                                          $t[1] - 1, $t[0]) };
    return "X-Amz-Date $date is no time" unless defined $when;
    return "X-Amz-Date $date is more than 15 minutes off"
        if abs(($r{now} // time) - $when) > 900;

    my @names = split /;/, $signed;
    return "SignedHeaders not sorted: $signed"
        if join(';', sort @names) ne $signed;
    my %is_signed = map { $_ => 1 } @names;
    for my $need (qw(host x-amz-date)) {
        return "$need not signed" unless $is_signed{$need};
    }
    for my $n (sort keys %h) {
        return "$n sent but not signed"
            if $n =~ /\Ax-amz-/ && !$is_signed{$n};
    }

    my $canon_headers = '';
    for my $n (@names) {
        my $v = $h{$n} or return "$n signed but not sent";
        $canon_headers .= "$n:" . join(',', map {
            my $x = $_;
            $x =~ s/\A\s+|\s+\z//g;
            $x =~ s/\s+/ /g;
            $x;
        } @$v) . "\n";
    }

    my $path = $r{path} eq '' ? '/' : $r{path};
    my $canon_path = join '/', map { _enc($_) } split m{/}, $path, -1;

    my @q = map {
        my ($k, $v) = split /=/, $_, 2;
        [ _enc(_dec($k)), _enc(_dec($v // '')) ];
    } grep { length } split /&/, $r{query} // '';
    my $canon_query = join '&', map { "$_->[0]=$_->[1]" }
                      sort { $a->[0] cmp $b->[0] || $a->[1] cmp $b->[1] } @q;

    my $body = $r{body} // '';
    my $payload = sha256_hex($body);
    if ($h{'x-amz-content-sha256'}) {
        return 'X-Amz-Content-Sha256 is not the body\'s'
            if $h{'x-amz-content-sha256'}[0] ne $payload;
    }

    my $creq = join "\n", $r{method}, $canon_path, $canon_query,
                          $canon_headers, $signed, $payload;
    my $scope = "$day/$region/$service/aws4_request";
    my $sts = join "\n", 'AWS4-HMAC-SHA256', $date, $scope, sha256_hex($creq);

    my $k = hmac_sha256($day, "AWS4$secret");
    $k = hmac_sha256($region, $k);
    $k = hmac_sha256($service, $k);
    $k = hmac_sha256('aws4_request', $k);
    my $want = hmac_sha256_hex($sts, $k);

    return undef if $want eq $sig;

    (my $shown = $creq) =~ s/\n/\\n/g;
    return "signature does not match (canonical request: $shown)";
}

sub _reply {
    my ($c, $status, $reason, $type, $body) = @_;
    print $c "HTTP/1.1 $status $reason\r\n",
             "Content-Type: $type\r\n",
             'Content-Length: ', length($body), "\r\n",
             "Connection: keep-alive\r\n\r\n", $body;
}

# one connection, its requests one after another
sub _serve {
    my ($c, $upstream, $secrets, $region) = @_;
    my $http = HTTP::Tiny->new(timeout => 30, keep_alive => 0);

    binmode $c;
    $c->autoflush(1);

    for (;;) {
        my $line = <$c>;
        return unless defined $line;
        $line =~ s/\r?\n\z//;
        next if $line eq '';
        my ($method, $target) = $line =~ /\A(\S+) (\S+) HTTP\/1\.[01]\z/
            or return;

        my @headers;
        while (defined(my $l = <$c>)) {
            $l =~ s/\r?\n\z//;
            last if $l eq '';
            my ($n, $v) = $l =~ /\A([^:\s]+):[ \t]*(.*?)[ \t]*\z/ or return;
            push @headers, [ $n, $v ];
        }

        my ($len) = map { $_->[1] } grep { lc $_->[0] eq 'content-length' }
                    @headers;
        if (grep { lc $_->[0] eq 'expect' && $_->[1] =~ /100-continue/i }
            @headers)
        {
            print $c "HTTP/1.1 100 Continue\r\n\r\n";
        }

        my $body = '';
        if ($len) {
            my $got = 0;
            while ($got < $len) {
                my $n = read($c, $body, $len - $got, $got);
                return unless $n;
                $got += $n;
            }
        }

        my ($path, $query) = split /\?/, $target, 2;
        my $why = sigv4_check(method => $method, path => $path,
                              query => $query, headers => \@headers,
                              body => $body, secrets => $secrets,
                              service => 'sqs', region => $region);

        if (defined $why) {
            print STDERR "sigv4 verifier: refused $method $target: $why\n";
            (my $msg = $why) =~ s/(["\\])/\\$1/g;
            $msg =~ s/[\x00-\x1f]/ /g;
            _reply($c, 403, 'Forbidden', 'application/x-amz-json-1.0',
                   '{"__type":"com.amazonaws.sqs#InvalidSignatureException",'
                   . qq{"message":"$msg"\}});
            next;
        }

        my %fwd;
        for my $p (@headers) {
            next if lc($p->[0]) =~ /\A(?:host|content-length|connection)\z/;
            $fwd{ $p->[0] } = $p->[1];
        }

        my $res = $http->request($method, $upstream . $target,
                                 { headers => \%fwd, content => $body });

        if ($res->{status} == 599) {
            _reply($c, 502, 'Bad Gateway', 'text/plain',
                   "the SQS emulator does not answer\n");
            next;
        }

        _reply($c, $res->{status}, $res->{reason},
               $res->{headers}{'content-type'} // 'application/json',
               $res->{content} // '');
    }
}

sub sigv4_verifier_start {
    my (%secrets) = @_;
    my $region = delete $secrets{_region} // 'us-east-1';
    my $upstream = $ENV{TEST_NGINX_SQS_ENDPOINT} or die 'no SQS endpoint';
    $upstream =~ s{/+\z}{};

    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 64, ReuseAddr => 1)
        or die "sigv4 verifier: cannot listen: $!";
    my $url = 'http://127.0.0.1:' . $s->sockport;

    $owner = $$;
    $pid = fork // die "fork: $!";

    if ($pid == 0) {
        $SIG{CHLD} = 'IGNORE';
        $SIG{TERM} = sub { kill 'TERM', -$$; POSIX::_exit(0) };
        POSIX::setpgid(0, 0);
        for (;;) {
            my $c = $s->accept or next;
            my $k = fork;
            if (defined $k && $k == 0) {
                $SIG{TERM} = 'DEFAULT';
                close $s;
                _serve($c, $upstream, \%secrets, $region);
                POSIX::_exit(0);
            }
            close $c;
        }
    }

    close $s;
    $ENV{TEST_NGINX_SIGV4_VERIFIER} = $url;

    return $url;
}

1;
