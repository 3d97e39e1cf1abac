locals {
  prefix     = "${var.name}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  queues = {
    email      = aws_sqs_queue.email
    crm        = aws_sqs_queue.crm
    ses_events = aws_sqs_queue.ses_events
  }
  dead_letter_queues = {
    email      = aws_sqs_queue.email_dlq
    crm        = aws_sqs_queue.crm_dlq
    ses_events = aws_sqs_queue.ses_events_dlq
  }

  # what xyz-entrypoint renders nginx.conf from (README "Container image")
  common_environment = [
    { name = "AWS_REGION", value = var.region },
    { name = "XYZ_PUBLIC_URL", value = "https://${var.domain_name}" },
    { name = "XYZ_PG_DSN", value = "host=${aws_db_instance.main.address} port=${aws_db_instance.main.port} dbname=${aws_db_instance.main.db_name} user=${aws_db_instance.main.username} sslmode=verify-full" },
    { name = "XYZ_SQS_EMAIL_QUEUE", value = aws_sqs_queue.email.url },
    { name = "XYZ_SQS_EMAIL_DLQ", value = aws_sqs_queue.email_dlq.url },
    { name = "XYZ_SQS_CRM_QUEUE", value = aws_sqs_queue.crm.url },
    { name = "XYZ_SQS_CRM_DLQ", value = aws_sqs_queue.crm_dlq.url },
    { name = "XYZ_ACCESS_LOG", value = "json" },
    { name = "XYZ_REAL_IP_FROM", value = "10.0.0.0/8" },
  ]
}
