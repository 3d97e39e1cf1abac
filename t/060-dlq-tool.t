#!/usr/bin/env perl
# scripts/dlq.sh, the operator's view of the dead-letter queues: two CRM
# messages in the DLQ (one the dispatcher moved, with its reason; one SQS
# moved after too many receives, without) are counted and listed with
# masked addresses and without being taken away, then re-driven to the CRM
# queue with --reset, which sets the dead delivery back for another try.

use strict;
use warnings;
use Test::More;

BEGIN {
    if (!$ENV{TEST_NGINX_SQS_ENDPOINT} || !$ENV{TEST_NGINX_PG_DSN}) {
        plan skip_all => 'needs the SQS emulator and the test database (make test)';
    }
}

use JSON::PP ();
use XyzTest qw(psql run_id);
use XyzSqs;

my $tool = "$ENV{XYZ_ROOT}/scripts/dlq.sh";
my $run = run_id();
my %q = (email => $ENV{TEST_NGINX_SQS_EMAIL_QUEUE},
         email_dlq => $ENV{TEST_NGINX_SQS_EMAIL_DLQ},
         crm => $ENV{TEST_NGINX_SQS_CRM_QUEUE},
         crm_dlq => $ENV{TEST_NGINX_SQS_CRM_DLQ});

$ENV{XYZ_SQS_ENDPOINT} = $ENV{TEST_NGINX_SQS_ENDPOINT};
$ENV{XYZ_SQS_EMAIL_QUEUE} = $q{email};
$ENV{XYZ_SQS_EMAIL_DLQ} = $q{email_dlq};
$ENV{XYZ_SQS_CRM_QUEUE} = $q{crm};
$ENV{XYZ_SQS_CRM_DLQ} = $q{crm_dlq};
$ENV{XYZ_PG_DSN} = $ENV{TEST_NGINX_PG_DSN};

# the tool's output (stdout and stderr) and exit status
sub tool {
    my (@args) = @_;
    my $pid = open my $fh, '-|' // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT or die "dup: $!";
        exec $tool, @args or die "exec $tool: $!";
    }
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    return wantarray ? ($out, $? >> 8) : $out;
}

my $json = JSON::PP->new->canonical;

# outbox ids no registration of the other suites reaches
my $base = 8_000_000_000 + ($$ % 100_000) * 10;
my ($dead_id, $sent_id) = ($base + 1, $base + 2);

sub crm_body {
    my ($id, $addr) = @_;
    return $json->encode({
        type => 'registration', kind => 'crm', outbox_id => $id, user_id => $id,
        email => $addr, name => 'Ana', locale => 'es',
        marketing_consent => JSON::PP::false,
        registered_at => '2026-01-01T00:00:00Z', created_at => '2026-01-01T00:00:00Z',
    });
}

my $dead_body = crm_body($dead_id, "ana-$run\@example.com");
my $sent_body = crm_body($sent_id, "Bea-$run\@Example.org");

sqs_purge($q{$_}) for qw(crm crm_dlq email_dlq);

# as the dispatcher moves a permanent failure: the body, the reason
sqs_call('SendMessage', {
    QueueUrl => $q{crm_dlq}, MessageBody => $dead_body,
    MessageAttributes => { xyz_reason => {
        DataType => 'String',
        StringValue => 'CRM answered 422: {"message":"Property values were not valid"}' } },
});
# as SQS moves a message after maxReceiveCount: the relay's attributes
sqs_call('SendMessage', {
    QueueUrl => $q{crm_dlq}, MessageBody => $sent_body,
    MessageAttributes => { outbox_id => { DataType => 'Number',
                                          StringValue => "$sent_id" } },
});

psql("DELETE FROM deliveries WHERE outbox_id IN ($dead_id, $sent_id)");
psql("INSERT INTO deliveries (outbox_id, kind, state, attempts, claimed_until, detail) "
     . "VALUES ($dead_id, 'crm', 'dead', 1, now() + interval '1 hour', 'CRM answered 422'), "
     . "($sent_id, 'crm', 'sent', 1, now(), '')");

# ---- count -------------------------------------------------------------------

my ($out, $rc) = tool('count', 'crm');
is($rc, 0, 'count: exit 0');
like($out, qr/^crm: 2 in the dead-letter queue, 0 in flight/m, 'count: two in the CRM DLQ');
unlike($out, qr/^email:/m, 'count crm: only the CRM queue');

($out) = tool('count');
like($out, qr/^email: 0 in the dead-letter queue/m, 'count: both queues without a kind');

# ---- list --------------------------------------------------------------------

($out, $rc) = tool('list', 'crm');
is($rc, 0, 'list: exit 0');
like($out, qr/^crm dead-letter queue \S+: 2 messages$/m, 'list: two messages');
like($out, qr/^$dead_id\s+registration\s+a\*\*\*\@example\.com\s+\d+\s+
              \d{4}-\d\d-\d\d\ \d\d:\d\d:\d\d\s+
              CRM\ answered\ 422:\ \{"message":"Property\ values\ were\ not\ valid"\}$/mx,
     'list: the dispatcher\'s message with outbox id, type, masked address and reason');
like($out, qr/^$sent_id\s+registration\s+B\*\*\*\@Example\.org\s+\d+\s+\S+ \S+\s+-$/m,
     'list: the message SQS moved, without a reason');
unlike($out, qr/ana-|Bea-/, 'list: no address in full');
is(sqs_count($q{crm_dlq}), 2, 'list: both still in the DLQ, visible again');

($out) = tool('list', 'crm');
like($out, qr/: 2 messages$/m, 'list again: the same two');

# ---- redrive -----------------------------------------------------------------

($out, $rc) = tool('redrive');
is($rc, 2, 'redrive without a kind: usage');

($out, $rc) = tool('redrive', 'crm', '--reset');
is($rc, 0, 'redrive: exit 0') or diag($out);
like($out, qr/^crm: 2 messages moved from \Q$q{crm_dlq}\E to \Q$q{crm}\E$/m,
     'redrive: two moved');
like($out, qr/^crm: 1 dead delivery reset for another attempt$/m,
     'redrive --reset: the dead delivery reset, the sent one not');

my $left = sqs_attributes($q{crm_dlq});
is($left->{ApproximateNumberOfMessages} + $left->{ApproximateNumberOfMessagesNotVisible},
   0, 'the DLQ is empty, nothing left in flight');

my @back = sqs_receive_all($q{crm}, wait => 0, empty => 1, timeout => 5);
is(scalar @back, 2, 'two messages back in the CRM queue');
my %by = map { ($_->{RawBody} => $_) } @back;
ok($by{$dead_body}, 'the dead one with its body unchanged');
ok($by{$sent_body}, 'the other with its body unchanged');
is($by{$dead_body}{MessageAttributes}{outbox_id}{StringValue}, $dead_id,
   'the outbox id as an attribute, taken from the body');
ok(!exists $by{$dead_body}{MessageAttributes}{xyz_reason}, 'without the old reason');
is($by{$sent_body}{MessageAttributes}{outbox_id}{StringValue}, $sent_id,
   'the other keeps its attributes');

is(psql("SELECT state || ' ' || (claimed_until <= now()) FROM deliveries "
        . "WHERE outbox_id = $dead_id"), 'sending true',
   'the dead delivery is sending again, free to claim');
is(psql("SELECT state FROM deliveries WHERE outbox_id = $sent_id"), 'sent',
   'the sent one stays sent (the dispatcher will only delete its message)');

($out, $rc) = tool('redrive', 'crm');
is($rc, 0, 'redrive of an empty DLQ: exit 0');
like($out, qr/^crm: 0 messages moved/m, 'redrive of an empty DLQ: nothing moved');

# ---- unsigned, and no keys for a remote endpoint -----------------------------

{
    local $ENV{AWS_ACCESS_KEY_ID};
    local $ENV{AWS_SECRET_ACCESS_KEY};
    delete $ENV{AWS_ACCESS_KEY_ID};
    delete $ENV{AWS_SECRET_ACCESS_KEY};

    ($out, $rc) = tool('count', 'email');
    is($rc, 0, 'without keys the local emulator is called unsigned') or diag($out);

    local $ENV{XYZ_SQS_ENDPOINT} = 'https://sqs.eu-west-1.amazonaws.com';
    ($out, $rc) = tool('count', 'email');
    isnt($rc, 0, 'without keys a remote endpoint is refused');
    like($out, qr/no AWS credentials/, 'and the tool says why');
}

psql("DELETE FROM deliveries WHERE outbox_id IN ($dead_id, $sent_id)");
sqs_purge($q{crm});

done_testing();
