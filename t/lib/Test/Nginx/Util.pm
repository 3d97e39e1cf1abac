package Test::Nginx::Util;

# Server management for the local Test::Nginx::Socket-compatible runner:
# settings, nginx.conf generation, starting and stopping nginx, error log
# access and $TEST_NGINX_* expansion. The HTTP client side and the checks
# live in Test::Nginx::Socket.

use strict;
use warnings;

use base 'Exporter';

use Carp qw(croak);
use File::Path qw(make_path remove_tree);
use File::Spec ();
use IO::Socket::INET ();
use List::Util qw(shuffle);
use POSIX qw(SIGQUIT SIGTERM SIGKILL WNOHANG);
use Time::HiRes qw(sleep time);
use Test::More ();

our $VERSION = '0.01';

our @EXPORT = qw(
    run_tests run_test bail_out expand_env_in_text error_log_data parse_time trim
    is_str no_long_string repeat_each no_shuffle master_on master_off
    master_process_enabled workers worker_connections log_level
    env_to_nginx no_root_location server_name server_addr server_port
    server_port_for_client timeout html_dir server_root config_preamble
    add_block_preprocessor add_cleanup_handler add_test_cleanup_handler
    check_accum_error_log get_nginx_version sleep_time
    $ServerPort $ServerPortForClient $ServerAddr $ServerName $ServRoot
    $NginxVersion $PidFile $ConfFile $RepeatEach
    $NoLongString $RunTestHelper $CheckErrorLog
);

# ---- settings (defaults and environment as upstream) ----------------------

our $NginxBinary       = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $LoadModules       = $ENV{TEST_NGINX_LOAD_MODULES} // '';
our $UseValgrind       = $ENV{TEST_NGINX_USE_VALGRIND};
our @ValgrindSuppressions = ('valgrind.suppress', 't/valgrind.suppress');
our $Verbose           = $ENV{TEST_NGINX_VERBOSE};
our $Timeout           = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $TestNginxSleep    = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $NoShuffle         = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $NoClean           = $ENV{TEST_NGINX_NO_CLEAN} || 0;
our $CheckAccumErrLog  = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $LogLevel          = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcess     = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $WorkerUser        = $ENV{TEST_NGINX_WORKER_USER};
our $ServerAddr        = '127.0.0.1';
our $ServerName        = 'localhost';
our $ServerPort        = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $Workers           = 1;
our $WorkerConnections = 64;
our $RepeatEach        = 1;
our $NoRootLocation    = 0;
our $NoLongString;
our $ConfigPreamble    = '';
our (@EnvToNginx, @BlockPreprocessors, @CleanupHandlers, @TestCleanupHandlers);

# Hooks installed by Test::Nginx::Socket.
our ($RunTestHelper, $CheckErrorLog);

our $Randomize = $ENV{TEST_NGINX_RANDOMIZE};
if ($Randomize) {
    $ServerPort = gen_rand_port(1000)
        or die "Cannot find a free port for TEST_NGINX_RANDOMIZE\n";
    $ServerPortForClient = $ServerPort;
}

our $ServRoot = File::Spec->rel2abs($Randomize ? "t/servroot_$ServerPort"
                                    : $ENV{TEST_NGINX_SERVROOT} || 't/servroot');
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $PidFile    = "$LogDir/nginx.pid";
our $CacheDir   = "$ServRoot/cache";

# ---- runtime state ---------------------------------------------------------

our $NginxVersion;          # canonical form, e.g. 1.022001
our $ErrLogFilePos = 0;
our $RandPorts = {};        # $TEST_NGINX_RAND_PORT_N values of the block
our $ChildPid;              # the nginx (or valgrind) child process
our $CurrentBlockName;      # for reports found when nginx stops
our $ConfigBlock;           # last block that had a --- config section
my  $MainPid = $$;

# ---- setters / getters -----------------------------------------------------

sub _get_set { my ($ref, @v) = @_; $$ref = $v[0] if @v; $$ref }

sub repeat_each            { _get_set(\$RepeatEach, @_) }
sub workers                { _get_set(\$Workers, @_) }
sub worker_connections     { _get_set(\$WorkerConnections, @_) }
sub log_level              { _get_set(\$LogLevel, @_) }
sub server_name            { _get_set(\$ServerName, @_) }
sub server_addr            { _get_set(\$ServerAddr, @_) }
sub server_port            { _get_set(\$ServerPort, @_) }
sub server_port_for_client { _get_set(\$ServerPortForClient, @_) }
sub timeout                { _get_set(\$Timeout, @_) }
sub no_long_string ()      { $NoLongString = 1 }
sub no_shuffle ()          { $NoShuffle = 1 }
sub no_root_location ()    { $NoRootLocation = 1 }
sub master_on ()           { $MasterProcess = 'on' }
sub master_off ()          { $MasterProcess = 'off' }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub config_preamble ($)    { $ConfigPreamble = shift }
sub html_dir ()            { $HtmlDir }
sub server_root ()         { $ServRoot }
sub sleep_time ()          { $TestNginxSleep }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($)      { unshift @CleanupHandlers, shift }
sub add_test_cleanup_handler ($) { unshift @TestCleanupHandlers, shift }

sub master_process_enabled {
    $MasterProcess = $_[0] ? 'on' : 'off' if @_;
    $MasterProcess;
}

sub env_to_nginx {
    croak "env_to_nginx: no arguments specified" unless @_;
    for my $v (@_) {
        croak "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub bail_out {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

sub trim ($) {
    my $s = shift;
    return undef unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s;
}

# "1.5", "500ms", "2s" -> seconds
sub parse_time ($) {
    my $t = shift;
    return undef unless defined $t;
    $t =~ s/^\s+|\s+$//g;
    return $1 / 1000 if $t =~ /^([\d.]+)ms$/;
    return $1 if $t =~ /^([\d.]+)s?$/;
    $t;
}

my $HaveLongString = eval { require Test::LongString; 1 };

sub is_str {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::like($got, $expected, $desc)
        if ref $expected && ref $expected eq 'Regexp';
    return Test::LongString::is_string($got, $expected, $desc)
        if $HaveLongString && !$NoLongString;
    Test::More::is($got, $expected, $desc);
}

# ---- environment expansion ---------------------------------------------------

sub gen_rand_port {
    my ($tries, $used) = @_;
    $used ||= {};
    for (1 .. ($tries || 1000)) {
        my $port = 1988 + int rand 63000;
        next if $used->{$port} || $port == $ServerPort;
        my $sock = IO::Socket::INET->new(LocalAddr => $ServerAddr,
            LocalPort => $port, Proto => 'tcp', Listen => 1, ReuseAddr => 1)
            or next;
        close $sock;
        return $port;
    }
    return undef;
}

# Replace $TEST_NGINX_FOO by the environment variable (bail out when it is
# not set); $TEST_NGINX_RAND_PORT_N by a free port, stable within a block.
sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;
    return undef unless defined $text;
    $rand_ports ||= $RandPorts;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            if (!defined $rand_ports->{$var}) {
                my %used = map { $_ => 1 } grep { defined } values %$rand_ports;
                $rand_ports->{$var} = gen_rand_port(1000, \%used)
                    // bail_out("$name - Cannot find a free port for $var.\n");
            }
            $rand_ports->{$var};
        } else {
            bail_out("$name - No environment $var defined.\n") unless defined $ENV{$var};
            $ENV{$var};
        }
    }ge;
    $text;
}

# ---- nginx binary --------------------------------------------------------------

sub can_run ($) {
    my $cmd = shift;
    return -x $cmd ? $cmd : undef if $cmd =~ m{/};
    for my $dir (File::Spec->path) {
        return "$dir/$cmd" if -x "$dir/$cmd" && !-d _;
    }
    undef;
}

sub get_nginx_version () {
    can_run($NginxBinary)
        or bail_out("Cannot find the nginx executable \"$NginxBinary\" "
                    . "(set TEST_NGINX_BINARY)");
    my $out = `$NginxBinary -V 2>&1`;
    return sprintf("%d.%03d%03d", $1, $2, $3)
        if $out =~ m{nginx[^/]*/(\d+)\.(\d+)\.(\d+)};
    bail_out("Failed to parse the output of \"$NginxBinary -V\": $out");
}

# ---- server root, files, config ---------------------------------------------------

sub setup_server_root () {
    make_path($ServRoot);
    remove_tree($ConfDir, $HtmlDir, $LogDir, $CacheDir,
                glob("$ServRoot/*_temp"), glob("$ServRoot/*_cache"));
    make_path($ConfDir, $HtmlDir, $LogDir);
    write_file("$HtmlDir/index.html", '<html><head><title>It works!</title>'
               . '</head><body>It works!</body></html>');
}

sub write_file ($$) {
    my ($path, $data) = @_;
    open my $out, '>', $path or bail_out("Cannot open $path for writing: $!");
    binmode $out;
    print $out $data;
    close $out;
}

# --- user_files: ">>> name [touch-date]" lines, each followed by the content.
sub write_user_files ($) {
    my $block = shift;
    my $name  = $block->name;
    my $files = $block->user_files;
    return unless defined $files;

    if (!ref $files) {
        my @list;
        for my $line (split /^/, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, '', $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type for --- user_files: " . ref $files);
    }

    for my $f (@$files) {
        my ($fname, $body, $date) = @$f;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        (my $dir = $path) =~ s{/[^/]*$}{};
        make_path($dir) unless -d $dir;
        write_file($path, expand_env_in_text($body // '', $name, $RandPorts));
        if ($date) {
            local $ENV{TZ} = 'GMT';
            system('touch', '-t', $date, $path) == 0
                or bail_out("$name - failed to touch -t '$date' $path");
        }
    }
}

sub write_config_file ($$) {
    my ($block, $config) = @_;
    my $name = $block->name;
    my $x = sub { expand_env_in_text($_[0] // '', $name, $RandPorts) };

    my $http_config      = $x->($block->http_config);
    my $main_config      = $x->($block->main_config);
    my $post_main_config = $x->($block->post_main_config);
    my $server_name      = $block->server_name // $ServerName;
    $config //= '';

    my $load_modules = join '', map { "load_module $_;\n" }
                                grep { length } split /\s+/, $LoadModules;
    my $env = join '', map { /\s/ ? "env '$_';\n" : "env $_;\n" } @EnvToNginx;

    # nginx packages often point the temp paths at /var/lib/nginx.
    my $temp_paths = '';
    for my $t (qw(client_body proxy fastcgi uwsgi scgi)) {
        $temp_paths .= "    ${t}_temp_path $ServRoot/${t}_temp;\n"
            unless $http_config =~ /\b${t}_temp_path\b/;
    }

    my $root_location = '';
    if (!$NoRootLocation && $config !~ /\blocation\s+\/\s*\{/) {
        $root_location = "        location / {\n            root $HtmlDir;\n"
                       . "            index index.html index.htm;\n        }\n";
    }

    my $user = defined $WorkerUser ? "user $WorkerUser;\n"
             : $> == 0 ? "user root;\n" : '';

    write_file($ConfFile, <<"_EOC_");
${load_modules}worker_processes  $Workers;
daemon off;
master_process $MasterProcess;
error_log $ErrLogFile $LogLevel;
pid       $PidFile;
$user$env
$main_config

http {
    access_log $AccLogFile;
$temp_paths
    default_type text/plain;
    keepalive_timeout  68000ms;

$http_config

    server {
        listen          $ServerPort;
        server_name     '$server_name';
        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main_config

events {
    accept_mutex off;
    worker_connections  $WorkerConnections;
}
_EOC_
}

# ---- process control ----------------------------------------------------------------

sub is_running ($) {
    my $pid = shift;
    return 0 unless $pid && kill 0, $pid;
    if (open my $st, '<', "/proc/$pid/stat") {      # a zombie counts as gone
        my $stat = <$st> // '';
        return 0 if $stat =~ /^\d+ \(.*\) Z/s;
    }
    1;
}

sub read_pid_file () {
    open my $in, '<', $PidFile or return undef;
    my $pid = <$in>;
    close $in;
    return defined $pid && $pid =~ /^\s*(\d+)/ ? $1 : undef;
}

sub log_tail ($) {
    my $file = shift;
    open my $in, '<', $file or return '';
    my @lines = <$in>;
    join '', grep { !/\[debug\]/ } @lines[-(@lines > 60 ? 60 : @lines) .. -1];
}

# nginx runs in the foreground (daemon off) as a child of the test process,
# optionally under valgrind, with stderr appended to $stderr_file.
sub spawn_nginx ($) {
    my $stderr_file = shift;
    my @cmd = ($NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile);
    push @cmd, '-e', $ErrLogFile if $NginxVersion >= 1.019005;

    if ($UseValgrind) {
        my @opts = $UseValgrind =~ /^\d+$/
            ? ('-q', '--leak-check=full', '--gen-suppressions=all',
               '--num-callers=100', '--show-possibly-lost=no',
               map { "--suppressions=$_" } grep { -f } @ValgrindSuppressions)
            : split ' ', $UseValgrind;
        unshift @cmd, 'valgrind', @opts;
    }
    warn "command: @cmd\n" if $Verbose;

    my $pid = fork;
    bail_out("fork() failed: $!") unless defined $pid;
    if ($pid == 0) {
        open STDIN,  '<',  '/dev/null';
        open STDOUT, '>',  '/dev/null';
        open STDERR, '>>', $stderr_file;
        { exec @cmd }
        POSIX::_exit(127);
    }
    $ChildPid = $pid;
}

# Launch nginx once. Returns undef once the pid file names a live nginx, or
# the wait status when nginx exited (bad config, port in use...).
sub launch_nginx ($$) {
    my ($name, $stderr_file) = @_;
    spawn_nginx($stderr_file);
    my $deadline = time + ($UseValgrind ? 60 : 10);
    while (time < $deadline) {
        if (waitpid($ChildPid, WNOHANG) == $ChildPid) {
            undef $ChildPid;
            return $?;
        }
        my $pid = read_pid_file();
        return undef if $pid && is_running($pid);
        sleep $TestNginxSleep;
    }
    bail_out("$name - nginx did not write its pid file $PidFile in time\n"
             . log_tail($ErrLogFile));
}

sub start_nginx ($) {
    my $name = shift->name;
    my $stderr_file = $UseValgrind ? $ErrLogFile : "$LogDir/stderr.log";
    for (my $waited = 0; ; $waited += 0.5) {
        my $status = launch_nginx($name, $stderr_file) // return;
        my $log = log_tail($ErrLogFile) . log_tail("$LogDir/stderr.log");
        if ($log =~ /Address already in use/ && $waited < 10) {
            sleep 0.5;
            next;
        }
        bail_out("$name - Cannot start nginx ($NginxBinary, exit status "
                 . ($status >> 8) . "):\n$log");
    }
}

# True for our child, or for an nginx left over by an earlier run that used
# this server root (its command line names it); never for a recycled pid.
sub is_our_nginx ($) {
    my $pid = shift;
    return 1 if $ChildPid && $pid == $ChildPid;
    open my $in, '<', "/proc/$pid/cmdline" or return 0;
    my $cmdline = do { local $/; <$in> } // '';
    index($cmdline, "$ServRoot/") >= 0;
}

sub stop_nginx () {
    my $pid = $ChildPid // read_pid_file();
    if ($pid && is_running($pid) && is_our_nginx($pid)) {
        warn "stopping nginx $pid\n" if $Verbose;
        SIGNAL: for my $sig ([SIGQUIT, $Timeout + 2], [SIGTERM, 3], [SIGKILL, 3]) {
            kill $sig->[0], $pid;
            my $until = time + $sig->[1];
            while (time < $until) {
                waitpid($ChildPid, WNOHANG) if $ChildPid;
                last SIGNAL unless is_running($pid);
                sleep 0.02;
            }
            warn "WARNING: nginx $pid did not exit after signal $sig->[0]\n";
        }
    }
    waitpid($ChildPid, 0) if $ChildPid;
    undef $ChildPid;
    unlink $PidFile if -f $PidFile;
    check_sanitizer_output($CurrentBlockName // $0);   # leaks show at exit
}

sub nginx_running () {
    my $pid = $ChildPid // read_pid_file();
    $pid && is_running($pid) && is_our_nginx($pid);
}

sub cleanup () {
    return if $$ != $MainPid;
    $_->() for @CleanupHandlers;
    @CleanupHandlers = ();
    stop_nginx() unless $NoClean && !$UseValgrind;
}

END {
    if ($$ == $MainPid) {
        local $?;
        cleanup();
        remove_tree($ServRoot) if $Randomize && $ServRoot =~ m{/t/servroot_\d+$};
    }
}

# ---- error log -----------------------------------------------------------------------

# Lines appended to the error log since the previous call in this block.
sub error_log_data () {
    sleep $TestNginxSleep * 3;      # let the log phase of the last request run
    open my $in, '<', $ErrLogFile or return [];
    seek $in, $ErrLogFilePos, 0 if !$CheckAccumErrLog && $ErrLogFilePos > 0;
    my @lines = <$in>;
    $ErrLogFilePos = tell $in unless $CheckAccumErrLog;
    close $in;
    \@lines;
}

# After a valgrind run: report what valgrind wrote ("==PID==" lines and the
# suppression blocks of --gen-suppressions) as a failure.
sub check_valgrind_output ($) {
    my $name = shift;
    open my $in, '<', $ErrLogFile or return;
    my ($report, $in_supp) = ('', 0);
    while (my $line = <$in>) {
        $in_supp = 1 if $line =~ /^\{\s*$/;
        $report .= $line if $in_supp || $line =~ /^==\d+==/;
        $in_supp = 0 if $line =~ /^\}\s*$/;
    }
    close $in;
    return if $report eq '';
    Test::More::diag($report);
    Test::More::fail("$name - valgrind reported errors");
}

# Sanitizer reports (ASan, LSan) that nginx wrote into $LogDir/sanitizer/
# (scripts/sanitizer-nginx sets log_path there), and UBSan's in the error
# log or nginx's stderr: printed as
# a diagnostic and counted as one failed test, then removed so that each is
# reported once. Checked after each block and whenever nginx stops.
our %SanitizerLogPos;        # error log and stderr: bytes already scanned

sub check_sanitizer_output ($) {
    my $name = shift;
    my $dir = "$LogDir/sanitizer";
    my $report = '';

    # UBSan (gcc's libubsan, a runtime apart from libasan) ignores log_path
    # and writes to stderr, which nginx points at its error log: its
    # "runtime error:" lines and their stacks are taken from there.
    for my $log ($ErrLogFile, "$LogDir/stderr.log") {
        open my $in, '<', $log or next;
        my $pos = $SanitizerLogPos{$log} // 0;
        $pos = 0 if $pos > -s $in;          # a new server root
        seek $in, $pos, 0;
        my $in_report = 0;
        while (my $line = <$in>) {
            if ($line =~ /: runtime error: /) {
                $in_report = 1;
            } elsif ($in_report && $line !~ /^\s+#\d+ /) {
                $in_report = 0;
            }
            $report .= $line if $in_report;
        }
        $SanitizerLogPos{$log} = tell $in;
        close $in;
    }
    $report = "--- UBSan in the error log\n$report" if $report ne '';

    my @files;
    if (opendir my $dh, $dir) {
        @files = sort grep { !/^\./ && -f "$dir/$_" } readdir $dh;
        closedir $dh;
    }
    return if !@files && $report eq '';
    for my $f (@files) {
        if (open my $in, '<', "$dir/$f") {
            local $/;
            my $text = <$in> // '';
            close $in;
            if (lsan_could_not_check($text)) {
                warn "WARNING: $name - LeakSanitizer could not check one "
                     . "process at its exit:\n$text";
            } else {
                $report .= "--- $f\n$text";
            }
        }
        unlink "$dir/$f";
    }
    return if $report eq '';
    Test::More::diag($report);
    Test::More::fail("$name - sanitizer reported errors");
}

# LeakSanitizer's own failure at a process's exit ("Tracer caught signal 11",
# "LeakSanitizer has encountered a fatal error"), with no report of any
# sanitizer: that process's leaks went unchecked, which is worth a warning
# but is no finding. It happens when nginx exits while a thread-pool thread
# is still inside pthread_exit().
sub lsan_could_not_check ($) {
    my $text = shift;
    return $text =~ /LeakSanitizer has encountered a fatal error/
        && $text !~ /ERROR: (?:AddressSanitizer|LeakSanitizer: detected)|runtime error:/;
}

# ---- skipping ------------------------------------------------------------------------

# Returns (number of tests to skip, reason) when the block must be skipped.
sub skip_info ($) {
    my $block = shift;
    my $name = $block->name;
    if (defined(my $spec = $block->skip_nginx)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*?))?\s*$/
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        my ($n, $op, $reason) = ($1, $2, $6);
        my $ver = sprintf "%d.%03d%03d", $3, $4, $5;
        return ($n, $reason || "nginx version $op $3.$4.$5")
            if eval "$NginxVersion $op $ver";
    }
    if (defined(my $spec = $block->skip_eval)) {
        $spec =~ /^\s*(\d+)\s*:\s*(.*)$/s
            or bail_out("$name - Invalid --- skip_eval spec: $spec");
        my ($n, $code) = ($1, $2);
        my $skip = eval $code;
        bail_out("$name - skip_eval - failed to eval \"$code\": $@") if $@;
        return ($n, 'skip_eval') if $skip;
    }
    return;
}

# ---- the driver ----------------------------------------------------------------------

sub run_tests () {
    $NginxVersion = get_nginx_version();
    $ENV{TEST_NGINX_SERVER_PORT} //= $ServerPort;

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;
    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        run_test($block);
        $_->($block) for @TestCleanupHandlers;
    }
    cleanup();
}

sub run_test ($) {
    my $block = shift;
    my $name = $block->name;
    local $RandPorts = {};
    local $LogLevel = trim($block->log_level) || $LogLevel;
    local $UseValgrind = defined $block->must_die ? undef : $UseValgrind;
    $CurrentBlockName = $name;

    if (my ($n, $reason) = skip_info($block)) {
        SKIP: { Test::More::skip("$name - $reason", $n * $RepeatEach) }
        return;
    }

    my $config = $block->config;
    my $conf_block = $block;
    if (defined $config) {
        $ConfigBlock = $block;
    } else {
        $conf_block = $ConfigBlock
            or bail_out("$name - No '--- config' section specified and "
                        . "could not get previous one");
        $config = $conf_block->config;
    }
    $config = expand_env_in_text($config, $name, $RandPorts);

    if (defined $block->config || !nginx_running()) {
        stop_nginx();
        setup_server_root();
        if (defined(my $code = $block->post_setup_server_root)) {
            eval $code;
            bail_out("$name - post_setup_server_root failed: $@") if $@;
        }
        write_user_files($block);
        write_config_file($conf_block, $config);

        if (defined $block->must_die) {
            run_must_die($block);
            return;
        }
        start_nginx($block);
    } else {
        write_user_files($block);
    }

    if (defined(my $code = $block->init)) {
        eval $code;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogFilePos = 0;
    for my $i (1 .. $RepeatEach) {
        write_user_files($block) if $i > 1;
        $RunTestHelper->($block, $i - 1);
    }

    if ($UseValgrind) {                 # valgrind reports leaks on exit
        stop_nginx();
        check_valgrind_output($name);
    }
    check_sanitizer_output($name);
}

# --- must_die: nginx must fail to start; stderr goes to the error log too.
sub run_must_die ($) {
    my $block = shift;
    my $name = $block->name;
    my $must_die = trim($block->must_die);
    # nginx that fails to start returns from main() without freeing what it
    # read; under a sanitizer build that is no leak worth a report
    local $ENV{ASAN_OPTIONS} = join ':', grep { $_ ne '' }
        $ENV{ASAN_OPTIONS} // '', 'detect_leaks=0';

    $ErrLogFilePos = 0;
    for my $i (0 .. $RepeatEach - 1) {
        my $status = launch_nginx($name, $ErrLogFile) // 0;
        my $code = $status >> 8;

        if ($status & 127) {
            Test::More::fail("$name - nginx killed by signal " . ($status & 127));
        } elsif ($code == 127) {
            Test::More::fail("$name - failed to execute the nginx command line");
        } elsif ($must_die =~ /^\d+$/) {
            Test::More::is($must_die, $code, "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }

        $CheckErrorLog->($block, undef, $i, 0);

        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; stopping it\n";
            stop_nginx();
        }
        check_sanitizer_output($name);
    }
}

1;
