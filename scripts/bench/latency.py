#!/usr/bin/env python3
"""Measures end-to-end SMTP latency: send time to arrival time at a sink, per message.

Runs its own minimal SMTP sink on 127.0.0.1:--sink-port (it answers 250 to everything and
notes when the final "." of each message arrives), then sends --count messages one after
another over one connection to 127.0.0.1:--send-port, each with a unique X-Bench-Id header.
Send --send-port to the sink port itself for the direct path, or to a filter whose next hop
is the sink port for the filter path. Sender and sink share one process and one monotonic
clock, so no clock skew enters the figures.

Prints one JSON line: {"count", "p50_ms", "p99_ms", "mean_ms", "max_ms"}. Exits 1 if not
every message arrived within --timeout seconds.
"""

import argparse
import json
import smtplib
import socketserver
import statistics
import sys
import threading
import time

arrivals = {}
arrivals_lock = threading.Lock()


class SinkHandler(socketserver.StreamRequestHandler):
    """One SMTP session: 250 to every command, 354 to DATA, arrival time at the final dot."""

    def reply(self, text):
        self.wfile.write(text.encode("ascii") + b"\r\n")
        self.wfile.flush()

    def handle(self):
        self.reply("220 latency-sink.example.test ESMTP")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.reply("250-latency-sink.example.test\r\n250-8BITMIME\r\n250 SIZE 0")
            elif verb == b"DATA":
                self.reply("354 go ahead")
                self.receive_content()
                self.reply("250 2.0.0 Ok")
            elif verb == b"QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("250 2.0.0 Ok")

    def receive_content(self):
        bench_id = None
        while True:
            line = self.rfile.readline()
            if not line or line == b".\r\n":
                break
            if bench_id is None and line.startswith(b"X-Bench-Id: "):
                bench_id = line[len(b"X-Bench-Id: "):].strip().decode("ascii")
        if bench_id is not None:
            with arrivals_lock:
                arrivals[bench_id] = time.monotonic()


class Sink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sink-port", type=int, required=True)
    parser.add_argument("--send-port", type=int, required=True)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--size", type=int, default=4096, help="approximate body size in bytes")
    parser.add_argument("--timeout", type=float, default=120)
    arguments = parser.parse_args()

    sink = Sink(("127.0.0.1", arguments.sink_port), SinkHandler)
    threading.Thread(target=sink.serve_forever, daemon=True).start()

    line = "y" * 75 + "\r\n"
    body = line * max(1, arguments.size // len(line))
    sent = {}
    client = smtplib.SMTP("127.0.0.1", arguments.send_port, timeout=arguments.timeout)
    client.ehlo("latency.example.test")
    for number in range(arguments.count):
        bench_id = "%d.%d" % (arguments.sink_port, number)
        message = (
            "From: <probe@example.test>\r\nTo: <sink@example.test>\r\n"
            "Subject: latency probe\r\nX-Bench-Id: %s\r\n\r\n%s" % (bench_id, body)
        )
        sent[bench_id] = time.monotonic()
        client.sendmail("probe@example.test", ["sink@example.test"], message.encode("ascii"))
    client.quit()

    deadline = time.monotonic() + arguments.timeout
    while time.monotonic() < deadline:
        with arrivals_lock:
            if all(bench_id in arrivals for bench_id in sent):
                break
        time.sleep(0.01)
    sink.shutdown()
    with arrivals_lock:
        latencies = [(arrivals[i] - sent[i]) * 1000 for i in sent if i in arrivals]
    if len(latencies) < len(sent):
        print("latency.py: only %d of %d messages arrived" % (len(latencies), len(sent)), file=sys.stderr)
        sys.exit(1)
    print(json.dumps({
        "count": len(latencies),
        "p50_ms": round(percentile(latencies, 0.50), 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
        "mean_ms": round(statistics.fmean(latencies), 3),
        "max_ms": round(max(latencies), 3),
    }))


if __name__ == "__main__":
    main()
