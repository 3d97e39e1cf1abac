#!/usr/bin/env perl
# Builds and runs the C unit tests of the module's pure parts (t/unit/);
# each program prints TAP of its own, checked here as one subtest apiece.

use strict;
use warnings;
use FindBin;
use File::Path qw(make_path);
use Test::More;

my $root = "$FindBin::Bin/..";
my $src = "$root/ngx_xyz_module/lib";
my $out = "$root/build/unit";
make_path($out);

my %tests = (
    'test_register_input' => [ qw(ngx_xyz_validate.c ngx_xyz_register_input.c) ],
    'test_uri' => [ qw(ngx_xyz_uri.c) ],
    'test_aws_creds' => [ qw(ngx_xyz_aws_creds.c ngx_xyz_uri.c) ],
    'test_sqs_json' => [ qw(ngx_xyz_json.c ngx_xyz_sqs_json.c) ],
    'test_template' => [ qw(ngx_xyz_json.c ngx_xyz_template.c) ],
    'test_mime' => [ qw(ngx_xyz_mime.c) ],
    'test_sqs_consume' => [ qw(ngx_xyz_json.c ngx_xyz_sqs_consume.c) ],
    'test_crm_json' => [ qw(ngx_xyz_json.c ngx_xyz_template.c
                            ngx_xyz_crm_json.c) ],
    'test_jwt' => [ qw(ngx_xyz_json.c ngx_xyz_base64url.c ngx_xyz_jwt.c) ],
    'test_base64url' => [ qw(ngx_xyz_base64url.c) ],
    'test_password' => [ qw(ngx_xyz_password.c) ],
    'test_origin' => [ qw(ngx_xyz_origin.c) ],
    'test_cookie' => [ qw(ngx_xyz_cookie.c) ],
    'test_json' => [ qw(ngx_xyz_json.c) ],
    'test_ses_json' => [ qw(ngx_xyz_json.c ngx_xyz_validate.c
                            ngx_xyz_ses_json.c) ],
    'test_argon2_arena' => [ qw(ngx_xyz_argon2_arena.c) ],
);

# linked as config links the module: libsodium's archive, mmap and munmap
# wrapped (before -lsodium, so that its members are the ones used)
my %libs = (
    'test_argon2_arena' => [ '-Wl,--wrap=mmap', '-Wl,--wrap=munmap',
                             '-l:libsodium.a' ],
);

for my $t (sort keys %tests) {
    my @srcs = map { "$src/$_" } @{ $tests{$t} };
    my @cmd = ('cc', '-std=c99', '-D_DEFAULT_SOURCE', '-Wall', '-Wextra',
               '-Werror', '-g', "-I$src", "-I$root/t/unit",
               '-o', "$out/$t", "$root/t/unit/$t.c", @srcs,
               @{ $libs{$t} || [] }, '-lyajl', '-lsodium', '-lcrypto');
    is(system(@cmd), 0, "$t builds") or next;

    subtest $t => sub {
        open my $fh, '-|', "$out/$t" or die "cannot run $t: $!";
        my ($plan, @fail);
        my $n = 0;
        while (<$fh>) {
            if (/^(not )?ok (\d+) - (.*)$/) {
                $n++;
                ok(!$1, $3);
            } elsif (/^1\.\.(\d+)/) {
                $plan = $1;
            } elsif (/^#/) {
                diag($_);
            }
        }
        close $fh;
        is($n, $plan, "$t ran its plan");
        done_testing();
    };
}

done_testing();
