# The global CRM cap holds at the CRM when the answers to the dispatcher's
# slot reservations come back late.
#
# A slot is a time on the database's clock, told to the dispatcher as "so
# many milliseconds from now".  An answer that comes back late (a slow
# commit on a busy database, a row lock held by another dispatcher) and is
# timed from its arrival leaves late by as much, and late sends bunch up
# with the ones on time: the CRM counts more calls in one second than the
# cap.  Here every reservation holds the limiter's row up to 40 ms longer,
# as a slow commit does, while a backlog drains at a cap of 20.

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
our $ids = (time() % 1000000) * 1000 + 600000000000;
our %q = (crm => $ENV{TEST_NGINX_SQS_CRM_QUEUE},
          crm_dlq => $ENV{TEST_NGINX_SQS_CRM_DLQ});

no_shuffle();
no_long_string();
master_on();
check_accum_error_log();

sub addr { "$_[0]-$::run\@example.com" }

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
              MessageAttributes => { outbox_id => {
                  DataType => 'Number', StringValue => "$id" } } }
        } @chunk;
        my $res = XyzSqs::sqs_call('SendMessageBatch',
                                   { QueueUrl => $::q{crm}, Entries => \@entries });
        die "SendMessageBatch failed\n" if $res->{Failed} && @{ $res->{Failed} };
    }
}

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

# every reservation commits up to $ms later, the limiter's row still locked
sub slow_reservations {
    my ($ms) = @_;
    XyzTest::psql(<<"_SQL_");
DO \$\$
BEGIN
    IF to_regprocedure('xyz_rate_reserve_unslowed(text,float8,interval,interval)')
       IS NULL
    THEN
        ALTER FUNCTION xyz_rate_reserve(text, float8, interval, interval)
            RENAME TO xyz_rate_reserve_unslowed;
    END IF;
END
\$\$;
CREATE OR REPLACE FUNCTION xyz_rate_reserve(p_name text, p_rate float8,
                                            p_horizon interval,
                                            p_probe interval)
RETURNS integer LANGUAGE plpgsql AS \$\$
DECLARE
    v integer;
BEGIN
    v := xyz_rate_reserve_unslowed(p_name, p_rate, p_horizon, p_probe);
    PERFORM pg_sleep(random() * $ms / 1000.0);
    RETURN v;
END;
\$\$;
_SQL_
}

sub unslowed {
    XyzTest::psql(<<'_SQL_');
DO $$
BEGIN
    IF to_regprocedure('xyz_rate_reserve_unslowed(text,float8,interval,interval)')
       IS NOT NULL
    THEN
        DROP FUNCTION xyz_rate_reserve(text, float8, interval, interval);
        ALTER FUNCTION xyz_rate_reserve_unslowed(text, float8, interval, interval)
            RENAME TO xyz_rate_reserve;
    END IF;
END
$$;
_SQL_
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("init", <<'_EOI_' . ($block->init // ''));
select undef, undef, undef, 1.5;
XyzSqs::sqs_purge($::q{$_}) for qw(crm crm_dlq);
XyzCrm::crm_reset();
XyzCrm::crm_limit(1000);
XyzTest::psql("DELETE FROM rate_limits");
_EOI_

    $block->set_value("main_config", <<'_EOC_') if !defined $block->main_config;
    env AWS_ACCESS_KEY_ID=AKIDTEST;
    env AWS_SECRET_ACCESS_KEY=test-secret;
_EOC_

    $block->set_value("http_config", <<'_EOC_') if !defined $block->http_config;
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_pg_backoff 1s 2s;
    xyz_sqs_endpoint $TEST_NGINX_SQS_ENDPOINT;
    xyz_sqs_queue email $TEST_NGINX_SQS_EMAIL_QUEUE;
    xyz_sqs_queue crm $TEST_NGINX_SQS_CRM_QUEUE dlq=$TEST_NGINX_SQS_CRM_DLQ;

    xyz_dispatch crm;
    xyz_dispatch_lease 30s;
    xyz_dispatch_poll 1s;
    xyz_dispatch_backoff 1s 2s;
    xyz_crm_url $TEST_NGINX_CRM_URL/contacts;
    xyz_crm_rate 20;
    xyz_crm_timeout 2s;
_EOC_

    $block->set_value("config", <<'_EOC_') if !defined $block->config;
    location = /metrics {
        xyz_metrics;
    }
_EOC_

    $block->set_value("request", "GET /metrics") if !defined $block->request;
});

END {
    if ($ENV{TEST_NGINX_CRM_URL}) {
        unslowed();
        XyzCrm::crm_limit(100);
        XyzTest::psql("DELETE FROM rate_limits");
    }
}

run_tests();

__DATA__

=== TEST 1: reservations committed up to 40 ms late: a backlog of 200 at a cap of 20 never puts more than 20 calls in any second at the CRM, each record once
--- init

my $n = 200;
my @tags = map { "cap$_" } 1 .. $n;
::send_crm(map { [ $tags[$_ - 1], $::ids + $_ ] } 1 .. $n);
::slow_reservations(40);
my @r = ::records_for($n, 60, @tags);
::unslowed();
Test::More::is(scalar @r, $n, 'every record reached the CRM');
Test::More::is(scalar(grep { $_->{upserts} != 1 } @r), 0, 'each written once');
my $s = XyzCrm::crm_stats();
Test::More::ok($s->{max_calls_in_any_second} <= 20,
               "the busiest second at the CRM: $s->{max_calls_in_any_second} "
               . 'calls against a cap of 20');
Test::More::ok($n / (($s->{last_call_ms} - $s->{first_call_ms}) / 1000 || 1)
               >= 20 * 0.6,
               sprintf('the drain keeps most of the cap: %.1f calls/s',
                       $n / (($s->{last_call_ms} - $s->{first_call_ms}) / 1000 || 1)));
--- timeout: 15
--- no_error_log
exited on signal
[alert]
