#!/usr/bin/env perl
# The two layers of the C code: ngx_xyz_module/lib/ uses no nginx at all
# (it is built alone by the unit tests and the fuzzing harnesses), the rest
# of ngx_xyz_module/ is the nginx glue around it.  Nothing under lib/ may
# include an nginx header (<ngx_*.h>) or a header of the glue (any quoted
# header that does not live under lib/), and every lib/ source compiles
# with only lib/ on the include path.

use strict;
use warnings;
use FindBin;
use Cwd ();
use File::Basename qw(dirname);
use File::Find;
use File::Spec;
use Test::More;

my $root = "$FindBin::Bin/..";
my $lib = "$root/ngx_xyz_module/lib";
my $abslib = File::Spec->rel2abs($lib);

my @files;
find({ wanted => sub { push @files, $File::Find::name if /\.[ch]$/ },
       no_chdir => 1 }, $lib);
@files = sort @files;

ok(@files >= 20, 'lib/ holds the nginx-free sources (' . @files . ' files)');

for my $f (@files) {
    (my $name = $f) =~ s{^\Q$lib\E/}{lib/};
    open my $fh, '<', $f or die "$f: $!";
    my @bad;
    while (my $line = <$fh>) {
        next unless $line =~ /^\s*#\s*include\s*([<"])([^>"]+)[>"]/;
        my ($kind, $hdr) = ($1, $2);
        if ($hdr =~ m{(?:^|/)ngx_(?:config|core|http|event)\.h$}
            || ($kind eq '<' && $hdr =~ m{(?:^|/)ngx_[^/]*\.h$}))
        {
            push @bad, "$name:$.: nginx header "
                . ($kind eq '<' ? "<$hdr>" : "\"$hdr\"");
            next;
        }
        next if $kind eq '<';
        # a quoted header: it has to be a file under lib/
        my $path = File::Spec->rel2abs($hdr, dirname(File::Spec->rel2abs($f)));
        my $canon = -e $path ? Cwd::realpath($path) : undef;
        if (!defined $canon || index($canon, Cwd::realpath($abslib) . '/') != 0) {
            push @bad, "$name:$.: header outside lib/ \"$hdr\"";
        }
    }
    close $fh;
    is_deeply(\@bad, [], "$name includes nothing of nginx or the glue")
        or diag(join "\n", @bad);
}

# Each source alone, with lib/ as the only include path of the project: an
# include that resolves only through the glue's path fails here too.
for my $f (grep { /\.c$/ } @files) {
    (my $name = $f) =~ s{^\Q$lib\E/}{lib/};
    my @cmd = ('cc', '-std=c99', '-D_DEFAULT_SOURCE', '-Wall', '-Wextra',
               '-Werror', '-fsyntax-only', "-I$lib", $f);
    my $out = `@cmd 2>&1`;
    is($?, 0, "$name compiles without nginx") or diag($out);
}

done_testing();
