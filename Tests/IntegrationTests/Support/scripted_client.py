#!/usr/bin/env python3
"""A test-only mailfilter client (wire protocol v1, docs/protocol.md) that answers from a script.

It logs in as one or more owners (one connection and thread each), consumes each owner's
queue and answers every request with the reply the script gives for it, hostile ones
included: the script is trusted to say exactly what goes on the wire. The script is a JSON
file, read again for every request:

    {"rules": [{"owner": "a@example.test", "subject": "token", "replies": [{...}, {...}]}]}

The first rule whose owner is the request's owner and whose subject is a substring of the
message's Subject applies; the n-th time the server asks with one request id, the rule's
n-th reply is sent (the last one again after that). A reply is the JSON body without
`version` and `id`, which are filled in. Without a matching rule the answer is `pass`.

Every request is appended to the --requests file as one JSON line
{"owner", "id", "subject", "redelivered"} before it is answered, so a test can tell a
re-ask with the same id from a new question.
"""
import argparse
import email
import json
import logging
import sys
import threading
import time
import urllib.parse

import pika

REQUEST_HEADER = "x-mailfilter-request"
REPLY_EXCHANGE = "mailfilter.replies"
REPLY_TYPE = "mailfilter.reply.v1"
log = logging.getLogger("scripted-client")
lock = threading.Lock()
asked = {}  # (owner, request id) -> how many times it was asked


def parse_arguments():
    parser = argparse.ArgumentParser(description="Answers mailfilter requests from a JSON script (tests only).")
    parser.add_argument("--owner", nargs=2, action="append", required=True, metavar=("AMQP_URL", "PASSWORD_FILE"),
                        help="amqp://OWNER@HOST:PORT/%%2F (owner percent-encoded) and its password file; repeatable")
    parser.add_argument("--script", required=True, help="the JSON script")
    parser.add_argument("--requests", required=True, help="JSON lines of the requests received are appended here")
    return parser.parse_args()


def connection_parameters(url, password_file):
    parts = urllib.parse.urlsplit(url)
    with open(password_file, encoding="utf-8") as file:
        password = file.read().strip()
    parameters = pika.URLParameters(urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])))
    parameters.credentials = pika.PlainCredentials(urllib.parse.unquote(parts.username or ""), password)
    return parameters


def scripted_reply(script_path, owner, subject, count):
    with open(script_path, encoding="utf-8") as file:
        rules = json.load(file)["rules"]
    for rule in rules:
        if rule["owner"] == owner and rule["subject"] in subject:
            replies = rule["replies"]
            return dict(replies[min(count, len(replies) - 1)])
    return {"action": "pass", "reason": "no rule matched"}


def make_handler(owner, arguments):
    def on_request(channel, method, properties, body):
        request_id, server = properties.correlation_id, properties.reply_to
        subject = str(email.message_from_bytes(body).get("Subject", ""))
        with lock:
            count = asked.get((owner, request_id), 0)
            asked[(owner, request_id)] = count + 1
            with open(arguments.requests, "a", encoding="utf-8") as file:
                file.write(json.dumps({"owner": owner, "id": request_id, "subject": subject,
                                       "redelivered": bool(method.redelivered)}) + "\n")
        reply = {"version": 1, "id": request_id}
        reply.update(scripted_reply(arguments.script, owner, subject, count))
        reply_properties = pika.BasicProperties(
            delivery_mode=2, correlation_id=request_id, user_id=owner, content_type="application/json",
            type=REPLY_TYPE, timestamp=int(time.time()))
        channel.basic_publish(REPLY_EXCHANGE, server, json.dumps(reply).encode(), reply_properties, mandatory=True)
        channel.basic_ack(method.delivery_tag)
        log.info("%s: request %s (%r, asked %d time(s) before): %s", owner, request_id, subject, count,
                 reply.get("action"))

    return on_request


def consume(parameters, arguments, ready):
    owner = parameters.credentials.username
    connection = pika.BlockingConnection(parameters)
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_qos(prefetch_count=8)
    channel.basic_consume("mailfilter.user." + owner, make_handler(owner, arguments))
    log.info("consuming mailfilter.user.%s", owner)
    ready.release()
    channel.start_consuming()


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    arguments = parse_arguments()
    ready = threading.Semaphore(0)
    threads = []
    for url, password_file in arguments.owner:
        thread = threading.Thread(target=consume, args=(connection_parameters(url, password_file), arguments, ready),
                                  daemon=True)
        thread.start()
        threads.append(thread)
    for _ in threads:
        ready.acquire()
    # A consumer thread that dies (lost connection) ends the client: the test sees it at once.
    while all(thread.is_alive() for thread in threads):
        time.sleep(0.2)
    log.error("a consumer stopped")
    return 1


if __name__ == "__main__":
    sys.exit(main())
