#!/usr/bin/perl
# cpu-snapshot.pl NAME=PID ... — the CPU seconds (user + system) each
# component has used so far, from /proc, one "name seconds" a line; the
# difference of two snapshots is what each used in between.  CPU time, not
# wall time: other work on a shared machine slows a component, it does not
# make it use more of it.
#
#   NAME=PID          the process, its live descendants, and the children it
#                     has reaped (cutime, cstime: PostgreSQL's backends that
#                     ended)
#   nginx=MASTER      also split per worker thread: nginx.event_loop (each
#                     worker's main thread), nginx.hash_threads (the other
#                     live threads: the thread pool's), nginx.other (threads
#                     that ended, e.g. libcurl's resolver, and the master)
#
# Also: machine.busy and machine.all (of /proc/stat, all cores).
use strict;
use warnings;

my $hz = `getconf CLK_TCK` + 0 || 100;

sub stat_of {
    my ($path) = @_;
    open my $fh, '<', $path or return;
    my $s = <$fh>;
    close $fh;
    $s =~ s/^.*\) //s or return;        # after "pid (comm) "
    my @f = split ' ', $s;              # $f[0] is field 3 (state)
    return { ppid => $f[1], utime => $f[11], stime => $f[12],
             cutime => $f[13], cstime => $f[14] };
}

my %kids;
for my $d (glob '/proc/[0-9]*') {
    my ($pid) = $d =~ m{(\d+)$};
    my $st = stat_of("$d/stat") or next;
    push @{ $kids{ $st->{ppid} } }, $pid;
}

sub tree {
    my ($pid) = @_;
    return ($pid, map { tree($_) } @{ $kids{$pid} || [] });
}

sub secs { my ($st, $reaped) = @_;
    return 0 unless $st;
    my $t = $st->{utime} + $st->{stime};
    $t += $st->{cutime} + $st->{cstime} if $reaped;
    return $t / $hz;
}

for my $arg (@ARGV) {
    my ($name, $pid) = split /=/, $arg, 2;
    next unless $pid && $pid =~ /^\d+$/ && -d "/proc/$pid";
    if ($name ne 'nginx') {
        my $t = secs(stat_of("/proc/$pid/stat"), 1);
        $t += secs(stat_of("/proc/$_/stat"), 0) for grep { $_ != $pid } tree($pid);
        printf "%s %.2f\n", $name, $t;
        next;
    }
    my ($loop, $hash, $other) = (0, 0, secs(stat_of("/proc/$pid/stat"), 1));
    for my $w (@{ $kids{$pid} || [] }) {
        my $total = secs(stat_of("/proc/$w/stat"), 1);
        my $main = secs(stat_of("/proc/$w/task/$w/stat"), 0);
        my $threads = 0;
        for my $t (glob "/proc/$w/task/[0-9]*") {
            my ($tid) = $t =~ m{(\d+)$};
            $threads += secs(stat_of("$t/stat"), 0) if $tid != $w;
        }
        $loop += $main;
        $hash += $threads;
        $other += $total - $main - $threads;
    }
    printf "nginx.event_loop %.2f\nnginx.hash_threads %.2f\nnginx.other %.2f\n",
           $loop, $hash, $other;
}

open my $fh, '<', '/proc/stat' or die "/proc/stat: $!";
my @c = split ' ', scalar <$fh>;
my $all = 0;
$all += $c[$_] for 1 .. 8;
printf "machine.busy %.2f\nmachine.all %.2f\n", ($all - $c[4] - $c[5]) / $hz, $all / $hz;
