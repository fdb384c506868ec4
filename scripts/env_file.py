#!/usr/bin/env python3
"""Reads a KEY=VALUE file (.env.deploy) without running it as shell code and without putting any
value in an environment: prints NUL-separated KEY, VALUE pairs for `read -d ''` in bash.

  env_file.py FILE NAME_PATTERN...    (only keys matching one of the shell patterns, e.g. 'CLERK_*')

Shell-like syntax: `# comments`, blank lines, an optional leading `export`, values bare (up to the
first blank or #), or in '...' or "..." (may span lines, e.g. a PEM). No $expansion."""
import fnmatch
import re
import shlex
import sys

if len(sys.argv) < 3:
    sys.exit(__doc__)
path, patterns = sys.argv[1], sys.argv[2:]
with open(path, encoding="utf-8") as f:
    text = f.read()
try:
    tokens = shlex.split(text, comments=True, posix=True)
except ValueError as e:
    sys.exit(f"env_file.py: {path}: {e}")
out = sys.stdout.buffer
for token in tokens:
    if token == "export":
        continue
    m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", token, re.S)
    if not m:
        sys.exit(f"env_file.py: {path}: not KEY=VALUE: {token.split('=')[0][:40]!r}")
    key, value = m.groups()
    if not any(fnmatch.fnmatchcase(key, p) for p in patterns):
        print(f"env_file.py: {path}: {key} ignored (not one of {' '.join(patterns)})", file=sys.stderr)
        continue
    out.write(key.encode() + b"\0" + value.encode() + b"\0")
