#!/usr/bin/env python3
"""A minimal mailfilter client for wire protocol v1 (docs/protocol.md), with pika.

It logs in as one owner's broker user, consumes that owner's queue
mailfilter.user.<owner>, denies mail from the senders given with --block and
passes everything else. Each reply is published persistent and mandatory with
publisher confirms, and the request is acknowledged only after the broker has
confirmed the reply, so no decision is lost when the client or broker dies.

    MAILFILTER_PASSWORD=secret ./mailfilter_client.py \
        --amqp 'amqp://alice%40example.com@127.0.0.1:5672/%2F' --block spam@example.net --block @bad.example

With --events it answers nothing and instead prints the owner's outcome events
(docs/protocol.md, section 12) from mailfilter.events.<owner>, one JSON object
per line on standard output, acknowledging each once printed.
"""
import argparse
import json
import logging
import os
import signal
import sys
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

import pika
from pika.exceptions import (AMQPConnectionError, AuthenticationError, ChannelClosedByBroker, NackError,
                             ProbableAuthenticationError, UnroutableError)

REQUEST_HEADER = "x-mailfilter-request"
REPLY_EXCHANGE = "mailfilter.replies"
REPLY_TYPE = "mailfilter.reply.v1"
CLOCK_SKEW = timedelta(seconds=5)  # skip a request only when clearly past its deadline
log = logging.getLogger("mailfilter-client")


def parse_arguments():
    parser = argparse.ArgumentParser(description="A sender block-list client for mailfilter wire protocol v1.")
    parser.add_argument("--amqp", required=True, help="amqp://USER@HOST:PORT/VHOST; USER is the owner address, percent-encoded")
    parser.add_argument("--password-file", help="file holding the password (else $MAILFILTER_PASSWORD, else the URL's)")
    parser.add_argument("--block", action="append", default=[], help="a sender address, or @domain, to deny (repeatable)")
    parser.add_argument("--prefetch", type=int, default=4, help="requests in flight at once (default 4)")
    parser.add_argument("--events", action="store_true", help="print the owner's outcome events instead of answering requests")
    return parser.parse_args()


def connection_parameters(url, password_file):
    """pika.URLParameters without the user information, which pika cannot parse without a password."""
    parts = urllib.parse.urlsplit(url)
    password = urllib.parse.unquote(parts.password or "")
    if password_file:
        with open(password_file, encoding="utf-8") as file:
            password = file.read().strip()
    elif "MAILFILTER_PASSWORD" in os.environ:
        password = os.environ["MAILFILTER_PASSWORD"]
    parameters = pika.URLParameters(urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])))
    parameters.credentials = pika.PlainCredentials(urllib.parse.unquote(parts.username or ""), password)
    return parameters


def decide(metadata, blocked):
    """The whole 'pipeline': returns (action, reason)."""
    sender = metadata["envelope"]["mailFrom"].lower()
    domain = sender[sender.rfind("@"):] if "@" in sender else None
    if sender in blocked or domain in blocked:
        return "deny", f"sender {sender} is blocked"
    return "pass", "no rule matched"


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def make_handler(user, blocked):
    def on_request(channel, method, properties, body):
        request_id, server = properties.correlation_id, properties.reply_to
        if not request_id or not server:
            log.warning("request without correlation_id or reply_to; dropped")
            channel.basic_ack(method.delivery_tag)
            return
        started = time.monotonic()
        try:
            metadata = json.loads((properties.headers or {})[REQUEST_HEADER])
            if metadata.get("version") != 1 or metadata.get("id") != request_id:
                raise ValueError("not a v1 request for this correlation_id")
            if parse_time(metadata["deadline"]) + CLOCK_SKEW < datetime.now(timezone.utc):
                # The server has applied its fallback already; an answer would be ignored.
                log.info("request %s: deadline passed, not answered", request_id)
                channel.basic_ack(method.delivery_tag)
                return
            action, reason = decide(metadata, blocked)
        except (KeyError, TypeError, ValueError) as error:
            action, reason = "pass", f"unreadable request ({error})"
        elapsed = int((time.monotonic() - started) * 1000)
        reply = {"version": 1, "id": request_id, "action": action, "reason": reason,
                 "processors": [{"name": "sender-blocklist", "outcome": action, "ms": elapsed}]}
        reply_properties = pika.BasicProperties(
            delivery_mode=2, correlation_id=request_id, user_id=user, content_type="application/json",
            type=REPLY_TYPE, timestamp=int(time.time()))
        try:
            # The channel is in confirm mode: this returns once the broker has the reply.
            channel.basic_publish(REPLY_EXCHANGE, server, json.dumps(reply).encode(), reply_properties, mandatory=True)
        except (UnroutableError, NackError) as error:
            log.warning("request %s: reply not confirmed (%s); asking for it again", request_id, error)
            time.sleep(1)
            channel.basic_nack(method.delivery_tag, requeue=True)
            return
        channel.basic_ack(method.delivery_tag)
        log.info("request %s%s: %s (%s)", request_id, " (redelivered)" if method.redelivered else "", action, reason)

    return on_request


def on_event(channel, method, properties, body):
    """--events: one outcome event as a JSON line; acknowledged after printing, so none is lost."""
    try:
        event = json.loads(body)
    except ValueError:
        log.warning("event %s is not JSON; dropped", properties.message_id)
    else:
        print(json.dumps(event, sort_keys=True), flush=True)
    channel.basic_ack(method.delivery_tag)


def run(parameters, blocked, prefetch, events):
    user = parameters.credentials.username
    connection = pika.BlockingConnection(parameters)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_qos(prefetch_count=prefetch)
        queue = ("mailfilter.events." if events else "mailfilter.user.") + user
        channel.basic_consume(queue, on_event if events else make_handler(user, blocked))
        log.info("consuming %s", queue)
        channel.start_consuming()
    finally:
        if connection.is_open:
            connection.close()


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("pika").setLevel(logging.CRITICAL)  # it logs tracebacks for what we report below
    arguments = parse_arguments()
    parameters = connection_parameters(arguments.amqp, arguments.password_file)
    blocked = {entry.lower() for entry in arguments.block}
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    while True:
        try:
            run(parameters, blocked, arguments.prefetch, arguments.events)
        except KeyboardInterrupt:
            return 0
        except (AuthenticationError, ProbableAuthenticationError):
            log.error("the broker refused the user name or password")
            return 2
        except ChannelClosedByBroker as error:
            log.error("the broker closed the channel: %s %s", error.reply_code, error.reply_text)
            return 2
        except AMQPConnectionError as error:
            # Unacknowledged requests go back to the queue; they are answered again after reconnecting.
            log.warning("connection lost (%r); reconnecting in 5 s", error)
            time.sleep(5)


if __name__ == "__main__":
    sys.exit(main())
