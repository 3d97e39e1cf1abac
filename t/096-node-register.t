#!/usr/bin/env perl
# The Node registration service of `make bench-runtime`
# (bench/runtime/register-service.mjs), registering one user against the real
# PostgreSQL: 202 with the module's body, the user, its token and the outbox
# row written by the module's own statement, a hash libsodium can read (PHC
# parameters in the order m, t, p), a refusal in the module's words, and,
# with the SQS emulator, the outbox row published.

use strict;
use warnings;
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP ();
use POSIX ();
use Test::More;
use Time::HiRes ();

BEGIN {
    plan skip_all => 'TEST_NGINX_PG_DSN is not set (run through make test)'
        unless $ENV{TEST_NGINX_PG_DSN} && $ENV{XYZ_ROOT};
}

use XyzTest;

my $root = $ENV{XYZ_ROOT};
my $service = "$root/bench/runtime/register-service.mjs";

plan skip_all => 'the npm packages of the Node service do not load'
    unless system('node', '-e', 'require("argon2"); require("fastify"); require("pg")') == 0;

my $port = do {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1) or die "no port: $!";
    my $p = $s->sockport;
    close $s;
    $p;
};

my $sqs = $ENV{TEST_NGINX_SQS_ENDPOINT} && $ENV{TEST_NGINX_SQS_EMAIL_QUEUE};
my $log = "$root/.run/node-register-$$.log";

my $pid = fork // die "fork: $!";
if ($pid == 0) {
    $ENV{PORT} = $port;
    $ENV{WORKERS} = 1;
    $ENV{XYZ_DATABASE_URL} = $ENV{TEST_NGINX_PG_DSN};
    if ($sqs) {
        $ENV{XYZ_SQS_QUEUE_URL} = $ENV{TEST_NGINX_SQS_EMAIL_QUEUE};
        $ENV{AWS_ENDPOINT_URL_SQS} = $ENV{TEST_NGINX_SQS_ENDPOINT};
    }
    open STDOUT, '>', $log or POSIX::_exit(1);
    open STDERR, '>&', \*STDOUT or POSIX::_exit(1);
    exec 'node', $service or POSIX::_exit(1);
}
END {
    local $?;                    # the service's status is not the suite's
    if ($pid) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
        unlink $log;
    }
}

my $http = HTTP::Tiny->new(timeout => 10);
my $base = "http://127.0.0.1:$port";
my $up = 0;
for (1 .. 100) {
    my $r = $http->get("$base/");
    if ($r->{status} != 599) { $up = 1; last }
    Time::HiRes::sleep(0.1);
}
ok($up, 'the Node service answers') or do {
    diag(do { local (@ARGV, $/) = $log; <> } // '');
    done_testing();
    exit;
};

my $email = 'Node-' . run_id() . '@Example.com';
my $r = $http->post("$base/api/register", {
    headers => { 'Content-Type' => 'application/json' },
    content => register_json(email => $email, locale => 'en-GB',
                             marketing_consent => JSON::PP::true),
});
is($r->{status}, 202, 'a registration: 202');
like($r->{content}, qr/\A\{"status":"accepted","message":"Check your inbox/,
     '... with the module\'s body');

my $lower = lc $email;
my ($id, $status, $hash, $locale) = split /\|/,
    psql("SELECT id, status, password_hash, locale FROM users WHERE email_normalized = '$lower'");
ok($id, 'the user row, under the lower-cased address');
is($status, 'pending', '... pending');
is($locale, 'en', '... locale en');
like($hash // '', qr/\A\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+\/]{22}\$[A-Za-z0-9+\/]{43}\z/,
     '... an Argon2id PHC string in libsodium\'s parameter order');
is(psql("SELECT count(*) FROM confirmation_tokens WHERE user_id = $id AND purpose = 'confirm'"),
   1, 'one confirmation token');
is(psql("SELECT payload->>'type' || ' ' || (payload->>'email') FROM outbox "
        . "WHERE (payload->>'user_id')::bigint = $id"),
   "confirm $email", 'one outbox row: the confirmation email');

$r = $http->post("$base/api/register", {
    headers => { 'Content-Type' => 'application/json' },
    content => register_json(email => 'not an address'),
});
is($r->{status}, 422, 'a bad address: 422');
is($r->{content}, qq({"error":"invalid_field","field":"email","message":"email is not a valid address"}\n),
   '... in the module\'s words');

SKIP: {
    skip 'no SQS emulator (TEST_NGINX_SQS_ENDPOINT)', 1 unless $sqs;
    my $published = '';
    for (1 .. 100) {
        $published = psql("SELECT published_at IS NOT NULL FROM outbox "
                          . "WHERE (payload->>'user_id')::bigint = $id");
        last if $published eq 't';
        Time::HiRes::sleep(0.1);
    }
    is($published, 't', 'with XYZ_SQS_QUEUE_URL, the outbox row is published')
        or diag(do { local (@ARGV, $/) = $log; <> } // '');
}

done_testing();
