# Web: registrations are CPU-bound (Argon2id), so scale on CPU, early
# enough (60 %) that new tasks are ready before the hashing queues fill;
# and on requests per task as a second signal. Dispatcher: on the email
# backlog (the CRM's pace is capped for all dispatchers together, so more
# dispatchers do not drain the CRM queue faster).

resource "aws_appautoscaling_target" "web" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.web.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.web_min_count
  max_capacity       = var.web_max_count
}

resource "aws_appautoscaling_policy" "web_cpu" {
  name               = "${local.prefix}-web-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.web.service_namespace
  resource_id        = aws_appautoscaling_target.web.resource_id
  scalable_dimension = aws_appautoscaling_target.web.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = 60
    scale_in_cooldown  = 300
    scale_out_cooldown = 30

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "web_requests" {
  name               = "${local.prefix}-web-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.web.service_namespace
  resource_id        = aws_appautoscaling_target.web.resource_id
  scalable_dimension = aws_appautoscaling_target.web.scalable_dimension

  target_tracking_scaling_policy_configuration {
    # static pages are cheap; this catches floods of them
    target_value       = 3000
    scale_in_cooldown  = 300
    scale_out_cooldown = 30

    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.main.arn_suffix}/${aws_lb_target_group.web.arn_suffix}"
    }
  }
}

resource "aws_appautoscaling_target" "dispatcher" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.dispatcher.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.dispatcher_count
  max_capacity       = var.dispatcher_max_count
}

resource "aws_appautoscaling_policy" "dispatcher_backlog" {
  name               = "${local.prefix}-dispatcher-backlog"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.dispatcher.service_namespace
  resource_id        = aws_appautoscaling_target.dispatcher.resource_id
  scalable_dimension = aws_appautoscaling_target.dispatcher.scalable_dimension

  target_tracking_scaling_policy_configuration {
    # emails waiting per dispatcher task
    target_value       = 1000
    scale_in_cooldown  = 600
    scale_out_cooldown = 60

    customized_metric_specification {
      metric_name = "ApproximateNumberOfMessagesVisible"
      namespace   = "AWS/SQS"
      statistic   = "Average"

      dimensions {
        name  = "QueueName"
        value = aws_sqs_queue.email.name
      }
    }
  }
}
