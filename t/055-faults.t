#!/usr/bin/env perl
# Faults under load (the short form of `make test-faults`): users walk the
# journey — register, the confirmation email, confirm — against a web nginx
# and a dispatcher nginx of their own while faults are injected one at a
# time at random moments (scripts/fault-load.mjs: PostgreSQL restarted,
# SQS stopped or refusing, SMTP down or answering 421/451, the CRM
# answering 429/5xx or hanging, the dispatcher SIGKILLed, a worker
# SIGKILLed, reload and binary upgrade).  Each run must end with nothing
# lost: every accepted registration has its email, every confirmed user
# one CRM record, nothing dead-lettered or parked.
#
# Here: one run, two kinds picked at random (XYZ_FAULT_KINDS chooses),
# 4 users/s, outages of 5-8 s.  `make test-faults` (XYZ_FAULT_PLAN=full)
# runs every kind five times at 8 users/s with outages of 10-30 s and
# prints the table.

use strict;
use warnings;
use FindBin;
use JSON::PP;
use POSIX qw(ceil);
use Test::More;

my $root = "$FindBin::Bin/..";

for my $v (qw(TEST_NGINX_PG_DSN TEST_NGINX_SQS_ENDPOINT TEST_NGINX_CRM_URL)) {
    plan skip_all => "needs $v (make test)" unless $ENV{$v};
}

my $full = ($ENV{XYZ_FAULT_PLAN} // '') eq 'full';
# The cap holds strictly in both forms: slots are timed on the database's
# clock (sql/011), so an answer that comes late does not send late.
my $slack = 0;

open my $fh, '-|', 'node', "$root/scripts/fault-load.mjs"
    or die "cannot run scripts/fault-load.mjs: $!";
my @results;
while (my $line = <$fh>) {
    if ($line =~ /^RESULT (\{.*\})$/) {
        push @results, decode_json($1);
        print STDERR $line if $full;
        next;
    }
    if ($full) { print STDERR $line } else { note($line =~ s/\n\z//r) }
}
close $fh;
is($? >> 8, 0, 'the fault load ran to its end');
ok(@results > 0, 'at least one run');

for my $r (@results) {
    my $k = join '+', @{ $r->{kinds} };
    my $acc = $r->{accepted};
    my $injected = join ', ', @{ $r->{injected} };
    ok($r->{drained}, "$k: the queues drained ($r->{drain_state})");
    ok($acc > 0, "$k: registrations accepted ($acc; faults: $injected)");
    is($r->{lost_emails}, 0, "$k: every accepted registration got its email");
    is($r->{confirmed}, $acc, "$k: every accepted user confirmed");
    is($r->{lost_crm}, 0, "$k: every confirmed user has a CRM record");
    is($r->{users_in_db}, $acc, "$k: the database holds the accepted users, no other");
    is($r->{dead_lettered} + $r->{parked}, 0, "$k: nothing dead-lettered or parked");
    my $dups = $r->{email_duplicates} + $r->{crm_duplicates};
    cmp_ok($dups, '<=', ceil(0.001 * $acc),
           "$k: duplicates within 0.1 % ($r->{email_duplicates} emails, "
           . "$r->{crm_duplicates} CRM records)");
    cmp_ok($r->{busiest_crm_second}, '<=', $r->{cap} + $slack,
           "$k: busiest CRM second $r->{busiest_crm_second} against the cap $r->{cap}");
    is_deeply($r->{other_answers}, {}, "$k: no answer other than 2xx, 3xx and 503")
        or diag(explain($r->{other_answers}));
    is_deeply($r->{failed}, [], "$k: no journey ended in an error");
    is_deeply($r->{nginx_alerts}, [], "$k: no alert or crit in the nginx logs");
}

done_testing();
