# The three key custodians (threshold t = 2: any two open an alarm's recordings, one alone
# cannot). One module, instantiated three times, each with its own provider configuration
# (providers.tf): in production each custodian should be run by an independent party in its
# own AWS account, and var.custodian_role_arns puts each one there. Each gets its own VPC,
# database, key volume, KMS key, IAM roles, ECS cluster and TLS load balancer; none has any
# permission on S3 or any route to the storage database or another custodian's database.

locals {
  custodian_defaults = {
    name                     = var.name
    region                   = var.region
    image                    = var.image
    arc_public_key           = var.arc_public_key
    notify_url               = "https://${var.domain_name}/v1/notices"
    az_count                 = var.az_count
    one_nat_gateway          = var.one_nat_gateway
    allowed_client_cidrs     = var.allowed_client_cidrs
    requests_per_5_minutes   = var.requests_per_5_minutes
    deletion_protection      = var.deletion_protection
    postgres_version         = var.postgres_version
    db_instance_class        = var.custodian_db_instance_class
    db_multi_az              = var.custodian_db_multi_az
    db_allocated_gb          = var.custodian_db_allocated_gb
    db_backup_retention_days = var.db_backup_retention_days
    cpu                      = var.custodian_cpu
    memory                   = var.custodian_memory
    log_retention_days       = var.log_retention_days
  }
}

module "custodian_c1" {
  source    = "./modules/custodian"
  providers = { aws = aws.c1 }

  custodian_id    = "c1"
  domain_name     = var.custodians.c1.domain_name
  certificate_arn = var.custodians.c1.certificate_arn
  vpc_cidr        = var.custodians.c1.vpc_cidr
  tags            = var.tags

  name                     = local.custodian_defaults.name
  region                   = local.custodian_defaults.region
  image                    = local.custodian_defaults.image
  arc_public_key           = local.custodian_defaults.arc_public_key
  notify_url               = local.custodian_defaults.notify_url
  az_count                 = local.custodian_defaults.az_count
  one_nat_gateway          = local.custodian_defaults.one_nat_gateway
  allowed_client_cidrs     = local.custodian_defaults.allowed_client_cidrs
  requests_per_5_minutes   = local.custodian_defaults.requests_per_5_minutes
  deletion_protection      = local.custodian_defaults.deletion_protection
  postgres_version         = local.custodian_defaults.postgres_version
  db_instance_class        = local.custodian_defaults.db_instance_class
  db_multi_az              = local.custodian_defaults.db_multi_az
  db_allocated_gb          = local.custodian_defaults.db_allocated_gb
  db_backup_retention_days = local.custodian_defaults.db_backup_retention_days
  cpu                      = local.custodian_defaults.cpu
  memory                   = local.custodian_defaults.memory
  log_retention_days       = local.custodian_defaults.log_retention_days
}

module "custodian_c2" {
  source    = "./modules/custodian"
  providers = { aws = aws.c2 }

  custodian_id    = "c2"
  domain_name     = var.custodians.c2.domain_name
  certificate_arn = var.custodians.c2.certificate_arn
  vpc_cidr        = var.custodians.c2.vpc_cidr
  tags            = var.tags

  name                     = local.custodian_defaults.name
  region                   = local.custodian_defaults.region
  image                    = local.custodian_defaults.image
  arc_public_key           = local.custodian_defaults.arc_public_key
  notify_url               = local.custodian_defaults.notify_url
  az_count                 = local.custodian_defaults.az_count
  one_nat_gateway          = local.custodian_defaults.one_nat_gateway
  allowed_client_cidrs     = local.custodian_defaults.allowed_client_cidrs
  requests_per_5_minutes   = local.custodian_defaults.requests_per_5_minutes
  deletion_protection      = local.custodian_defaults.deletion_protection
  postgres_version         = local.custodian_defaults.postgres_version
  db_instance_class        = local.custodian_defaults.db_instance_class
  db_multi_az              = local.custodian_defaults.db_multi_az
  db_allocated_gb          = local.custodian_defaults.db_allocated_gb
  db_backup_retention_days = local.custodian_defaults.db_backup_retention_days
  cpu                      = local.custodian_defaults.cpu
  memory                   = local.custodian_defaults.memory
  log_retention_days       = local.custodian_defaults.log_retention_days
}

module "custodian_c3" {
  source    = "./modules/custodian"
  providers = { aws = aws.c3 }

  custodian_id    = "c3"
  domain_name     = var.custodians.c3.domain_name
  certificate_arn = var.custodians.c3.certificate_arn
  vpc_cidr        = var.custodians.c3.vpc_cidr
  tags            = var.tags

  name                     = local.custodian_defaults.name
  region                   = local.custodian_defaults.region
  image                    = local.custodian_defaults.image
  arc_public_key           = local.custodian_defaults.arc_public_key
  notify_url               = local.custodian_defaults.notify_url
  az_count                 = local.custodian_defaults.az_count
  one_nat_gateway          = local.custodian_defaults.one_nat_gateway
  allowed_client_cidrs     = local.custodian_defaults.allowed_client_cidrs
  requests_per_5_minutes   = local.custodian_defaults.requests_per_5_minutes
  deletion_protection      = local.custodian_defaults.deletion_protection
  postgres_version         = local.custodian_defaults.postgres_version
  db_instance_class        = local.custodian_defaults.db_instance_class
  db_multi_az              = local.custodian_defaults.db_multi_az
  db_allocated_gb          = local.custodian_defaults.db_allocated_gb
  db_backup_retention_days = local.custodian_defaults.db_backup_retention_days
  cpu                      = local.custodian_defaults.cpu
  memory                   = local.custodian_defaults.memory
  log_retention_days       = local.custodian_defaults.log_retention_days
}
