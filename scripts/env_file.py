#!/usr/bin/env python3
"""Reads a KEY=VALUE file (.env.deploy) without running it as shell code and without putting any
value in an environment: prints NUL-separated KEY, VALUE pairs for `read -d ''` in bash.

  env_file.py FILE NAME_PATTERN...    (only keys matching one of the shell patterns, e.g. 'CLERK_*')

Shell-like syntax: `# comments`, blank lines, an optional leading `export`, values bare (up to the
first blank or #), or in '...' or "..." (may span lines, e.g. a PEM). No $expansion.
Errors name the line (and the variable when known), never any text of the file: a malformed line
may hold a secret (`CLERK_SECRET_KEY= sk_live_...`, a blank after '=')."""
import fnmatch
import io
import re
import shlex
import sys


class _Chars(io.StringIO):
    """The file's text, remembering the last character read: whether a token ended a line."""

    last = ""

    def read(self, size=-1):
        chars = super().read(size)
        if chars:
            self.last = chars[-1]
        return chars

    def readline(self, size=-1):  # shlex skips a comment with readline()
        line = super().readline(size)
        if line:
            self.last = line[-1]
        return line


def fail(path, line, what):
    sys.exit(f"env_file.py: {path}: line {line}: {what}")


if len(sys.argv) < 3:
    sys.exit(__doc__)
path, patterns = sys.argv[1], sys.argv[2:]
with open(path, encoding="utf-8") as f:
    text = f.read()
chars = _Chars(text)
lex = shlex.shlex(chars, posix=True)  # as shlex.split(text, comments=True, posix=True)
lex.whitespace_split = True
pairs = []  # written once the whole file has been read: nothing at all from a malformed one
empty_on_line = None  # (line, key) of a `KEY=` with nothing after the '=' on that line
while True:
    resume = lex.lineno  # the next token starts on this line or a later one
    try:
        token = lex.get_token()
    except ValueError as e:  # "No closing quotation", "No escaped character": no text of the file
        fail(path, resume, f"{str(e).lower()} (a quote or backslash on this line or after it)")
    if token is None:
        break
    end = lex.lineno - (1 if chars.last == "\n" else 0)
    start = end - token.count("\n")
    if empty_on_line and empty_on_line[0] == start:
        # `KEY= value`: in a shell, a command run with KEY empty; here, most likely a value cut off.
        fail(path, start, f"a blank after {empty_on_line[1]}= (the value must follow '=' at once, or be quoted)")
    empty_on_line = None
    if token == "export":
        continue
    m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", token, re.S)
    if not m:
        fail(path, start, "not KEY=VALUE (a blank around '='? a value with blanks not quoted?)")
    key, value = m.groups()
    if value == "":
        empty_on_line = (end, key)
    if not any(fnmatch.fnmatchcase(key, p) for p in patterns):
        # The name only when it looks like one (an upper-case identifier), not like part of a value.
        name = key if re.fullmatch(r"[A-Z_][A-Z0-9_]*", key) else "a lower-case name"
        print(f"env_file.py: {path}: line {start}: {name} ignored (not one of {' '.join(patterns)})",
              file=sys.stderr)
        continue
    pairs.append(key.encode() + b"\0" + value.encode() + b"\0")
sys.stdout.buffer.write(b"".join(pairs))
