#!/usr/bin/env python3
"""SMTP load at a fixed rate, for latency measured below saturation.

Sends --count messages of about --size bytes over --connections parallel SMTP sessions (each
reusing its connection), at --rate messages per second in total: session k sends its i-th
message at start + (i * connections + k) / rate, or at once when it is behind. Recipients go
round robin over --recipients (comma-separated), so several owners get equal shares.

Prints one JSON line: {"sent", "refused", "seconds", "rate"} (rate = achieved messages/s).
"""

import argparse
import json
import smtplib
import threading
import time


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True, help="messages per second, in total")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--sender", default="bench@example.test")
    parser.add_argument("--recipients", required=True, help="comma-separated recipient addresses")
    return parser.parse_args()


def session(arguments, lane, start, body, recipients, counters, lock):
    connection = smtplib.SMTP(arguments.host, arguments.port, timeout=60)
    connection.ehlo("bench.example.test")
    index = lane
    while index < arguments.count:
        due = start + index / arguments.rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        recipient = recipients[index % len(recipients)]
        message = "From: <%s>\r\nTo: <%s>\r\nSubject: paced %d\r\n\r\n%s" % (arguments.sender, recipient, index, body)
        try:
            connection.sendmail(arguments.sender, [recipient], message)
            name = "sent"
        except smtplib.SMTPException:
            name = "refused"
        with lock:
            counters[name] += 1
        index += arguments.connections
    connection.quit()


def main():
    arguments = parse_arguments()
    line = "x" * 75 + "\r\n"
    body = line * max(1, arguments.size // len(line))
    recipients = arguments.recipients.split(",")
    counters = {"sent": 0, "refused": 0}
    lock = threading.Lock()
    start = time.monotonic() + 0.2
    threads = [
        threading.Thread(target=session, args=(arguments, lane, start, body, recipients, counters, lock))
        for lane in range(arguments.connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - start
    counters["seconds"] = round(seconds, 3)
    counters["rate"] = round(counters["sent"] / seconds, 1)
    print(json.dumps(counters))


if __name__ == "__main__":
    main()
