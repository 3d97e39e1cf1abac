package XyzSqs;

# Helpers for suites that look into the local SQS emulator (fauxqs, started
# by scripts/sqs.sh): JSON-protocol calls, draining and counting queues,
# stopping and starting the emulator.  Core Perl, HTTP::Tiny and JSON::PP
# only.
#
# The endpoint is TEST_NGINX_SQS_ENDPOINT (exported by scripts/test.sh), or
# else what `scripts/sqs.sh endpoint` prints.  Queue URLs are those the
# emulator returns (TEST_NGINX_SQS_EMAIL_QUEUE and the like): it finds a
# queue by the exact URL string only.
#
#   sqs_call($op, \%body)            decoded answer; dies on an error answer
#   sqs_request($op, \%body)         (HTTP status, decoded answer), never dies
#   sqs_receive_all($url, %opt)      drains a queue, returns its messages
#   sqs_purge($url)                  removes every message at once
#   sqs_count($url)                  ApproximateNumberOfMessages (visible ones)
#   sqs_attributes($url)             all the queue's attributes, a hash ref
#   sqs_stop(), sqs_start()          scripts/sqs.sh stop / start (start waits
#                                    and recreates the queues, empty)

use strict;
use warnings;

use Exporter 'import';
use HTTP::Tiny ();
use JSON::PP ();
use Time::HiRes ();

our @EXPORT = qw(
    sqs_call sqs_request sqs_receive_all sqs_purge sqs_count sqs_attributes
    sqs_stop sqs_start sqs_endpoint
);

my $json = JSON::PP->new->canonical->allow_nonref;
my $http = HTTP::Tiny->new(timeout => 30, keep_alive => 0);

sub _root {
    return $ENV{XYZ_ROOT} || die "XYZ_ROOT is not set; run the suites "
                                 . "through 'make test'\n";
}

sub sqs_endpoint {
    my $e = $ENV{TEST_NGINX_SQS_ENDPOINT};
    if (!defined $e || $e eq '') {
        my $script = _root() . '/scripts/sqs.sh';
        $e = `$script endpoint`;
        die "scripts/sqs.sh endpoint failed\n" if $? != 0;
        chomp $e;
    }
    $e =~ s{/+\z}{};
    return $e;
}

# one JSON-protocol request: (HTTP status, decoded body or undef)
sub sqs_request {
    my ($op, $body) = @_;
    my $res = $http->request('POST', sqs_endpoint() . '/', {
        headers => {
            'Content-Type' => 'application/x-amz-json-1.0',
            'X-Amz-Target' => "AmazonSQS.$op",
        },
        content => $json->encode($body // {}),
    });
    my $data;
    if (defined $res->{content} && length $res->{content}) {
        $data = eval { $json->decode($res->{content}) };
        $data = { __raw => $res->{content} } unless defined $data;
    }
    return ($res->{status}, $data);
}

sub sqs_call {
    my ($op, $body) = @_;
    my ($status, $data) = sqs_request($op, $body);
    if ($status != 200) {
        my $what = ref $data eq 'HASH'
            ? join ': ', grep { defined } $data->{__type}, $data->{message},
                                           $data->{__raw}
            : '';
        die "SQS $op failed: HTTP $status $what\n";
    }
    return $data // {};
}

# Receives until the queue has answered empty `empty` times in a row (2),
# `max` messages were received, or `timeout` seconds (10) have passed.  Each
# receive asks for 10 messages with WaitTimeSeconds `wait` (1); `visibility`
# sets VisibilityTimeout for these receives.  With `delete` (true by
# default) the received messages are deleted; without it they stay in
# flight and come back after the visibility timeout (their receive count
# goes up, which is how a test drives messages into the dead-letter queue).
#
# Returns a list of hashes: MessageId, ReceiptHandle, Body (decoded when it
# is a JSON object or array, else the string), RawBody, MessageAttributes
# (name => {DataType, StringValue}, {} when none), Attributes (system
# attributes such as ApproximateReceiveCount and SentTimestamp).
sub sqs_receive_all {
    my ($url, %opt) = @_;
    my $empty_max = $opt{empty} // 2;
    my $wait = $opt{wait} // 1;
    my $delete = $opt{delete} // 1;
    my $max = $opt{max};
    my $deadline = Time::HiRes::time() + ($opt{timeout} // 10);

    my (@all, $empty);
    $empty = 0;
    while ($empty < $empty_max && Time::HiRes::time() < $deadline
           && !(defined $max && @all >= $max))
    {
        my %req = (
            QueueUrl => $url,
            MaxNumberOfMessages => 10,
            WaitTimeSeconds => $wait,
            MessageAttributeNames => ['All'],
            MessageSystemAttributeNames => ['All'],
        );
        $req{VisibilityTimeout} = $opt{visibility} if defined $opt{visibility};
        my $got = sqs_call('ReceiveMessage', \%req)->{Messages} || [];
        if (!@$got) {
            $empty++;
            next;
        }
        $empty = 0;
        for my $m (@$got) {
            my $body = $m->{Body};
            my $decoded = eval { $json->decode($body) };
            push @all, {
                MessageId => $m->{MessageId},
                ReceiptHandle => $m->{ReceiptHandle},
                RawBody => $body,
                Body => defined $decoded && ref $decoded ? $decoded : $body,
                MessageAttributes => $m->{MessageAttributes} || {},
                Attributes => $m->{Attributes} || {},
            };
        }
        if ($delete) {
            my $i = 0;
            my $res = sqs_call('DeleteMessageBatch', {
                QueueUrl => $url,
                Entries => [ map { { Id => 'm' . $i++,
                                     ReceiptHandle => $_->{ReceiptHandle} } }
                             @$got ],
            });
            if ($res->{Failed} && @{ $res->{Failed} }) {
                die "SQS DeleteMessageBatch: "
                    . $json->encode($res->{Failed}) . "\n";
            }
        }
    }
    return @all;
}

sub sqs_purge {
    my ($url) = @_;
    sqs_call('PurgeQueue', { QueueUrl => $url });
    return;
}

sub sqs_attributes {
    my ($url) = @_;
    return sqs_call('GetQueueAttributes',
                    { QueueUrl => $url, AttributeNames => ['All'] })
        ->{Attributes} || {};
}

sub sqs_count {
    my ($url) = @_;
    return 0 + (sqs_attributes($url)->{ApproximateNumberOfMessages} // 0);
}

sub sqs_stop {
    system(_root() . '/scripts/sqs.sh', 'stop') == 0
        or die "sqs.sh stop failed\n";
    return;
}

sub sqs_start {
    system(_root() . '/scripts/sqs.sh', 'start') == 0
        or die "sqs.sh start failed\n";
    return;
}

1;
