#!/usr/bin/perl
# cluster.pl — the many-instance run of `make bench-cluster` (run by
# scripts/bench-cluster.sh, which starts the stand-ins and exports their
# addresses). Prints the figures; exits 1 when something was lost or sent
# twice, or the CRM saw more than the cap in a second.
use strict;
use warnings;
use XyzCluster;

$| = 1;
my %r = run_cluster(
    users => $ENV{BENCH_CLUSTER_USERS} // 1000,
    webs => $ENV{BENCH_CLUSTER_WEBS} // 3,
    dispatchers => $ENV{BENCH_CLUSTER_DISPATCHERS} // 2,
    concurrency => $ENV{BENCH_CLUSTER_CONCURRENCY} // 32,
    cap => $ENV{BENCH_CLUSTER_CAP} // 90,
    baseline => $ENV{BENCH_CLUSTER_BASELINE} // 300,
    drain_timeout => 300,
    tag => 'bench',
);
END { XyzCluster::cluster_cleanup() }

printf "%-40s %s\n", $_, $r{$_} for qw(webs dispatchers users cap);
printf "single instance:                         %.1f registrations/s\n", $r{single_per_s} // 0;
printf "%d web instances behind the balancer:    %.1f registrations/s (%.2f x)\n",
    $r{webs}, $r{cluster_per_s} // 0, ($r{cluster_per_s} // 0) / (($r{single_per_s} || 1));
printf "the run (one web and one dispatcher SIGKILLed at %d of %d, started again):\n",
    $r{killed_at}, $r{users};
printf "  %-38s %s\n", $_, (defined $r{$_} && $r{$_} =~ /\./ ? sprintf('%.1f', $r{$_}) : $r{$_} // '-')
    for qw(statuses accepted unknown committed accepted_not_committed registrations_per_s
           load_seconds drain_seconds in_flight_at_kill emails emails_lost emails_twice
           emails_twice_unexplained crm_rows crm_records crm_twice crm_twice_unexplained
           crm_max_calls_in_1s crm_busiest_1s_after_first_call_ms crm_max_calls_in_5s crm_429);
my $bad = $r{emails_lost} || $r{emails_twice_unexplained} || $r{accepted_not_committed}
    || $r{crm_records} != $r{crm_rows} || $r{crm_twice_unexplained}
    || $r{crm_max_calls_in_5s} > 5 * $r{cap};
print $bad ? "FAILED: something was lost, sent twice without cause, or over the cap\n"
           : "nothing lost, nothing twice beyond unknown outcomes, the cap held\n";
exit($bad ? 1 : 0);
