# PostgreSQL 15 (the version the project tests with), encrypted with the
# project's key, in the private subnets, reachable from the tasks only.
# The master password is made and kept by RDS in Secrets Manager (rotated);
# the tasks read it at start. Multi-AZ by default (db_multi_az).

resource "aws_db_subnet_group" "main" {
  name       = local.prefix
  subnet_ids = var.private_subnet_ids
}

resource "aws_db_parameter_group" "main" {
  name   = "${local.prefix}-pg15"
  family = "postgres15"

  # only encrypted connections
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  # the pools of every task: web tasks x workers x xyz_pg_pool_size, plus
  # dispatchers and the migration task
  parameter {
    name         = "max_connections"
    value        = "400"
    apply_method = "pending-reboot"
  }
}

resource "aws_db_instance" "main" {
  identifier     = local.prefix
  engine         = "postgres"
  engine_version = "15"
  instance_class = var.db_instance_class

  db_name  = "xyz"
  username = "xyz"
  port     = 5432

  manage_master_user_password   = true
  master_user_secret_kms_key_id = aws_kms_key.main.arn

  allocated_storage     = var.db_allocated_storage
  max_allocated_storage = var.db_allocated_storage * 4
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.main.arn

  multi_az               = var.db_multi_az
  db_subnet_group_name   = aws_db_subnet_group.main.name
  parameter_group_name   = aws_db_parameter_group.main.name
  vpc_security_group_ids = [aws_security_group.db.id]
  publicly_accessible    = false

  backup_retention_period      = 14
  deletion_protection          = var.db_deletion_protection
  skip_final_snapshot          = false
  final_snapshot_identifier    = "${local.prefix}-final"
  performance_insights_enabled = true
  performance_insights_kms_key_id = aws_kms_key.main.arn
  auto_minor_version_upgrade   = true
  copy_tags_to_snapshot        = true
}

# The regional RDS certificate authorities, for sslmode=verify-full: the
# tasks get it as XYZ_PG_CA_PEM and the entrypoint points libpq at it.
resource "aws_ssm_parameter" "rds_ca" {
  name  = "/${local.prefix}/rds-ca-bundle"
  type  = "String"
  tier  = "Advanced"
  value = var.rds_ca_bundle
}
