#!/usr/bin/env python3
"""Prints one field of the JSON object on standard input: `json_field.py KEY [KEY...] < file.json`
(several keys walk into nested objects). Strings print bare, anything else as JSON. Exits 1 with a
message when the input is not JSON or the field is missing."""
import json
import sys

if len(sys.argv) < 2:
    sys.exit("usage: json_field.py KEY [KEY...] < file.json")
try:
    value = json.load(sys.stdin)
    for key in sys.argv[1:]:
        value = value[key]
except (ValueError, KeyError, TypeError, IndexError) as e:
    sys.exit(f"json_field.py: no field {'.'.join(sys.argv[1:])} in the input ({type(e).__name__})")
print(value if isinstance(value, str) else json.dumps(value))
