# The dispatcher when things go wrong at awkward moments: PostgreSQL gone
# while a batch is in work, a message that cannot begin inside a HubSpot
# batch, a contact HubSpot refuses inside a batch, a dead-letter queue that
# is not there (or is FIFO) when a message fails for good, and a CRM that
# asks to wait for ever.
#
# Messages are put on the CRM queue directly (each with its own outbox id),
# so that nothing here depends on when the registration path writes them.
# Every check runs in the block's init, with waits that end as soon as the
# effect is seen; the block's request then looks at the error log.

use Test::Nginx::Socket;
use XyzTest;
use XyzSqs;
use XyzCrm;

BEGIN {
    if (!$ENV{TEST_NGINX_SQS_ENDPOINT} || !$ENV{TEST_NGINX_CRM_URL}) {
        Test::More::plan(skip_all => 'needs the SQS emulator and the fake '
                                     . 'CRM (make test)');
    }

    if ($ENV{XYZ_DATABASE_URL}) {
        Test::More::plan(skip_all => 'needs the private cluster to stop it');
    }

    # dead-letter queues this suite creates itself, next to the project's
    my $run = XyzTest::run_id();
    (my $base = $ENV{TEST_NGINX_SQS_CRM_DLQ}) =~ s{/[^/]+\z}{};
    $ENV{TEST_NGINX_LATE_DLQ} = "$base/xyz-051-late-$run";
    $ENV{TEST_NGINX_FIFO_DLQ} = "$base/xyz-051-dlq-$run.fifo";

    # freed memory is overwritten and heap misuse aborts: a use after free
    # in the dispatcher shows as a crash (env MALLOC_* in main_config hands
    # them on to the workers as well)
    $ENV{MALLOC_PERTURB_} = 165;
    $ENV{MALLOC_CHECK_} = 3;
}

plan 'no_plan';

our $run = run_id();
our $ids = (time() % 1000000) * 1000;        # outbox ids of this run
our %q = (crm => $ENV{TEST_NGINX_SQS_CRM_QUEUE},
          crm_dlq => $ENV{TEST_NGINX_SQS_CRM_DLQ});

no_shuffle();
no_long_string();
master_on();
check_accum_error_log();

sub addr { "$_[0]-$::run\@example.com" }

# CRM messages as the relay writes them, [tag, outbox id or undef] each,
# sent in batches of ten so that one receive sees them together
sub send_crm {
    my @m = @_;
    while (my @chunk = splice @m, 0, 10) {
        my $i = 0;
        my @entries = map {
            my ($tag, $id) = @$_;
            my %body = (email => addr($tag), name => "N $tag", locale => 'en',
                        marketing_consent => JSON::PP::true());
            $body{outbox_id} = $id if defined $id;
            { Id => 'm' . $i++, MessageBody => JSON::PP->new->canonical->encode(\%body),
              defined $id ? (MessageAttributes => { outbox_id => {
                  DataType => 'Number', StringValue => "$id" } }) : () }
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
        select undef, undef, undef, 0.2;
    }
    return @r;
}

# the messages of a dead-letter queue, waiting up to $timeout seconds for $n
sub dead_in {
    my ($url, $n, $timeout) = @_;
    my $deadline = time + $timeout;
    my @all;
    while (1) {
        push @all, XyzSqs::sqs_receive_all($url, wait => 0, empty => 1, timeout => 2);
        last if @all >= $n || time > $deadline;
        select undef, undef, undef, 0.25;
    }
    return @all;
}

sub delivery_states {
    my (@ids) = @_;
    return XyzTest::psql("SELECT string_agg(state, ',' ORDER BY outbox_id) FROM deliveries "
                         . "WHERE outbox_id IN (" . join(',', @ids) . ")");
}

add_block_preprocessor(sub {
    my $block = shift;

    quiet_error_log($block);

    # a long poll of the nginx the previous block stopped is still open in
    # the emulator for up to xyz_dispatch_poll, and would take (and hide
    # for the lease) what this block sends: let it run out first
    $block->set_value("init", <<'_EOI_' . ($block->init // ''));
select undef, undef, undef, 1.5;
XyzSqs::sqs_purge($::q{$_}) for qw(crm crm_dlq);
XyzCrm::crm_reset();
XyzTest::psql("DELETE FROM rate_limits");
_EOI_

    if (!defined $block->main_config) {
        $block->set_value("main_config", <<'_EOC_');
    env AWS_ACCESS_KEY_ID=AKIDTEST;
    env AWS_SECRET_ACCESS_KEY=test-secret;
_EOC_
    }

    my $mode = $block->crm_mode // 'single';
    my $url = $mode eq 'single'
              ? '$TEST_NGINX_CRM_URL/contacts'
              : '$TEST_NGINX_CRM_URL/crm/v3/objects/contacts/batch/upsert';
    my $dlq = $block->dlq // '$TEST_NGINX_SQS_CRM_DLQ';
    my $pg_extra = $block->pg_extra // '';

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<"_EOC_");
    xyz_pg_dsn "\$TEST_NGINX_PG_DSN";
    xyz_pg_backoff 1s 2s;
$pg_extra
    xyz_sqs_endpoint \$TEST_NGINX_SQS_ENDPOINT;
    xyz_sqs_queue email \$TEST_NGINX_SQS_EMAIL_QUEUE;
    xyz_sqs_queue crm \$TEST_NGINX_SQS_CRM_QUEUE dlq=$dlq;

    xyz_dispatch crm;
    xyz_dispatch_lease 10s;
    xyz_dispatch_poll 1s;
    xyz_dispatch_backoff 1s 2s;
    xyz_crm_url $url;
    xyz_crm_mode $mode;
    xyz_crm_rate 50;
    xyz_crm_timeout 2s;
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
        XyzTest::pg_start();
        XyzCrm::crm_fault(mode => 'none');
        XyzCrm::crm_reject(undef);
        XyzTest::psql("DELETE FROM rate_limits");
    }
}

run_tests();

__DATA__

=== TEST 1: PostgreSQL stops while messages arrive: the worker survives, and once it is back every message is sent once
--- main_config
    env AWS_ACCESS_KEY_ID=AKIDTEST;
    env AWS_SECRET_ACCESS_KEY=test-secret;
    env MALLOC_PERTURB_;
    env MALLOC_CHECK_;
--- init
my @ids = map { $::ids + 100 + $_ } 1 .. 30;
XyzTest::pg_stop();
::send_crm(map { [ "pgd$_", $::ids + 100 + $_ ] } 1 .. 30);
# three receives, each refused by a pool that waits out its backoff
select undef, undef, undef, 5;
{
    local %ENV = %ENV;
    delete @ENV{qw(MALLOC_PERTURB_ MALLOC_CHECK_)};
    XyzTest::pg_start();
}
my @r = ::records_for(30, 40, map { "pgd$_" } 1 .. 30);
Test::More::is(scalar @r, 30, 'every message reached the CRM after the outage');
Test::More::is(scalar(grep { $_->{upserts} != 1 } @r), 0, 'each once');
select undef, undef, undef, 1;
Test::More::is(::delivery_states(@ids), join(',', ('sent') x 30),
               'every delivery is recorded as sent');
--- timeout: 5
--- error_log
xyz: cannot connect to PostgreSQL
--- no_error_log
exited on signal
[alert]



=== TEST 2: HubSpot batch: a message that cannot begin (no outbox id) does not stall the consumer
--- crm_mode: hubspot_batch
--- init
::send_crm([ 'stall1', $::ids + 201 ], [ 'stall2', $::ids + 202 ], [ 'stall-noid', undef ],
           [ 'stall3', $::ids + 203 ]);
my @r = ::records_for(3, 10, qw(stall1 stall2 stall3));
Test::More::is(scalar @r, 3, 'the three messages with an outbox id reached the CRM');
::send_crm([ 'stall4', $::ids + 204 ], [ 'stall5', $::ids + 205 ]);
@r = ::records_for(2, 10, qw(stall4 stall5));
Test::More::is(scalar @r, 2, 'the consumer goes on with the next receive');
my @dead = ::dead_in($::q{crm_dlq}, 1, 10);
Test::More::is(scalar @dead, 1, 'the message without an outbox id is dead-lettered');
Test::More::is(ref $dead[0]{Body} ? $dead[0]{Body}{email} : '', ::addr('stall-noid'),
               '... that one') if @dead;
--- error_log
a message without an outbox id
--- no_error_log
exited on signal



=== TEST 3: HubSpot batch: the database refuses some jobs' queries (a full wait queue): the rest are sent, the consumer goes on
--- crm_mode: hubspot_batch
--- pg_extra
    xyz_pg_pool_size 1;
    xyz_pg_queue_size 1;
--- init
my @ids = map { $::ids + 250 + $_ } 1 .. 3;
::send_crm(map { [ "full$_", $ids[$_ - 1] ] } 1 .. 3);
my @r = ::records_for(1, 8, qw(full1 full2 full3));
Test::More::ok(scalar @r >= 1, 'the jobs that began were sent (' . scalar(@r) . ')');
# the refused ones reappear after their lease, and are sent then
@r = ::records_for(3, 30, qw(full1 full2 full3));
Test::More::is(scalar @r, 3, 'in the end every message reached the CRM');
Test::More::is(scalar(grep { $_->{upserts} != 1 } @r), 0, 'each once');
--- no_error_log
exited on signal



=== TEST 4: HubSpot batch refused (400) for one contact: the others reach the CRM once, only that one is dead-lettered
--- crm_mode: hubspot_batch
--- init
XyzCrm::crm_reject('^hsbad');
my @tags = qw(hs1 hs2 hsbad hs3 hs4);
my @ids = map { $::ids + 300 + $_ } 1 .. 5;
::send_crm(map { [ $tags[$_], $ids[$_] ] } 0 .. 4);
my @r = ::records_for(4, 15, qw(hs1 hs2 hs3 hs4));
Test::More::is(scalar @r, 4, 'the four good contacts are in the CRM');
Test::More::is(scalar(grep { $_->{upserts} != 1 } @r), 0, 'each written once');
my @dead = ::dead_in($::q{crm_dlq}, 1, 10);
select undef, undef, undef, 1;
push @dead, XyzSqs::sqs_receive_all($::q{crm_dlq}, wait => 0, empty => 1, timeout => 2);
Test::More::is(join(',', map { ref $_->{Body} ? $_->{Body}{email} : '?' } @dead),
               ::addr('hsbad'), 'only the refused contact is in the dead-letter queue');
Test::More::like($dead[0]{MessageAttributes}{xyz_reason}{StringValue} // '', qr/CRM answered 400/,
                 'with the reason') if @dead;
Test::More::is(::delivery_states(@ids), 'sent,sent,dead,sent,sent', 'the deliveries as recorded');
Test::More::is(scalar(::records_for(0, 0, 'hsbad')), 0, 'the CRM has no record of the refused one');
--- error_log
failed for good: CRM answered 400
--- no_error_log
exited on signal



=== TEST 5: HubSpot batch answered 207: each contact by its own result, only the refused one dead-lettered
--- crm_mode: hubspot_batch
--- init
XyzCrm::crm_reject('^msbad', '207');
my @tags = qw(ms1 msbad ms2 ms3);
my @ids = map { $::ids + 400 + $_ } 1 .. 4;
::send_crm(map { [ $tags[$_], $ids[$_] ] } 0 .. 3);
my @r = ::records_for(3, 15, qw(ms1 ms2 ms3));
Test::More::is(scalar @r, 3, 'the three good contacts are in the CRM');
select undef, undef, undef, 1;
@r = ::records_for(3, 0, qw(ms1 ms2 ms3));
Test::More::is(scalar(grep { $_->{upserts} != 1 } @r), 0, 'each written once');
my @dead = ::dead_in($::q{crm_dlq}, 1, 10);
push @dead, XyzSqs::sqs_receive_all($::q{crm_dlq}, wait => 0, empty => 1, timeout => 2);
Test::More::is(join(',', map { ref $_->{Body} ? $_->{Body}{email} : '?' } @dead),
               ::addr('msbad'), 'only the refused contact is in the dead-letter queue');
Test::More::like($dead[0]{MessageAttributes}{xyz_reason}{StringValue} // '', qr/is invalid/,
                 "with HubSpot's reason for it") if @dead;
Test::More::is(::delivery_states(@ids), 'sent,dead,sent,sent', 'the deliveries as recorded');
Test::More::is(XyzCrm::crm_stats()->{calls}, 1, 'all in one call');
--- no_error_log
exited on signal



=== TEST 6: the dead-letter queue is missing when a message fails for good: the message waits and is dead-lettered once it is there
--- dlq: $TEST_NGINX_LATE_DLQ
--- init
XyzCrm::crm_reject('^late');
::send_crm([ 'late1', $::ids + 501 ]);
# the refusal, then a failed move to the dead-letter queue, then a retry or two
select undef, undef, undef, 4;
Test::More::ok(XyzCrm::crm_stats()->{bad_requests} >= 1, 'the CRM refused the record');
my $url = XyzSqs::sqs_call('CreateQueue', { QueueName => "xyz-051-late-$::run" })->{QueueUrl};
Test::More::is($url, $ENV{TEST_NGINX_LATE_DLQ}, 'the dead-letter queue now exists');
my @dead = ::dead_in($url, 1, 15);
Test::More::is(scalar @dead, 1, 'the message reached it');
Test::More::is(ref $dead[0]{Body} ? $dead[0]{Body}{email} : '', ::addr('late1'), '... that one')
    if @dead;
select undef, undef, undef, 1;
Test::More::is(::delivery_states($::ids + 501), 'dead', 'and its delivery is recorded as dead');
Test::More::is(XyzSqs::sqs_count($::q{crm}), 0, 'it left the queue');
XyzSqs::sqs_call('DeleteQueue', { QueueUrl => $url });
--- error_log
cannot move outbox row
--- no_error_log
exited on signal



=== TEST 7: a FIFO dead-letter queue takes what fails for good (group and deduplication ids)
--- dlq: $TEST_NGINX_FIFO_DLQ
--- init
my $url = XyzSqs::sqs_call('CreateQueue', { QueueName => "xyz-051-dlq-$::run.fifo",
                                            Attributes => { FifoQueue => 'true' } })->{QueueUrl};
Test::More::is($url, $ENV{TEST_NGINX_FIFO_DLQ}, 'a FIFO dead-letter queue');
XyzCrm::crm_reject('^fifo');
::send_crm([ 'fifo1', $::ids + 601 ]);
my @dead = ::dead_in($url, 1, 10);
Test::More::is(scalar @dead, 1, 'the refused message is in it');
Test::More::is(ref $dead[0]{Body} ? $dead[0]{Body}{email} : '', ::addr('fifo1'), '... that one')
    if @dead;
select undef, undef, undef, 1;
Test::More::is(::delivery_states($::ids + 601), 'dead', 'its delivery is recorded as dead');
XyzSqs::sqs_call('DeleteQueue', { QueueUrl => $url });
--- no_error_log
exited on signal
cannot move outbox row



=== TEST 8: the limiter's SQL keeps a huge block within an hour and answers without an error
--- init
my $r = eval {
    XyzTest::psql("SELECT xyz_rate_result('t051', true, interval '2147483647 seconds', 3, "
                  . "interval '1 second')");
    XyzTest::psql("SELECT xyz_rate_reserve('t051', 10, interval '5 seconds', "
                  . "interval '1 second')");
};
Test::More::ok(defined $r && $r < 0 && $r >= -3600 * 1000,
               'xyz_rate_reserve answers: blocked an hour at most (' . ($r // $@) . ')');
# a row frozen by older code is mended
$r = eval {
    XyzTest::psql("UPDATE rate_limits SET blocked_until = '9999-12-31', tat = '9999-12-31' "
                  . "WHERE name = 't051'");
    XyzTest::psql("SELECT xyz_rate_reserve('t051', 10, interval '5 seconds', "
                  . "interval '1 second')");
};
Test::More::ok(defined $r && $r < 0 && $r >= -3600 * 1000,
               'a row blocked until 9999 waits an hour at most (' . ($r // $@) . ')');
--- error_code: 200



=== TEST 9: a 429 with Retry-After in year 9999: the CRM limiter is blocked an hour at most, no SQL error
--- init
XyzCrm::crm_fault(mode => '429', count => 1, retry_after => 'Fri, 31 Dec 9999 23:59:59 GMT');
::send_crm([ 'ra9999a', $::ids + 801 ]);
for (1 .. 50) {
    last if XyzCrm::crm_stats()->{faults} >= 1;
    select undef, undef, undef, 0.2;
}
Test::More::is(XyzCrm::crm_stats()->{faults}, 1, 'the CRM answered 429');
select undef, undef, undef, 1;
# the next message asks the limiter for a slot
::send_crm([ 'ra9999b', $::ids + 802 ]);
select undef, undef, undef, 2.5;
Test::More::is(XyzTest::psql("SELECT blocked_until BETWEEN now() + interval '50 minutes' "
                             . "AND now() + interval '1 hour 5 seconds' FROM rate_limits "
                             . "WHERE name = 'crm'"),
               't', 'the limiter is blocked for about an hour, not until 9999');
--- error_log
CRM answered 429, Retry-After 3600 s
the peer is rate limited or failing
--- no_error_log
PostgreSQL error
exited on signal



=== TEST 10: a 429 with Retry-After 2^31 seconds: the same
--- init
XyzCrm::crm_fault(mode => '429', count => 1, retry_after => '2147483648');
::send_crm([ 'ra2e31a', $::ids + 901 ]);
for (1 .. 50) {
    last if XyzCrm::crm_stats()->{faults} >= 1;
    select undef, undef, undef, 0.2;
}
Test::More::is(XyzCrm::crm_stats()->{faults}, 1, 'the CRM answered 429');
select undef, undef, undef, 1;
::send_crm([ 'ra2e31b', $::ids + 902 ]);
select undef, undef, undef, 2.5;
Test::More::is(XyzTest::psql("SELECT blocked_until BETWEEN now() + interval '50 minutes' "
                             . "AND now() + interval '1 hour 5 seconds' FROM rate_limits "
                             . "WHERE name = 'crm'"),
               't', 'the limiter is blocked for about an hour');
--- error_log
CRM answered 429, Retry-After 3600 s
the peer is rate limited or failing
--- no_error_log
PostgreSQL error
exited on signal
