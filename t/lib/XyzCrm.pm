package XyzCrm;

# Helpers for suites that look into the project's fake CRM
# (scripts/fake-crm.mjs, started by scripts/crm.sh) through its admin API:
# counters, records, the call log, faults, the rate limit, the token, a stop
# and start.  Core Perl, HTTP::Tiny and JSON::PP only.
#
# The base URL is TEST_NGINX_CRM_URL (exported by scripts/test.sh,
# http://127.0.0.1:PORT, no trailing slash), or else what `scripts/crm.sh
# url` prints; the admin API is TEST_NGINX_CRM_ADMIN (<base>/_admin).
#
#   crm_url()           the base URL; the plain API is crm_url() . '/contacts'
#   crm_stats()         hash: calls, accepted, rejected_429, faults,
#                       unauthorized, bad_requests, records, repeats,
#                       max_calls_in_any_second, max_accepted_in_any_second,
#                       first_call_ms, last_call_ms, limit, token_required,
#                       fault, hung
#   crm_records()       list of records: id, email, key (lowercased), via
#                       ("contacts" or "batch"), fields (the last body or
#                       properties), upserts, created_ms, updated_ms
#   crm_calls($since)   list of calls (after sequence number $since): seq,
#                       t_ms, method, path, headers, idempotency_key,
#                       authorization, body, status, outcome ("accepted",
#                       "rate_limited", "unauthorized", "fault_5xx",
#                       "fault_4xx", "fault_429", "fault_hang",
#                       "bad_request", "not_found", "method_not_allowed")
#   crm_reset()         forgets records, calls, counters and the fault (ends
#                       hung calls); keeps the limit and the token
#   crm_fault(mode => "5xx"|"4xx"|"429"|"hang"|"none", count => N,
#             status => 503, retry_after => 1)
#                       the next `count` calls (every call when absent) get
#                       the fault; retry_after => undef sends no Retry-After,
#                       a value other than digits is sent as it is (a date)
#   crm_reject($re, $mode)  contacts whose address matches the regular
#                       expression $re are invalid: mode "400" (default)
#                       refuses a whole HubSpot batch, "207" answers
#                       multi-status; $re undef ends it
#   crm_limit($n)       calls admitted per sliding second
#   crm_token($t)       require "Authorization: Bearer $t" (undef: nothing)
#   crm_stop(), crm_start()   scripts/crm.sh stop / start (state is lost;
#                       the start uses CRM_LIMIT and CRM_TOKEN if set)
#   crm_client(%opt)    an HTTP::Tiny (keep-alive by default) that sets
#                       TCP_NODELAY: plain HTTP::Tiny writes a request's head
#                       and body apart, and the body then waits for the
#                       server's delayed ACK, about 40 ms a call — too slow to
#                       reach a rate limit

use strict;
use warnings;

use Exporter 'import';
use HTTP::Tiny ();
use JSON::PP ();

our @EXPORT = qw(
    crm_url crm_admin crm_stats crm_records crm_calls crm_reset crm_fault
    crm_limit crm_token crm_stop crm_start crm_client crm_reject
);

{
    package XyzCrm::Client;
    use Socket qw(IPPROTO_TCP TCP_NODELAY);
    our @ISA = ('HTTP::Tiny');

    sub _open_handle {
        my $self = shift;
        my $h = $self->SUPER::_open_handle(@_);
        setsockopt($h->{fh}, IPPROTO_TCP, TCP_NODELAY, 1);
        return $h;
    }
}

sub crm_client {
    my (%opt) = @_;
    return XyzCrm::Client->new(timeout => 10, keep_alive => 1, %opt);
}

my $json = JSON::PP->new->utf8->canonical->allow_nonref;
my $http = crm_client(keep_alive => 0);

sub _root {
    return $ENV{XYZ_ROOT} || die "XYZ_ROOT is not set; run the suites "
                                 . "through 'make test'\n";
}

sub crm_url {
    my $u = $ENV{TEST_NGINX_CRM_URL};
    if (!defined $u || $u eq '') {
        my $script = _root() . '/scripts/crm.sh';
        $u = `$script url`;
        die "scripts/crm.sh url failed\n" if $? != 0;
        chomp $u;
    }
    $u =~ s{/+\z}{};
    return $u;
}

sub crm_admin {
    my $a = $ENV{TEST_NGINX_CRM_ADMIN};
    $a = crm_url() . '/_admin' if !defined $a || $a eq '';
    $a =~ s{/+\z}{};
    return $a;
}

sub _admin {
    my ($method, $path, $body) = @_;
    my $res = $http->request($method, crm_admin() . $path, {
        headers => { 'Content-Type' => 'application/json' },
        defined $body ? (content => $json->encode($body)) : (),
    });
    die "fake CRM $method /_admin$path: $res->{status} "
        . ($res->{content} // $res->{reason}) . "\n"
        unless $res->{success};
    return $json->decode($res->{content});
}

sub crm_stats { return _admin('GET', '/stats') }

sub crm_records { return @{ _admin('GET', '/records') } }

sub crm_calls {
    my ($since) = @_;
    return @{ _admin('GET', '/calls' . ($since ? "?since=$since" : '')) };
}

sub crm_reset { _admin('POST', '/reset', {}); return }

sub crm_fault {
    my (%opt) = @_;
    my %b = (mode => $opt{mode} // 'none');
    $b{count} = 0 + $opt{count} if defined $opt{count};
    $b{status} = 0 + $opt{status} if defined $opt{status};
    if (exists $opt{retry_after}) {
        my $ra = $opt{retry_after};
        $b{retry_after} = !defined $ra ? undef
                        : $ra =~ /^\d+\z/ && $ra < 2**31 ? 0 + $ra
                        : "$ra";
    }
    return _admin('POST', '/fault', \%b);
}

sub crm_reject {
    my ($re, $mode) = @_;
    return _admin('POST', '/reject', { pattern => $re,
                                       mode => $mode // '400' });
}

sub crm_limit {
    my ($n) = @_;
    return _admin('POST', '/limit', { limit => 0 + $n })->{limit};
}

sub crm_token {
    my ($t) = @_;
    _admin('POST', '/token', { token => $t });
    return;
}

sub crm_stop {
    system(_root() . '/scripts/crm.sh', 'stop') == 0
        or die "crm.sh stop failed\n";
    return;
}

sub crm_start {
    system(_root() . '/scripts/crm.sh', 'start') == 0
        or die "crm.sh start failed\n";
    return;
}

1;
