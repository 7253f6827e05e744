# The storage service's PostgreSQL (RDS). Encrypted at rest, in private subnets only, never
# publicly accessible, backed up daily with point-in-time recovery, protected from deletion.
# The master password is generated, stored and rotated by RDS in Secrets Manager: it is
# never in this configuration, its state, or a variable (see README: Database passwords).

resource "aws_db_subnet_group" "storage" {
  name        = "${var.name}-storage"
  description = "camvault storage database: private subnets"
  subnet_ids  = module.network.private_subnet_ids
}

resource "aws_db_instance" "storage" {
  identifier     = "${var.name}-storage"
  engine         = "postgres"
  engine_version = var.postgres_version
  instance_class = var.storage_db_instance_class
  multi_az       = var.storage_db_multi_az

  allocated_storage     = var.storage_db_allocated_gb
  max_allocated_storage = var.storage_db_allocated_gb * 5
  storage_type          = "gp3"
  storage_encrypted     = true

  db_name                     = "camvault"
  username                    = "camvault"
  manage_master_user_password = true

  db_subnet_group_name   = aws_db_subnet_group.storage.name
  vpc_security_group_ids = [aws_security_group.storage_db.id]
  publicly_accessible    = false
  # PostgreSQL 15 and later on RDS refuse non-TLS connections (rds.force_ssl = 1 by default);
  # camvault connects with sslmode=require.

  backup_retention_period   = var.db_backup_retention_days
  copy_tags_to_snapshot     = true
  deletion_protection       = true
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name}-storage-final"

  auto_minor_version_upgrade = true
  apply_immediately          = false
}
