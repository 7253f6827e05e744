# The escrow service on ECS Fargate, in this custodian's own cluster. One task: the
# custodian's transparency log has one writer, so a deployment stops the old task before
# the new one starts (a minute of unavailability of one custodian of three is what t = 2
# tolerates).

resource "aws_ecs_cluster" "this" {
  name = local.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/camvault/${local.name}"
  retention_in_days = var.log_retention_days
}

locals {
  # No password here: libpq takes it from PGPASSWORD, injected from the RDS-managed secret.
  database_url = "postgresql+psycopg://${aws_db_instance.custodian.username}@${aws_db_instance.custodian.address}:${aws_db_instance.custodian.port}/${aws_db_instance.custodian.db_name}?sslmode=require"

  environment = [
    { name = "CAMVAULT_ESCROW_DATABASE_URL", value = local.database_url },
    { name = "CAMVAULT_ESCROW_ARC_PUBLIC_KEY", value = var.arc_public_key },
    { name = "CAMVAULT_ESCROW_PUBLIC_AUTHORITY", value = var.domain_name },
    { name = "CAMVAULT_ESCROW_NOTIFY_URL", value = var.notify_url },
    # Behind the load balancer every client shares its address: the WAF rate-limits.
    { name = "CAMVAULT_ESCROW_RATE_LIMIT_PER_S", value = "0" },
    { name = "CAMVAULT_ESCROW_HTTP_KEEP_ALIVE_S", value = "75" },
  ]
  secrets = [
    { name = "PGPASSWORD", valueFrom = "${aws_db_instance.custodian.master_user_secret[0].secret_arn}:password::" },
  ]
}

resource "aws_ecs_task_definition" "this" {
  family                   = local.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  volume {
    name = "keys"
    efs_volume_configuration {
      file_system_id     = aws_efs_file_system.keys.id
      transit_encryption = "ENABLED"
      authorization_config {
        access_point_id = aws_efs_access_point.keys.id
        iam             = "ENABLED"
      }
    }
  }

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([{
    name                   = "custodian"
    image                  = var.image
    essential              = true
    readonlyRootFilesystem = true
    command                = ["camvault", "serve", "escrow", "--id", var.custodian_id, "--host", "0.0.0.0", "--port", "8100", "--data-dir", "/data/keys"]
    portMappings           = [{ containerPort = 8100, protocol = "tcp" }]
    mountPoints = [
      { sourceVolume = "keys", containerPath = "/data/keys", readOnly = false },
      { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
    ]
    environment = local.environment
    secrets     = local.secrets
    healthCheck = {
      command     = ["CMD", "python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8100/readyz', timeout=4)"]
      interval    = 10
      timeout     = 5
      retries     = 6
      startPeriod = 30
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "custodian"
      }
    }
  }])
}

resource "aws_ecs_service" "this" {
  name                               = "custodian"
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.this.arn
  desired_count                      = 1
  launch_type                        = "FARGATE"
  health_check_grace_period_seconds  = 60
  propagate_tags                     = "SERVICE"
  deployment_maximum_percent         = 100
  deployment_minimum_healthy_percent = 0

  network_configuration {
    subnets          = module.network.private_subnet_ids
    security_groups  = [aws_security_group.task.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = module.endpoint.target_group_arn
    container_name   = "custodian"
    container_port   = 8100
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [module.endpoint, aws_efs_mount_target.keys]
}

# This custodian's own TLS endpoint: its own load balancer, certificate and rate limit.
module "endpoint" {
  source                   = "../https_endpoint"
  name                     = local.name
  vpc_id                   = module.network.vpc_id
  public_subnet_ids        = module.network.public_subnet_ids
  allowed_client_cidrs     = var.allowed_client_cidrs
  certificate_arn          = var.certificate_arn
  target_port              = 8100
  target_security_group_id = aws_security_group.task.id
  requests_per_5_minutes   = var.requests_per_5_minutes
  deletion_protection      = var.deletion_protection
}
