# ECS Fargate: one cluster, the web service behind the load balancer, the
# dispatcher service, and the migration task definition (run once per
# release, before the services are updated: see the output
# migrate_command). All three run the same image (make image) with a
# different XYZ_ROLE or command; the image's entrypoint renders nginx.conf
# from the environment and reads the CPUs from the task's quota.

resource "aws_ecs_cluster" "main" {
  name = local.prefix

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "web" {
  name              = "/ecs/${local.prefix}/web"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_cloudwatch_log_group" "dispatcher" {
  name              = "/ecs/${local.prefix}/dispatcher"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_cloudwatch_log_group" "migrate" {
  name              = "/ecs/${local.prefix}/migrate"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

# the dispatcher's collector writes /metrics here as CloudWatch embedded
# metrics (namespace XYZ): the outbox gauges the alarms watch
resource "aws_cloudwatch_log_group" "metrics" {
  name              = "/ecs/${local.prefix}/metrics"
  retention_in_days = 7
  kms_key_id        = aws_kms_key.main.arn
}

locals {
  # the same check the load balancer's is built on, without curl (the
  # image has none): bash's /dev/tcp
  container_health = {
    command     = ["CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ' 200 ' <&3"]
    interval    = 10
    timeout     = 3
    retries     = 3
    startPeriod = 15
  }

  database_secrets = [
    { name = "PGPASSWORD", valueFrom = "${aws_db_instance.main.master_user_secret[0].secret_arn}:password::" },
    { name = "XYZ_PG_CA_PEM", valueFrom = aws_ssm_parameter.rds_ca.arn },
  ]
}

resource "aws_ecs_task_definition" "web" {
  family                   = "${local.prefix}-web"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.web_cpu
  memory                   = var.web_memory
  execution_role_arn       = aws_iam_role.web_execution.arn
  task_role_arn            = aws_iam_role.web_task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "runtime"
  }

  container_definitions = jsonencode([{
    name      = "web"
    image     = var.image
    essential = true
    command   = ["run"]
    user      = "10001:10001"

    portMappings = [{ containerPort = 8080, protocol = "tcp" }]

    environment = concat(local.common_environment, [
      { name = "XYZ_ROLE", value = "web" },
    ])
    secrets = concat(local.database_secrets, [
      { name = "XYZ_JWT_SECRET", valueFrom = aws_secretsmanager_secret.jwt.arn },
    ])

    readonlyRootFilesystem = true
    mountPoints            = [{ sourceVolume = "runtime", containerPath = "/var/lib/xyz" }]
    ulimits                = [{ name = "nofile", softLimit = 20000, hardLimit = 20000 }]
    stopTimeout            = 30
    healthCheck            = local.container_health

    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.web.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "web"
      }
    }
  }])
}

resource "aws_ecs_task_definition" "dispatcher" {
  family                   = "${local.prefix}-dispatcher"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 512
  memory                   = 1024
  execution_role_arn       = aws_iam_role.dispatcher_execution.arn
  task_role_arn            = aws_iam_role.dispatcher_task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "runtime"
  }

  container_definitions = jsonencode([
    {
      name      = "dispatcher"
      image     = var.image
      essential = true
      command   = ["run"]
      user      = "10001:10001"

      portMappings = [{ containerPort = 8080, protocol = "tcp" }]

      environment = concat(local.common_environment, [
        { name = "XYZ_ROLE", value = "dispatcher" },
        { name = "XYZ_SQS_FEEDBACK_QUEUE", value = aws_sqs_queue.ses_events.url },
        { name = "XYZ_SMTP_URL", value = "smtp://email-smtp.${var.region}.amazonaws.com:587" },
        { name = "XYZ_SMTP_STARTTLS", value = "on" },
        { name = "XYZ_MAIL_FROM", value = var.mail_from },
        { name = "XYZ_MAIL_RATE", value = tostring(var.ses_send_rate) },
        { name = "XYZ_CRM_URL", value = var.crm_url },
        { name = "XYZ_CRM_PATH", value = "" },
        { name = "XYZ_CRM_MODE", value = var.crm_mode },
        { name = "XYZ_CRM_RATE", value = tostring(var.crm_rate) },
        { name = "XYZ_METRICS_ALLOW", value = "127.0.0.1" },
      ])
      secrets = concat(local.database_secrets, [
        { name = "XYZ_SMTP_USER", valueFrom = "${aws_secretsmanager_secret.smtp.arn}:user::" },
        { name = "XYZ_SMTP_PASSWORD", valueFrom = "${aws_secretsmanager_secret.smtp.arn}:password::" },
        { name = "XYZ_CRM_TOKEN", valueFrom = aws_secretsmanager_secret.crm.arn },
      ])

      readonlyRootFilesystem = true
      mountPoints            = [{ sourceVolume = "runtime", containerPath = "/var/lib/xyz" }]
      ulimits                = [{ name = "nofile", softLimit = 20000, hardLimit = 20000 }]
      # a batch in flight finishes; what is left comes back after its lease
      stopTimeout = 60
      healthCheck = local.container_health

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.dispatcher.name
          awslogs-region        = var.region
          awslogs-stream-prefix = "dispatcher"
        }
      }
    },
    {
      # scrapes the module's /metrics (outbox gauges, delivery counters)
      # into CloudWatch as embedded metrics, namespace XYZ
      name      = "metrics"
      image     = "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0"
      essential = false
      environment = [{
        name = "AOT_CONFIG_CONTENT"
        value = yamlencode({
          receivers = {
            prometheus = {
              config = {
                scrape_configs = [{
                  job_name        = "xyz"
                  scrape_interval = "30s"
                  static_configs  = [{ targets = ["127.0.0.1:8080"] }]
                }]
              }
            }
          }
          exporters = {
            awsemf = {
              namespace         = "XYZ"
              log_group_name    = aws_cloudwatch_log_group.metrics.name
              region            = var.region
              dimension_rollup_option = "NoDimensionRollup"
            }
          }
          service = {
            pipelines = {
              metrics = { receivers = ["prometheus"], exporters = ["awsemf"] }
            }
          }
        })
      }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.dispatcher.name
          awslogs-region        = var.region
          awslogs-stream-prefix = "metrics"
        }
      }
    },
  ])
}

resource "aws_ecs_task_definition" "migrate" {
  family                   = "${local.prefix}-migrate"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.web_execution.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name        = "migrate"
    image       = var.image
    essential   = true
    command     = ["xyz-migrate"]
    user        = "10001:10001"
    environment = local.common_environment
    secrets     = local.database_secrets

    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.migrate.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "migrate"
      }
    }
  }])
}

resource "aws_ecs_service" "web" {
  name                              = "web"
  cluster                           = aws_ecs_cluster.main.id
  task_definition                   = aws_ecs_task_definition.web.arn
  desired_count                     = var.web_min_count
  launch_type                       = "FARGATE"
  platform_version                  = "1.4.0"
  health_check_grace_period_seconds = 30
  propagate_tags                    = "SERVICE"

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.web.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.web.arn
    container_name   = "web"
    container_port   = 8080
  }

  # the autoscaler owns the count after the first apply
  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.https]
}

resource "aws_ecs_service" "dispatcher" {
  name             = "dispatcher"
  cluster          = aws_ecs_cluster.main.id
  task_definition  = aws_ecs_task_definition.dispatcher.arn
  desired_count    = var.dispatcher_count
  launch_type      = "FARGATE"
  platform_version = "1.4.0"
  propagate_tags   = "SERVICE"

  deployment_minimum_healthy_percent = 50
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.dispatcher.id]
    assign_public_ip = false
  }

  lifecycle {
    ignore_changes = [desired_count]
  }
}
