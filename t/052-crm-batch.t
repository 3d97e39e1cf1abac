# HubSpot's batch mode at its real size: the dispatcher gathers records
# across several SQS receives into one batch upsert of up to 100 contacts
# (xyz_crm_batch), under the same global cap in requests per second.
#
# A backlog drains at 20 times the cap or more in records per second while
# the busiest second at the fake CRM stays within the cap in requests, each
# record arriving once; a small backlog is sent once the linger is over; a
# batch held longer than the lease keeps its messages hidden; the
# directive's mistakes fail "nginx -t".

use Test::Nginx::Socket;
use Time::HiRes ();
use XyzTest;
use XyzSqs;
use XyzCrm;

BEGIN {
    if (!$ENV{TEST_NGINX_SQS_ENDPOINT} || !$ENV{TEST_NGINX_CRM_URL}) {
        Test::More::plan(skip_all => 'needs the SQS emulator and the fake '
                                     . 'CRM (make test)');
    }
}

plan 'no_plan';

our $run = run_id();
our $delay = 0;
our $ids = (time() % 1000000) * 1000 + 500000000000;   # outbox ids of this run
our %q = (crm => $ENV{TEST_NGINX_SQS_CRM_QUEUE},
          crm_dlq => $ENV{TEST_NGINX_SQS_CRM_DLQ});

no_shuffle();
no_long_string();
master_on();
check_accum_error_log();

sub addr { "$_[0]-$::run\@example.com" }

# CRM messages as the relay writes them, [tag, outbox id] each, ten to a
# SendMessageBatch; $::delay seconds (DelaySeconds) before they are visible
sub send_crm {
    my @m = @_;
    while (my @chunk = splice @m, 0, 10) {
        my $i = 0;
        my @entries = map {
            my ($tag, $id) = @$_;
            my %body = (email => addr($tag), name => "N $tag", locale => 'en',
                        marketing_consent => JSON::PP::true(), outbox_id => $id);
            { Id => 'm' . $i++,
              MessageBody => JSON::PP->new->canonical->encode(\%body),
              $::delay ? (DelaySeconds => $::delay) : (),
              MessageAttributes => { outbox_id => {
                  DataType => 'Number', StringValue => "$id" } } }
        } @chunk;
        my $res = XyzSqs::sqs_call('SendMessageBatch',
                                   { QueueUrl => $::q{crm}, Entries => \@entries });
        die "SendMessageBatch failed\n" if $res->{Failed} && @{ $res->{Failed} };
    }
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
        select undef, undef, undef, 0.1;
    }
    return @r;
}

sub sent_count {
    my ($from, $to) = @_;
    return XyzTest::psql("SELECT count(*) FROM deliveries WHERE state = 'sent' "
                         . "AND outbox_id BETWEEN $from AND $to");
}

# the accepted batch calls: [t_ms, number of inputs] each
sub batch_calls {
    return map { [ $_->{t_ms}, ref $_->{body} eq 'HASH' ? scalar @{ $_->{body}{inputs} } : 0 ] }
           grep { $_->{outcome} eq 'accepted' } XyzCrm::crm_calls();
}

add_block_preprocessor(sub {
    my $block = shift;

    quiet_error_log($block);

    # a long poll of the nginx the previous block stopped may still be
    # open in the emulator: let it run out before this block sends
    $block->set_value("init", <<'_EOI_' . ($block->init // ''));
select undef, undef, undef, 1.5;
XyzSqs::sqs_purge($::q{$_}) for qw(crm crm_dlq);
XyzCrm::crm_reset();
XyzCrm::crm_reject(undef);
XyzTest::psql("DELETE FROM rate_limits");
_EOI_

    if (!defined $block->main_config) {
        $block->set_value("main_config", <<'_EOC_');
    env AWS_ACCESS_KEY_ID=AKIDTEST;
    env AWS_SECRET_ACCESS_KEY=test-secret;
_EOC_
    }

    my $batch = $block->crm_batch // '';
    my $lease = $block->lease // '10s';
    my $timeout = $block->crm_timeout // '2s';

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<"_EOC_");
    xyz_pg_dsn "\$TEST_NGINX_PG_DSN";
    xyz_pg_backoff 1s 2s;
    xyz_sqs_endpoint \$TEST_NGINX_SQS_ENDPOINT;
    xyz_sqs_queue email \$TEST_NGINX_SQS_EMAIL_QUEUE;
    xyz_sqs_queue crm \$TEST_NGINX_SQS_CRM_QUEUE dlq=\$TEST_NGINX_SQS_CRM_DLQ;

    xyz_dispatch crm;
    xyz_dispatch_lease $lease;
    xyz_dispatch_poll 1s;
    xyz_dispatch_backoff 1s 2s;
    xyz_crm_url \$TEST_NGINX_CRM_URL/crm/v3/objects/contacts/batch/upsert;
    xyz_crm_mode hubspot_batch;
    $batch
    xyz_crm_rate 5;
    xyz_crm_timeout $timeout;
    xyz_crm_breaker 50 1s;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location = /metrics {
        xyz_metrics;
    }
_EOC_
    }

    $block->set_value("request", "GET /metrics") if !defined $block->request;
});

END {
    if ($ENV{TEST_NGINX_CRM_URL}) {
        XyzCrm::crm_fault(mode => 'none');
        XyzCrm::crm_reject(undef);
        XyzTest::psql("DELETE FROM rate_limits");
    }
}

run_tests();

__DATA__

=== TEST 1: a backlog of 300 at a cap of 5 requests/s: batches of up to 100, at least 20 x the cap in records/s, the busiest second within the cap, each record once
--- init
my $n = 300;
my @tags = map { "bk$_" } 1 .. $n;
# a backlog: all of it turns visible together, 2 s after it is sent; the
# drain is timed from the first moment any of it is visible
my $t0 = Time::HiRes::time() + 2;
{
    local $::delay = 2;
    ::send_crm(map { [ $tags[$_ - 1], $::ids + $_ ] } 1 .. $n);
}
Test::More::diag(sprintf('the backlog was sent in %.2f s',
                         Time::HiRes::time() - $t0 + 2));
my @r = ::records_for($n, 60, @tags);
Test::More::is(scalar @r, $n, 'every record reached the CRM');
Test::More::is(scalar(grep { $_->{upserts} != 1 } @r), 0, 'each written once');
my @calls = ::batch_calls();
my ($max) = sort { $b <=> $a } map { $_->[1] } @calls;
my $last = (sort { $b <=> $a } map { $_->[0] } @calls)[0] / 1000;
my $rate = $n / ($last - $t0);
Test::More::ok($max > 10 && $max <= 100,
               "a request carries up to 100 contacts (the largest: $max, in "
               . scalar(@calls) . ' requests)');
Test::More::ok(XyzCrm::crm_stats()->{max_calls_in_any_second} <= 5,
               'the busiest second at the CRM is within the cap of 5 requests ('
               . XyzCrm::crm_stats()->{max_calls_in_any_second} . ')');
Test::More::is(XyzCrm::crm_stats()->{rejected_429}, 0, 'no 429');
Test::More::ok($rate >= 20 * 5,
               sprintf('%.0f records/s: %.1f x the cap (at least 20)', $rate, $rate / 5));
select undef, undef, undef, 1;
Test::More::is(::sent_count($::ids + 1, $::ids + $n), $n,
               'every delivery is recorded as sent');
Test::More::is(XyzSqs::sqs_count($::q{crm}), 0, 'nothing left in the queue');
--- timeout: 10
--- no_error_log
exited on signal
[alert]
failed for good



=== TEST 2: a small backlog (3 messages) is sent once the linger is over, in one request, not held for more
--- crm_batch: xyz_crm_batch size=100 linger=1500ms;
--- init
my @tags = qw(sm1 sm2 sm3);
my $t0 = Time::HiRes::time();
::send_crm(map { [ $tags[$_ - 1], $::ids + 1000 + $_ ] } 1 .. 3);
my @r = ::records_for(3, 10, @tags);
Test::More::is(scalar @r, 3, 'the three records reached the CRM');
my @calls = ::batch_calls();
Test::More::is(scalar @calls, 1, 'in one request');
Test::More::is($calls[0][1], 3, 'of three contacts') if @calls;
my $after = $calls[0][0] / 1000 - $t0;
Test::More::ok($after >= 1.2 && $after <= 4,
               sprintf('sent %.2f s after the messages, about the linger of 1.5 s', $after));
--- timeout: 10
--- no_error_log
exited on signal



=== TEST 3: a batch of 30 gathered across receives answered 207: each contact by its own result, only the two refused dead-lettered
--- init
XyzCrm::crm_reject('^mbad', '207');
my @tags = map { $_ % 15 == 7 ? "mbad$_" : "mok$_" } 1 .. 30;
my @ids = map { $::ids + 1500 + $_ } 1 .. 30;
::send_crm(map { [ $tags[$_], $ids[$_] ] } 0 .. 29);
my @good = grep { /^mok/ } @tags;
my @r = ::records_for(28, 15, @good);
Test::More::is(scalar @r, 28, 'the 28 good contacts are in the CRM');
select undef, undef, undef, 1;
@r = ::records_for(28, 0, @good);
Test::More::is(scalar(grep { $_->{upserts} != 1 } @r), 0, 'each written once');
my @calls = ::batch_calls();
my ($max) = sort { $b <=> $a } map { $_->[1] } @calls;
Test::More::ok($max > 10, "in requests of more than one receive (the largest: $max)");
my @dead;
for (1 .. 20) {
    push @dead, XyzSqs::sqs_receive_all($::q{crm_dlq}, wait => 0, empty => 1, timeout => 2);
    last if @dead >= 2;
    select undef, undef, undef, 0.25;
}
Test::More::is(join(',', sort map { ref $_->{Body} ? $_->{Body}{email} : '?' } @dead),
               join(',', sort map { ::addr($_) } qw(mbad7 mbad22)),
               'only the two refused contacts are in the dead-letter queue');
Test::More::is(XyzTest::psql("SELECT string_agg(state || ':' || count, ',' ORDER BY state) FROM "
                             . "(SELECT state, count(*) FROM deliveries WHERE outbox_id BETWEEN "
                             . ($::ids + 1501) . " AND " . ($::ids + 1530) . " GROUP BY state) s"),
               'dead:2,sent:28', 'the deliveries as recorded');
--- timeout: 10
--- no_error_log
exited on signal



=== TEST 4: a batch held past the lease (a CRM that hangs) keeps its messages hidden, and sends them once
--- lease: 10s
--- crm_timeout: 15s
--- init
XyzCrm::crm_fault(mode => 'hang', count => 1);
my @tags = qw(lk1 lk2 lk3);
::send_crm(map { [ $tags[$_ - 1], $::ids + 2000 + $_ ] } 1 .. 3);
for (1 .. 50) {
    last if XyzCrm::crm_stats()->{faults} >= 1;
    select undef, undef, undef, 0.2;
}
Test::More::is(XyzCrm::crm_stats()->{faults}, 1, 'the CRM hangs on the batch');
# past the lease of 10 s the messages would be visible again
select undef, undef, undef, 11;
my $res = XyzSqs::sqs_call('ReceiveMessage', { QueueUrl => $::q{crm}, MaxNumberOfMessages => 10,
                                               VisibilityTimeout => 0, WaitTimeSeconds => 0 });
Test::More::is(scalar @{ $res->{Messages} // [] }, 0, 'the leases were kept: nothing visible');
my @r = ::records_for(3, 15, @tags);
Test::More::is(scalar @r, 3, 'after the timeout and its retry the records reached the CRM');
Test::More::is(scalar(grep { $_->{upserts} != 1 } @r), 0, 'each once');
--- timeout: 40
--- error_log
CRM unreachable
still in work after half its lease; renewing the leases
--- no_error_log
exited on signal



=== TEST 5: xyz_crm_batch with a size above HubSpot's 100
--- http_config
    xyz_crm_batch size=101 linger=200ms;
--- must_die
--- error_log
invalid "size=101" in "xyz_crm_batch"; give the contacts in one request, from 1 to 100 (HubSpot's limit)



=== TEST 6: xyz_crm_batch with a linger that is not a time, or too long for the lease
--- http_config
    xyz_crm_batch size=50 linger=soon;
--- must_die
--- error_log
invalid "linger=soon" in "xyz_crm_batch"; give how long a batch waits for more records, e.g. "linger=200ms", at most 5s



=== TEST 7: xyz_crm_batch without HubSpot's batch mode
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_sqs_endpoint $TEST_NGINX_SQS_ENDPOINT;
    xyz_sqs_queue email $TEST_NGINX_SQS_EMAIL_QUEUE;
    xyz_sqs_queue crm $TEST_NGINX_SQS_CRM_QUEUE;
    xyz_dispatch crm;
    xyz_crm_url $TEST_NGINX_CRM_URL/contacts;
    xyz_crm_batch size=50 linger=200ms;
--- must_die
--- error_log
"xyz_crm_batch" needs "xyz_crm_mode hubspot_batch": the single mode sends one record a request
