#!/usr/bin/env python3
"""Creates or updates a Secrets Manager secret with the value read from standard input, so that the
value never appears on a command line (`ps`) or in an environment. Prints the secret's ARN.

  printf '%s' "$VALUE" | python3 scripts/put_secret.py NAME [DESCRIPTION]

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

sm = boto3.client("secretsmanager")
try:
    arn = sm.create_secret(Name=name, Description=description, SecretString=value)["ARN"]
except sm.exceptions.ResourceExistsException:
    arn = sm.describe_secret(SecretId=name)["ARN"]
    try:
        current = sm.get_secret_value(SecretId=name).get("SecretString")
    except sm.exceptions.ResourceNotFoundException:
        current = None  # no current version yet
    if current != value:
        sm.put_secret_value(SecretId=name, SecretString=value)
print(arn)
