# SES bounces and complaints: notifications put on the feedback queue as
# SNS delivers them (the envelope, or the raw notification) are read by the
# dispatcher; a permanent bounce or a complaint suppresses the address (the
# admin list shows it, and no more mail goes to it: a password reset is
# recorded "suppressed" and never reaches the mail catcher), a transient
# bounce is only counted, and garbage is deleted with a log line.
#
# One nginx holds the web and dispatcher roles.  Each block does its work
# in its init (through the emulator, PostgreSQL and the API) with waits
# that end as soon as the effect is seen; its request is a formality.

use Test::Nginx::Socket;
use JSON::PP ();
use XyzTest;
use XyzSqs;
use XyzMail;

BEGIN {
    if (!$ENV{TEST_NGINX_SQS_ENDPOINT} || !$ENV{TEST_NGINX_SMTP_URL}
        || !$ENV{TEST_NGINX_SQS_FEEDBACK_QUEUE})
    {
        Test::More::plan(skip_all => 'needs the SQS emulator with the '
                                     . 'feedback queue and the mail '
                                     . 'catcher (make test)');
    }

    $ENV{TEST_NGINX_TEMPLATES} = "$ENV{XYZ_ROOT}/conf/templates";

    my $f = "/tmp/xyz-jwt-fb-$$";
    open my $fh, '>', $f or die $!;
    print $fh "test-signing-key-fb-" . ('x' x 40) . "\n";
    close $fh;
    $ENV{TEST_NGINX_JWT_KEY} = $f;
}

END { unlink "/tmp/xyz-jwt-fb-$$" }

plan 'no_plan';

our $run = run_id();
our $fq = $ENV{TEST_NGINX_SQS_FEEDBACK_QUEUE};
our $fdlq = $ENV{TEST_NGINX_SQS_FEEDBACK_DLQ};
our $pw = 'correct horse battery staple';
our $json = JSON::PP->new->canonical;

no_shuffle();
no_long_string();

sub addr { lc "$_[0]-$::run\@example.com" }

# an SES notification as SNS puts it on the queue: the envelope whose
# Message is the notification as a string (raw => 1: the notification)
sub notify {
    my ($n, %opt) = @_;
    my $body = $json->encode($n);
    if (!$opt{raw}) {
        $body = $json->encode({
            Type => 'Notification', MessageId => "sns-$::run-" . int(rand 1e9),
            TopicArn => 'arn:aws:sns:us-east-1:000000000000:xyz-ses-events',
            Message => $body, Timestamp => '2026-11-30T01:00:00.000Z' });
    }
    XyzSqs::sqs_call('SendMessage', { QueueUrl => $::fq, MessageBody => $body });
}

sub bounce {
    my ($type, $sub, @to) = @_;
    return { notificationType => 'Bounce',
             bounce => { feedbackId => "fb-$::run-" . int(rand 1e9),
                         bounceType => $type, bounceSubType => $sub,
                         bouncedRecipients => [ map { { emailAddress => $_,
                             status => '5.1.1', action => 'failed' } } @to ] },
             mail => { messageId => 'm-1', destination => \@to } };
}

# waits up to $secs for the SQL to answer true
sub wait_sql {
    my ($sql, $secs) = @_;
    my $deadline = time + $secs;
    while (1) {
        my $v = XyzTest::psql($sql);
        return $v if $v eq 't' || time > $deadline;
        select undef, undef, undef, 0.2;
    }
}

sub suppression {
    my ($tag) = @_;
    return XyzTest::psql("SELECT coalesce(reason, '-') || ' ' || transient_bounces "
                         . "FROM mail_suppressions WHERE email_normalized = '" . addr($tag) . "'");
}

sub mails_to {
    my ($tag, $n, $timeout) = @_;
    my $to = addr($tag);
    return XyzMail::mail_wait(count => $n, timeout => $timeout,
                              match => sub { grep { $_ eq $to } XyzMail::mail_to($_[0]) });
}

sub admin_list {
    my ($state) = @_;
    my (undef, $h) = XyzTest::api('POST', '/api/login', { email => addr('adm'), password => $::pw });
    my $sc = $h->{'set-cookie'} // '';
    $sc = join ',', @$sc if ref $sc;
    my ($c) = $sc =~ /xyz_session=([^;]*)/;
    my ($s, undef, undef, $j) = XyzTest::api('GET', "/api/admin/users?state=$state&per_page=500",
                                             undef, { Cookie => "xyz_session=" . ($c // '') });
    Test::More::is($s, 200, "the admin list ($state) answers");
    return { map { $_->{email} => $_ } @{ $j->{users} || [] } };
}

add_block_preprocessor(sub {
    my $block = shift;

    quiet_error_log($block);

    # a long poll of the nginx the previous block stopped may still be open
    # in the emulator and would take (and hide) what this block sends
    $block->set_value("init", "select undef, undef, undef, 1.5;\n"
                              . ($block->init // ''))
        if defined $block->init;

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
    xyz_jwt_key k1 $TEST_NGINX_JWT_KEY;
    xyz_cookie_secure off;
    xyz_mail_cooldown 1s;
    xyz_mail_requests_per_hour 1000;
    xyz_mail_request_floor 10ms;

    xyz_sqs_endpoint $TEST_NGINX_SQS_ENDPOINT;
    xyz_sqs_queue email $TEST_NGINX_SQS_EMAIL_QUEUE dlq=$TEST_NGINX_SQS_EMAIL_DLQ;
    xyz_sqs_queue crm $TEST_NGINX_SQS_CRM_QUEUE dlq=$TEST_NGINX_SQS_CRM_DLQ;
    xyz_outbox_lease 2s;
    xyz_outbox_sweep 200ms 1s;

    xyz_dispatch email;
    xyz_dispatch_lease 10s;
    xyz_dispatch_poll 1s;
    xyz_dispatch_backoff 1s 2s;
    xyz_public_url http://signup.test/;
    xyz_smtp_url $TEST_NGINX_SMTP_URL;
    xyz_mail_from "XYZ Altas <no-reply@xyz.example>";
    xyz_mail_templates $TEST_NGINX_TEMPLATES;
    xyz_smtp_timeout 3s;

    xyz_ses_feedback_queue $TEST_NGINX_SQS_FEEDBACK_QUEUE;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location = /api/register { xyz_register; }
    location = /api/confirm { xyz_confirm; }
    location = /api/login { xyz_login; }
    location = /api/reset { xyz_reset_request; }

    location = /api/admin/users {
        xyz_auth on;
        xyz_auth_role admin;
        xyz_admin_users;
    }

    location = /t { return 200 "ok\n"; }
    location = /metrics { xyz_metrics; }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: users registered and confirmed through their emailed links
--- init
XyzSqs::sqs_purge($_) for $::fq, $::fdlq, $ENV{TEST_NGINX_SQS_EMAIL_QUEUE};
XyzMail::mail_clear();
my @tags = qw(hard soft abuse adm);
for my $t (@tags) {
    Test::More::is(XyzTest::register_now(email => ::addr($t), password => $::pw), 202,
                   "$t registered");
}
for my $t (@tags) {
    my ($m) = ::mails_to($t, 1, 15);
    my ($token) = (($m && $m->{text}) // '') =~ m{/confirm\?token=([A-Za-z0-9_-]{43})};
    Test::More::ok($token, "$t: the confirmation email came") or next;
    my ($s) = XyzTest::api('POST', '/api/confirm', { token => $token });
    Test::More::is($s, 200, "$t: confirmed");
}
XyzTest::psql("UPDATE users SET role = 'admin' WHERE email_normalized = '" . ::addr('adm') . "'");
--- request
GET /t
--- response_body
ok
--- no_error_log
[error]



=== TEST 2: a permanent bounce in an SNS envelope suppresses the address within seconds, and the admin list shows it
--- init
::notify(::bounce('Permanent', 'General', ::addr('hard')));
Test::More::is(::wait_sql("SELECT EXISTS (SELECT 1 FROM mail_suppressions WHERE email_normalized = '"
                          . ::addr('hard') . "' AND suppressed_at > now() - interval '1 minute')", 10),
               't', 'the address is suppressed');
Test::More::is(::suppression('hard'), 'bounce 0', 'for a bounce');
my $list = ::admin_list('suppressed');
Test::More::ok($list->{::addr('hard')}, 'the admin list of suppressed users has it');
Test::More::ok($list->{::addr('hard')} && $list->{::addr('hard')}{mail_suppressed}
               && $list->{::addr('hard')}{mail_suppressed_reason} eq 'bounce'
               && $list->{::addr('hard')}{mail_suppressed_at},
               'with the reason and time');
Test::More::ok(!$list->{::addr('soft')} && !$list->{::addr('adm')}, 'and no other of this run');
my $all = ::admin_list('all');
Test::More::ok($all->{::addr('soft')} && !$all->{::addr('soft')}{mail_suppressed},
               'the others are listed as not suppressed');
select undef, undef, undef, 1;
Test::More::is(XyzSqs::sqs_attributes($::fq)->{ApproximateNumberOfMessagesNotVisible} // 0, 0,
               'the notification was deleted from the queue');
--- request
GET /t
--- response_body
ok
--- error_log eval
qr/SES bounce "fb-[^"]+" \(Permanent\/General\) recorded for 1 address/
--- no_error_log
[error]



=== TEST 3: no more mail to a suppressed address: its password reset is recorded suppressed with the reason and never sent
--- init
XyzMail::mail_clear();
my ($s) = XyzTest::api('POST', '/api/reset', { email => ::addr('hard') });
Test::More::is($s, 202, 'the reset request is answered as usual');
($s) = XyzTest::api('POST', '/api/reset', { email => ::addr('adm') });
Test::More::is($s, 202, 'and one for an address that is not suppressed');
Test::More::is(::wait_sql("SELECT EXISTS (SELECT 1 FROM deliveries d JOIN outbox o ON o.id = d.outbox_id "
                          . "WHERE o.payload->>'type' = 'reset' AND lower(o.payload->>'email') = '"
                          . ::addr('hard') . "' AND d.state = 'suppressed')", 10),
               't', 'the delivery is recorded suppressed');
Test::More::like(XyzTest::psql("SELECT d.detail FROM deliveries d JOIN outbox o ON o.id = d.outbox_id "
                               . "WHERE o.payload->>'type' = 'reset' AND lower(o.payload->>'email') = '"
                               . ::addr('hard') . "'"),
                 qr/^address suppressed since .*: bounce \(Permanent\/General\)$/, 'with the reason');
Test::More::is(scalar(::mails_to('adm', 1, 10)), 1, 'the other reset email arrived');
Test::More::is(scalar(::mails_to('hard', 1, 1)), 0, 'the mail catcher got nothing for the suppressed address');
Test::More::is(XyzSqs::sqs_count($ENV{TEST_NGINX_SQS_EMAIL_DLQ}), 0, 'nothing went to the dead-letter queue');
select undef, undef, undef, 1;
Test::More::is(XyzSqs::sqs_attributes($ENV{TEST_NGINX_SQS_EMAIL_QUEUE})->{ApproximateNumberOfMessagesNotVisible} // 0,
               0, 'the message was deleted, not left to come back');
--- request
GET /t
--- response_body
ok
--- error_log eval
qr/email of outbox row \d+ not sent: the address is suppressed/
--- no_error_log
[error]



=== TEST 4: a transient bounce (raw message delivery) is counted, once per notification, and suppresses nothing
--- init
my $n = ::bounce('Transient', 'MailboxFull', uc ::addr('soft'));
::notify($n, raw => 1);
::notify($n, raw => 1);          # SQS delivers at least once
Test::More::is(::wait_sql("SELECT EXISTS (SELECT 1 FROM mail_suppressions WHERE email_normalized = '"
                          . ::addr('soft') . "')", 10), 't', 'the bounce is recorded');
select undef, undef, undef, 2;
Test::More::is(::suppression('soft'), '- 1', 'counted once, not suppressed');
XyzMail::mail_clear();
my ($s) = XyzTest::api('POST', '/api/reset', { email => ::addr('soft') });
Test::More::is(scalar(::mails_to('soft', 1, 10)), 1, 'mail still goes to the address');
--- request
GET /t
--- response_body
ok
--- no_error_log
[error]



=== TEST 5: a complaint suppresses the address
--- init
::notify({ eventType => 'Complaint', mail => { messageId => 'm-2' },
           complaint => { feedbackId => "fc-$::run", complaintFeedbackType => 'abuse',
                          complainedRecipients => [ { emailAddress => ::addr('abuse') } ] } });
Test::More::is(::wait_sql("SELECT EXISTS (SELECT 1 FROM mail_suppressions WHERE email_normalized = '"
                          . ::addr('abuse') . "' AND suppressed_at IS NOT NULL)", 10),
               't', 'the address is suppressed');
Test::More::is(::suppression('abuse'), 'complaint 0', 'for a complaint');
my $list = ::admin_list('suppressed');
Test::More::ok($list->{::addr('abuse')} && $list->{::addr('hard')} && !$list->{::addr('soft')},
               'the suppressed list has the bounced and the complaining address, not the soft bounce');
--- request
GET /metrics
--- response_body_like
# TYPE xyz_mail_suppressed gauge\nxyz_mail_suppressed\{kind="complaint"\} [1-9]\d*\nxyz_mail_suppressed\{kind="bounce"\} [1-9]
--- no_error_log
[error]



=== TEST 6: garbage on the feedback queue is deleted with a log line, not retried nor dead-lettered
--- init
XyzSqs::sqs_call('SendMessage', { QueueUrl => $::fq, MessageBody => 'not json at all' });
XyzSqs::sqs_call('SendMessage', { QueueUrl => $::fq, MessageBody =>
    '{"Type":"SubscriptionConfirmation","MessageId":"x","Message":"confirm me"}' });
XyzSqs::sqs_call('SendMessage', { QueueUrl => $::fq, MessageBody =>
    '{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[]}}' });
select undef, undef, undef, 3;
my $a = XyzSqs::sqs_attributes($::fq);
Test::More::is(($a->{ApproximateNumberOfMessages} // 0) + ($a->{ApproximateNumberOfMessagesNotVisible} // 0),
               0, 'the queue is empty: nothing waits to be tried again');
Test::More::is(XyzSqs::sqs_count($::fdlq), 0, 'nothing in its dead-letter queue');
--- request
GET /t
--- response_body
ok
--- grep_error_log eval: qr/on the SES feedback queue is no SES bounce or complaint \([^)]+\); deleted/
--- grep_error_log_out
on the SES feedback queue is no SES bounce or complaint (the body is not a JSON object); deleted
on the SES feedback queue is no SES bounce or complaint (an SNS message of another type than Notification); deleted
on the SES feedback queue is no SES bounce or complaint (a Bounce without a valid recipient); deleted
--- no_error_log
[error]



=== TEST 7: nginx -t: the feedback queue needs the dispatcher
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_sqs_endpoint $TEST_NGINX_SQS_ENDPOINT;
    xyz_sqs_queue email $TEST_NGINX_SQS_EMAIL_QUEUE;
    xyz_sqs_queue crm $TEST_NGINX_SQS_CRM_QUEUE;
    xyz_ses_feedback_queue $TEST_NGINX_SQS_FEEDBACK_QUEUE;
--- config
--- must_die
--- error_log
[emerg]
"xyz_ses_feedback_queue" needs "xyz_dispatch": the dispatcher reads the feedback queue



=== TEST 8: nginx -t: the feedback queue is a URL
--- http_config
    xyz_ses_feedback_queue xyz-ses-feedback;
--- config
--- must_die
--- error_log
[emerg]
"xyz_ses_feedback_queue" needs the URL of the queue SES's SNS topic delivers to
