# The storage side's services on ECS Fargate: the storage API (var.storage_replicas
# stateless replicas behind the load balancer), the sweeper (one task) and the migration
# task (run by hand before a deployment, like docker-compose's storage-migrate). Fargate:
# no hosts to patch, one ENI and security group per task (so the database rules above name
# exactly the tasks allowed), the same image as docker-compose.yml.

resource "aws_ecs_cluster" "storage" {
  name = "${var.name}-storage"
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "storage" {
  name              = "/camvault/${var.name}/storage"
  retention_in_days = var.log_retention_days
}

locals {
  # No password here: CAMVAULT_DATABASE_URL names no password, and libpq (psycopg) takes it
  # from PGPASSWORD, which ECS injects from the RDS-managed secret when the task starts.
  storage_database_url = "postgresql+psycopg://${aws_db_instance.storage.username}@${aws_db_instance.storage.address}:${aws_db_instance.storage.port}/${aws_db_instance.storage.db_name}?sslmode=require"

  storage_environment = [
    { name = "CAMVAULT_DATABASE_URL", value = local.storage_database_url },
    { name = "CAMVAULT_AUTO_MIGRATE", value = "false" },
    { name = "CAMVAULT_PUBLIC_URL", value = "https://${var.domain_name}" },
    { name = "CAMVAULT_PUBLIC_AUTHORITY", value = var.domain_name },
    { name = "CAMVAULT_ARC_PUBLIC_KEY", value = var.arc_public_key },
    { name = "CAMVAULT_BLOBSTORE", value = "s3" },
    { name = "CAMVAULT_S3_BUCKET", value = aws_s3_bucket.recordings.id },
    { name = "CAMVAULT_S3_REGION", value = var.region },
    { name = "CAMVAULT_S3_ADDRESSING_STYLE", value = "virtual" },
    { name = "CAMVAULT_SWEEPER_ENABLED", value = "false" }, # the sweeper service sweeps
    { name = "CAMVAULT_DATA_DIR", value = "/tmp/camvault-data" },
    # Behind the load balancer every client shares its address: the WAF rate-limits instead.
    { name = "CAMVAULT_RATE_LIMIT_PER_S", value = "0" },
    # Longer than the load balancer's idle timeout (60 s), so it never reuses a connection
    # the service has just closed (a 502).
    { name = "CAMVAULT_HTTP_KEEP_ALIVE_S", value = "75" },
    { name = "PROMETHEUS_MULTIPROC_DIR", value = "/tmp" },
  ]

  storage_secrets = [
    { name = "PGPASSWORD", valueFrom = "${aws_db_instance.storage.master_user_secret[0].secret_arn}:password::" },
  ]

  storage_container = {
    image                  = var.image
    essential              = true
    readonlyRootFilesystem = true
    environment            = local.storage_environment
    secrets                = local.storage_secrets
    mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.storage.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "storage"
      }
    }
  }
}

resource "aws_ecs_task_definition" "storage_api" {
  family                   = "${var.name}-storage-api"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.storage_cpu
  memory                   = var.storage_memory
  execution_role_arn       = aws_iam_role.storage_execution.arn
  task_role_arn            = aws_iam_role.storage_task.arn

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([merge(local.storage_container, {
    name         = "storage"
    command      = ["camvault", "serve", "storage", "--host", "0.0.0.0", "--port", "8000", "--workers", tostring(var.storage_workers)]
    portMappings = [{ containerPort = 8000, protocol = "tcp" }]
    healthCheck = {
      command     = ["CMD", "python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
      interval    = 10
      timeout     = 5
      retries     = 6
      startPeriod = 30
    }
  })])
}

resource "aws_ecs_task_definition" "sweeper" {
  family                   = "${var.name}-sweeper"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.storage_execution.arn
  task_role_arn            = aws_iam_role.storage_task.arn

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([merge(local.storage_container, {
    name    = "sweeper"
    command = ["/bin/sh", "-c", "while camvault serve sweep; do touch /tmp/swept; sleep 30; done"]
    healthCheck = { # a pass completed in the last two minutes
      command     = ["CMD-SHELL", "test $(( $(date +%s) - $(stat -c %Y /tmp/swept) )) -lt 120"]
      interval    = 30
      timeout     = 5
      retries     = 3
      startPeriod = 60
    }
  })])
}

# `camvault db upgrade`, run once per release before the API is updated (README: Upgrades).
resource "aws_ecs_task_definition" "migrate" {
  family                   = "${var.name}-storage-migrate"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.storage_execution.arn
  # no task_role_arn: migrations touch the database only

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([merge(local.storage_container, {
    name    = "migrate"
    command = ["camvault", "db", "upgrade"]
  })])
}

resource "aws_ecs_service" "storage_api" {
  name                              = "storage-api"
  cluster                           = aws_ecs_cluster.storage.id
  task_definition                   = aws_ecs_task_definition.storage_api.arn
  desired_count                     = var.start_storage_services ? var.storage_replicas : 0
  launch_type                       = "FARGATE"
  health_check_grace_period_seconds = 60
  propagate_tags                    = "SERVICE"

  network_configuration {
    subnets          = module.network.private_subnet_ids
    security_groups  = [aws_security_group.storage_api.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = module.storage_endpoint.target_group_arn
    container_name   = "storage"
    container_port   = 8000
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [module.storage_endpoint]
}

resource "aws_ecs_service" "sweeper" {
  name            = "sweeper"
  cluster         = aws_ecs_cluster.storage.id
  task_definition = aws_ecs_task_definition.sweeper.arn
  desired_count   = var.start_storage_services ? 1 : 0
  launch_type     = "FARGATE"
  propagate_tags  = "SERVICE"
  # One sweeper at a time, also during a deployment (the old one stops first).
  deployment_maximum_percent         = 100
  deployment_minimum_healthy_percent = 0

  network_configuration {
    subnets          = module.network.private_subnet_ids
    security_groups  = [aws_security_group.storage_worker.id]
    assign_public_ip = false
  }
}

module "storage_endpoint" {
  source                   = "./modules/https_endpoint"
  name                     = "${var.name}-storage"
  vpc_id                   = module.network.vpc_id
  public_subnet_ids        = module.network.public_subnet_ids
  allowed_client_cidrs     = var.allowed_client_cidrs
  certificate_arn          = var.certificate_arn
  target_port              = 8000
  target_security_group_id = aws_security_group.storage_api.id
  requests_per_5_minutes   = var.requests_per_5_minutes
  deletion_protection      = var.deletion_protection
}
