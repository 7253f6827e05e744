# This custodian's own PostgreSQL: encrypted, private, backed up, protected from deletion,
# its master password generated and kept by RDS in this account's Secrets Manager.

resource "aws_db_subnet_group" "custodian" {
  name        = local.name
  description = "camvault custodian ${var.custodian_id} database: private subnets"
  subnet_ids  = module.network.private_subnet_ids
}

resource "aws_db_instance" "custodian" {
  identifier     = local.name
  engine         = "postgres"
  engine_version = var.postgres_version
  instance_class = var.db_instance_class
  multi_az       = var.db_multi_az

  allocated_storage     = var.db_allocated_gb
  max_allocated_storage = var.db_allocated_gb * 5
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.custodian.arn

  db_name                     = "camvault"
  username                    = "camvault"
  manage_master_user_password = true

  db_subnet_group_name   = aws_db_subnet_group.custodian.name
  vpc_security_group_ids = [aws_security_group.db.id]
  publicly_accessible    = false

  backup_retention_period   = var.db_backup_retention_days
  copy_tags_to_snapshot     = true
  deletion_protection       = true
  skip_final_snapshot       = false
  final_snapshot_identifier = "${local.name}-final"

  auto_minor_version_upgrade = true
  apply_immediately          = false
}
