#!/usr/bin/env perl
# dlq.pl — the SQS calls of scripts/dlq.sh (list, count, redrive), run by it as
#   perl scripts/lib/dlq.pl CMD RESET KIND...
# after dlq.sh has checked the arguments and put the queue URLs, the endpoint, the
# region, the keys and (for --reset) the database in the environment: DLQ_SOURCE_<KIND>,
# DLQ_DEAD_<KIND>, XYZ_SQS_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, DLQ_PG_DSN. See dlq.sh for what each
# command does.
use strict;
use warnings;
use File::Temp ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();

my ($cmd, $reset, @kinds) = @ARGV;
my $json = JSON::PP->new->canonical;
my $endpoint = $ENV{XYZ_SQS_ENDPOINT};
$endpoint =~ s{/*\z}{/};
my $tmp = File::Temp::tempdir('xyz-dlq-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0700, $tmp;

sub fail { print STDERR "dlq: @_\n"; exit 1 }

# a string for curl's config file
sub cq { my $s = shift; $s =~ s/(["\\])/\\$1/g; return qq{"$s"} }

# One SQS JSON-protocol call through curl; the decoded answer. Fails the command
# on an error; sqs_try dies instead.
sub sqs {
    my $res = eval { sqs_try(@_) };
    if (!$res) {
        my $err = $@;
        chomp $err;
        fail($err);
    }
    return $res;
}

sub sqs_try {
    my ($op, $body) = @_;
    my $bf = "$tmp/body";
    my $cf = "$tmp/curl.conf";
    open my $b, '>', $bf or fail("$bf: $!");
    print $b $json->encode($body);
    close $b;
    my $old = umask 077;
    open my $c, '>', $cf or fail("$cf: $!");
    umask $old;
    print $c "silent\nshow-error\nmax-time = 60\nrequest = \"POST\"\n",
             'url = ', cq($endpoint), "\n",
             "header = \"Content-Type: application/x-amz-json-1.0\"\n",
             'header = ', cq("X-Amz-Target: AmazonSQS.$op"), "\n",
             'data-binary = ', cq("\@$bf"), "\n",
             "write-out = \"\\n%{http_code}\"\n";
    if ($ENV{AWS_ACCESS_KEY_ID} && $ENV{AWS_SECRET_ACCESS_KEY}) {
        print $c 'aws-sigv4 = ', cq("aws:amz:$ENV{AWS_REGION}:sqs"), "\n",
                 'user = ', cq("$ENV{AWS_ACCESS_KEY_ID}:$ENV{AWS_SECRET_ACCESS_KEY}"), "\n";
        print $c 'header = ', cq("x-amz-security-token: $ENV{AWS_SESSION_TOKEN}"), "\n"
            if $ENV{AWS_SESSION_TOKEN};
    }
    close $c;
    open my $out, '-|', 'curl', '-K', $cf or fail("cannot run curl: $!");
    my $text = do { local $/; <$out> } // '';
    close $out;
    unlink $cf;
    die "$op: no answer from $endpoint\n" if $? != 0 || $text !~ s/\n?(\d{3})\z//;
    my $code = $1;
    my $data = eval { $json->decode($text) };
    if ($code != 200) {
        my $why = ref $data eq 'HASH'
            ? join(': ', grep { defined } $data->{__type}, $data->{message} // $data->{Message})
            : $text;
        die "$op failed (HTTP $code): $why\n";
    }
    return $data // {};
}

sub receive {
    my ($url, $visibility) = @_;
    return @{ sqs('ReceiveMessage', {
        QueueUrl => $url, MaxNumberOfMessages => 10, WaitTimeSeconds => 1,
        VisibilityTimeout => $visibility,
        MessageAttributeNames => ['All'],
        AttributeNames => ['All'], MessageSystemAttributeNames => ['All'],
    })->{Messages} || [] };
}

# ChangeMessageVisibility to 0 for these messages (they are seen again at once)
sub release {
    my ($url, @msgs) = @_;
    while (my @part = splice @msgs, 0, 10) {
        my $i = 0;
        sqs('ChangeMessageVisibilityBatch', { QueueUrl => $url, Entries => [
            map { { Id => 'r' . $i++, ReceiptHandle => $_->{ReceiptHandle},
                    VisibilityTimeout => 0 } } @part ] });
    }
}

sub body_of {
    my ($m) = @_;
    my $b = eval { $json->decode($m->{Body}) };
    return ref $b eq 'HASH' ? $b : {};
}

sub outbox_id {
    my ($m) = @_;
    my $a = $m->{MessageAttributes}{outbox_id};
    my $id = $a ? $a->{StringValue} : body_of($m)->{outbox_id};
    return defined $id && $id =~ /^\d{1,18}\z/ ? $id : undef;
}

sub mask {
    my ($addr) = @_;
    return '-' unless defined $addr && length $addr;
    my ($local, $domain) = $addr =~ /^(.*)@([^@]*)\z/ or return '***';
    return substr($local, 0, 1) . '***@' . $domain;
}

sub sent_time {
    my ($ms) = @_;
    return '-' unless defined $ms && $ms =~ /^\d+\z/;
    return POSIX::strftime('%Y-%m-%d %H:%M:%S', gmtime($ms / 1000));
}

sub counts {
    my ($url) = @_;
    my $a = sqs('GetQueueAttributes', { QueueUrl => $url, AttributeNames => ['All'] })
                ->{Attributes} || {};
    return ($a->{ApproximateNumberOfMessages} // 0,
            $a->{ApproximateNumberOfMessagesNotVisible} // 0,
            $a->{ApproximateNumberOfMessagesDelayed} // 0);
}

sub cmd_count {
    for my $k (@kinds) {
        my $url = $ENV{'DLQ_DEAD_' . uc $k};
        my ($visible, $inflight, $delayed) = counts($url);
        printf "%s: %d in the dead-letter queue, %d in flight%s (%s)\n", $k, $visible,
               $inflight, $delayed ? ", $delayed delayed" : '', $url;
    }
}

sub cmd_list {
    my $first = 1;
    for my $k (@kinds) {
        my $url = $ENV{'DLQ_DEAD_' . uc $k};
        my (@all, %seen);
        # hidden while we look, so that each is seen once; then visible again (one
        # seen again, after a long listing, stops it and keeps its new receipt)
        while (my @got = receive($url, 30)) {
            my $new = 0;
            for my $m (@got) {
                if (defined(my $i = $seen{ $m->{MessageId} })) {
                    $all[$i]{ReceiptHandle} = $m->{ReceiptHandle};
                } else {
                    $seen{ $m->{MessageId} } = @all;
                    push @all, $m;
                    $new++;
                }
            }
            last unless $new;
        }
        release($url, @all);
        print "\n" unless $first;
        $first = 0;
        printf "%s dead-letter queue %s: %d message%s\n", $k, $url, scalar @all,
               @all == 1 ? '' : 's';
        next unless @all;
        my $fmt = "%-12s %-20s %-28s %8s  %-19s  %s\n";
        printf $fmt, 'OUTBOX_ID', 'TYPE', 'EMAIL', 'RECEIVES', 'SENT (UTC)', 'REASON';
        for my $m (sort { ($a->{Attributes}{SentTimestamp} // 0)
                          <=> ($b->{Attributes}{SentTimestamp} // 0) } @all)
        {
            my $b = body_of($m);
            my $reason = $m->{MessageAttributes}{xyz_reason}{StringValue} // '-';
            $reason =~ s/[\x00-\x1f\x7f]+/ /g;
            printf $fmt, outbox_id($m) // '-', $b->{type} // '-', mask($b->{email}),
                   $m->{Attributes}{ApproximateReceiveCount} // '-',
                   sent_time($m->{Attributes}{SentTimestamp}), $reason;
        }
    }
}

# the message attributes to send again: as received, less xyz_reason, with the
# outbox id as an attribute when only the body has it
sub attributes_of {
    my ($m) = @_;
    my %out;
    my $in = $m->{MessageAttributes} || {};
    for my $name (keys %$in) {
        next if $name eq 'xyz_reason';
        my $a = $in->{$name};
        $out{$name} = { DataType => $a->{DataType},
                        defined $a->{BinaryValue} ? (BinaryValue => $a->{BinaryValue})
                                                  : (StringValue => $a->{StringValue}) };
    }
    my $id = outbox_id($m);
    $out{outbox_id} = { DataType => 'Number', StringValue => "$id" }
        if defined $id && !$out{outbox_id};
    return \%out;
}

sub reset_deliveries {
    my (@ids) = @_;
    return 0 unless @ids;
    my $list = '{' . join(',', @ids) . '}';
    my $sql = "WITH r AS (UPDATE deliveries SET state = 'sending', claimed_until = now(), "
            . "updated_at = now() WHERE state = 'dead' AND outbox_id = ANY('$list'::bigint[]) "
            . "RETURNING 1) SELECT count(*) FROM r";
    open my $p, '-|', 'psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1',
        '-d', $ENV{DLQ_PG_DSN}, '-c', $sql or return undef;
    my $n = do { local $/; <$p> } // '';
    close $p or return undef;
    $n =~ s/\s+//g;
    return $n =~ /^\d+\z/ ? $n : undef;
}

sub cmd_redrive {
    my ($k) = @kinds;
    my $dlq = $ENV{'DLQ_DEAD_' . uc $k};
    my $source = $ENV{'DLQ_SOURCE_' . uc $k};
    my $fifo = $source =~ /\.fifo\z/;
    my $started = int(Time::HiRes::time() * 1000) - 1000;
    my ($moved, $failed, $resets, $newer) = (0, 0, 0, 0);
    my %seen;

    while (my @got = receive($dlq, 60)) {
        my (@todo, @keep);
        for my $m (@got) {
            next if $seen{ $m->{MessageId} }++;
            # dead-lettered after we started: it failed again, leave it
            if (($m->{Attributes}{SentTimestamp} // 0) >= $started) {
                push @keep, $m;
            } else {
                push @todo, $m;
            }
        }
        $newer += @keep;
        release($dlq, @keep);
        last unless @todo;

        if ($reset) {
            my @ids = grep { defined } map { outbox_id($_) } @todo;
            my $n = reset_deliveries(@ids);
            if (!defined $n) {
                release($dlq, @todo);
                fail("resetting the deliveries failed (database $ENV{DLQ_PG_DSN}); "
                     . "nothing more was moved ($moved so far)");
            }
            $resets += $n;
        }

        my %by_id;
        my $i = 0;
        my @entries;
        for my $m (@todo) {
            my $id = 'm' . $i++;
            $by_id{$id} = $m;
            my %e = (Id => $id, MessageBody => $m->{Body},
                     MessageAttributes => attributes_of($m));
            delete $e{MessageAttributes} unless %{ $e{MessageAttributes} };
            if ($fifo) {
                $e{MessageGroupId} = $m->{Attributes}{MessageGroupId} // $k;
                $e{MessageDeduplicationId} = 'redrive-' . (outbox_id($m) // $m->{MessageId})
                                             . '-' . $started;
            }
            push @entries, \%e;
        }
        my $res = eval { sqs_try('SendMessageBatch', { QueueUrl => $source,
                                                        Entries => \@entries }) };
        if (!$res) {
            my $err = $@;
            release($dlq, @todo);
            chomp $err;
            fail("$err; nothing more was moved ($moved so far)");
        }
        my @ok = map { $by_id{ $_->{Id} } } @{ $res->{Successful} || [] };
        my @bad = map { $by_id{ $_->{Id} } } @{ $res->{Failed} || [] };
        for my $f (@{ $res->{Failed} || [] }) {
            print STDERR "dlq: outbox id ", outbox_id($by_id{ $f->{Id} }) // '-',
                         " was not sent back: ", $f->{Code} // '', " ", $f->{Message} // '', "\n";
        }
        release($dlq, @bad);
        $failed += @bad;

        my @handles = @ok;
        while (my @part = splice @handles, 0, 10) {
            my $j = 0;
            my $d = sqs('DeleteMessageBatch', { QueueUrl => $dlq, Entries => [
                map { { Id => 'd' . $j++, ReceiptHandle => $_->{ReceiptHandle} } } @part ] });
            for my $f (@{ $d->{Failed} || [] }) {
                print STDERR "dlq: a message sent back could not be deleted from the ",
                             "dead-letter queue (it will be listed again): ",
                             $f->{Message} // $f->{Code} // '', "\n";
            }
        }
        $moved += @ok;
    }

    printf "%s: %d message%s moved from %s to %s\n", $k, $moved, $moved == 1 ? '' : 's',
           $dlq, $source;
    printf "%s: %d dead deliver%s reset for another attempt\n", $k, $resets,
           $resets == 1 ? 'y' : 'ies' if $reset;
    printf "%s: %d not sent back (see above); they stay in the dead-letter queue\n",
           $k, $failed if $failed;
    printf "%s: %d dead-lettered again while this ran; left in the dead-letter queue\n",
           $k, $newer if $newer;
    print "note: deliveries recorded as dead are not tried again without --reset\n"
        if !$reset && $moved;
    exit($failed ? 1 : 0);
}

if ($cmd eq 'list') { cmd_list() }
elsif ($cmd eq 'count') { cmd_count() }
else { cmd_redrive() }
