#!/usr/bin/perl
# journey-cpu.pl RUN CORES USERS RAW_RATE BOUND WALL — the CPU part of the
# summary of scripts/bench-journey.sh, from its files in RUN:
#
#   cpu.before, cpu.after   bench/cpu-snapshot.pl at the generator's start and end
#   journey.json            the generator's own CPU, timeline_t0_epoch_ms
#   timeline.dat            per second: users asleep on a Retry-After of a
#                           hashing step, such requests on their way
#   hash-threads.dat        once a second: epoch ms, and of the hashing
#                           threads of all workers: run ns, run-queue wait
#                           ns (from /proc/PID/task/TID/schedstat), threads
#
# Prints the CPU seconds of each component during the journey, the floor they
# make ((all of the journey's CPU) / cores, against the hash bound), and how
# long the hashing threads stood idle (neither running nor waiting for a
# CPU: not the neighbours' doing) while visitors slept on a Retry-After.
use strict;
use warnings;
use JSON::PP;

my ($run, $cores, $users, $raw, $bound, $wall) = @ARGV;

sub snap {
    my %s;
    open my $fh, '<', "$run/$_[0]" or return \%s;
    while (<$fh>) { my ($k, $v) = split; $s{$k} = $v }
    return \%s;
}
my ($a, $b) = (snap('cpu.before'), snap('cpu.after'));
my %d = map { $_ => ($b->{$_} // 0) - ($a->{$_} // 0) } keys %$b;

my $j = do { local $/; open my $fh, '<', "$run/journey.json" or die; decode_json(<$fh>) };
$d{generator} = $j->{generator_cpu}{total_s};

my @rows = (
    ['nginx hashing threads', 'nginx.hash_threads'],
    ['nginx event loops', 'nginx.event_loop'],
    ['nginx other (master, ended threads)', 'nginx.other'],
    ['PostgreSQL', 'postgres'],
    ['SQS emulator', 'sqs'],
    ['fake CRM', 'crm'],
    ['generator and SMTP sink', 'generator'],
);
my $sum = 0;
$sum += $d{$_->[1]} // 0 for @rows;
my $busy = $d{'machine.busy'} // 0;
my $all = $d{'machine.all'} || 1;

printf "CPU during the journey (utime+stime from /proc; wall %.1f s x %d cores = %.0f core-s):\n",
       $wall, $cores, $wall * $cores;
for (@rows) {
    my $v = $d{$_->[1]} // 0;
    printf "  %-38s %8.1f s  %5.1f %%\n", $_->[0], $v, $sum ? 100 * $v / $sum : 0;
}
printf "  %-38s %8.1f s\n", 'the journey, all of it', $sum;
printf "  %-38s %8.1f s  (machine busy %.1f s of %.1f)\n", 'other work on the machine',
       $busy - $sum, $busy, $all;
my $hash = $d{'nginx.hash_threads'} // 0;
my $per = $users ? 1000 * $hash / (2 * $users) : 0;
my $rawper = $raw > 0 ? 1000 * $cores / $raw : 0;
printf "  hash CPU: %.1f ms per hash (2 x %d), raw Argon2id %.1f ms per hash (%d cores / %.2f/s)\n",
       $per, $users, $rawper, $cores, $raw;
my $floor = $sum / $cores;
my $hfloor = $hash / $cores;
printf "CPU floor: (hash %.1f + other %.1f) / %d cores = %.1f s; hash bound %.1f s:"
       . " floor / bound = %.2f, wall / floor = %.2f\n",
       $hash, $sum - $hash, $cores, $floor, $bound,
       $bound > 0 ? $floor / $bound : 0, $floor > 0 ? $wall / $floor : 0;
printf "           (the hash alone: %.1f s of threads' CPU / %d cores = %.1f s)\n",
       $hash, $cores, $hfloor;

# hashing threads' idle time, second by second
my $t0 = $j->{timeline_t0_epoch_ms};
my %sec;
open my $tl, '<', "$run/timeline.dat" or die;
while (<$tl>) {
    next if /^#/;
    my @f = split;
    $sec{ $f[0] } = { asleep => $f[8] // 0, hashing => $f[9] // 0 };
}
my ($prev, $idle, $idle_asleep, $idle_queued, $threads_s, $run_s, $wait_s) =
   (undef, 0, 0, 0, 0, 0, 0);
if (open my $ht, '<', "$run/hash-threads.dat") {
    while (<$ht>) {
        my ($ms, $runns, $waitns, $n) = split;
        if ($prev && $n == $prev->[3] && $runns >= $prev->[1]) {
            my $dt = ($ms - $prev->[0]) / 1000;
            my $r = ($runns - $prev->[1]) / 1e9;
            my $w = ($waitns - $prev->[2]) / 1e9;
            my $i = $n * $dt - $r - $w;
            $i = 0 if $i < 0;
            my $s = $sec{ int(($ms - $t0) / 1000) + 1 };
            if ($s && $ms >= $t0) {
                $threads_s += $n * $dt; $run_s += $r; $wait_s += $w; $idle += $i;
                $idle_asleep += $i if $s->{asleep} > 0;
                $idle_queued += $i if $s->{hashing} > 0;
            }
        }
        $prev = [$ms, $runns, $waitns, $n];
    }
}
printf "hashing threads: %.0f thread-s in the journey: running %.1f s, waiting for a CPU %.1f s"
       . " (the neighbours' and the journey's other work), idle %.1f s\n",
       $threads_s, $run_s, $wait_s, $idle;
printf "                 idle while users slept on a Retry-After: %.1f thread-s;"
       . " while hashing requests were on their way: %.1f thread-s\n",
       $idle_asleep, $idle_queued;
