#!/usr/bin/env perl
# The short form of `make bench-journey`: 50 users walk the whole journey
# (page, registration, the confirmation email over SMTP to the bench's sink,
# the landing page and its form post, log in, /api/me) with the cheap hash
# and little think time, through one nginx in both roles (web and
# dispatcher) and the bench's own fake CRM. It checks what the benchmark
# checks at any size: every count is 50 (users, emails, confirmed
# accounts, logins, CRM records), nothing came twice, and no answer was
# other than 2xx/3xx or a 503/429 retried as told. Speed is not checked.

use strict;
use warnings;
use FindBin;
use Test::More;

my $root = "$FindBin::Bin/..";
my $module = "$root/build/ngx_xyz_module.so";

plan skip_all => 'needs the built module (make)' unless -f $module;
plan skip_all => 'needs node' unless system('command -v node >/dev/null 2>&1') == 0;

local $ENV{BENCH_JOURNEY_USERS} = 50;
local $ENV{BENCH_JOURNEY_CONCURRENCY} = 50;
local $ENV{BENCH_JOURNEY_THINK} = '0.2';
local $ENV{BENCH_JOURNEY_RAW_SECONDS} = 1;
local $ENV{BENCH_JOURNEY_PLOT} = "$root/.run/bench-journey/journey-short.png";
local $ENV{XYZ_BENCH_CHEAP} = 1;
local $ENV{XYZ_MODULE} = $module;
delete local $ENV{XYZ_DATABASE_URL};

my $out = `$root/scripts/bench-journey.sh 2>&1`;
my $status = $? >> 8;

is($status, 0, 'the journey bench exits 0 (nothing lost, nothing twice)')
    or diag(substr($out, -3000));
like($out, qr/journey: 50 of 50 journeys in [\d.]+ s \([\d.]+\/s\), 0 failed/,
     'all 50 journeys complete');
like($out, qr/lost-check:  users 50 = emails 50 \(to 50 addresses, 0 got two or more\) = confirmed 50 \(tokens used 50\)/,
     'one user row, one email and one confirmation per user');
like($out, qr/= logins 50 \(and \/api\/me 50\) = CRM records 50 \(0 upserted twice; fake CRM repeats 0\); outbox email 50, crm 50, unpublished 0/,
     'one login and one CRM record per user, every outbox row published');
like($out, qr/answers other than 2xx\/3xx, 503, 429: none/,
     'no answer other than 2xx/3xx, 503 and 429');
like($out, qr/generator CPU: [\d.]+ s/, 'the generator reports its CPU');
like($out, qr/nginx worker RSS: largest [\d.]+ MB .*\n    pid \d+ +RSS +[\d.]+ MB \(peak +[\d.]+\): anonymous +[\d.]+ = heap\(brk\)/,
     'the workers\' memory at the peak, and where it lies');
like($out, qr/nginx hashing threads +[\d.]+ s.*\n +nginx event loops +[\d.]+ s/s,
     'the CPU of each component');
like($out, qr/CPU floor: \(hash [\d.]+ \+ other [\d.]+\) \/ \d+ cores = [\d.]+ s/,
     'the CPU floor against the hash bound');
like($out, qr/idle while users slept on a Retry-After: [\d.]+ thread-s/,
     'the hashing threads\' idle time while users slept');

done_testing();
