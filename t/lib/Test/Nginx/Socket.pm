package Test::Nginx::Socket;

# A small Test::Nginx::Socket-compatible runner (the subset of the data
# format documented in t/README.md). Suites written for it run unchanged
# under openresty's Test::Nginx::Socket.

use strict;
use warnings;

use Test::Base -base;        # blocks(), plan(), is(), ... and the block parser
use Test::Nginx::Util;

use IO::Select ();
use IO::Socket::INET ();
use POSIX qw(EAGAIN EWOULDBLOCK);
use Time::HiRes qw(sleep time);

our $VERSION = '0.01';

our @EXPORT = qw(
    run_tests run_test plan blocks repeat_each no_shuffle no_long_string
    master_on master_off master_process_enabled workers worker_connections
    log_level env_to_nginx no_root_location server_name server_addr
    server_port server_port_for_client html_dir server_root timeout
    config_preamble add_block_preprocessor add_cleanup_handler
    add_test_cleanup_handler add_response_body_check check_accum_error_log
    bail_out is_str expand_env_in_text
    $ServerPort $ServerPortForClient $ServerAddr $ServerName $ServRoot
    $NginxVersion $PidFile $ConfFile
);

$RunTestHelper = \&run_test_helper;
$CheckErrorLog = \&check_error_log;

our @ResponseBodyChecks;

sub add_response_body_check ($) { push @ResponseBodyChecks, shift }

# ---- building requests ---------------------------------------------------------

# "--- more_headers" text -> ("Name: value\r\n"..., is_chunked)
sub parse_more_headers {
    my $in = shift;
    my ($out, $is_chunked) = ('', 0);
    for my $line (split /\n+/, $in) {
        next if $line =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val //= '';
        $is_chunked = 1 if lc $key eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    ($out, $is_chunked);
}

# Turn "METHOD [URI [HTTP/x.y]]\nbody" (possibly cut into packets) into a
# complete HTTP request: request line, Host, Connection, the extra headers,
# Content-Length for a non-empty body (which is trimmed, like upstream).
# Packet boundaries are carried over to the rewritten request.
sub build_request {
    my ($name, $more, $is_chunked, $conn, $packets) = @_;
    my $text = join '', map { $_ // '' } @$packets;

    my ($line, $body) = $text =~ /\A([^\n]*\n?)(.*)\z/s;
    $line =~ /^(\s*)(\S+)(?: +(\S+))?(?: +(\S+))?\s*$/
        or bail_out("$name - Request line is not valid. Should be "
                    . "'meth [url [version]]' but got \"$line\".");
    my ($lead_ws, $meth, $url, $ver) = (length $1, $2, $3 // '/', $4 // 'HTTP/1.1');
    my $req_line = "$meth $url $ver";

    my ($content, $skipped, $len_header) = ($body, 0, '');
    if (!$is_chunked && $content ne '' && $more !~ /(?:^|\n)Content-Length:/) {
        $content =~ s/^(\s*)//;
        $skipped = length $1;
        $content =~ s/\s+\z//;
        $len_header = 'Content-Length: ' . length($content) . "\r\n";
    }

    $more =~ s/(?<!\r)\n/\r\n/g;
    my $headers = '';
    $headers .= "Host: $ServerName\r\n" if $more !~ /(?:^|\n)Host:/mi;
    $headers .= "Connection: $conn\r\n" if $more !~ /(?:^|\n)Connection/mi;
    my $head = "$req_line\r\n$headers$more$len_header\r\n";
    my $req = $head . $content;

    # map each packet boundary of the source text into $req
    my (@cuts, $pos);
    $pos = 0;
    for my $p (@$packets[0 .. $#$packets - 1]) {
        $pos += length($p // '');
        my $at;
        if ($pos < length $line) {
            $at = $pos - $lead_ws;
            $at = 0 if $at < 0;
            $at = length $req_line if $at > length $req_line;
        } else {
            $at = $pos - length($line) - $skipped;
            $at = 0 if $at < 0;
            $at = length $content if $at > length $content;
            $at += length $head;
        }
        push @cuts, $at;
    }
    my ($from, @out) = (0);
    for my $at (@cuts, length $req) {
        push @out, substr($req, $from, $at - $from);
        $from = $at;
    }
    \@out;
}

sub more_headers_for {
    my ($block, $i) = @_;
    my $more = $block->more_headers // '';
    if (ref $more eq 'ARRAY') {
        $more = $more->[$i];
        bail_out($block->name . " - --- more_headers lacks data for request $i")
            unless defined $more;
    }
    parse_more_headers($more);
}

# Returns a list of requests; each is a list of packets {value, delay_before}.
sub get_req_from_block {
    my $block = shift;
    my $name = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        return [ map { { value => $_ } } ref $raw eq 'ARRAY' ? @$raw : ($raw) ];
    }

    if (defined(my $reqs = $block->pipelined_requests)) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            unless ref $reqs eq 'ARRAY';
        my $all = '';
        for my $i (0 .. $#$reqs) {
            my $r = expand_env_in_text($reqs->[$i], $name, undef);
            my $conn = $i == $#$reqs ? 'close' : 'keep-alive';
            $all .= build_request($name, more_headers_for($block, $i), $conn, [$r])->[0];
        }
        return [ { value => $all } ];
    }

    my $request = $block->request;
    bail_out("$name - request empty") unless defined $request;
    if (!ref $request) {
        1 while $request =~ s/^\s*#[^\n]+\s+|^\s+//gs;   # leading comments
        my $out = build_request($name, more_headers_for($block, 0), 'close', [$request]);
        return [ map { { value => $_ } } @$out ];
    }
    bail_out("$name - invalid --- request: MUST be string or array of requests")
        unless ref $request eq 'ARRAY';

    my @list;
    for my $i (0 .. $#$request) {
        my $one = $request->[$i];
        my @hdr = more_headers_for($block, $i);
        if (!ref $one) {
            push @list, [ { value => build_request($name, @hdr, 'close', [$one])->[0] } ];
            next;
        }
        bail_out("$name - Invalid syntax. $one should be a string or an array of packets.")
            unless ref $one eq 'ARRAY';
        my @packets = map {
            ref $_ eq 'HASH' ? { %$_ } : !ref $_ ? { value => $_ }
            : bail_out("$name - Invalid syntax. $_ should be a string or hash with value.")
        } @$one;
        my $out = build_request($name, @hdr, 'close', [ map { $_->{value} } @packets ]);
        $packets[$_]{value} = $out->[$_] for 0 .. $#packets;
        push @list, \@packets;
    }
    @list;
}

# ---- sending -------------------------------------------------------------------------

# Send the packets (sleeping delay_before, or raw_request_middle_delay,
# before each but the first) and read until the server closes the
# connection. Returns (raw response, is HEAD request).
sub send_request {
    my ($packets, $middle_delay, $timeout, $block) = @_;
    my $name = $block->name;
    my @bits = @$packets;
    my $head_req = (join '', map { $_->{value} // '' } @bits) =~ /^\s*HEAD\s+/ ? 1 : 0;

    my $addr = $block->server_addr_for_client // $ServerAddr;
    my $sock;
    for my $try (1 .. 20) {
        $sock = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => $ServerPortForClient,
                                      Proto => 'tcp', Timeout => $timeout) and last;
        sleep($try < 10 ? 0.05 * $try : 0.5);
    }
    if (!$sock) {
        Test::More::fail("$name - Can't connect to $addr:$ServerPortForClient: $!\n");
        return (undef, $head_req);
    }
    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';

    my ($buf, $off, $resp) = ((shift @bits)->{value} // '', 0, '');
    my $writing = 1;
    my $sel = IO::Select->new($sock);

    while (1) {
        my ($r, $w) = IO::Select->select($sel, $writing ? $sel : undef, undef, $timeout);
        if (!$r && !$w) {
            Test::More::fail("ERROR: client socket timed out - $name\n")
                unless defined $block->abort;
            last;
        }

        if ($w && @$w) {
            WRITE: while (1) {
                if ($off < length $buf) {
                    my $n = syswrite($sock, $buf, length($buf) - $off, $off);
                    if (!defined $n) {
                        last WRITE if $! == EAGAIN || $! == EWOULDBLOCK;
                        warn "$name - write failed: $!\n";
                        $writing = 0;
                        last WRITE;
                    }
                    $off += $n;
                    next WRITE;
                }
                my $next = shift @bits;
                if (!$next) {
                    $writing = 0;
                    if (defined(my $how = $block->shutdown)) {
                        shutdown($sock, $how =~ /^\s*$/ ? 1 : $how);
                    }
                    last WRITE;
                }
                my $delay = $next->{delay_before} // $middle_delay;
                sleep $delay if $delay;
                ($buf, $off) = ($next->{value} // '', 0);
            }
        }

        if ($r && @$r) {
            my $n = sysread($sock, my $chunk, 65536);
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK ;
                warn "WARNING: $name - HTTP response read failure: $!\n";
                last;
            }
            last if $n == 0;
            $resp .= $chunk;
        }
    }
    close $sock;
    ($resp, $head_req);
}

# ---- responses -----------------------------------------------------------------------

sub res_header {
    my ($res, $key) = @_;
    return undef unless $res;
    my @v = map { $_->[1] } grep { lc $_->[0] eq lc $key } @{ $res->{headers} };
    @v ? join(', ', @v) : undef;
}

# Returns ({code, status_line, headers => [[name, value]...], content},
#          raw header text, bytes left after this response).
sub parse_response {
    my ($name, $raw, $head_req) = @_;
    my $raw_headers = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';

    my ($head, $body) = $raw =~ /\A(.*?)\r?\n\r?\n(.*)\z/s ? ($1, $2) : ($raw, '');
    my @lines = split /\r?\n/, $head;
    my $status_line = shift(@lines) // '';
    my $code = $status_line =~ m{^HTTP/\d+\.\d+\s+(\d+)} ? $1 : undef;
    my @headers;
    for (@lines) {
        if (/^\s+(.*)/ && @headers) { $headers[-1][1] .= " $1"; next }
        push @headers, [$1, $2] if /^([^:\s]+)\s*:\s*(.*?)\s*$/;
    }
    my $res = { code => $code, status_line => $status_line,
                headers => \@headers, content => $body };
    my $left;

    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $te  = res_header($res, 'Transfer-Encoding');
    my $len = res_header($res, 'Content-Length');

    if (defined $te && $te eq 'chunked') {
        my $decoded = '';
        pos($body) = 0;
        while (1) {
            if ($body =~ /\G[ \t]*([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?\r\n/gc) {
                my $size = hex $1;
                if ($size == 0) {
                    1 while $body =~ /\G[^\r\n]+\r\n/gc;           # trailers
                    if ($body !~ /\G\r\n/gc) {
                        Test::More::fail("$name - invalid chunked data received (expected CRLF).");
                        return;
                    }
                    $left = substr $body, pos $body if pos($body) < length $body;
                    last;
                }
                if (length($body) - pos($body) < $size) {
                    Test::More::fail("$name - invalid chunked data received "
                                     . "(not enough octets for the data section)");
                    return;
                }
                $decoded .= substr $body, pos($body), $size;
                pos($body) += $size;
                if ($body !~ /\G\r\n/gc) {
                    Test::More::fail("$name - invalid chunked data received (expected CRLF).");
                    return;
                }
            } elsif ($body =~ /\G(.+)/gcs) {
                Test::More::fail("$name - invalid chunked body received: $1");
                return;
            } else {
                Test::More::fail("$name - no last chunk found - $body");
                return;
            }
        }
        $res->{content} = $decoded;

    } elsif (defined $len && $len =~ /^\d+$/) {
        if (length $body < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got " . length($body) . "\n" unless $head_req;
        } elsif (length $body > $len) {
            $left = substr $body, $len;
            $res->{content} = substr $body, 0, $len;
        }
    }
    ($res, $raw_headers, $left);
}

# ---- checks ---------------------------------------------------------------------------

sub get_indexed_value {
    my ($name, $value, $idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$idx] if ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results "
                 . "should be arrays as well.");
    }
    return ref $value eq 'ARRAY' ? $value->[0] : $value;
}

sub check_error_code {
    my ($block, $res, $idx, $need_array) = @_;
    my $name = $block->name;
    my $got = ($res && $res->{code}) || '';
    if (defined $block->error_code_like) {
        my $pat = get_indexed_value($name, $block->error_code_like, $idx, $need_array);
        Test::More::like($got, qr/$pat/sm, "$name - status code ok");
    } elsif (defined $block->error_code) {
        Test::More::is($got, get_indexed_value($name, $block->error_code, $idx, $need_array),
                       "$name - status code ok");
    } else {
        Test::More::is($got, 200, "$name - status code ok");
    }
}

sub check_raw_response_headers {
    my ($block, $raw_headers, $idx, $need_array) = @_;
    my $name = $block->name;
    if (defined $block->raw_response_headers_like) {
        my $pat = get_indexed_value($name, $block->raw_response_headers_like, $idx, $need_array);
        Test::More::like($raw_headers, qr/$pat/s, "$name - raw resp headers like");
    }
    if (defined $block->raw_response_headers_unlike) {
        my $pat = get_indexed_value($name, $block->raw_response_headers_unlike, $idx, $need_array);
        Test::More::unlike($raw_headers, qr/$pat/s, "$name - raw resp headers unlike");
    }
}

# "Name: value" lines, "!Name" for an absent header -> [[name, value|undef]...]
sub parse_header_spec {
    my ($spec, @list, %seen) = (shift);
    for my $line (split /\n/, $spec // '') {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        # "!Name" (or a line without a colon) means: header absent
        my ($key, $val) = $line =~ s/^!\s*// ? ($line) : split /\s*:\s*/, $line, 2;
        if (exists $seen{$key}) { $list[$seen{$key}][1] = $val; next }
        $seen{$key} = @list;
        push @list, [$key, $val];
    }
    \@list;
}

sub check_response_headers {
    my ($block, $res, $raw_headers, $idx, $need_array) = @_;
    my $name = $block->name;
    if (defined $block->response_headers) {
        my $spec = get_indexed_value($name, $block->response_headers, $idx, $need_array);
        for (@{ parse_header_spec($spec) }) {
            my ($key, $val) = @$_;
            if (!defined $val) {
                Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                                   "$name - header $key not present in the raw headers");
                next;
            }
            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            Test::More::is(res_header($res, $key) // '', $val, "$name - header $key ok");
        }
    } elsif (defined $block->response_headers_like) {
        my $spec = get_indexed_value($name, $block->response_headers_like, $idx, $need_array);
        for (@{ parse_header_spec($spec) }) {
            my ($key, $val) = @$_;
            Test::More::like(res_header($res, $key) // '', qr/^$val$/,
                             "$name - header $key like ok");
        }
    }
}

sub check_response_body {
    my ($block, $res, $idx, $repeated_idx, $need_array) = @_;
    my $name = $block->name;
    my $content = $res ? $res->{content} : undef;

    if (defined $block->response_body) {
        my $expected = get_indexed_value($name, $block->response_body, $idx, $need_array);
        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            $expected = expand_env_in_text($expected, $name, undef);
        }
        is_str($content, $expected, "$name - response_body - response is expected "
               . "(repeated req $repeated_idx, req $idx)");

    } elsif (defined $block->response_body_like || defined $block->response_body_unlike) {
        my $like = defined $block->response_body_like;
        my $pat = get_indexed_value($name, $like ? $block->response_body_like
                                                 : $block->response_body_unlike,
                                    $idx, $need_array);
        $pat =~ s/\$ServerPort\b/$ServerPort/g unless ref $pat;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g unless ref $pat;
        my $summary = trim($content) // '';
        $summary = substr($summary, 0, 60) . '...' if length $summary > 63;
        my $type = $like ? 'like' : 'unlike';
        my $desc = "$name - response_body_$type - response is expected ($summary)";
        $like ? Test::More::like($content, qr/$pat/s, $desc)
              : Test::More::unlike($content, qr/$pat/s, $desc);
    }

    $_->($block, $content, $idx, $repeated_idx, 0) for @ResponseBodyChecks;
}

sub fmt_str {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    $s;
}

sub pattern_list {
    my $pats = shift;
    return [ split /\n+/, do { chomp(my $p = $pats); $p } ] unless ref $pats;
    return [$pats] if ref $pats eq 'Regexp';
    [@$pats];
}

sub line_matches {
    my ($line, $pat) = @_;
    ref $pat ? $line =~ /$pat/ : index($line, $pat) >= 0;
}

# error_log / no_error_log / grep_error_log against the log lines written
# since the previous check; [alert]/[crit]/[emerg] lines only warn.
sub check_error_log {
    my ($block, $res, $repeated_idx, $need_array) = @_;
    my $name = $block->name;
    my $lines;
    my %warn_on = map { $_ => 1 } qw(alert crit emerg);

    if (defined(my $grep = $block->grep_error_log)) {
        $grep = $grep->[$repeated_idx] if ref $grep eq 'ARRAY';
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but --- grep_error_log is defined")
            unless defined $expected;
        $expected = $expected->[$repeated_idx] if ref $expected eq 'ARRAY';
        $expected = expand_env_in_text($expected, $name, undef) unless ref $expected;
        $lines ||= error_log_data();
        my $matched = '';
        for my $line (@$lines) {
            if (ref $grep ? $line =~ /$grep/ : $line =~ /\Q$grep\E/) {
                $matched .= "$&\n" if $& !~ /\n/;
            }
        }
        is_str($matched, $expected, "$name - grep_error_log_out (req $repeated_idx)");
    }

    if (defined $block->error_log) {
        my $pats = pattern_list($block->error_log);
        for my $level (keys %warn_on) {
            delete $warn_on{$level} if grep { index("$_", "[$level") >= 0 } @$pats;
        }
        $lines ||= error_log_data();
        for my $line (@$lines) {
            for my $pat (@$pats) {
                next unless defined $pat && line_matches($line, $pat);
                Test::More::pass("$name - pattern \"$pat\" matches a line in error.log "
                                 . "(req $repeated_idx)");
                undef $pat;
            }
        }
        for my $pat (grep { defined } @$pats) {
            Test::More::fail("$name - pattern \"$pat\" should match a line in error.log "
                             . "(req $repeated_idx)");
        }
    }

    if (defined $block->no_error_log) {
        my $pats = pattern_list($block->no_error_log);
        for my $level (keys %warn_on) {
            delete $warn_on{$level} if grep { index("$_", "[$level") >= 0 } @$pats;
        }
        $lines ||= error_log_data();
        my %found;
        for my $i (0 .. $#$lines) {
            for my $pat (@$pats) {
                next unless line_matches($lines->[$i], $pat);
                $found{$pat} = 1;
                my $last = $i + 9 < $#$lines ? $i + 9 : $#$lines - 1;
                Test::More::fail("$name - pattern \"" . fmt_str($pat) . "\" should not match "
                    . "any line in error.log but matches line \"" . fmt_str($lines->[$i])
                    . "\" (req $repeated_idx)\n" . join '', @$lines[$i + 1 .. $last]);
            }
        }
        for my $pat (grep { !$found{$_} } @$pats) {
            Test::More::pass("$name - pattern \"" . fmt_str($pat) . "\" does not match a line "
                             . "in error.log (req $repeated_idx)");
        }
    }

    if (%warn_on) {
        $lines ||= error_log_data();
        for my $line (@$lines) {
            warn "WARNING: $name - " . fmt_str($line) . "\n"
                if $line =~ /\[(alert|crit|emerg)\]/ && $warn_on{$1};
        }
    }

    for my $line (@{ $lines || [] }) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            chomp(my $l = $line);
            Test::More::fail("$name - $l\n");
        }
    }
}

# ---- one repetition of a block -------------------------------------------------------------

sub run_test_helper {
    my ($block, $repeated_idx) = @_;
    my $name = $block->name;

    my @reqs = get_req_from_block($block);
    my $pipelined = $block->pipelined_requests ? scalar @{ $block->pipelined_requests } : 0;
    my $need_array = $pipelined ? 1 : @reqs > 1;
    my $nresp = $pipelined || @reqs;
    my $timeout = parse_time($block->timeout) // timeout();
    my $middle_delay = parse_time($block->raw_request_middle_delay);
    my ($res, $idx) = (undef, 0);

    for my $req (@reqs) {
        my ($raw, $head_req) = send_request($req, $middle_delay, $timeout, $block);
        $raw //= '';
        for my $k (1 .. ($pipelined || 1)) {
            my ($raw_headers, $left);
            if (!defined $block->ignore_response) {
                ($res, $raw_headers, $left) = parse_response($name, $raw, $head_req);
                $raw_headers //= '';
                if ($pipelined) {
                    $raw = $left // '';
                } elsif (defined $left) {
                    (my $l = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                    warn "WARNING: $name - unexpected extra bytes after last chunk in "
                         . "response: \"$l\"\n";
                }
                check_error_code($block, $res, $idx, $need_array);
                check_raw_response_headers($block, $raw_headers, $idx, $need_array);
                check_response_headers($block, $res, $raw_headers, $idx, $need_array);
                check_response_body($block, $res, $idx, $repeated_idx, $need_array);
            }
            if ($idx < $nresp - 1) {
                sleep parse_time($block->wait) if $block->wait;
                check_error_log($block, $res, $repeated_idx, $need_array);
            }
            $idx++;
        }
    }

    sleep parse_time($block->wait) if $block->wait;
    check_error_log($block, $res, $repeated_idx, $need_array);
}

1;
