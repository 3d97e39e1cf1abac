# Security groups: the load balancer takes HTTPS from the internet; web
# tasks take HTTP from the load balancer only; dispatcher tasks take
# nothing; the database takes PostgreSQL from the tasks only. Tasks go
# out on 443 (SQS, SES API, STS, Secrets Manager, ECR, CloudWatch, the
# CRM) and 587 (SES SMTP), and to the database.

resource "aws_security_group" "alb" {
  name        = "${local.prefix}-alb"
  description = "Load balancer: HTTPS from anywhere"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  security_group_id = aws_security_group.alb.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  security_group_id = aws_security_group.alb.id
  description       = "redirected to HTTPS"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_egress_rule" "alb_to_web" {
  security_group_id            = aws_security_group.alb.id
  referenced_security_group_id = aws_security_group.web.id
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
}

resource "aws_security_group" "web" {
  name        = "${local.prefix}-web"
  description = "Web tasks: HTTP from the load balancer"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "web_from_alb" {
  security_group_id            = aws_security_group.web.id
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
}

resource "aws_security_group" "dispatcher" {
  name        = "${local.prefix}-dispatcher"
  description = "Dispatcher tasks: no inbound traffic"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  for_each          = { web = aws_security_group.web.id, dispatcher = aws_security_group.dispatcher.id }
  security_group_id = each.value
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "dispatcher_smtp" {
  security_group_id = aws_security_group.dispatcher.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 587
  to_port           = 587
}

resource "aws_vpc_security_group_egress_rule" "tasks_db" {
  for_each                     = { web = aws_security_group.web.id, dispatcher = aws_security_group.dispatcher.id }
  security_group_id            = each.value
  referenced_security_group_id = aws_security_group.db.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_security_group" "db" {
  name        = "${local.prefix}-db"
  description = "PostgreSQL from the tasks"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "db_from_tasks" {
  for_each                     = { web = aws_security_group.web.id, dispatcher = aws_security_group.dispatcher.id }
  security_group_id            = aws_security_group.db.id
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}
