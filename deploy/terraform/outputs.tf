output "alb_dns_name" {
  description = "Point domain_name here (a CNAME or an alias record)."
  value       = aws_lb.main.dns_name
}

output "dkim_tokens" {
  description = "Publish <token>._domainkey.<mail_domain> CNAME <token>.dkim.amazonses.com for each."
  value       = aws_sesv2_email_identity.main.dkim_signing_attributes[0].tokens
}

output "queue_urls" {
  description = "The SQS queues and their dead-letter queues."
  value = {
    email     = aws_sqs_queue.email.url
    email_dlq = aws_sqs_queue.email_dlq.url
    crm       = aws_sqs_queue.crm.url
    crm_dlq   = aws_sqs_queue.crm_dlq.url
    ses_event = aws_sqs_queue.ses_events.url
  }
}

output "migrate_command" {
  description = "Run the migrations (once per release, before updating the services)."
  value       = "aws ecs run-task --cluster ${aws_ecs_cluster.main.name} --launch-type FARGATE --task-definition ${aws_ecs_task_definition.migrate.family} --network-configuration 'awsvpcConfiguration={subnets=[${join(",", var.private_subnet_ids)}],securityGroups=[${aws_security_group.web.id}],assignPublicIp=DISABLED}'"
}

output "crm_token_secret" {
  description = "Set the CRM token: aws secretsmanager put-secret-value --secret-id <this> --secret-string TOKEN"
  value       = aws_secretsmanager_secret.crm.arn
}
