#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal, as in a terminal window, and presses Ctrl-C when told to.

  pty_run.py --out FILE --ctrl-c-when FILE2 [--timeout SECS] -- COMMAND...

The command's output (the terminal's screen) goes to FILE as it comes. Once FILE2 exists, Ctrl-C
is typed (byte 0x03 on the terminal: the kernel sends SIGINT to the terminal's foreground process
group, exactly as a keyboard does). Exits with the command's status (128+N if a signal N killed
it), or 124 if it did not end within --timeout seconds after Ctrl-C (it is then killed).
"""
import argparse
import os
import pty
import select
import signal
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--ctrl-c-when", required=True)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        sys.exit("pty_run.py: no command")

    pid, fd = pty.fork()
    if pid == 0:
        # As a fresh terminal session: default signal dispositions (a test that runs this in the
        # background with `&` would otherwise pass SIGINT ignored down to the command, and Python
        # ignores SIGPIPE and SIGXFSZ).
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        os.execvp(cmd[0], cmd)
    deadline = None
    status = None
    with open(args.out, "ab", buffering=0) as out:
        while True:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    data = os.read(fd, 65536)
                except OSError:  # EIO: the terminal's last reader is gone
                    data = b""
                if data:
                    out.write(data)
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
                # What is still buffered on the terminal.
                while select.select([fd], [], [], 0.1)[0]:
                    try:
                        data = os.read(fd, 65536)
                    except OSError:
                        break
                    if not data:
                        break
                    out.write(data)
                break
            if deadline is None and os.path.exists(args.ctrl_c_when):
                os.write(fd, b"\x03")
                deadline = time.time() + args.timeout
            if deadline is not None and time.time() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                sys.exit(124)
    code = os.waitstatus_to_exitcode(status)
    sys.exit(128 - code if code < 0 else code)


if __name__ == "__main__":
    main()
