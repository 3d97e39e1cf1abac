# One customer-managed key for the queues, the secrets and the database:
# who may use it is decided by the IAM policies in iam.tf (key policy:
# the account, plus the AWS services that encrypt on the project's behalf).
resource "aws_kms_key" "main" {
  description             = "${local.prefix}: SQS, Secrets Manager, RDS, SNS"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "main" {
  name          = "alias/${local.prefix}"
  target_key_id = aws_kms_key.main.key_id
}

data "aws_iam_policy_document" "kms" {
  statement {
    sid = "AccountAdministers"
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
    # named one by one: no wildcard actions anywhere in the project
    actions = [
      "kms:CreateAlias", "kms:CreateGrant", "kms:DescribeKey", "kms:EnableKey",
      "kms:EnableKeyRotation", "kms:ListAliases", "kms:ListGrants",
      "kms:ListKeyPolicies", "kms:ListResourceTags", "kms:PutKeyPolicy",
      "kms:UpdateAlias", "kms:UpdateKeyDescription", "kms:RevokeGrant",
      "kms:DisableKey", "kms:DisableKeyRotation", "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus", "kms:DeleteAlias", "kms:TagResource",
      "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
      "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
      "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
    ]
    # in a key policy "*" is the key itself
    resources = ["*"]
  }

  # SES publishes bounce and complaint events to the encrypted SNS topic,
  # and SNS delivers them to the encrypted SQS queue
  statement {
    sid = "ServicesEncrypt"
    principals {
      type        = "Service"
      identifiers = ["ses.amazonaws.com", "sns.amazonaws.com"]
    }
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}
