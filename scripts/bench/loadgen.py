#!/usr/bin/env python3
"""SMTP load generator that knows exactly which messages were accepted.

Sends up to --count messages over --connections parallel SMTP sessions, reusing each
session for many messages. Every message carries a unique Message-ID and ends with the
line "-- end of <Message-ID>", so a receiver can tell a complete copy from a partial one.
The Message-ID of every message that got a 250 reply to the end of DATA is appended to
--accepted (one per line, flushed at once) so that another process can watch progress.

An attempt is one message for which MAIL FROM was sent. Connection failures (the server
is down or restarting) do not use up attempts: the session waits a little and reconnects,
until all attempts are made or --time-limit has passed. A message whose transaction fails
in any way (refused, connection reset, timeout) is simply not accepted.

Prints one JSON line at the end: {"attempts", "accepted", "refused", "errors",
"connect_failures", "seconds"}. Exit status 0 unless the arguments are wrong.
"""

import argparse
import json
import smtplib
import socket
import threading
import time
import uuid


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=2000, help="message attempts in total")
    parser.add_argument("--connections", type=int, default=16, help="parallel SMTP sessions")
    parser.add_argument("--size", type=int, default=2048, help="approximate body size in bytes")
    parser.add_argument("--accepted", required=True, help="file that receives accepted Message-IDs")
    parser.add_argument("--time-limit", type=float, default=90, help="seconds before giving up")
    parser.add_argument("--messages-per-connection", type=int, default=100,
                        help="messages before a session reconnects")
    parser.add_argument("--sender", default="loadgen@example.test")
    parser.add_argument("--recipient", default="sink@example.test")
    parser.add_argument("--timeout", type=float, default=30, help="socket timeout in seconds")
    return parser.parse_args()


class Load:
    """Shared counters and the attempt budget, guarded by one lock."""

    def __init__(self, arguments):
        self.arguments = arguments
        self.lock = threading.Lock()
        self.remaining = arguments.count
        self.deadline = time.monotonic() + arguments.time_limit
        self.counters = {"attempts": 0, "accepted": 0, "refused": 0, "errors": 0, "connect_failures": 0}
        self.accepted_file = open(arguments.accepted, "a", encoding="ascii")
        self.run_id = uuid.uuid4().hex[:12]
        self.sequence = 0
        line = "x" * 75 + "\r\n"
        self.body = line * max(1, arguments.size // len(line))

    def take_attempt(self):
        """Reserves one attempt; returns its Message-ID, or None when the load is over."""
        with self.lock:
            if self.remaining <= 0 or time.monotonic() >= self.deadline:
                return None
            self.remaining -= 1
            self.sequence += 1
            self.counters["attempts"] += 1
            return "<%s.%06d@loadgen.example.test>" % (self.run_id, self.sequence)

    def count(self, name):
        with self.lock:
            self.counters[name] += 1

    def record_accepted(self, message_id):
        with self.lock:
            self.counters["accepted"] += 1
            self.accepted_file.write(message_id + "\n")
            self.accepted_file.flush()

    def is_over(self):
        with self.lock:
            return self.remaining <= 0 or time.monotonic() >= self.deadline

    def message(self, message_id):
        return (
            "From: <%s>\r\n"
            "To: <%s>\r\n"
            "Subject: load %s\r\n"
            "Message-ID: %s\r\n"
            "\r\n"
            "%s"
            "-- end of %s\r\n"
        ) % (self.arguments.sender, self.arguments.recipient, message_id, message_id, self.body, message_id)


def connect(load):
    """Opens a session, retrying every 50 ms while the server refuses connections."""
    arguments = load.arguments
    while not load.is_over():
        try:
            client = smtplib.SMTP(arguments.host, arguments.port, timeout=arguments.timeout)
            client.ehlo("loadgen.example.test")
            return client
        except (OSError, smtplib.SMTPException):
            load.count("connect_failures")
            time.sleep(0.05)
    return None


def close_quietly(client):
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def send_batch(load, client):
    """Sends messages over one session; returns whether the session is still usable."""
    arguments = load.arguments
    for _ in range(arguments.messages_per_connection):
        message_id = load.take_attempt()
        if message_id is None:
            return True
        try:
            client.sendmail(arguments.sender, [arguments.recipient], load.message(message_id).encode("ascii"))
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused):
            # A 4xx/5xx reply: refused, and smtplib has reset the transaction.
            load.count("refused")
            continue
        except (OSError, smtplib.SMTPException):
            # Connection lost or timed out: the outcome is unknown, so not accepted.
            load.count("errors")
            return False
        load.record_accepted(message_id)
    return True


def run_session(load):
    while not load.is_over():
        client = connect(load)
        if client is None:
            return
        if send_batch(load, client):
            close_quietly(client)
        else:
            client.close()


def main():
    arguments = parse_arguments()
    load = Load(arguments)
    started = time.monotonic()
    threads = [threading.Thread(target=run_session, args=(load,)) for _ in range(arguments.connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    load.accepted_file.close()
    summary = dict(load.counters, seconds=round(time.monotonic() - started, 3))
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
