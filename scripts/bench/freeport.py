#!/usr/bin/env python3
"""Prints a TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read, close)."""

import socket

with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    print(probe.getsockname()[1])
