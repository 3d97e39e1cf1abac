# The two queues the web role publishes to (the outbox relay) and the
# dispatcher consumes, each with its dead-letter queue: after
# sqs_max_receive_count receives a message is moved there by SQS (and the
# dispatcher sends a message there itself when a delivery fails for good).
# Encrypted with the project's key; messages kept 14 days.

resource "aws_sqs_queue" "email_dlq" {
  name                              = "${local.prefix}-email-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.main.arn
  kms_data_key_reuse_period_seconds = 3600
}

resource "aws_sqs_queue" "email" {
  name                              = "${local.prefix}-email"
  visibility_timeout_seconds        = 60
  receive_wait_time_seconds         = 20
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.main.arn
  kms_data_key_reuse_period_seconds = 3600

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.email_dlq.arn
    maxReceiveCount     = var.sqs_max_receive_count
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "email_dlq" {
  queue_url = aws_sqs_queue.email_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.email.arn]
  })
}

resource "aws_sqs_queue" "crm_dlq" {
  name                              = "${local.prefix}-crm-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.main.arn
  kms_data_key_reuse_period_seconds = 3600
}

resource "aws_sqs_queue" "crm" {
  name                              = "${local.prefix}-crm"
  visibility_timeout_seconds        = 60
  receive_wait_time_seconds         = 20
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.main.arn
  kms_data_key_reuse_period_seconds = 3600

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.crm_dlq.arn
    maxReceiveCount     = var.sqs_max_receive_count
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "crm_dlq" {
  queue_url = aws_sqs_queue.crm_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.crm.arn]
  })
}

# SES bounce and complaint notifications: SES -> SNS topic -> this queue,
# read by the dispatcher (xyz_ses_feedback_queue); one the database keeps
# refusing goes to its dead-letter queue after sqs_max_receive_count
# receives (garbage the dispatcher deletes itself, with a log line)
resource "aws_sqs_queue" "ses_events_dlq" {
  name                              = "${local.prefix}-ses-events-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.main.arn
  kms_data_key_reuse_period_seconds = 3600
}

resource "aws_sqs_queue" "ses_events" {
  name                              = "${local.prefix}-ses-events"
  visibility_timeout_seconds        = 60
  receive_wait_time_seconds         = 20
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.main.arn
  kms_data_key_reuse_period_seconds = 3600

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.ses_events_dlq.arn
    maxReceiveCount     = var.sqs_max_receive_count
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "ses_events_dlq" {
  queue_url = aws_sqs_queue.ses_events_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.ses_events.arn]
  })
}

resource "aws_sqs_queue_policy" "ses_events" {
  queue_url = aws_sqs_queue.ses_events.id
  policy    = data.aws_iam_policy_document.ses_events_queue.json
}

data "aws_iam_policy_document" "ses_events_queue" {
  statement {
    sid = "SnsDelivers"
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.ses_events.arn]
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.ses_events.arn]
    }
  }
}
