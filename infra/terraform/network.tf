# The storage side's network. Each custodian has its own (modules/custodian), so that a
# custodian can live in another AWS account without touching this one.
module "network" {
  source          = "./modules/network"
  name            = "${var.name}-storage"
  region          = var.region
  cidr_block      = var.vpc_cidr
  az_count        = var.az_count
  one_nat_gateway = var.one_nat_gateway
  tags            = var.tags
}

# --- security groups: who may open a connection to whom ----------------------------------
#   clients (var.allowed_client_cidrs) -> storage ALB :443 (and :80, redirected)
#   storage ALB                        -> storage API tasks :8000
#   storage API tasks, sweeper/migrate -> storage database :5432
# Nothing else reaches the storage database; the custodians are in other VPCs and cannot.

resource "aws_security_group" "storage_api" {
  name        = "${var.name}-storage-api"
  description = "camvault storage API tasks: only from the storage load balancer"
  vpc_id      = module.network.vpc_id
}

resource "aws_security_group" "storage_worker" {
  name        = "${var.name}-storage-worker"
  description = "camvault sweeper and migrations: nothing comes in"
  vpc_id      = module.network.vpc_id
}

resource "aws_security_group" "storage_db" {
  name        = "${var.name}-storage-db"
  description = "camvault storage database: only the storage API tasks and the sweeper"
  vpc_id      = module.network.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "storage_api_from_alb" {
  security_group_id            = aws_security_group.storage_api.id
  description                  = "from the storage load balancer"
  ip_protocol                  = "tcp"
  from_port                    = 8000
  to_port                      = 8000
  referenced_security_group_id = module.storage_endpoint.security_group_id
}

resource "aws_vpc_security_group_ingress_rule" "storage_db_from_api" {
  security_group_id            = aws_security_group.storage_db.id
  description                  = "PostgreSQL from the storage API tasks"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.storage_api.id
}

resource "aws_vpc_security_group_ingress_rule" "storage_db_from_worker" {
  security_group_id            = aws_security_group.storage_db.id
  description                  = "PostgreSQL from the sweeper and the migration task"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.storage_worker.id
}

# Outgoing: the database, and HTTPS (S3 through the gateway endpoint; ECR, CloudWatch Logs
# and Secrets Manager through NAT).
resource "aws_vpc_security_group_egress_rule" "storage_to_db" {
  for_each = {
    api    = aws_security_group.storage_api.id
    worker = aws_security_group.storage_worker.id
  }
  security_group_id            = each.value
  description                  = "to the storage database"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.storage_db.id
}

resource "aws_vpc_security_group_egress_rule" "storage_https_out" {
  for_each = {
    api    = aws_security_group.storage_api.id
    worker = aws_security_group.storage_worker.id
  }
  security_group_id = each.value
  description       = "HTTPS out: S3, ECR, CloudWatch Logs, Secrets Manager"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}
