#!/usr/bin/env perl
# The short form of `make fuzz`: every libFuzzer harness of t/fuzz/ built
# with ASan and UBSan and run for a few seconds (XYZ_FUZZ_SECONDS, default
# 3) from the committed seeds, in build/fuzz-short/ (apart from make fuzz's
# files).  A crash, a leak or a sanitizer report fails the harness's test.
# Skipped when clang's fuzzer runtime is missing.

use strict;
use warnings;
use FindBin;
use Test::More;

my $root = "$FindBin::Bin/..";
my $secs = $ENV{XYZ_FUZZ_SECONDS} || 3;

if (!glob('/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a')) {
    plan skip_all => 'clang and libclang-rt-14-dev are not installed';
}

opendir(my $dh, "$root/t/fuzz") or die "t/fuzz: $!";
my @names = sort map { /^fuzz_(\w+)\.c$/ ? $1 : () } readdir $dh;
closedir $dh;

ok(@names >= 9, 'the harnesses are there');

for my $name (@names) {
    my $out = `FUZZ_OUT='$root/build/fuzz-short' FUZZ_SECONDS=$secs '$root/scripts/fuzz.sh' $name 2>&1`;
    my $rc = $? >> 8;
    is($rc, 0, "fuzz_$name runs $secs s without a crash")
        or diag($out);
    my ($execs) = $out =~ /number_of_executed_units:\s*(\d+)/;
    ok(($execs // 0) > 0, "fuzz_$name executed inputs (" . ($execs // 0) . ")");
}

done_testing();
