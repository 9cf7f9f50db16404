#!/usr/bin/env python3
"""Deliver the message on stdin to ROOT/<user>/Maildir/new (Postfix pipe(8) helper).

Used only by the private test instance built by scripts/postfix-instance.sh:
Postfix's virtual(8) agent cannot derive a mailbox path from an arbitrary local
part (regexp substitution is refused for mailbox paths), and the tests need a
mailbox for every address in example.test. Exit codes follow sysexits.h, which
pipe(8) turns into bounce (EX_NOUSER) or deferral (EX_TEMPFAIL).
"""

import os
import socket
import sys
import time

EX_NOUSER = 67
EX_TEMPFAIL = 75


def main():
    if len(sys.argv) != 3:
        print("usage: maildir-deliver.py ROOT USER", file=sys.stderr)
        return EX_TEMPFAIL
    root, user = sys.argv[1], sys.argv[2]
    if not user or "/" in user or user.startswith("."):
        print(f"unsafe mailbox name: {user!r}", file=sys.stderr)
        return EX_NOUSER
    maildir = os.path.join(root, user, "Maildir")
    try:
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(maildir, sub), mode=0o700, exist_ok=True)
        name = f"{time.time_ns()}.P{os.getpid()}.{socket.gethostname()}"
        temporary = os.path.join(maildir, "tmp", name)
        with open(temporary, "wb") as file:
            file.write(sys.stdin.buffer.read())
            file.flush()
            os.fsync(file.fileno())
        os.rename(temporary, os.path.join(maildir, "new", name))
    except OSError as error:
        print(f"cannot deliver to {maildir}: {error}", file=sys.stderr)
        return EX_TEMPFAIL
    return 0


if __name__ == "__main__":
    sys.exit(main())
