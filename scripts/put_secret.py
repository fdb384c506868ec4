#!/usr/bin/env python3
"""Creates or updates a Secrets Manager secret with the value read from standard input, so that the
value never appears on a command line (`ps`) or in an environment. Prints the secret's ARN.

  printf '%s' "$VALUE" | python3 scripts/put_secret.py NAME [DESCRIPTION]
  printf '%s' "$VALUE" | python3 scripts/put_secret.py SECRET_ARN      (rotation: a new version)

A NAME creates the secret, or updates it when it exists. An ARN (arn:...) names an existing secret
(a secret's name cannot hold ':'), in the ARN's region: it is updated, never created (DESCRIPTION
is then not used).
Uses the usual AWS configuration (credentials, AWS_REGION, AWS_ENDPOINT_URL for a local one).
A value equal to the current one creates no new version. One trailing newline is dropped.
"""
import sys

import boto3

if len(sys.argv) not in (2, 3):
    sys.exit(__doc__)
name = sys.argv[1]
description = sys.argv[2] if len(sys.argv) == 3 else "Clerk secret key"
value = sys.stdin.read()
if value.endswith("\n"):
    value = value[:-1]
if not value.strip():
    sys.exit("put_secret.py: empty value on standard input")

# A secret lives in one region: the ARN's (arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME).
arn_region = name.split(":")[3] if name.startswith("arn:") and name.count(":") >= 6 else ""
sm = boto3.client("secretsmanager", region_name=arn_region or None)


def update(secret_id):
    """A new version of the existing secret (unless it holds the value already); its ARN."""
    arn = sm.describe_secret(SecretId=secret_id)["ARN"]
    try:
        current = sm.get_secret_value(SecretId=arn).get("SecretString")
    except sm.exceptions.ResourceNotFoundException:
        current = None  # no current version yet
    if current != value:
        sm.put_secret_value(SecretId=arn, SecretString=value)
    return arn


if name.startswith("arn:"):
    try:
        arn = update(name)
    except sm.exceptions.ResourceNotFoundException:
        sys.exit(f"put_secret.py: no secret {name} (an ARN names an existing secret: nothing created)")
else:
    try:
        arn = sm.create_secret(Name=name, Description=description, SecretString=value)["ARN"]
    except sm.exceptions.ResourceExistsException:
        arn = update(name)
print(arn)
