#!/usr/bin/env perl
# The local stand-ins that "make test" starts next to the SQS emulator:
# the mail catcher (scripts/mail.sh, maildev) — a message sent over SMTP and
# read back through its REST API (t/lib/XyzMail.pm), then a stop and start as
# the outage suites do it — and the project's fake CRM (scripts/crm.sh,
# scripts/fake-crm.mjs) — plain and batch upserts, contacts refused whole or
# by multi-status, authorization, the rate limit over a sliding second, each
# injected fault, reset, stop and start (t/lib/XyzCrm.pm).

use strict;
use warnings;
use File::Temp ();
use HTTP::Tiny ();
use JSON::PP ();
use MIME::Base64 ();
use Net::SMTP ();
use POSIX ();
use Test::More;
use Time::HiRes ();

BEGIN {
    for my $v (qw(TEST_NGINX_SMTP_URL TEST_NGINX_MAILDEV_API TEST_NGINX_CRM_URL
                  TEST_NGINX_CRM_ADMIN)) {
        plan skip_all => "$v is not set (run through make test)"
            unless $ENV{$v};
    }
}

use XyzCrm;
use XyzMail;

my $json = JSON::PP->new->canonical->utf8;
my $tag = sprintf '%x%x', time, $$;

# ==== mail catcher ================================================================

like($ENV{TEST_NGINX_SMTP_URL}, qr{\Asmtp://127\.0\.0\.1:\d+\z},
     'SMTP on the loopback');
like($ENV{TEST_NGINX_MAILDEV_API}, qr{\Ahttp://127\.0\.0\.1:\d+/api\z},
     'REST API on the loopback');
is(mail_api(), $ENV{TEST_NGINX_MAILDEV_API}, 'mail_api() is the exported base');

my ($smtp_host, $smtp_port) = mail_smtp();

# send(from, [to...], data) over SMTP; returns the final reply code, or
# undef when the server cannot be reached
sub smtp_send {
    my ($from, $to, $data) = @_;
    my $smtp = Net::SMTP->new($smtp_host, Port => $smtp_port, Timeout => 5,
                              Hello => 'test.xyz.example')
        or return undef;
    $smtp->mail($from) or return $smtp->code;
    for (@$to) { $smtp->to($_) or return $smtp->code }
    $smtp->data($data) or return $smtp->code;
    my $code = $smtp->code;
    $smtp->quit;
    return $code;
}

{
    my $smtp = Net::SMTP->new($smtp_host, Port => $smtp_port, Timeout => 5);
    ok($smtp, 'SMTP server answers') or BAIL_OUT('no SMTP server');
    like($smtp->banner // '', qr/ESMTP/, '... with an ESMTP greeting');
    ok(!$smtp->supports('STARTTLS'), '... plain SMTP: no STARTTLS offered');
    ok(!$smtp->supports('AUTH'), '... and no AUTH');
    $smtp->quit;
}

mail_clear();
is(scalar(mail_list()), 0, 'no messages after mail_clear');

my $subject = "Confirm\x{e1} tu registro $tag";
my $subject_hdr = '=?UTF-8?B?' . MIME::Base64::encode_base64(
    do { my $s = $subject; utf8::encode($s); $s }, '') . '?=';
my $rcpt = "ana+$tag\@example.com";
my $msg = join "\r\n",
    'From: XYZ <no-reply@xyz.example>',
    "To: Ana <$rcpt>",
    "Subject: $subject_hdr",
    "Message-ID: <$tag.1\@xyz.example>",
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    "Confirm: http://127.0.0.1/confirm?token=$tag",
    '--b1',
    'Content-Type: text/html; charset=utf-8',
    '',
    "<p><a href=\"http://127.0.0.1/confirm?token=$tag\">Confirm</a></p>",
    '--b1--',
    '';

is(smtp_send('bounce@xyz.example', [$rcpt], $msg), 250, 'message accepted (250)');

my @got = mail_wait(match => sub { ($_[0]{subject} // '') =~ /\Q$tag/ },
                    timeout => 10);
is(scalar @got, 1, 'the catcher has it');
my $m = $got[0] || {};
is($m->{subject}, $subject, 'subject decoded (UTF-8 encoded word)');
is_deeply([mail_to($m)], [$rcpt], 'envelope recipient');
is($m->{envelope}{from}{address}, 'bounce@xyz.example', 'envelope sender');
is($m->{from}[0]{address}, 'no-reply@xyz.example', 'From: address');
like($m->{text} // '', qr{confirm\?token=\Q$tag\E}, 'text part');
like($m->{html} // '', qr{<a href="http://127\.0\.0\.1/confirm\?token=\Q$tag\E">},
     'HTML part');
ok($m->{id}, 'message id');

my $raw = $m->{id} ? mail_raw($m->{id}) : '';
like($raw, qr{^Subject: \Q$subject_hdr\E\r$}m, 'raw source: the header as sent');
like($raw, qr{^Message-ID: <\Q$tag\E\.1\@xyz\.example>\r$}m,
     'raw source: Message-ID');
unlike($raw, qr/(?<!\r)\n/, 'raw source: CRLF line ends');

is(smtp_send('bounce@xyz.example', ["one-$tag\@example.com", "two-$tag\@example.org"],
             "Subject: two $tag\r\n\r\nhello\r\n"), 250, 'two recipients: 250');
@got = mail_wait(match => sub { ($_[0]{subject} // '') eq "two $tag" });
is_deeply([sort(mail_to($got[0] || {}))],
          ["one-$tag\@example.com", "two-$tag\@example.org"],
          'one message, both envelope recipients');
is(scalar(mail_list()), 2, 'two messages in all');

mail_clear();
is(scalar(mail_list()), 0, 'mail_clear empties it');

# an SMTP outage: stop, nothing answers; start, same ports, empty
smtp_send('bounce@xyz.example', [$rcpt], "Subject: lost $tag\r\n\r\nx\r\n");
is(scalar(mail_wait(count => 1)), 1, 'one message before the stop');
mail_stop();
is(smtp_send('bounce@xyz.example', [$rcpt], "Subject: x\r\n\r\nx\r\n"), undef,
   'stopped: SMTP refuses connections');
is(HTTP::Tiny->new(timeout => 3)->get("$ENV{TEST_NGINX_MAILDEV_API}/email")->{status},
   599, 'stopped: no API');
mail_start();
{
    my $url = `$ENV{XYZ_ROOT}/scripts/mail.sh smtp-url`;
    chomp $url;
    is($url, $ENV{TEST_NGINX_SMTP_URL}, 'same SMTP URL after the start');
    my $api = `$ENV{XYZ_ROOT}/scripts/mail.sh api-url`;
    chomp $api;
    is($api, $ENV{TEST_NGINX_MAILDEV_API}, 'same API URL after the start');
}
is(scalar(mail_list()), 0, 'messages do not survive a restart (in memory)');
is(smtp_send('bounce@xyz.example', [$rcpt], "Subject: back $tag\r\n\r\nx\r\n"), 250,
   'accepting mail again');
is(scalar(mail_wait(match => sub { $_[0]{subject} eq "back $tag" })), 1,
   '... and keeping it');
mail_clear();

# ==== fake CRM ====================================================================

my $base = crm_url();
is($base, $ENV{TEST_NGINX_CRM_URL}, 'crm_url() is the exported base');
like($base, qr{\Ahttp://127\.0\.0\.1:\d+\z}, 'CRM on the loopback, no trailing /');
is($ENV{TEST_NGINX_CRM_ADMIN}, "$base/_admin", 'admin API under /_admin');

# keep-alive, TCP_NODELAY: fast enough to reach the rate limit
my $http = crm_client(timeout => 5);

# post(path, body, headers) → (status, decoded body or raw text, headers)
sub post {
    my ($path, $body, $headers, $client) = @_;
    my $res = ($client || $http)->request('POST', "$base$path", {
        headers => { 'Content-Type' => 'application/json', %{ $headers || {} } },
        content => ref $body ? $json->encode($body) : $body,
    });
    my $data = eval { $json->decode($res->{content}) } // $res->{content};
    return ($res->{status}, $data, $res->{headers});
}

my $batch_path = '/crm/v3/objects/contacts/batch/upsert';
sub batch_input {
    my ($email, %p) = @_;
    return { id => $email, idProperty => 'email', properties => { %p } };
}

crm_fault(mode => 'none');
crm_token(undef);
crm_limit(100);
crm_reset();
{
    my $s = crm_stats();
    is($s->{calls}, 0, 'after reset: no calls');
    is($s->{records}, 0, '... no records');
    is($s->{limit}, 100, '... limit 100');
    is($s->{fault}{mode}, 'none', '... no fault');
}

# ---- plain upsert by email
{
    my $email = "Ana.$tag\@Example.com";
    my ($st, $d) = post('/contacts', { email => $email, name => 'Ana', locale => 'es' },
                        { 'Idempotency-Key' => "crm-$tag-1",
                          Authorization => 'Bearer anything' });
    is($st, 200, 'POST /contacts: 200');
    is($d->{created}, JSON::PP::true, '... created');
    is($d->{email}, $email, '... the address as given');
    my $id = $d->{id};
    ok($id, '... a record id');

    ($st, $d) = post('/contacts', { email => lc $email, name => 'Ana P.' },
                     { 'Idempotency-Key' => "crm-$tag-1" });
    is($st, 200, 'the same address again (lowercased): 200');
    is($d->{created}, JSON::PP::false, '... not created');
    is($d->{id}, $id, '... the same record');

    my @r = crm_records();
    is(scalar @r, 1, 'one record');
    is($r[0]{key}, lc $email, '... keyed by the lowercased address');
    is($r[0]{upserts}, 2, '... upserted twice');
    is($r[0]{fields}{name}, 'Ana P.', '... with the last fields');
    is($r[0]{via}, 'contacts', '... through the plain path');

    my @c = crm_calls();
    is(scalar @c, 2, 'two calls logged');
    is($c[0]{idempotency_key}, "crm-$tag-1", 'Idempotency-Key recorded');
    is($c[0]{authorization}, 'Bearer anything', 'Authorization recorded');
    is($c[0]{headers}{'idempotency-key'}, "crm-$tag-1", '... also in the headers');
    is($c[0]{body}{email}, $email, 'body recorded');
    is($c[0]{path}, '/contacts', 'path recorded');
    is($c[0]{method}, 'POST', 'method recorded');
    is($c[0]{status}, 200, 'status recorded');
    is($c[0]{outcome}, 'accepted', 'outcome recorded');
    ok($c[0]{t_ms} > 1.6e12 && $c[1]{t_ms} >= $c[0]{t_ms}, 'times in ms');

    ($st) = post('/contacts', { name => 'no address' });
    is($st, 400, 'no email: 400');
    ($st) = post('/contacts', '{"email":');
    is($st, 400, 'malformed JSON: 400');

    my $s = crm_stats();
    is($s->{calls}, 4, 'stats: 4 calls');
    is($s->{accepted}, 2, 'stats: 2 accepted');
    is($s->{bad_requests}, 2, 'stats: 2 bad requests');
    is($s->{records}, 1, 'stats: 1 record');
    is($s->{repeats}, 1, 'stats: 1 repeat');
    is($s->{first_call_ms}, $c[0]{t_ms}, 'stats: first call time');
    ok($s->{last_call_ms} >= $s->{first_call_ms}, 'stats: last call time');
}

# ---- HubSpot batch upsert
{
    my ($st, $d) = post($batch_path, { inputs => [
        batch_input("b1.$tag\@example.com", firstname => 'B1'),
        batch_input("b2.$tag\@example.com", firstname => 'B2'),
        batch_input("ANA.$tag\@example.com", firstname => 'Ana'),
    ] });
    is($st, 200, 'batch upsert: 200');
    is($d->{status}, 'COMPLETE', '... COMPLETE');
    is(scalar @{ $d->{results} || [] }, 3, '... three results');
    is_deeply([map { $_->{new} ? 1 : 0 } @{ $d->{results} || [] }], [1, 1, 0],
              '... two new, one existing (case-insensitive)');
    is($d->{results}[0]{properties}{email}, "b1.$tag\@example.com",
       '... properties carry the email');
    is($d->{results}[0]{properties}{firstname}, 'B1', '... and the given ones');

    my $s = crm_stats();
    is($s->{calls}, 5, 'a batch is one call');
    is($s->{records}, 3, 'three records now');
    is($s->{repeats}, 2, 'two repeats now');

    ($st, $d) = post($batch_path, { inputs => [
        map { batch_input("many$_.$tag\@example.com") } 1 .. 101 ] });
    is($st, 400, '101 inputs: 400');
    like($d->{message} // '', qr/limit/i, '... says why');
    ($st) = post($batch_path, { inputs => [
        batch_input("d.$tag\@example.com"), batch_input("D.$tag\@example.com") ] });
    is($st, 400, 'the same address twice in a batch: 400');
    ($st) = post($batch_path, { inputs => [
        { id => "x.$tag\@example.com", properties => {} } ] });
    is($st, 400, 'no idProperty: 400');
    ($st, $d) = post($batch_path, { inputs => [
        map { batch_input("hundred$_.$tag\@example.com") } 1 .. 100 ] });
    is($st, 200, '100 inputs: 200');
    is(crm_stats()->{records}, 103, '... 100 more records');

    # contacts refused as invalid, whole batch or multi-status
    crm_reject('^rj\\.');
    my $before = crm_stats()->{records};
    ($st, $d) = post($batch_path, { inputs => [
        batch_input("ok1.$tag\@example.com"), batch_input("rj.$tag\@example.com") ] });
    is($st, 400, 'a batch with a rejected contact: 400');
    like($d->{message} // '', qr/rj\.\Q$tag\E/, '... naming it');
    is(crm_stats()->{records}, $before, '... nothing written');
    ($st) = post('/contacts', { email => "rj.$tag\@example.com" });
    is($st, 400, 'a rejected contact on its own: 400');
    crm_reject('^rj\\.', '207');
    ($st, $d) = post($batch_path, { inputs => [
        batch_input("ok1.$tag\@example.com"), batch_input("rj.$tag\@example.com") ] });
    is($st, 207, 'multi-status: 207');
    is(scalar @{ $d->{results} || [] }, 1, '... one result');
    is_deeply($d->{errors}[0]{context}{ids}, ["rj.$tag\@example.com"],
              '... one error naming the rejected contact');
    is(crm_stats()->{records}, $before + 1, '... the other one written');
    crm_reject(undef);
    ($st) = post('/contacts', { email => "rj.$tag\@example.com" });
    is($st, 200, 'no rejection any more: 200');

    my $res = $http->get("$base/contacts");
    is($res->{status}, 405, 'GET /contacts: 405');
    ($st) = post('/nowhere', {});
    is($st, 404, 'unknown path: 404');
}

# ---- authorization
{
    crm_token("tok-$tag");
    is(crm_stats()->{token_required}, JSON::PP::true, 'token required');
    my ($st, $d, $h) = post('/contacts', { email => "auth.$tag\@example.com" });
    is($st, 401, 'no Authorization: 401');
    is($d->{category}, 'INVALID_AUTHENTICATION', '... HubSpot-like body');
    ($st) = post('/contacts', { email => "auth.$tag\@example.com" },
                 { Authorization => 'Bearer wrong' });
    is($st, 401, 'wrong token: 401');
    ($st) = post('/contacts', { email => "auth.$tag\@example.com" },
                 { Authorization => "Bearer tok-$tag" });
    is($st, 200, 'right token: 200');
    is(crm_stats()->{unauthorized}, 2, 'two unauthorized calls counted');
    crm_token(undef);
    ($st) = post('/contacts', { email => "auth.$tag\@example.com" });
    is($st, 200, 'token off again: 200 without Authorization');
}

# ---- rate limit: sequential burst with keep-alive
crm_reset();
is(crm_stats()->{limit}, 100, 'reset keeps the limit');
{
    my (%status, $retry_after, $limit_body);
    my $t0 = Time::HiRes::time();
    for my $i (1 .. 150) {
        my ($st, $d, $h) = post('/contacts', { email => "seq$i.$tag\@example.com" });
        $status{$st}++;
        if ($st == 429 && !defined $retry_after) {
            $retry_after = $h->{'retry-after'};
            $limit_body = $d;
        }
    }
    my $elapsed = Time::HiRes::time() - $t0;
    note(sprintf '150 sequential calls in %.3f s', $elapsed);
    my $s = crm_stats();
    is(($status{200} // 0) + ($status{429} // 0), 150, 'every call answered 200 or 429');
    is($s->{accepted}, $status{200} // 0, 'stats: accepted = the 200s');
    is($s->{rejected_429}, $status{429} // 0, 'stats: rejected_429 = the 429s');
    is($s->{records}, $s->{accepted}, '429s create no records');
    ok($s->{max_accepted_in_any_second} <= 100,
       "max_accepted_in_any_second $s->{max_accepted_in_any_second} <= 100");
    is($s->{max_calls_in_any_second} >= $s->{max_accepted_in_any_second}, 1,
       'max_calls_in_any_second counts the 429s too');
    SKIP: {
        skip sprintf('the burst took %.2f s', $elapsed), 5 if $elapsed >= 0.9;
        is($status{200}, 100, 'within one second: exactly 100 accepted');
        is($status{429}, 50, '... and 50 refused');
        is($retry_after, 1, '... with Retry-After: 1');
        is($limit_body && $limit_body->{errorType}, 'RATE_LIMIT',
           '... and errorType RATE_LIMIT');
        is($s->{max_calls_in_any_second}, 150, 'max_calls_in_any_second 150');
    }
    Time::HiRes::sleep(1.05);
    my ($st) = post('/contacts', { email => "after.$tag\@example.com" });
    is($st, 200, 'a second later: accepted again (sliding window)');
}

# ---- rate limit: parallel clients, each with keep-alive
crm_reset();
{
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    my @pids;
    for my $c (1 .. 5) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            my $client = crm_client(timeout => 5);
            open my $out, '>', "$dir/$c" or POSIX::_exit(1);
            for my $i (1 .. 40) {
                my ($st) = post('/contacts', { email => "par$c-$i.$tag\@example.com" },
                                {}, $client);
                print $out "$st\n";
            }
            close $out;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    waitpid $_, 0 for @pids;
    my %status;
    for my $c (1 .. 5) {
        open my $in, '<', "$dir/$c" or die "no result $c\n";
        $status{$_}++ for map { chomp; $_ } <$in>;
    }
    my $s = crm_stats();
    is($s->{calls}, 200, '5 parallel clients: 200 calls');
    is(($status{200} // 0) + ($status{429} // 0), 200, '... all answered 200 or 429');
    ok(($status{429} // 0) > 0, "... some refused ($status{429})")
        or diag(explain($s));
    is($s->{accepted}, $status{200}, '... stats agree');
    ok($s->{max_accepted_in_any_second} <= 100,
       "... max_accepted_in_any_second $s->{max_accepted_in_any_second} <= 100");
    is($s->{records}, $s->{accepted}, '... one record per accepted call');
}

# ---- a lower limit, set at run time
crm_reset();
is(crm_limit(10), 10, 'limit set to 10');
{
    my %status;
    my $t0 = Time::HiRes::time();
    $status{ (post('/contacts', { email => "low$_.$tag\@example.com" }))[0] }++
        for 1 .. 15;
    my $elapsed = Time::HiRes::time() - $t0;
    my $s = crm_stats();
    ok($s->{max_accepted_in_any_second} <= 10,
       "max_accepted_in_any_second $s->{max_accepted_in_any_second} <= 10");
    SKIP: {
        skip sprintf('15 calls took %.2f s', $elapsed), 1 if $elapsed >= 0.9;
        is_deeply(\%status, { 200 => 10, 429 => 5 }, '10 accepted, 5 refused');
    }
    crm_limit(100);
}

# ---- faults
crm_reset();
{
    my $call = sub { my ($st, $d, $h) = post('/contacts', { email => "f.$tag\@example.com" });
                     return wantarray ? ($st, $d, $h) : $st };

    crm_fault(mode => '5xx', count => 2);
    is($call->(), 503, '5xx fault: 503');
    is($call->(), 503, '... twice');
    is($call->(), 200, '... then back to normal (count 2)');
    is(crm_stats()->{fault}{mode}, 'none', '... fault cleared');

    crm_fault(mode => '5xx', status => 500, count => 1);
    is($call->(), 500, '5xx fault with status 500');

    crm_fault(mode => '4xx', count => 1);
    my ($st, $d) = $call->();
    is($st, 422, '4xx fault: 422 by default');
    is($d->{status}, 'error', '... error body');
    crm_fault(mode => '4xx', status => 400, count => 1);
    is($call->(), 400, '4xx fault with status 400');

    crm_fault(mode => '429', count => 1, retry_after => 7);
    my $h;
    ($st, $d, $h) = $call->();
    is($st, 429, '429 fault');
    is($h->{'retry-after'}, 7, '... Retry-After: 7');
    is($d->{errorType}, 'RATE_LIMIT', '... errorType RATE_LIMIT');
    crm_fault(mode => '429', count => 1, retry_after => undef);
    ($st, $d, $h) = $call->();
    is($st, 429, '429 fault without Retry-After');
    ok(!exists $h->{'retry-after'}, '... no Retry-After header');

    crm_fault(mode => '5xx');
    is(join(',', map { scalar $call->() } 1 .. 3), '503,503,503',
       'fault without count: every call');
    crm_fault(mode => 'none');
    is($call->(), 200, 'mode none: normal again');

    crm_fault(mode => 'hang', count => 1);
    my $t0 = Time::HiRes::time();
    my $res = HTTP::Tiny->new(timeout => 1)->request('POST', "$base/contacts", {
        headers => { 'Content-Type' => 'application/json' },
        content => $json->encode({ email => "hang.$tag\@example.com" }) });
    my $waited = Time::HiRes::time() - $t0;
    is($res->{status}, 599, 'hang fault: no answer, the client times out');
    ok($waited >= 0.9, sprintf('... after its timeout (%.2f s)', $waited));
    my $hung = 1;
    for (1 .. 50) {
        $hung = crm_stats()->{hung};
        last unless $hung;
        Time::HiRes::sleep(0.05);
    }
    is($hung, 0, '... the fake CRM lets go once the client closes');
    is($call->(), 200, '... the next call is answered');

    crm_fault(mode => 'hang');
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $r = HTTP::Tiny->new(timeout => 30)->post("$base/contacts", {
            content => $json->encode({ email => "hang2.$tag\@example.com" }) });
        POSIX::_exit($r->{status} == 599 ? 0 : 1);
    }
    for (1 .. 50) {
        last if crm_stats()->{hung};
        Time::HiRes::sleep(0.05);
    }
    is(crm_stats()->{hung}, 1, 'a call hangs');
    crm_reset();
    waitpid $pid, 0;
    is($? >> 8, 0, 'reset ends hung calls (the client sees the connection close)');

    my $s = crm_stats();
    is($s->{fault}{mode}, 'none', 'reset clears the fault');
    is($s->{calls}, 0, 'reset forgets the calls');
    is($s->{records}, 0, 'reset forgets the records');
    is($s->{faults}, 0, 'reset zeroes the counters');
    is(scalar(crm_calls()), 0, 'the call log is empty');
    is(scalar(crm_records()), 0, 'no records');
    is($s->{limit}, 100, 'the limit stays');
}

{
    local $@;
    eval { crm_fault(mode => 'sometimes') };
    like($@, qr/400/, 'unknown fault mode: 400');
}

# ---- faulted calls create no records
crm_reset();
{
    crm_fault(mode => '5xx', count => 1);
    post('/contacts', { email => "nf.$tag\@example.com" });
    my $s = crm_stats();
    is($s->{faults}, 1, 'one fault counted');
    is($s->{records}, 0, 'a faulted call creates no record');
    is((crm_calls())[0]{outcome}, 'fault_5xx', 'logged as fault_5xx');
}

# ---- stop and start: same URL, empty
post('/contacts', { email => "keep.$tag\@example.com" });
crm_stop();
{
    my ($st) = post('/contacts', { email => "down.$tag\@example.com" }, {},
                    HTTP::Tiny->new(timeout => 3));
    is($st, 599, 'stopped: no answer');
}
crm_start();
{
    my $url = `$ENV{XYZ_ROOT}/scripts/crm.sh url`;
    chomp $url;
    is($url, $base, 'same URL after the start');
    is(crm_stats()->{records}, 0, 'records do not survive a restart (in memory)');
    my ($st) = post('/contacts', { email => "up.$tag\@example.com" }, {},
                    HTTP::Tiny->new(timeout => 3));
    is($st, 200, 'answering again');
}
crm_reset();

done_testing();
