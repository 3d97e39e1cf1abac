# The outbox relay: every registration's messages reach SQS (the local
# emulator), signed (the signature checked by XyzSigv4's verifier, since the
# emulator checks none), with their content; an SQS outage loses nothing; two
# nginx instances sweeping one database send each row once.

use Test::Nginx::Socket;
use XyzTest;
use XyzSqs;
use XyzSigv4;

BEGIN {
    if (!$ENV{TEST_NGINX_SQS_ENDPOINT}) {
        Test::More::plan(skip_all => 'needs the SQS emulator (make test)');
    }

    # every SQS call of the suite passes it: a request whose SigV4
    # signature does not verify with these secrets gets a 403
    XyzSigv4::sigv4_verifier_start(AKIDTEST => 'test-secret',
                                   ASIACONTAINER => 'container-secret',
                                   ASIAWEBIDENTITY => 'web-secret');
}

plan 'no_plan';

our $run = run_id();
our $second;
our $email_q = $ENV{TEST_NGINX_SQS_EMAIL_QUEUE};

# the projected service account token of TEST 9
BEGIN {
    $ENV{TEST_NGINX_WEB_IDENTITY_FILE} = "/tmp/xyz-web-identity-$$";
    open my $fh, '>', $ENV{TEST_NGINX_WEB_IDENTITY_FILE} or die $!;
    print $fh "eyJ.web-identity.token\n";
    close $fh;
}
END { unlink $ENV{TEST_NGINX_WEB_IDENTITY_FILE} }
our $crm_q = $ENV{TEST_NGINX_SQS_CRM_QUEUE};

no_shuffle();
no_long_string();
check_accum_error_log();

sub reg {
    my ($tag, %f) = @_;
    return "POST /api/register\n"
           . XyzTest::register_json(email => "$tag-$::run\@example.com", %f);
}

# the relay's directives; the endpoint is a checking proxy (the second server
# below) in front of the signature verifier in front of the emulator, so a
# malformed Authorization header or a signature that does not verify makes
# publishing fail
our $http_config = <<'_EOC_';
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
    xyz_sqs_region us-east-1;
    xyz_sqs_endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    xyz_sqs_queue email $TEST_NGINX_SQS_EMAIL_QUEUE;
    xyz_sqs_queue crm $TEST_NGINX_SQS_CRM_QUEUE;
    xyz_sqs_timeout 2s;
    xyz_outbox_lease 2s;
    xyz_outbox_sweep 200ms 1s;

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;

        location / {
            if ($http_authorization !~ "^AWS4-HMAC-SHA256 Credential=AKIDTEST/[0-9]{8}/us-east-1/sqs/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=[0-9a-f]{64}$") {
                return 403 '{"__type":"com.amazonaws.sqs#InvalidSignatureException","message":"malformed Authorization"}';
            }

            if ($http_x_amz_date !~ "^[0-9]{8}T[0-9]{6}Z$") {
                return 403 '{"__type":"com.amazonaws.sqs#InvalidSignatureException","message":"malformed X-Amz-Date"}';
            }

            proxy_set_header Host $http_host;
            proxy_pass $TEST_NGINX_SIGV4_VERIFIER;
        }
    }
_EOC_

# the relay straight to the signature verifier, no nginx proxy between
our $verified_http_config = <<'_EOC_';
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
    xyz_sqs_region us-east-1;
    xyz_sqs_endpoint $TEST_NGINX_SIGV4_VERIFIER;
    xyz_sqs_queue email $TEST_NGINX_SQS_EMAIL_QUEUE;
    xyz_sqs_queue crm $TEST_NGINX_SQS_CRM_QUEUE;
    xyz_sqs_timeout 2s;
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    quiet_error_log($block);

    if (!defined $block->main_config) {
        $block->set_value("main_config", <<'_EOC_');
    thread_pool xyz_hash threads=2 max_queue=64;
    env AWS_ACCESS_KEY_ID=AKIDTEST;
    env AWS_SECRET_ACCESS_KEY=test-secret;
_EOC_
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config", $::http_config);
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location = /api/register {
        xyz_register;
    }

    location = /metrics {
        xyz_metrics;
    }
_EOC_
    }
});

sub by_type {
    my %h;
    for my $m (@_) {
        push @{ $h{ ref $m->{Body} ? $m->{Body}{type} : 'unparsed' } }, $m;
    }
    return \%h;
}

END {
    if ($ENV{TEST_NGINX_SQS_ENDPOINT}) {
        XyzSqs::sqs_start();
        # TEST 11's rows, signed with a wrong secret, are not to be sent on
        XyzTest::psql("UPDATE outbox SET published_at = now() "
                      . "WHERE published_at IS NULL "
                      . "AND payload->>'email' LIKE 'badsig-%'");
    }
}

# Rows earlier suites left behind without an SQS to publish to, including
# rows of requests an earlier nginx is still finishing while it shuts down
# gracefully: marked published before the first block's nginx starts (its
# relay would otherwise race this for them and count them in TEST 1's
# metrics), once none has appeared for a second (at most 15 s)
for my $i (1 .. 15) {
    my $n = XyzTest::psql("WITH u AS (UPDATE outbox SET published_at = now() "
                          . "WHERE published_at IS NULL RETURNING 1) "
                          . "SELECT count(*) FROM u");
    last if $n == 0 && $i > 1;
    Time::HiRes::sleep(1);
}

run_tests();

__DATA__

=== TEST 1: five registrations: their messages reach SQS at once, signed
--- init
XyzSqs::sqs_purge($::email_q);
XyzSqs::sqs_purge($::crm_q);
--- request eval
[ ::reg("pub1", locale => "en"), ::reg("pub2"), ::reg("pub3"), ::reg("pub4"),
  ::reg("pub5", marketing_consent => JSON::PP::true),
  [ "GET /metr", { value => "ics\n", delay_before => 1.5 } ] ]
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 202, 202, 202, 202, 200]
--- response_body_like eval
[("") x 5,
 qr/xyz_registrations_total\{outcome="created"\} 5\n.*xyz_outbox_published_total\{kind="email"\} 5\nxyz_outbox_published_total\{kind="crm"\} 0\n.*xyz_sqs_requests_total\{result="error"\} 0\n.*xyz_database_up 1\n.*xyz_outbox_pending\{kind="email"\} 0\n/s]
--- no_error_log
[error]
[alert]



=== TEST 2: the messages' content; the CRM reports once the addresses are confirmed
--- init
my @email = XyzSqs::sqs_receive_all($::email_q);
my @crm = XyzSqs::sqs_receive_all($::crm_q);
my @mine_e = grep { ref $_->{Body} && $_->{Body}{email} =~ /^pub\d-\Q$::run\E\@/ } @email;
my @mine_c = grep { ref $_->{Body} && $_->{Body}{email} =~ /^pub\d-\Q$::run\E\@/ } @crm;
Test::More::is(scalar @mine_e, 5, 'five confirmation emails queued, no more');
Test::More::is(scalar @mine_c, 0, 'no CRM report before the confirmation');
# confirming writes the CRM row; the sweeper publishes it
for my $m (@mine_e) {
    XyzTest::psql("SELECT xyz_confirm(sha256('$m->{Body}{token}'))");
}
for (1 .. 20) {
    last if XyzTest::psql("SELECT count(*) FROM outbox WHERE kind = 'crm' AND published_at IS NULL") == 0;
    Time::HiRes::sleep(0.25);
}
@mine_c = grep { ref $_->{Body} && $_->{Body}{email} =~ /^pub\d-\Q$::run\E\@/ }
          XyzSqs::sqs_receive_all($::crm_q);
Test::More::is(scalar @mine_c, 5, 'five CRM reports queued after the confirmations, no more');
my %ids = map { $_->{Body}{outbox_id} => 1 } @mine_e, @mine_c;
Test::More::is(scalar keys %ids, 10, 'every message has its own outbox id');
for my $m (@mine_e) {
    my $b = $m->{Body};
    my $id = $b->{outbox_id};
    Test::More::is($m->{MessageAttributes}{outbox_id}{StringValue}, $id,
       "message $id carries its outbox id as an attribute");
    Test::More::is($b->{type}, 'confirm', "message $id is a confirmation");
    Test::More::is($b->{kind}, 'email', "message $id is an email");
    Test::More::ok(!exists $b->{name}, "message $id has no name (the registrant's choice)");
    Test::More::is($b->{locale}, $b->{email} =~ /^pub1-/ ? 'en' : 'es', "message $id has the locale");
    Test::More::like($b->{token}, qr/\A[A-Za-z0-9_-]{43}\z/, "message $id has the token");
    Test::More::is(XyzTest::psql("SELECT count(*) FROM confirmation_tokens t JOIN users u ON u.id = t.user_id "
                     . "WHERE u.email_normalized = '$b->{email}' AND t.token_hash = sha256('$b->{token}')"),
       1, "message ${id}'s token matches the stored hash of that user");
    Test::More::is(XyzTest::psql("SELECT (published_at IS NOT NULL)::text || '|' || (payload ? 'token')::text "
                     . "FROM outbox WHERE id = $id"),
       'true|false', "row $id is marked published and no longer holds the token");
}
for my $m (@mine_c) {
    my $b = $m->{Body};
    Test::More::is($b->{type}, 'registration', "message $b->{outbox_id} is a CRM registration");
    Test::More::ok(defined $b->{user_id} && defined $b->{registered_at}, "message $b->{outbox_id} has the user id and time");
    Test::More::is($b->{marketing_consent} ? 1 : 0, $b->{email} =~ /^pub5-/ ? 1 : 0,
       "message $b->{outbox_id} has the consent");
}
--- request
GET /metrics
--- error_code: 200



=== TEST 3: SQS down while registrations go on: they succeed, and every message arrives after SQS returns
--- init
XyzSqs::sqs_stop();
--- request eval
[ ::reg("down1"), ::reg("down2"), ::reg("down3"),
  [ "GET /metr", { value => "ics\n", delay_before => 1.5 } ],
  [ "GET /metr", { value => "ics\n", delay_before => 0.1 } ] ]
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 202, 202, 200, 200]
--- response_body_like eval
[("") x 3,
 qr/xyz_outbox_published_total\{kind="email"\} 0\n.*xyz_outbox_pending\{kind="email"\} [1-9]/s,
 qr/xyz_outbox_oldest_pending_seconds\{kind="email"\} [1-9]/s]
--- error_log
xyz: SQS did not take
--- no_error_log
[alert]



=== TEST 4: SQS back: the sweeper publishes what waited, each message once
--- init
XyzSqs::sqs_start();
--- request eval
[ [ "GET /metr", { value => "ics\n", delay_before => 4 } ] ]
--- timeout: 10
--- response_body_like eval
[qr/xyz_outbox_swept_total [1-9].*xyz_outbox_pending\{kind="email"\} 0\nxyz_outbox_pending\{kind="crm"\} 0\n/s]
--- error_log
xyz: swept
--- no_error_log
[alert]



=== TEST 5: the messages sent while SQS was down arrived once each
--- init
my @all = (XyzSqs::sqs_receive_all($::email_q), XyzSqs::sqs_receive_all($::crm_q));
my @mine = grep { ref $_->{Body} && $_->{Body}{email} =~ /^down\d-\Q$::run\E\@/ } @all;
Test::More::is(scalar @mine, 3, 'three emails arrived');
my %ids = map { $_->{Body}{outbox_id} => 1 } @mine;
Test::More::is(scalar keys %ids, 3, 'none twice');
--- request
GET /metrics
--- error_code: 200



=== TEST 6: two nginx instances sweep one database while SQS is down; after it returns, each row is sent once
--- init
XyzSqs::sqs_stop();
$::second = XyzTest::start_instance(http_config => $::http_config);
--- request eval
[ (map { ::reg("two$_") } 1 .. 10),
  [ "GET /metr", { value => "ics\n", delay_before => 2 } ] ]
--- more_headers
Content-Type: application/json
--- error_code eval
[(202) x 10, 200]
--- timeout: 10
--- no_error_log
[alert]



=== TEST 7: both instances published, nothing lost, nothing twice
Until the emulator is back, the signature-checking proxy in front of it logs its refused
connections at [error]: expected here, as in TEST 6.
--- init
XyzSqs::sqs_start();
sleep 4;
my $log = XyzTest::stop_instance($::second);
my @all = (XyzSqs::sqs_receive_all($::email_q), XyzSqs::sqs_receive_all($::crm_q));
my @mine = grep { ref $_->{Body} && $_->{Body}{email} =~ /^two\d+-\Q$::run\E\@/ } @all;
Test::More::is(scalar @mine, 10, 'ten emails arrived');
my %ids = map { $_->{Body}{outbox_id} => 1 } @mine;
Test::More::is(scalar keys %ids, 10, 'none twice');
Test::More::is(XyzTest::psql("SELECT count(*) FROM outbox WHERE published_at IS NULL"), 0,
   'no row left unpublished');
Test::More::diag("the second instance swept: " . join(' ', $log =~ /swept (\d+) outbox rows/g));
--- request
GET /metrics
--- error_code: 200
--- no_error_log
[alert]
[crit]



=== TEST 8: credentials from the container endpoint (ECS, EKS Pod Identity) sign the requests, with the session token
--- main_config
    thread_pool xyz_hash threads=2 max_queue=64;
    env AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/creds;
    env AWS_CONTAINER_AUTHORIZATION_TOKEN=container-auth-token;
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
    xyz_sqs_endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    xyz_sqs_queue email $TEST_NGINX_SQS_EMAIL_QUEUE;
    xyz_sqs_queue crm $TEST_NGINX_SQS_CRM_QUEUE;

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;

        location = /creds {
            if ($http_authorization != "container-auth-token") {
                return 401;
            }
            return 200 '{"AccessKeyId":"ASIACONTAINER","SecretAccessKey":"container-secret","Token":"container-session-token","Expiration":"2099-01-01T00:00:00Z"}';
        }

        location / {
            if ($http_authorization !~ "^AWS4-HMAC-SHA256 Credential=ASIACONTAINER/[0-9]{8}/us-east-1/sqs/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=[0-9a-f]{64}$") {
                return 403 '{"__type":"com.amazonaws.sqs#InvalidSignatureException","message":"malformed Authorization"}';
            }
            if ($http_x_amz_security_token != "container-session-token") {
                return 403 '{"__type":"com.amazonaws.sqs#InvalidClientTokenId","message":"no session token"}';
            }
            proxy_set_header Host $http_host;
            proxy_pass $TEST_NGINX_SIGV4_VERIFIER;
        }
    }
--- init
XyzSqs::sqs_purge($::email_q);
XyzSqs::sqs_purge($::crm_q);
--- request eval
[ ::reg("ctr1"),
  [ "GET /metr", { value => "ics\n", delay_before => 1 } ] ]
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 200]
--- response_body_like eval
["", qr/xyz_outbox_published_total\{kind="email"\} 1\nxyz_outbox_published_total\{kind="crm"\} 0\n/]
--- error_log
xyz: AWS credentials refreshed
--- no_error_log
[alert]
SQS did not take



=== TEST 9: credentials from STS AssumeRoleWithWebIdentity (EKS IRSA)
--- main_config
    thread_pool xyz_hash threads=2 max_queue=64;
    env AWS_WEB_IDENTITY_TOKEN_FILE=$TEST_NGINX_WEB_IDENTITY_FILE;
    env AWS_ROLE_ARN=arn:aws:iam::123456789012:role/xyz-web;
    env AWS_ENDPOINT_URL_STS=http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/sts;
--- http_config
    xyz_pg_dsn "$TEST_NGINX_PG_DSN";
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id m=1024 t=1 p=1;
    xyz_sqs_endpoint http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    xyz_sqs_queue email $TEST_NGINX_SQS_EMAIL_QUEUE;
    xyz_sqs_queue crm $TEST_NGINX_SQS_CRM_QUEUE;

    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;

        location = /sts/ {
            if ($arg_Action != "AssumeRoleWithWebIdentity") {
                return 400;
            }
            if ($arg_WebIdentityToken != "eyJ.web-identity.token") {
                return 403;
            }
            if ($arg_RoleArn != "arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fxyz-web") {
                return 403;
            }
            return 200 '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAWEBIDENTITY</AccessKeyId><SecretAccessKey>web-secret</SecretAccessKey><SessionToken>web-session&amp;token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>';
        }

        location / {
            if ($http_authorization !~ "^AWS4-HMAC-SHA256 Credential=ASIAWEBIDENTITY/[0-9]{8}/us-east-1/sqs/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=[0-9a-f]{64}$") {
                return 403 '{"__type":"com.amazonaws.sqs#InvalidSignatureException","message":"malformed Authorization"}';
            }
            if ($http_x_amz_security_token != "web-session&token") {
                return 403 '{"__type":"com.amazonaws.sqs#InvalidClientTokenId","message":"no session token"}';
            }
            proxy_set_header Host $http_host;
            proxy_pass $TEST_NGINX_SIGV4_VERIFIER;
        }
    }
--- init
XyzSqs::sqs_purge($::email_q);
XyzSqs::sqs_purge($::crm_q);
--- request eval
[ ::reg("web1"),
  [ "GET /metr", { value => "ics\n", delay_before => 1 } ] ]
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 200]
--- response_body_like eval
["", qr/xyz_outbox_published_total\{kind="email"\} 1\nxyz_outbox_published_total\{kind="crm"\} 0\n/]
--- error_log
xyz: AWS credentials refreshed
--- no_error_log
[alert]
SQS did not take



=== TEST 10: straight to the signature verifier: SigV4 signed by libcurl verifies
--- http_config eval: $::verified_http_config
--- init
XyzSqs::sqs_purge($::email_q);
--- request eval
[ ::reg("sig1"), ::reg("sig2"),
  [ "GET /metr", { value => "ics\n", delay_before => 1 } ] ]
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 202, 200]
--- response_body_like eval
["", "", qr/xyz_outbox_published_total\{kind="email"\} 2\n.*xyz_sqs_requests_total\{result="error"\} 0\n/s]



=== TEST 11: a signature made with another secret is refused: nothing is published
--- main_config
    thread_pool xyz_hash threads=2 max_queue=64;
    env AWS_ACCESS_KEY_ID=AKIDTEST;
    env AWS_SECRET_ACCESS_KEY=not-the-test-secret;
--- http_config eval: $::verified_http_config
--- request eval
[ ::reg("badsig1"),
  [ "GET /metr", { value => "ics\n", delay_before => 1 } ] ]
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 200]
--- response_body_like eval
["", qr/xyz_outbox_published_total\{kind="email"\} 0\n/]
--- error_log
InvalidSignatureException: signature does not match
--- no_error_log
[alert]
[crit]
