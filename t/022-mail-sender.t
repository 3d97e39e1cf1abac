# The sender of the emails (xyz_mail_from) goes into the SMTP envelope
# ("<address>") and the Message-ID ("<xyz-ID@domain>"), formatted into
# fixed buffers: its length is checked at "nginx -t", and the longest
# address allowed (254 characters, RFC 5321) still makes a whole message.

use Test::Nginx::Socket;
use XyzTest;
use XyzSqs;
use XyzMail;

BEGIN {
    if (!$ENV{TEST_NGINX_SQS_ENDPOINT} || !$ENV{TEST_NGINX_SMTP_URL}) {
        Test::More::plan(skip_all => 'needs the SQS emulator and the mail '
                                     . 'catcher (make test)');
    }

    $ENV{TEST_NGINX_TEMPLATES} = "$ENV{XYZ_ROOT}/conf/templates";

    # 250 characters: no-reply@ and a domain of 241
    $ENV{TEST_NGINX_LONG_DOMAIN} = join('.', ('a' x 59) x 3, 'e' x 61);
    # 255 characters: one more than an address may have
    $ENV{TEST_NGINX_TOO_LONG_DOMAIN} = join('.', ('b' x 59) x 4, 'abcdef');
}

plan 'no_plan';

our $run = run_id();

no_shuffle();
no_long_string();

sub config {
    my ($domain) = @_;
    return <<"_EOC_";
    xyz_pg_dsn "\$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
    xyz_sqs_endpoint \$TEST_NGINX_SQS_ENDPOINT;
    xyz_sqs_region us-east-1;
    xyz_sqs_queue email \$TEST_NGINX_SQS_EMAIL_QUEUE;
    xyz_sqs_queue crm \$TEST_NGINX_SQS_CRM_QUEUE;
    xyz_outbox_lease 2s;
    xyz_outbox_sweep 200ms 1s;
    xyz_dispatch email;
    xyz_dispatch_lease 10s;
    xyz_dispatch_poll 1s;
    xyz_public_url http://signup.test/;
    xyz_smtp_url \$TEST_NGINX_SMTP_URL;
    xyz_mail_from "XYZ <no-reply\@$domain>";
    xyz_mail_templates \$TEST_NGINX_TEMPLATES;
    xyz_smtp_timeout 3s;
_EOC_
}

add_block_preprocessor(sub {
    my $block = shift;

    quiet_error_log($block);

    if (!defined $block->main_config) {
        $block->set_value("main_config", <<'_EOC_');
    thread_pool xyz_hash threads=1 max_queue=64;
    env AWS_ACCESS_KEY_ID=AKIDTEST;
    env AWS_SECRET_ACCESS_KEY=test-secret;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location = /api/register { xyz_register; }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: a sender address over 254 characters fails nginx -t, naming the directive and the limit
--- http_config eval: ::config($ENV{TEST_NGINX_TOO_LONG_DOMAIN})
--- must_die
--- error_log
"xyz_mail_from": the address is 255 characters long; an address has at most 254



=== TEST 2: a 250-character sender address makes a whole message: envelope, From and Message-ID
--- http_config eval: ::config($ENV{TEST_NGINX_LONG_DOMAIN})
--- init
XyzSqs::sqs_purge($ENV{TEST_NGINX_SQS_EMAIL_QUEUE});
XyzMail::mail_clear();
my $to = "long-sender-$::run\@example.com";
Test::More::is(XyzTest::register_now(email => $to), 202, 'registered');
my @m = XyzMail::mail_wait(count => 1, timeout => 15,
                           match => sub { grep { $_ eq lc $to } XyzMail::mail_to($_[0]) });
Test::More::is(scalar @m, 1, 'the confirmation email arrived');
my $d = $ENV{TEST_NGINX_LONG_DOMAIN};
my $raw = @m ? XyzMail::mail_raw($m[0]{id}) : '';
$raw =~ s/\r?\n[ \t]+/ /g;    # unfolded
Test::More::like($raw, qr/^Message-ID: <xyz-\d+\@\Q$d\E>\r?$/m, 'the Message-ID has the whole domain');
Test::More::like($raw, qr/^From: .*<no-reply\@\Q$d\E>/m, 'the From header has the whole address');
Test::More::is(lc(($m[0]{envelope}{from}{address}) // ''), "no-reply\@$d", 'so has the envelope')
    if @m;
XyzSqs::sqs_purge($ENV{TEST_NGINX_SQS_CRM_QUEUE});
--- request
GET /
--- no_error_log
[alert]
[crit]
