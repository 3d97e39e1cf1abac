# deploy/terraform — the XYZ sign-up service on AWS: ECS Fargate (web and
# dispatcher) behind an ALB with TLS, RDS PostgreSQL, SQS with dead-letter
# queues, SES, Secrets Manager, CloudWatch alarms and autoscaling.
# See README.md in this folder for what is and is not validated.
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.60"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = var.name
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
