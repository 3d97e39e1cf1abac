#!/usr/bin/env perl
# The local SQS emulator that "make test" starts (scripts/sqs.sh, fauxqs):
# the project's queues and their dead-letter wiring, a batch sent and
# received through t/lib/XyzSqs.pm, and a stop and start as the outage
# suites do it (same endpoint and queue URLs, queues back, messages gone).

use strict;
use warnings;
use JSON::PP ();
use Test::More;

BEGIN {
    plan skip_all => 'TEST_NGINX_SQS_ENDPOINT is not set (run through make test)'
        unless $ENV{TEST_NGINX_SQS_ENDPOINT};
}

use XyzSqs;

my $email = $ENV{TEST_NGINX_SQS_EMAIL_QUEUE};
my $crm = $ENV{TEST_NGINX_SQS_CRM_QUEUE};
my $email_dlq = $ENV{TEST_NGINX_SQS_EMAIL_DLQ};
my $crm_dlq = $ENV{TEST_NGINX_SQS_CRM_DLQ};
my $endpoint = $ENV{TEST_NGINX_SQS_ENDPOINT};

for my $v (qw(TEST_NGINX_SQS_EMAIL_QUEUE TEST_NGINX_SQS_CRM_QUEUE
              TEST_NGINX_SQS_EMAIL_DLQ TEST_NGINX_SQS_CRM_DLQ)) {
    ok($ENV{$v}, "$v is set");
}
like($endpoint, qr{\Ahttp://127\.0\.0\.1:\d+\z}, 'endpoint on the loopback');

my $tag = sprintf '%x%x', time, $$;

# the queues, as ListQueues and GetQueueUrl give them
my %urls = map { $_ => 1 } @{ sqs_call('ListQueues', {})->{QueueUrls} || [] };
for my $url ($email, $crm, $email_dlq, $crm_dlq) {
    ok($urls{$url}, "ListQueues has $url");
}
is(sqs_call('GetQueueUrl', { QueueName => 'xyz-email' })->{QueueUrl}, $email,
   'GetQueueUrl xyz-email is TEST_NGINX_SQS_EMAIL_QUEUE');

# dead-letter wiring and visibility timeout of the two work queues
for my $q ([ email => $email, $email_dlq ], [ crm => $crm, $crm_dlq ]) {
    my ($name, $url, $dlq) = @$q;
    my $a = sqs_attributes($url);
    my $dlq_arn = sqs_attributes($dlq)->{QueueArn};
    is($dlq_arn, "arn:aws:sqs:us-east-1:000000000000:xyz-$name-dlq",
       "$name DLQ ARN");
    ok($a->{RedrivePolicy}, "$name has a RedrivePolicy") or next;
    my $policy = JSON::PP::decode_json($a->{RedrivePolicy});
    is($policy->{deadLetterTargetArn}, $dlq_arn,
       "$name redrives to its DLQ");
    is($policy->{maxReceiveCount}, 100, "$name maxReceiveCount 100");
    is($a->{VisibilityTimeout}, 30, "$name VisibilityTimeout 30");
}

# the emulator finds queues by the exact URL it gave out
{
    my $other = $email;
    $other =~ s{\Ahttp://[^/]+}{$endpoint};
    my ($status, $err) = sqs_request('GetQueueAttributes',
                                     { QueueUrl => $other,
                                       AttributeNames => ['QueueArn'] });
    is($status, 400, 'another spelling of the queue URL: 400');
    is($err->{__type}, 'com.amazonaws.sqs#QueueDoesNotExist',
       '... QueueDoesNotExist');
}

# a batch sent, received with its attributes, deleted
sqs_purge($email);
is(sqs_count($email), 0, 'purged queue is empty');

my $res = sqs_call('SendMessageBatch', {
    QueueUrl => $email,
    Entries => [
        { Id => 'a', MessageBody => qq({"kind":"confirm","tag":"$tag"}),
          MessageAttributes => {
              type => { DataType => 'String', StringValue => 'confirm' } } },
        { Id => 'b', MessageBody => "plain text $tag" },
    ],
});
is(scalar @{ $res->{Successful} || [] }, 2, 'SendMessageBatch: 2 successful');
is(scalar @{ $res->{Failed} || [] }, 0, 'SendMessageBatch: none failed');
is(sqs_count($email), 2, 'ApproximateNumberOfMessages 2');

my @got = sqs_receive_all($email, max => 2, timeout => 10);
is(scalar @got, 2, 'received both');
my ($json) = grep { ref $_->{Body} } @got;
my ($text) = grep { !ref $_->{Body} } @got;
is_deeply($json && $json->{Body}, { kind => 'confirm', tag => $tag },
          'JSON body decoded');
is($json && $json->{MessageAttributes}{type}{StringValue}, 'confirm',
   'message attribute received');
is($text && $text->{Body}, "plain text $tag", 'text body as is');
ok($json && $json->{MessageId}, 'MessageId');
is($json && $json->{Attributes}{ApproximateReceiveCount}, 1,
   'ApproximateReceiveCount 1');
is(sqs_count($email), 0, 'deleted after receiving');
is(scalar(sqs_receive_all($email, empty => 1, timeout => 3)), 0,
   'nothing left');

# a message received maxReceiveCount times without delete goes to the DLQ
# on the next try
sqs_purge($crm);
sqs_purge($crm_dlq);
sqs_call('SendMessage', { QueueUrl => $crm, MessageBody => "poison $tag" });
my $receives = 0;
for (1 .. 101) {
    my @m = sqs_receive_all($crm, delete => 0, visibility => 0, max => 1,
                            empty => 1, wait => 0, timeout => 3);
    $receives += @m;
}
is($receives, 100, 'delivered maxReceiveCount (100) times');
my @dead = sqs_receive_all($crm_dlq, max => 1, timeout => 5);
is(scalar @dead, 1, 'then moved to the DLQ');
is($dead[0] && $dead[0]{Body}, "poison $tag", '... the same message');
is(sqs_count($crm), 0, 'work queue empty');

# stop and start: same endpoint and URLs, queues back, messages lost
sqs_call('SendMessage', { QueueUrl => $email, MessageBody => "lost $tag" });
is(sqs_count($email), 1, 'one message before the stop');
sqs_stop();
{
    my ($status) = sqs_request('ListQueues', {});
    is($status, 599, 'stopped: no answer');
}
sqs_start();
{
    my $now = `$ENV{XYZ_ROOT}/scripts/sqs.sh endpoint`;
    chomp $now;
    is($now, $endpoint, 'same endpoint after the start');
}
for my $url ($email, $crm, $email_dlq, $crm_dlq) {
    my ($status) = sqs_request('GetQueueAttributes',
                               { QueueUrl => $url,
                                 AttributeNames => ['QueueArn'] });
    is($status, 200, "queue back: $url");
}
like(sqs_attributes($email)->{RedrivePolicy} // '', qr/xyz-email-dlq/,
     'redrive policy back');
is(sqs_count($email), 0, 'messages do not survive a restart (in memory)');

done_testing();
