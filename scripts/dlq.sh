#!/usr/bin/env bash
# dlq.sh — see and re-drive the dead-lettered messages of the email and CRM queues.
#
#   scripts/dlq.sh list [email|crm]     every message in the dead-letter queue(s): outbox
#                                       id, type, address (masked: a***@example.com),
#                                       receive count, sent time and the reason the
#                                       dispatcher gave (message attribute xyz_reason;
#                                       "-" for a message SQS moved by itself after too
#                                       many receives). Nothing is deleted.
#   scripts/dlq.sh count [email|crm]    how many messages each dead-letter queue holds
#   scripts/dlq.sh redrive email|crm [--reset]
#                                       moves every message of that dead-letter queue back
#                                       to its source queue (the same body and message
#                                       attributes, less xyz_reason) and prints how many
#
# A re-driven message is delivered once more only if its delivery is not recorded as
# done in the dispatcher's table `deliveries`: one recorded as `sent` is deleted as a
# duplicate, and one recorded as `dead` (a permanent failure: the CRM refused the
# record, the address was rejected) is deleted too unless it is reset first. With
# --reset, redrive sets those deliveries back before it sends the messages:
#     UPDATE deliveries SET state = 'sending', claimed_until = now()
#      WHERE state = 'dead' AND outbox_id = ANY(<the messages' outbox ids>)
# so that the dispatcher tries them again. Fix the cause first (the CRM mapping, the
# SMTP relay), or the messages come back to the dead-letter queue.
#
# `list` receives the messages with a visibility timeout of 30 s, so that each is seen
# once, and makes them visible again at the end (if the command is interrupted they
# reappear after those 30 s by themselves). Receiving counts: each listing adds one to
# a message's receive count. `redrive` stops at messages dead-lettered after it
# started, so a message that fails again at once is not sent round in circles.
#
# Queues and endpoint, from the environment (as scripts/render-conf.sh names them):
#   XYZ_SQS_EMAIL_QUEUE, XYZ_SQS_EMAIL_DLQ, XYZ_SQS_CRM_QUEUE, XYZ_SQS_CRM_DLQ
#                       queue URLs; each one unset is asked of the local emulator
#                       (scripts/sqs.sh queue-url xyz-email, ...), which must run
#   XYZ_SQS_ENDPOINT    where the calls go; default: the emulator when the queue URLs
#                       are its own, else https://<host of the queue URL> for AWS URLs
#   AWS_REGION          the region requests are signed for (else AWS_DEFAULT_REGION,
#                       else the region in the endpoint's host name, else us-east-1)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
#                       with a key, every call is signed (SigV4, by curl); without one
#                       calls go unsigned, which only the local emulator accepts. For a
#                       role or SSO profile, export its keys first, e.g.
#                       eval "$(aws configure export-credentials --format env)"
#   XYZ_PG_DSN          for --reset: the dispatchers' database (libpq string or URL);
#                       default XYZ_DATABASE_URL, else scripts/pg.sh url xyz
# The keys reach curl through a config file readable only by this user, never its
# command line.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
S="$REPO/scripts"

die() { echo "dlq: $*" >&2; exit 1; }

usage() {
    echo "usage: $0 list [email|crm] | count [email|crm] | redrive email|crm [--reset]" >&2
    exit 2
}

cmd="${1:-}"
shift || true
kinds=()
reset=0
for a in "$@"; do
    case "$a" in
        email|crm) kinds+=("$a") ;;
        --reset)   reset=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *)         usage ;;
    esac
done
case "$cmd" in
    list|count)
        [ "$reset" = 0 ] || usage
        [ "${#kinds[@]}" -gt 0 ] || kinds=(email crm) ;;
    redrive)
        [ "${#kinds[@]}" -eq 1 ] || usage ;;
    -h|--help|help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *)  usage ;;
esac

# A queue URL from the environment, else from the local emulator.
emulator_checked=0
queue_url() {
    local var="$1" name="$2"
    if [ -n "${!var:-}" ]; then
        printf '%s\n' "${!var}"
        return
    fi
    if [ "$emulator_checked" = 0 ]; then
        "$S/sqs.sh" status >/dev/null 2>&1 \
            || die "$var is not set and the local SQS emulator is not running (scripts/sqs.sh start)"
        emulator_checked=1
    fi
    "$S/sqs.sh" queue-url "$name"
}

for k in "${kinds[@]}"; do
    K="${k^^}"
    url="$(queue_url "XYZ_SQS_${K}_QUEUE" "xyz-$k")"
    export "DLQ_SOURCE_$K=$url"
    url="$(queue_url "XYZ_SQS_${K}_DLQ" "xyz-$k-dlq")"
    export "DLQ_DEAD_$K=$url"
done

if [ -z "${XYZ_SQS_ENDPOINT:-}" ]; then
    first="DLQ_DEAD_${kinds[0]^^}"
    host="$(printf '%s\n' "${!first}" | sed -E 's#^[a-z]+://([^/]+).*#\1#')"
    if [[ "$host" == *.amazonaws.com* ]]; then
        XYZ_SQS_ENDPOINT="https://$host"
    else
        "$S/sqs.sh" status >/dev/null 2>&1 \
            || die "XYZ_SQS_ENDPOINT is not set and the local SQS emulator is not running"
        XYZ_SQS_ENDPOINT="$("$S/sqs.sh" endpoint)"
    fi
fi
export XYZ_SQS_ENDPOINT

if [ -z "${AWS_REGION:-}" ]; then
    AWS_REGION="${AWS_DEFAULT_REGION:-}"
    if [ -z "$AWS_REGION" ] && [[ "$XYZ_SQS_ENDPOINT" =~ sqs[.-]([a-z0-9-]+)\.amazonaws\.com ]]; then
        AWS_REGION="${BASH_REMATCH[1]}"
    fi
    AWS_REGION="${AWS_REGION:-us-east-1}"
fi
export AWS_REGION

if [ -z "${AWS_ACCESS_KEY_ID:-}" ] || [ -z "${AWS_SECRET_ACCESS_KEY:-}" ]; then
    case "$XYZ_SQS_ENDPOINT" in
        http://127.*|http://localhost*|http://\[::1\]*) ;;
        *) die "no AWS credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) for $XYZ_SQS_ENDPOINT" ;;
    esac
fi

if [ "$reset" = 1 ]; then
    DLQ_PG_DSN="${XYZ_PG_DSN:-${XYZ_DATABASE_URL:-}}"
    [ -n "$DLQ_PG_DSN" ] || DLQ_PG_DSN="$("$S/pg.sh" url xyz)"
    export DLQ_PG_DSN
    command -v psql >/dev/null 2>&1 || die "psql not found (postgresql-client)"
fi
command -v curl >/dev/null 2>&1 || die "curl not found"

exec perl - "$cmd" "$reset" "${kinds[@]}" <<'PERL'
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
PERL
