# IAM, least privilege. Every action is named (no wildcards) and every
# resource is one of the project's, except ecr:GetAuthorizationToken,
# which AWS grants on "*" only. t/092-terraform.t checks these rules on
# the parsed HCL.
#
#   web task role         sqs:SendMessage on the email and CRM queues
#                         (the outbox relay; SendMessageBatch is covered by
#                         it), and the key to encrypt their messages
#   dispatcher task role  sqs:ReceiveMessage, DeleteMessage,
#                         ChangeMessageVisibility on those two queues and
#                         the SES events queue (bounces and complaints),
#                         sqs:SendMessage on their dead-letter queues, the
#                         key; the metrics log group (its collector)
#   execution roles       pull the image, write the task's logs, read the
#                         task's own secrets at start

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# --- task roles: what the running code may do

resource "aws_iam_role" "web_task" {
  name               = "${local.prefix}-web-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "web_task" {
  name   = "publish-outbox"
  role   = aws_iam_role.web_task.id
  policy = data.aws_iam_policy_document.web_task.json
}

data "aws_iam_policy_document" "web_task" {
  statement {
    sid       = "PublishToTheQueues"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.email.arn, aws_sqs_queue.crm.arn]
  }

  statement {
    sid       = "EncryptMessages"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["sqs.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "dispatcher_task" {
  name               = "${local.prefix}-dispatcher-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "dispatcher_task" {
  name   = "consume-queues"
  role   = aws_iam_role.dispatcher_task.id
  policy = data.aws_iam_policy_document.dispatcher_task.json
}

data "aws_iam_policy_document" "dispatcher_task" {
  statement {
    sid = "ConsumeTheQueues"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
    ]
    resources = [
      aws_sqs_queue.email.arn,
      aws_sqs_queue.crm.arn,
      aws_sqs_queue.ses_events.arn,
    ]
  }

  statement {
    sid       = "DeadLetter"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.email_dlq.arn, aws_sqs_queue.crm_dlq.arn]
  }

  statement {
    sid       = "DecryptAndEncryptMessages"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["sqs.${var.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "MetricsCollector"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.metrics.arn}:*"]
  }
}

# --- execution roles: what ECS does to start a task

resource "aws_iam_role" "web_execution" {
  name               = "${local.prefix}-web-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "web_execution" {
  name   = "start-web"
  role   = aws_iam_role.web_execution.id
  policy = data.aws_iam_policy_document.web_execution.json
}

data "aws_iam_policy_document" "web_execution" {
  statement {
    sid       = "RegistryLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = [var.ecr_repository_arn]
  }

  statement {
    sid     = "WriteLogs"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [
      "${aws_cloudwatch_log_group.web.arn}:*",
      "${aws_cloudwatch_log_group.migrate.arn}:*",
    ]
  }

  statement {
    sid     = "ReadSecrets"
    actions = ["secretsmanager:GetSecretValue"]
    resources = [
      aws_secretsmanager_secret.jwt.arn,
      aws_db_instance.main.master_user_secret[0].secret_arn,
    ]
  }

  statement {
    sid       = "ReadDatabaseCertificates"
    actions   = ["ssm:GetParameters"]
    resources = [aws_ssm_parameter.rds_ca.arn]
  }

  statement {
    sid       = "DecryptSecrets"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
  }
}

resource "aws_iam_role" "dispatcher_execution" {
  name               = "${local.prefix}-dispatcher-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "dispatcher_execution" {
  name   = "start-dispatcher"
  role   = aws_iam_role.dispatcher_execution.id
  policy = data.aws_iam_policy_document.dispatcher_execution.json
}

data "aws_iam_policy_document" "dispatcher_execution" {
  statement {
    sid       = "RegistryLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = [var.ecr_repository_arn]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.dispatcher.arn}:*"]
  }

  statement {
    sid     = "ReadSecrets"
    actions = ["secretsmanager:GetSecretValue"]
    resources = [
      aws_secretsmanager_secret.smtp.arn,
      aws_secretsmanager_secret.crm.arn,
      aws_db_instance.main.master_user_secret[0].secret_arn,
    ]
  }

  statement {
    sid       = "ReadDatabaseCertificates"
    actions   = ["ssm:GetParameters"]
    resources = [aws_ssm_parameter.rds_ca.arn]
  }

  statement {
    sid       = "DecryptSecrets"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
  }
}
