# Who may open a connection to whom, for this custodian only:
#   clients -> this custodian's load balancer :443 (modules/https_endpoint)
#   load balancer -> this custodian's task :8100
#   this custodian's task -> its database :5432, its key volume :2049 (NFS over TLS)
# Out: HTTPS (image pulls, logs, the secret; access notices to the storage service's URL).

resource "aws_security_group" "task" {
  name        = "${local.name}-task"
  description = "camvault custodian ${var.custodian_id}: only from its own load balancer"
  vpc_id      = module.network.vpc_id
}

resource "aws_security_group" "db" {
  name        = "${local.name}-db"
  description = "camvault custodian ${var.custodian_id} database: only its own custodian task"
  vpc_id      = module.network.vpc_id
}

resource "aws_security_group" "efs" {
  name        = "${local.name}-efs"
  description = "camvault custodian ${var.custodian_id} key volume: only its own custodian task"
  vpc_id      = module.network.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "task_from_alb" {
  security_group_id            = aws_security_group.task.id
  description                  = "from this custodian's load balancer"
  ip_protocol                  = "tcp"
  from_port                    = 8100
  to_port                      = 8100
  referenced_security_group_id = module.endpoint.security_group_id
}

resource "aws_vpc_security_group_ingress_rule" "db_from_task" {
  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from this custodian's task"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.task.id
}

resource "aws_vpc_security_group_ingress_rule" "efs_from_task" {
  security_group_id            = aws_security_group.efs.id
  description                  = "NFS from this custodian's task"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.task.id
}

resource "aws_vpc_security_group_egress_rule" "task_to_db" {
  security_group_id            = aws_security_group.task.id
  description                  = "to this custodian's database"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.db.id
}

resource "aws_vpc_security_group_egress_rule" "task_to_efs" {
  security_group_id            = aws_security_group.task.id
  description                  = "to this custodian's key volume"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.efs.id
}

resource "aws_vpc_security_group_egress_rule" "task_https_out" {
  security_group_id = aws_security_group.task.id
  description       = "HTTPS out: ECR, CloudWatch Logs, Secrets Manager, access notices"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}
