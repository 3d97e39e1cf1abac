# deploy/terraform: the HCL parses, every reference resolves, the IAM
# policies are least-privilege (no "*" actions; the web task may only send
# to its two queues; the dispatcher only consume them and send to their
# dead-letter queues), and the design's pieces are there
# (scripts/terraform-check.mjs). Each rule is also shown to catch a
# configuration that breaks it. `terraform validate` is not run: it needs
# the AWS provider, which cannot be downloaded here.

use strict;
use warnings;

use Test::More;
use File::Copy ();
use File::Temp ();

my $root = $ENV{XYZ_ROOT} or die "XYZ_ROOT is not set; run through make test\n";
my $tf = "$root/deploy/terraform";

sub check {
    my ($dir) = @_;
    open my $fh, '-|', 'node', "$root/scripts/terraform-check.mjs", $dir or die $!;
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($out, $? >> 8);
}

my ($out, $rc) = check($tf);
is($rc, 0, 'deploy/terraform passes every check') or diag $out;
like($out, qr/^(\d+) passed, 0 failed$/m, 'summary: none failed');
unlike($out, qr/^not ok/m, 'no check failed');

# a copy of deploy/terraform with one change; returns the checker's output
sub mutated {
    my ($file, $from, $to) = @_;
    my $dir = File::Temp->newdir();
    opendir my $dh, $tf or die $!;
    for my $f (grep { /\.tf$/ } readdir $dh) {
        File::Copy::copy("$tf/$f", "$dir/$f") or die $!;
    }
    open my $in, '<', "$dir/$file" or die $!;
    my $text = do { local $/; <$in> };
    close $in;
    my $n = ($text =~ s/\Q$from\E/$to/);
    die "mutation of $file did not apply: $from\n" unless $n;
    open my $o, '>', "$dir/$file" or die $!;
    print $o $text;
    close $o;
    my ($out, $rc) = check("$dir");
    return ($out, $rc);
}

my @cases = (
    [ 'a reference to an undeclared resource',
      'iam.tf', 'aws_sqs_queue.email_dlq.arn', 'aws_sqs_queue.emial_dlq.arn',
      qr/^not ok - every reference resolves.*aws_sqs_queue\.emial_dlq\.arn/m ],
    [ 'an undeclared variable',
      'rds.tf', 'var.db_multi_az', 'var.db_multiaz',
      qr/^not ok - every reference resolves.*var\.db_multiaz/m ],
    [ 'a wildcard action',
      'iam.tf', '"sqs:DeleteMessage",', '"sqs:*",',
      qr/^not ok - no "\*" in any action.*sqs:\*/m ],
    [ 'a wildcard resource',
      'iam.tf', 'resources = [aws_sqs_queue.email_dlq.arn, aws_sqs_queue.crm_dlq.arn]', 'resources = ["*"]',
      qr/^not ok - a "\*" resource only for ecr:GetAuthorizationToken/m ],
    [ 'a queue that is not the project\'s',
      'iam.tf', 'resources = [aws_sqs_queue.email.arn, aws_sqs_queue.crm.arn]',
      'resources = [aws_sqs_queue.email.arn, "arn:aws:sqs:eu-west-1:111122223333:other"]',
      qr/^not ok - SQS statements name the project's queues only/m ],
    [ 'the web task allowed to receive',
      'iam.tf', 'actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.email.arn, aws_sqs_queue.crm.arn]',
      'actions   = ["sqs:SendMessage", "sqs:ReceiveMessage"]
    resources = [aws_sqs_queue.email.arn, aws_sqs_queue.crm.arn]',
      qr/^not ok - web task: sqs:SendMessage on the email and CRM queues, nothing else/m ],
    [ 'the dispatcher allowed to send to the main queues',
      'iam.tf', 'resources = [aws_sqs_queue.email_dlq.arn, aws_sqs_queue.crm_dlq.arn]',
      'resources = [aws_sqs_queue.email_dlq.arn, aws_sqs_queue.crm_dlq.arn, aws_sqs_queue.email.arn]',
      qr/^not ok - dispatcher task: receive\/delete\/change visibility/m ],
    [ 'an inline JSON policy',
      'iam.tf', 'policy = data.aws_iam_policy_document.web_task.json',
      'policy = jsonencode({ Statement = [{ Effect = "Allow", Action = "sqs:*", Resource = "*" }] })',
      qr/^not ok - every policy \(\d+\) is an aws_iam_policy_document/m ],
    [ 'an unencrypted database',
      'rds.tf', 'storage_encrypted     = true', 'storage_encrypted     = false',
      qr/^not ok - RDS PostgreSQL: encrypted/m ],
    [ 'a queue without its redrive policy',
      'sqs.tf', 'deadLetterTargetArn = aws_sqs_queue.crm_dlq.arn', 'deadLetterTargetArn = aws_sqs_queue.email_dlq.arn',
      qr/^not ok - the crm queue redrives to its DLQ/m ],
    [ 'broken HCL',
      'alb.tf', 'resource "aws_lb" "main" {', 'resource "aws_lb" "main" {{',
      qr/^not ok - alb\.tf parses/m ],
);

for my $c (@cases) {
    my ($name, $file, $from, $to, $want) = @$c;
    my ($o, $r) = mutated($file, $from, $to);
    is($r, 1, "refused: $name");
    like($o, $want, "  and the failing check says so") or diag $o;
}

done_testing();
