# An example of the settings a deployment gives (copy to e.g. production.tfvars and edit):
#   tofu plan -var-file=production.tfvars -out=plan.bin && tofu apply plan.bin
# No secrets belong here: the databases' passwords are made by RDS, the services use IAM
# roles, and the keys of the custodians are made by the custodians themselves.

region          = "eu-central-1"
name            = "camvault"
image           = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/camvault@sha256:0000000000000000000000000000000000000000000000000000000000000000"
domain_name     = "vault.example.net"
certificate_arn = "arn:aws:acm:eu-central-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
bucket_name     = "example-camvault-recordings"
arc_public_key  = "ed25519:replace-with-the-key-printed-by-camvault-arc-keygen"

custodians = {
  c1 = { domain_name = "c1.vault.example.net", certificate_arn = "arn:aws:acm:eu-central-1:123456789012:certificate/00000000-0000-0000-0000-000000000001" }
  c2 = { domain_name = "c2.custodian-two.example.org", certificate_arn = "arn:aws:acm:eu-central-1:210987654321:certificate/00000000-0000-0000-0000-000000000002" }
  c3 = { domain_name = "c3.custodian-three.example.com", certificate_arn = "arn:aws:acm:eu-central-1:111122223333:certificate/00000000-0000-0000-0000-000000000003" }
}

# Custodians c2 and c3 are run by independent parties, in their own accounts: the role each
# party lets this deployment use to create its custodian there.
custodian_role_arns = {
  c2 = "arn:aws:iam::210987654321:role/camvault-custodian-deployer"
  c3 = "arn:aws:iam::111122223333:role/camvault-custodian-deployer"
}

storage_replicas                   = 2
noncurrent_version_expiration_days = 7
db_backup_retention_days           = 14

tags = {
  Owner = "platform-team"
}
