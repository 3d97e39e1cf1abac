# The dispatcher: registrations become confirmation emails (in the mail
# catcher) and CRM records (in the fake CRM), each exactly once, through
# CRM rate limits, 5xx bursts, hangs, permanent refusals and an SMTP outage.
#
# One nginx holds both roles here, as in "make run": its relay publishes,
# its consumers dispatch.  Each block's checks of what happened run in the
# next block's init, with waits that end as soon as the effect is seen.

use Test::Nginx::Socket;
use Digest::SHA qw(sha256_hex);
use XyzTest;
use XyzSqs;
use XyzMail;
use XyzCrm;

BEGIN {
    if (!$ENV{TEST_NGINX_SQS_ENDPOINT} || !$ENV{TEST_NGINX_SMTP_URL}
        || !$ENV{TEST_NGINX_CRM_URL})
    {
        Test::More::plan(skip_all => 'needs the SQS emulator, the mail '
                                     . 'catcher and the fake CRM (make test)');
    }

    $ENV{TEST_NGINX_TEMPLATES} = "$ENV{XYZ_ROOT}/conf/templates";
}

plan 'no_plan';

our $run = run_id();
our %q = (email => $ENV{TEST_NGINX_SQS_EMAIL_QUEUE},
          crm => $ENV{TEST_NGINX_SQS_CRM_QUEUE},
          email_dlq => $ENV{TEST_NGINX_SQS_EMAIL_DLQ},
          crm_dlq => $ENV{TEST_NGINX_SQS_CRM_DLQ});

no_shuffle();
no_long_string();
check_accum_error_log();

sub reg {
    my ($tag, %f) = @_;
    return "POST /api/register\n"
           . XyzTest::register_json(email => "$tag-$::run\@example.com", %f);
}

sub addr { "$_[0]-$::run\@example.com" }

# confirms these tags' accounts, as their links would: the CRM record is
# written then, not at registration
sub confirm_now {
    my $in = join ',', map { "'" . lc(addr($_)) . "'" } @_;
    XyzTest::psql("UPDATE users SET status = 'confirmed', confirmed_at = now() "
                  . "WHERE email_normalized IN ($in) AND status = 'pending'");
}

# the emails sent to these tags, waiting up to $timeout seconds for $n
sub mails_for {
    my ($n, $timeout, @tags) = @_;
    my %want = map { lc addr($_) => 1 } @tags;
    return XyzMail::mail_wait(count => $n, timeout => $timeout,
                              match => sub { grep { $want{$_} } XyzMail::mail_to($_[0]) });
}

# the CRM records of these tags, waiting up to $timeout seconds for $n
sub records_for {
    my ($n, $timeout, @tags) = @_;
    my %want = map { lc addr($_) => 1 } @tags;
    my $deadline = time + $timeout;
    my @r;
    while (1) {
        @r = grep { $want{ $_->{key} } } XyzCrm::crm_records();
        last if @r >= $n || time > $deadline;
        select undef, undef, undef, 0.2;
    }
    return @r;
}

sub accepted_calls_for {
    my (@tags) = @_;
    my %want = map { lc addr($_) => 1 } @tags;
    return grep { $_->{outcome} eq 'accepted' && $_->{body}
                  && $want{ lc($_->{body}{email} // '') } } XyzCrm::crm_calls();
}

add_block_preprocessor(sub {
    my $block = shift;

    quiet_error_log($block);

    # a long poll of the nginx the previous block stopped is still open in
    # the emulator for up to xyz_dispatch_poll, and would take (and hide
    # for the lease) what this block sends: let it run out first
    $block->set_value("init", "select undef, undef, undef, 1.5;\n"
                              . ($block->init // ''));

    if (!defined $block->main_config) {
        $block->set_value("main_config", <<'_EOC_');
    thread_pool xyz_hash threads=2 max_queue=64;
    env AWS_ACCESS_KEY_ID=AKIDTEST;
    env AWS_SECRET_ACCESS_KEY=test-secret;
_EOC_
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<'_EOC_');
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;

    xyz_sqs_endpoint $TEST_NGINX_SQS_ENDPOINT;
    xyz_sqs_queue email $TEST_NGINX_SQS_EMAIL_QUEUE dlq=$TEST_NGINX_SQS_EMAIL_DLQ;
    xyz_sqs_queue crm $TEST_NGINX_SQS_CRM_QUEUE dlq=$TEST_NGINX_SQS_CRM_DLQ;
    xyz_outbox_lease 2s;
    xyz_outbox_sweep 200ms 1s;
    xyz_mail_cooldown 1s;

    xyz_dispatch email crm;
    xyz_dispatch_lease 10s;
    xyz_dispatch_poll 1s;
    xyz_dispatch_backoff 1s 2s;
    xyz_public_url http://signup.test/;
    xyz_smtp_url $TEST_NGINX_SMTP_URL;
    xyz_mail_from "XYZ Altas <no-reply@xyz.example>";
    xyz_mail_templates $TEST_NGINX_TEMPLATES;
    xyz_smtp_timeout 3s;
    xyz_crm_url $TEST_NGINX_CRM_URL/contacts;
    xyz_crm_rate 90;
    xyz_crm_timeout 1s;
    xyz_crm_breaker 3 2s;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location = /api/register {
        xyz_register;
    }

    location = /metrics {
        xyz_metrics;
    }
_EOC_
    }
});

END {
    if ($ENV{TEST_NGINX_SMTP_URL}) {
        XyzMail::mail_start();
        XyzCrm::crm_fault(mode => 'none');
    }
}

run_tests();

__DATA__

=== TEST 1: five registrations, confirmed, and a known address
--- init
XyzSqs::sqs_purge($::q{$_}) for qw(email crm email_dlq crm_dlq);
XyzMail::mail_clear();
XyzCrm::crm_reset();
--- request eval
[ ::reg("e2e1", locale => "en", name => "Ann Lee"), ::reg("e2e2"), ::reg("e2e3"),
  ::reg("e2e4"), ::reg("e2e5", name => "Zoë \"Z\" O'Brien"),
  [ "GET /metr", { value => "ics\n", delay_before => 0.1 } ] ]
--- more_headers
Content-Type: application/json
--- error_code eval
[(202) x 5, 200]
--- wait: 1
--- no_error_log
[alert]
[crit]



=== TEST 2: each address got one email with a working confirmation link, and the CRM one record each
--- init
my @tags = map { "e2e$_" } 1 .. 5;
::confirm_now(@tags);
select undef, undef, undef, 1.1;            # past xyz_mail_cooldown
Test::More::is(XyzTest::register_now(email => ::addr('e2e1'), name => 'Mallory'), 202,
               'the known address registered again');
my @mails = ::mails_for(6, 15, @tags);
my %by = ();
push @{ $by{ (XyzMail::mail_to($_))[0] } }, $_ for @mails;
Test::More::is(scalar @mails, 6, 'six emails: five confirmations and one notice');
for my $tag (@tags) {
    my $to = lc ::addr($tag);
    my @m = grep { $_->{subject} !~ /ya|already/i } @{ $by{$to} || [] };
    Test::More::is(scalar @m, 1, "$tag: one confirmation email");
    my $m = $m[0] or next;
    my ($token) = ($m->{text} // '') =~ m{http://signup\.test/confirm\?token=([A-Za-z0-9_-]{43})};
    Test::More::ok($token, "$tag: the text part has the confirmation link");
    Test::More::like($m->{html} // '', qr{href="http://signup\.test/confirm\?token=\Q$token\E"},
                     "$tag: the HTML part has the same link") if $token;
    Test::More::is(XyzTest::psql("SELECT count(*) FROM confirmation_tokens t JOIN users u ON u.id = t.user_id "
                                 . "WHERE u.email_normalized = '$to' AND t.token_hash = '\\x" . Digest::SHA::sha256_hex($token // '') . "'"),
                   1, "$tag: the link's token is the one stored, hashed, for that user");
    my $raw = XyzMail::mail_raw($m->{id});
    Test::More::like($raw, qr/^Message-ID: <xyz-\d+\@xyz\.example>\r$/m, "$tag: Message-ID from the outbox id");
    Test::More::like($raw, qr{^Content-Type: multipart/alternative}m, "$tag: text and HTML");
}
my ($en) = grep { $_->{subject} !~ /ya|already/i } @{ $by{ lc ::addr('e2e1') } || [] };
Test::More::like($en->{subject} // '', qr/confirm/i, 'English for the English registration');
Test::More::unlike($en->{text} // '', qr/Ann Lee/,
                   'no name in the confirmation: the registrant chose it');
my ($es) = @{ $by{ lc ::addr('e2e2') } || [] };
Test::More::like($es->{subject} // '', qr/[Cc]onfirma/, 'Spanish by default');
my @notice = grep { $_->{subject} =~ /ya|already/i } @{ $by{ lc ::addr('e2e1') } || [] };
Test::More::is(scalar @notice, 1, 'the known address got one "already registered" notice');
Test::More::unlike(XyzMail::mail_raw($notice[0]{id} // 0) // '', qr/Mallory/,
                   'the notice does not carry the name the second attempt typed') if @notice;

my @records = ::records_for(5, 10, @tags);
Test::More::is(scalar @records, 5, 'five CRM records');
Test::More::is(scalar(grep { $_->{upserts} > 1 } @records), 0, 'none written twice');
my @calls = ::accepted_calls_for(@tags);
Test::More::is(scalar @calls, 5, 'five accepted CRM calls');
Test::More::ok(!grep({ ($_->{idempotency_key} // '') !~ /^xyz-\d+$/ } @calls),
               'every call has an Idempotency-Key from the outbox id');
--- request
GET /metrics
--- response_body_like
xyz_dispatch_total\{kind="crm",result="sent"\} \d+



=== TEST 3: a redelivered message sends no second email and makes no second record
--- init
my $e = XyzTest::psql("SELECT xyz_outbox_body(o) FROM outbox o WHERE kind = 'email' "
                      . "AND payload->>'email' = '" . ::addr('e2e2') . "'");
my $c = XyzTest::psql("SELECT xyz_outbox_body(o) FROM outbox o WHERE kind = 'crm' "
                      . "AND payload->>'email' = '" . ::addr('e2e2') . "'");
XyzSqs::sqs_call('SendMessage', { QueueUrl => $::q{email}, MessageBody => $e });
XyzSqs::sqs_call('SendMessage', { QueueUrl => $::q{crm}, MessageBody => $c });
--- request eval
[ [ "GET /metr", { value => "ics\n", delay_before => 3 } ] ]
--- response_body_like eval
[qr/xyz_dispatch_total\{kind="email",result="duplicate"\} 1\nxyz_dispatch_total\{kind="crm",result="duplicate"\} 1\n/]



=== TEST 4: still one email and one record for that address
--- init
my @m = ::mails_for(2, 2, 'e2e2');
Test::More::is(scalar @m, 1, 'one email');
my @r = ::records_for(1, 1, 'e2e2');
Test::More::is($r[0]{upserts}, 1, 'one record, written once');
--- request
GET /metrics
--- error_code: 200



=== TEST 5: the CRM answers 429 and then recovers: everyone waits, nothing lost, nothing doubled
--- init
XyzCrm::crm_fault(mode => '429', count => 3, retry_after => 1);
Test::More::is(XyzTest::register_now(email => ::addr("ra$_")), 202, "ra$_ accepted") for 1 .. 3;
::confirm_now(qw(ra1 ra2 ra3));
my @r = ::records_for(3, 15, qw(ra1 ra2 ra3));
Test::More::is(scalar @r, 3, 'three records after the 429s');
Test::More::is(scalar(grep { $_->{upserts} > 1 } @r), 0, 'none twice');
Test::More::ok(XyzCrm::crm_stats()->{faults} >= 1, 'the CRM did answer 429');
--- request
GET /metrics
--- response_body_like
xyz_crm_rate_limited_total [1-9]
--- error_log
CRM answered 429, Retry-After 1 s
--- no_error_log
[alert]



=== TEST 6: a burst of 5xx opens the breaker; it closes again and every record arrives once
--- init
XyzCrm::crm_fault(mode => '5xx', count => 5, status => 503);
Test::More::is(XyzTest::register_now(email => ::addr("sx$_")), 202, "sx$_ accepted") for 1 .. 3;
::confirm_now(qw(sx1 sx2 sx3));
my @r = ::records_for(3, 20, qw(sx1 sx2 sx3));
Test::More::is(scalar @r, 3, 'three records after the 5xx burst');
Test::More::is(scalar(grep { $_->{upserts} > 1 } @r), 0, 'none twice');
--- request
GET /metrics
--- response_body_like
xyz_crm_breaker_failures_total [1-9].*xyz_crm_breaker_open\{kind="crm"\} 0
--- error_log
the CRM keeps failing; its breaker is open
CRM answered 503
--- no_error_log
[alert]



=== TEST 7: a CRM that hangs: the call times out, is retried, and the record arrives once
--- init
XyzCrm::crm_fault(mode => 'hang', count => 1);
Test::More::is(XyzTest::register_now(email => ::addr("hang1")), 202, 'accepted');
::confirm_now('hang1');
my @r = ::records_for(1, 15, 'hang1');
Test::More::is(scalar @r, 1, 'the record arrived after the hang');
Test::More::is($r[0]{upserts}, 1, 'once') if @r;
--- request
GET /metrics
--- response_body_like
xyz_dispatch_total\{kind="crm",result="retried"\} [1-9]\d*
--- error_log
CRM unreachable



=== TEST 8: a CRM refusal (422) is permanent: the message goes to the dead-letter queue with its reason
--- init
XyzCrm::crm_fault(mode => '4xx', count => 1, status => 422);
Test::More::is(XyzTest::register_now(email => ::addr("perm1")), 202, 'accepted');
::confirm_now('perm1');
my @dead;
for (1 .. 40) {
    @dead = grep { ref $_->{Body} && ($_->{Body}{email} // '') eq ::addr('perm1') }
            XyzSqs::sqs_receive_all($::q{crm_dlq}, wait => 0, empty => 1, timeout => 2);
    last if @dead;
    select undef, undef, undef, 0.25;
}
Test::More::is(scalar @dead, 1, 'the refused record is in the CRM dead-letter queue');
Test::More::like($dead[0]{MessageAttributes}{xyz_reason}{StringValue} // '', qr/CRM answered 422/,
                 'with the reason') if @dead;
Test::More::is(XyzTest::psql("SELECT state FROM deliveries d JOIN outbox o ON o.id = d.outbox_id "
                             . "WHERE o.kind = 'crm' AND o.payload->>'email' = '" . ::addr('perm1') . "'"),
               'dead', 'its delivery is recorded as dead');
Test::More::is(scalar(::records_for(0, 0, 'perm1')), 0, 'and the CRM has no record of it');
--- request
GET /metrics
--- response_body_like
xyz_dispatch_total\{kind="crm",result="dead_lettered"\} 1
--- error_log
failed for good: CRM answered 422



=== TEST 9: SMTP down while registrations go on; back: every email is delivered, once
--- init
XyzMail::mail_stop();
Test::More::is(XyzTest::register_now(email => ::addr("smtp$_")), 202, "smtp$_ accepted") for 1 .. 3;
select undef, undef, undef, 2;
XyzMail::mail_start();
my @m = ::mails_for(3, 20, qw(smtp1 smtp2 smtp3));
Test::More::is(scalar @m, 3, 'the three emails arrived after SMTP came back');
my %to;
$to{ (XyzMail::mail_to($_))[0] }++ for @m;
Test::More::is(scalar(grep { $_ > 1 } values %to), 0, 'none twice');
--- request
GET /metrics
--- response_body_like
xyz_dispatch_total\{kind="email",result="retried"\} [1-9]\d*
--- error_log
failed, retried later: SMTP



=== TEST 10: an email that cannot be built safely is permanent: dead-letter queue, nothing sent
--- init
my $bad = '{"type":"confirm","email":"x\r\nBcc: victim@example.com","name":"X","locale":"es","token":"t","outbox_id":999999999}';
XyzSqs::sqs_call('SendMessage', { QueueUrl => $::q{email}, MessageBody => $bad,
    MessageAttributes => { outbox_id => { DataType => 'Number', StringValue => '999999999' } } });
my @dead;
for (1 .. 40) {
    @dead = grep { ref $_->{Body} && ($_->{Body}{outbox_id} // 0) == 999999999 }
            XyzSqs::sqs_receive_all($::q{email_dlq}, wait => 0, empty => 1, timeout => 2);
    last if @dead;
    select undef, undef, undef, 0.25;
}
Test::More::is(scalar @dead, 1, 'the message is in the email dead-letter queue');
Test::More::is(scalar(grep { grep { /victim/ } XyzMail::mail_to($_) } XyzMail::mail_list()), 0,
               'no mail to the injected Bcc');
--- request
GET /metrics
--- response_body_like
xyz_dispatch_total\{kind="email",result="dead_lettered"\} 1\n.*xyz_deliveries_dead\{kind="email"\} 1
--- error_log
the message cannot be built safely from its fields
