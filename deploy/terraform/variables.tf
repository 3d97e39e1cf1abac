variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "xyz"
}

variable "environment" {
  description = "Environment name, for tags and names (prod, staging)."
  type        = string
  default     = "prod"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "vpc_id" {
  description = "The VPC the service runs in."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets of the load balancer (two or more zones)."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks and the database (two or more zones, with a NAT gateway or VPC endpoints for SQS, SES, Secrets Manager, ECR, CloudWatch Logs)."
  type        = list(string)
}

variable "domain_name" {
  description = "The site's host name, e.g. signup.example.com."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for domain_name, in this region."
  type        = string
}

variable "mail_domain" {
  description = "The domain mail is sent from (SES identity with DKIM)."
  type        = string
}

variable "mail_from" {
  description = "The sender, \"Name <address>\" at mail_domain."
  type        = string
}

variable "image" {
  description = "The container image (make image; pushed to ECR), repository:tag."
  type        = string
}

variable "ecr_repository_arn" {
  description = "ARN of the ECR repository holding the image."
  type        = string
}

variable "crm_url" {
  description = "The CRM endpoint the dispatcher calls."
  type        = string
  default     = "https://api.hubapi.com/crm/v3/objects/contacts/batch/upsert"
}

variable "crm_mode" {
  description = "single or hubspot_batch (xyz_crm_mode)."
  type        = string
  default     = "hubspot_batch"
}

variable "crm_rate" {
  description = "CRM calls per second for all dispatchers together (below 100)."
  type        = number
  default     = 9

  validation {
    condition     = var.crm_rate > 0 && var.crm_rate < 100
    error_message = "The CRM takes fewer than 100 requests per second."
  }
}

variable "ses_send_rate" {
  description = "SES maximum send rate of the account, per second."
  type        = number
  default     = 14
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "db_allocated_storage" {
  description = "RDS storage, GiB."
  type        = number
  default     = 50
}

variable "db_multi_az" {
  description = "A standby in a second zone (recommended for production)."
  type        = bool
  default     = true
}

variable "db_deletion_protection" {
  description = "Refuse to delete the database."
  type        = bool
  default     = true
}

variable "web_cpu" {
  description = "Web task CPU units (1024 = 1 vCPU): about 55 registrations/s per vCPU at production hash parameters (docs/benchmarks.md)."
  type        = number
  default     = 1024
}

variable "web_memory" {
  description = "Web task memory, MiB."
  type        = number
  default     = 2048
}

variable "web_min_count" {
  description = "Fewest web tasks."
  type        = number
  default     = 2
}

variable "web_max_count" {
  description = "Most web tasks."
  type        = number
  default     = 20
}

variable "dispatcher_count" {
  description = "Dispatcher tasks (the SES rate and the CRM cap set the pace, not CPU)."
  type        = number
  default     = 2
}

variable "dispatcher_max_count" {
  description = "Most dispatcher tasks when a backlog builds up."
  type        = number
  default     = 4
}

variable "sqs_max_receive_count" {
  description = "Receives before a message goes to its dead-letter queue."
  type        = number
  default     = 8
}

variable "alarm_email" {
  description = "Where alarms are sent (an SNS email subscription), or empty."
  type        = string
  default     = ""
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention."
  type        = number
  default     = 30
}

variable "rds_ca_bundle" {
  description = "PEM of the RDS certificate authorities of the region (the RDS regional trust bundle), so that connections verify the server (sslmode=verify-full)."
  type        = string
}
