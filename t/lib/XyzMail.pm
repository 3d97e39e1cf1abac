package XyzMail;

# Helpers for suites that look into the local mail catcher (maildev 3.0.0,
# started by scripts/mail.sh): the messages it caught, waiting for them,
# clearing them, their raw source, stopping and starting it (an SMTP
# outage).  Core Perl, HTTP::Tiny and JSON::PP only.
#
# The REST base is TEST_NGINX_MAILDEV_API (exported by scripts/test.sh,
# http://127.0.0.1:PORT/api), or else what `scripts/mail.sh api-url` prints.
#
#   mail_list()               every message, oldest first: a list of hashes as
#                             maildev gives them (id, time, subject, from, to,
#                             envelope, headers, text, html, attachments, ...)
#   mail_wait(count => N, match => sub { ... }, timeout => S)
#                             waits (10 s by default) until N messages (1 by
#                             default) satisfy `match` (all when absent; it
#                             gets one message in $_[0]); returns those
#                             messages, or fewer when the time ran out
#   mail_clear()              deletes every message
#   mail_raw($id)             the message as received (.eml text, CRLF lines)
#   mail_to($msg)             the envelope recipients of a message, lowercased
#   mail_stop(), mail_start() scripts/mail.sh stop / start (the start waits
#                             until SMTP and the API answer; the messages are
#                             gone, the ports stay)
#   mail_api(), mail_smtp()   the REST base URL, and (host, port) of SMTP

use strict;
use warnings;

use Exporter 'import';
use HTTP::Tiny ();
use JSON::PP ();
use Time::HiRes ();

our @EXPORT = qw(
    mail_list mail_wait mail_clear mail_raw mail_to mail_stop mail_start
    mail_api mail_smtp
);

my $json = JSON::PP->new->utf8->canonical->allow_nonref;
my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);

sub _root {
    return $ENV{XYZ_ROOT} || die "XYZ_ROOT is not set; run the suites "
                                 . "through 'make test'\n";
}

sub _script {
    my ($what) = @_;
    my $script = _root() . '/scripts/mail.sh';
    my $out = `$script $what`;
    die "scripts/mail.sh $what failed\n" if $? != 0;
    chomp $out;
    return $out;
}

sub mail_api {
    my $api = $ENV{TEST_NGINX_MAILDEV_API};
    $api = _script('api-url') if !defined $api || $api eq '';
    $api =~ s{/+\z}{};
    return $api;
}

sub mail_smtp {
    my $url = $ENV{TEST_NGINX_SMTP_URL};
    $url = _script('smtp-url') if !defined $url || $url eq '';
    $url =~ m{\Asmtp://([^:/]+):(\d+)} or die "odd SMTP URL: $url\n";
    return ($1, $2);
}

sub _get {
    my ($path) = @_;
    my $res = $http->get(mail_api() . $path);
    die "maildev GET $path: $res->{status} $res->{reason}\n"
        unless $res->{success};
    return $res->{content};
}

sub mail_list {
    my $list = $json->decode(_get('/email'));
    return @$list;
}

sub mail_wait {
    my (%opt) = @_;
    my $count = $opt{count} // 1;
    my $match = $opt{match} // sub { 1 };
    my $deadline = Time::HiRes::time() + ($opt{timeout} // 10);
    my @got;
    while (1) {
        @got = grep { $match->($_) } mail_list();
        last if @got >= $count || Time::HiRes::time() >= $deadline;
        Time::HiRes::sleep(0.1);
    }
    return @got;
}

sub mail_clear {
    my $res = $http->request('DELETE', mail_api() . '/email/all');
    die "maildev DELETE /email/all: $res->{status} $res->{reason}\n"
        unless $res->{success};
    return;
}

sub mail_raw {
    my ($id) = @_;
    return _get('/email/' . $id . '/source');
}

sub mail_to {
    my ($msg) = @_;
    return map { lc $_->{address} } @{ $msg->{envelope}{to} || [] };
}

sub mail_stop {
    system(_root() . '/scripts/mail.sh', 'stop') == 0
        or die "mail.sh stop failed\n";
    return;
}

sub mail_start {
    system(_root() . '/scripts/mail.sh', 'start') == 0
        or die "mail.sh start failed\n";
    return;
}

1;
