# Secrets Manager: the session signing key (made here), the SES SMTP
# credentials (derived from an IAM user's key, below) and the CRM token
# (its value is set by an operator: `aws secretsmanager put-secret-value`).
# The database password is RDS's own managed secret (rds.tf).

resource "random_password" "jwt" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "jwt" {
  name       = "${local.prefix}/jwt-key"
  kms_key_id = aws_kms_key.main.arn
}

resource "aws_secretsmanager_secret_version" "jwt" {
  secret_id     = aws_secretsmanager_secret.jwt.id
  secret_string = random_password.jwt.result
}

resource "aws_secretsmanager_secret" "smtp" {
  name       = "${local.prefix}/ses-smtp"
  kms_key_id = aws_kms_key.main.arn
}

resource "aws_secretsmanager_secret_version" "smtp" {
  secret_id = aws_secretsmanager_secret.smtp.id
  secret_string = jsonencode({
    user     = aws_iam_access_key.ses_smtp.id
    password = aws_iam_access_key.ses_smtp.ses_smtp_password_v4
  })
}

resource "aws_secretsmanager_secret" "crm" {
  name       = "${local.prefix}/crm-token"
  kms_key_id = aws_kms_key.main.arn
}
