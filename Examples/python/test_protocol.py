#!/usr/bin/env python3
"""Proves docs/protocol.md with a second implementation.

Against the private RabbitMQ node (scripts/rabbitmq-instance.sh, started here if needed), this script
plays the filter server exactly as the document says: it sets up the topology in a fresh virtual
host, publishes requests (their metadata validated against docs/schema/request-metadata.v1.json),
runs mailfilter_client.py as the owner's broker user, and checks every reply: routing, each required
AMQP property, user_id, and the body against docs/schema/reply.v1.json. It also checks what the
owner's permissions refuse, the permission regexes and the worked examples the document quotes,
and that an outcome event (section 12) reaches the owner's events queue and `mailfilter_client.py
--events` prints it.

Environment: FILTER_RABBITMQ_DIR (default test-artifacts/rabbitmq), FILTER_RABBITMQ_PORT (15682),
FILTER_RABBITMQ_MANAGEMENT_PORT (15683). Exit status 0 when every check passed.

Usage: test_protocol.py [--results FILE]. With --results, every check is also written to FILE as one
JSON line {"name": ..., "passed": true|false, "detail": "..."} as it is made. Check names are stable
(no random parts other than the generated owners and ids); a check of an owner's permissions is named
"authorization (OWNER): PROPERTY" or "authorization (OWNER): PROPERTY (TARGET)", where PROPERTY is one
of the AUTHORIZATION_PROPERTIES below, so a test runner can report each property on its own
(Tests/IntegrationTests/PythonExampleClient+Tests.swift does). A run that stops on an exception records
the failed check "test_protocol.py ran to its end" before the exception propagates.
"""
import argparse
import base64
import json
import os
import re
import secrets
import select
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pika
from pika.exceptions import ChannelClosedByBroker

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BROKER_DIR = Path(os.environ.get("FILTER_RABBITMQ_DIR", ROOT / "test-artifacts" / "rabbitmq"))
AMQP_PORT = int(os.environ.get("FILTER_RABBITMQ_PORT", "15682"))
MANAGEMENT_PORT = int(os.environ.get("FILTER_RABBITMQ_MANAGEMENT_PORT", "15683"))
ADMIN = "filteradmin"
REQUEST_SCHEMA = json.loads((ROOT / "docs/schema/request-metadata.v1.json").read_text())
REPLY_SCHEMA = json.loads((ROOT / "docs/schema/reply.v1.json").read_text())
EVENT_SCHEMA = json.loads((ROOT / "docs/schema/event.v1.json").read_text())
DOCUMENT = (ROOT / "docs/protocol.md").read_text()
failures = []
results_file = None  # the --results file, one JSON line per check

# What an owner's permissions allow and refuse; each is checked for every owner in check_authorization.
AUTHORIZATION_PROPERTIES = [
    "may consume its own queue",
    "may basic.get its own queue",
    "cannot consume another owner's queue",
    "cannot basic.get another owner's queue",
    "cannot declare a queue",
    "cannot bind its queue",
    "cannot publish to mailfilter.requests",
    "cannot publish to the default exchange",
    "cannot publish a reply with another user_id",
]


def check(name, condition, detail=""):
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f": {detail}"), flush=True)
    if not condition:
        failures.append(name)
    if results_file:
        record = {"name": name, "passed": bool(condition), "detail": detail if isinstance(detail, str) else repr(detail)}
        results_file.write(json.dumps(record) + "\n")
        results_file.flush()


def authorization(owner, prop, target=None):
    """The name of a check of one of the AUTHORIZATION_PROPERTIES for owner (see the module's docstring)."""
    assert prop in AUTHORIZATION_PROPERTIES, prop
    return f"authorization ({owner}): {prop}" + (f" ({target})" if target else "")


def schema_errors(schema, instance):
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    return [f"{'/'.join(map(str, error.path))}: {error.message}" for error in validator.iter_errors(instance)]


def escape_regex(text):
    """docs/protocol.md, 'Permissions': a backslash before each of \\ ^ $ . | ? * + ( ) [ ] { } / -"""
    return "".join("\\" + c if c in "\\^$.|?*+()[]{}/-" else c for c in text)


def read_permission(owner):
    return "^" + escape_regex("mailfilter.user." + owner) + "$"


def owner_queues_read_permission(owner):
    """What `filterctl user add` grants: the request queue and the events queue (section 3)."""
    return r"^mailfilter\.(user|events)\." + escape_regex(owner) + "$"


class Management:
    """Just enough of the RabbitMQ management HTTP API; the password never reaches a command line."""

    def __init__(self, password):
        self.authorization = "Basic " + base64.b64encode(f"{ADMIN}:{password}".encode()).decode()

    def call(self, method, path, body=None):
        url = f"http://127.0.0.1:{MANAGEMENT_PORT}/api/" + "/".join(urllib.parse.quote(p, safe="") for p in path)
        request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Authorization": self.authorization, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()


def connect(user, password, vhost):
    credentials = pika.PlainCredentials(user, password)
    return pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", AMQP_PORT, vhost, credentials))


def now():
    return datetime.now(timezone.utc)


def rfc3339(moment):
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def publish_request(channel, server_id, owner, sender, request_id=None, deadline_in=timedelta(seconds=60)):
    """Publishes one request exactly as docs/protocol.md, 'Request', says; returns its id."""
    request_id = request_id or secrets.token_hex(12)
    queue_id = "Q" + secrets.token_hex(7)
    received = now()
    body = f"From: <{sender}>\r\nTo: <{owner}>\r\nSubject: test\r\n\r\nHello.\r\n".encode()
    metadata = {"version": 1, "id": request_id, "queueId": queue_id, "received": rfc3339(received),
                "deadline": rfc3339(received + deadline_in),
                "envelope": {"mailFrom": sender, "recipient": owner, "owner": owner, "parameters": {"smtputf8": False}},
                "client": {"name": "mx.example.net", "address": "192.0.2.7", "helo": "mx.example.net", "protocol": "ESMTP"},
                "size": len(body), "truncated": False}
    errors = schema_errors(REQUEST_SCHEMA, metadata)
    check(f"request {request_id} metadata is valid", not errors, errors)
    expiration = max(1, int((received + deadline_in - now()).total_seconds() * 1000)) if deadline_in > timedelta(0) else 60000
    properties = pika.BasicProperties(
        delivery_mode=2, correlation_id=request_id, reply_to=server_id, expiration=str(expiration),
        message_id=queue_id, timestamp=int(received.timestamp()), type="mailfilter.request.v1",
        content_type="message/rfc822", headers={"x-mailfilter-request": json.dumps(metadata)})
    channel.basic_publish("mailfilter.requests", owner, body, properties, mandatory=True)
    return request_id


def collect_replies(channel, queue, count, timeout):
    replies, deadline = [], time.monotonic() + timeout
    while len(replies) < count and time.monotonic() < deadline:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            time.sleep(0.05)
        else:
            replies.append((method, properties, body))
    return replies


def wait_for_line(log_file, text, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log_file.seek(0)
        if text in log_file.read():
            return True
        time.sleep(0.05)
    return False


def check_reply(reply, server_id, owner, expected):
    method, properties, body = reply
    request_id = properties.correlation_id
    name = f"reply {request_id}"
    check(f"{name} came through mailfilter.replies with routing key = reply_to",
          (method.exchange, method.routing_key) == ("mailfilter.replies", server_id), (method.exchange, method.routing_key))
    check(f"{name} is persistent", properties.delivery_mode == 2, properties.delivery_mode)
    check(f"{name} user_id is the owner's broker user", properties.user_id == owner, properties.user_id)
    check(f"{name} content_type", properties.content_type == "application/json", properties.content_type)
    check(f"{name} type", properties.type == "mailfilter.reply.v1", properties.type)
    try:
        document = json.loads(body)
    except ValueError as error:
        check(f"{name} body is JSON", False, error)
        return
    errors = schema_errors(REPLY_SCHEMA, document)
    check(f"{name} body is valid", not errors, errors)
    check(f"{name} id = correlation_id", document.get("id") == request_id, document.get("id"))
    check(f"{name} action", document.get("action") == expected.get(request_id), (document.get("action"), expected.get(request_id)))


def expect_refused(name, code, operation):
    try:
        operation()
        check(name, False, "the broker allowed it")
    except ChannelClosedByBroker as error:
        check(name, error.reply_code == code, f"{error.reply_code} {error.reply_text}")


def expect_allowed(name, operation):
    try:
        check(name, True, repr(operation()))
    except ChannelClosedByBroker as error:
        check(name, False, f"{error.reply_code} {error.reply_text}")


def check_authorization(owner, password, vhost, others):
    """What the owner's permissions allow (their own queue) and refuse (everything else)."""
    connection = connect(owner, password, vhost)
    own_queue = "mailfilter.user." + owner
    expect_allowed(authorization(owner, "may consume its own queue", own_queue),
                   lambda: connection.channel().basic_consume(own_queue, lambda *_: None))
    # The queue is still empty: get-empty is the broker's answer when reading is allowed.
    expect_allowed(authorization(owner, "may basic.get its own queue", own_queue),
                   lambda: connection.channel().basic_get(own_queue)[0])
    for other in others:
        queue = "mailfilter.user." + other
        expect_refused(authorization(owner, "cannot consume another owner's queue", queue), 403,
                       lambda: connection.channel().basic_consume(queue, lambda *_: None))
        expect_refused(authorization(owner, "cannot basic.get another owner's queue", queue), 403,
                       lambda: connection.channel().basic_get(queue))

    def confirmed_channel():
        channel = connection.channel()
        channel.confirm_delivery()
        return channel

    request = pika.BasicProperties(user_id=owner, correlation_id="x")
    expect_refused(authorization(owner, "cannot publish to mailfilter.requests"), 403,
                   lambda: confirmed_channel().basic_publish("mailfilter.requests", owner, b"x", request))
    expect_refused(authorization(owner, "cannot publish to the default exchange"), 403,
                   lambda: confirmed_channel().basic_publish("", own_queue, b"x", request))
    expect_refused(authorization(owner, "cannot declare a queue", "mailfilter.user." + owner + ".mine"), 403,
                   lambda: connection.channel().queue_declare("mailfilter.user." + owner + ".mine", durable=True))
    expect_refused(authorization(owner, "cannot bind its queue", "routing key " + others[0]), 403,
                   lambda: connection.channel().queue_bind(own_queue, "mailfilter.requests", routing_key=others[0]))
    expect_refused(authorization(owner, "cannot publish a reply with another user_id", "user_id " + others[0]), 406,
                   lambda: confirmed_channel().basic_publish("mailfilter.replies", "x", b"{}", pika.BasicProperties(user_id=others[0])))
    connection.close()


def url_of(user, vhost):
    return f"amqp://{urllib.parse.quote(user, safe='')}@127.0.0.1:{AMQP_PORT}/{urllib.parse.quote(vhost, safe='')}"


def check_events(channel, owner, password, vhost, url):
    """Section 12: an event the server publishes reaches the owner's events queue, valid against
    its schema, and `mailfilter_client.py --events` prints it."""
    queue = "mailfilter.events." + owner
    channel.queue_declare(queue, durable=True, arguments={"x-max-length-bytes": 16 << 20, "x-overflow": "drop-head"})
    channel.queue_bind(queue, "mailfilter.events", routing_key=owner)
    event = {"version": 1, "type": "outcome", "id": secrets.token_hex(12), "queueId": "Q" + secrets.token_hex(7),
             "owner": owner, "recipient": owner, "sender": "friend@example.org", "action": "pass",
             "source": "client", "state": "delivered", "detail": "250 2.0.0 Ok", "at": rfc3339(now())}
    check("the event is valid against event.v1.json", not schema_errors(EVENT_SCHEMA, event), schema_errors(EVENT_SCHEMA, event))
    channel.basic_publish("mailfilter.events", owner, json.dumps(event).encode(), pika.BasicProperties(
        delivery_mode=2, content_type="application/json", type="mailfilter.event.v1", message_id=event["id"],
        timestamp=int(time.time())))
    printer = subprocess.Popen([sys.executable, str(HERE / "mailfilter_client.py"), "--amqp", url, "--events"],
                               env=dict(os.environ, MAILFILTER_PASSWORD=password), stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        readable, _, _ = select.select([printer.stdout], [], [], 30)
        line = printer.stdout.readline() if readable else ""
    finally:
        printer.terminate()
        printer.wait(timeout=10)
    check("mailfilter_client.py --events prints the owner's event", line and json.loads(line) == event, line)
    channel.queue_delete(queue)


def check_document():
    """The regexes and worked examples the document quotes are what this implementation computes."""
    for owner in ["alice@example.com", "j.smith@example.com", "x|y@example.com"]:
        check(f"docs/protocol.md quotes read permission of {owner}", f"`{read_permission(owner)}`" in DOCUMENT, read_permission(owner))
    for name, schema in [("request-metadata.v1", REQUEST_SCHEMA), ("reply.v1", REPLY_SCHEMA), ("event.v1", EVENT_SCHEMA)]:
        match = re.search(r"<!-- example: " + re.escape(name) + r" -->\s*```json\n(.*?)```", DOCUMENT, re.S)
        check(f"docs/protocol.md has a worked example of {name}", match is not None)
        if match:
            errors = schema_errors(schema, json.loads(match.group(1)))
            check(f"the worked example of {name} is valid", not errors, errors)


def main():
    global results_file
    parser = argparse.ArgumentParser(description="Proves docs/protocol.md against the private RabbitMQ node.")
    parser.add_argument("--results", type=Path, help="also write every check to this file, one JSON line each")
    arguments = parser.parse_args()
    if arguments.results:
        results_file = arguments.results.open("w")
    subprocess.run([str(ROOT / "scripts/rabbitmq-instance.sh"), "start", str(BROKER_DIR)], check=True)
    admin_password = (BROKER_DIR / "admin-password").read_text().strip()
    management = Management(admin_password)
    suffix = secrets.token_hex(4)
    vhost, server_id = f"protocol-test-{suffix}", f"test-{suffix}"
    owner = f"x|y.{suffix}@example.test"       # regex metacharacters: escaping matters
    second = f"j.smith.{suffix}@example.test"
    # Queues an unescaped regex of owner or second would match.
    victims = [f"xavier.{suffix}@example.test", f"jxsmith.{suffix}@example.test"]
    password = secrets.token_urlsafe(16)
    management.call("PUT", ["vhosts", vhost], {})
    management.call("PUT", ["permissions", vhost, ADMIN], {"configure": ".*", "write": ".*", "read": ".*"})
    client = None
    try:
        for user in [owner, second]:
            management.call("PUT", ["users", user], {"password": password, "tags": ""})
            management.call("PUT", ["permissions", vhost, user],
                            {"configure": "^$", "write": r"^mailfilter\.replies$", "read": owner_queues_read_permission(user)})
        server = connect(ADMIN, admin_password, vhost)
        channel = server.channel()
        channel.confirm_delivery()
        channel.exchange_declare("mailfilter.requests", "direct", durable=True)
        channel.exchange_declare("mailfilter.replies", "direct", durable=True)
        channel.exchange_declare("mailfilter.events", "topic", durable=True)
        server_queue = "mailfilter.server." + server_id
        channel.queue_declare(server_queue, durable=True, arguments={"x-max-length-bytes": 10_000_000})
        channel.queue_bind(server_queue, "mailfilter.replies", routing_key=server_id)
        for user in [owner, second] + victims:
            channel.queue_declare("mailfilter.user." + user, durable=True,
                                  arguments={"x-max-length-bytes": 10_000_000, "x-overflow": "reject-publish"})
            channel.queue_bind("mailfilter.user." + user, "mailfilter.requests", routing_key=user)

        check_events(channel, owner, password, vhost, url_of(owner, vhost))
        check_document()
        check_authorization(owner, password, vhost, [second] + victims)
        check_authorization(second, password, vhost, [owner] + victims)

        url = url_of(owner, vhost)
        refused = subprocess.run([sys.executable, str(HERE / "mailfilter_client.py"), "--amqp", url],
                                 env=dict(os.environ, MAILFILTER_PASSWORD="wrong"), capture_output=True, text=True, timeout=30)
        check("the client exits with status 2 on a wrong password", refused.returncode == 2, refused.returncode)
        check("the client says why", "refused the user name or password" in refused.stderr, refused.stderr)

        expected = {}
        # Delivered once to a consumer that went away without acknowledging: redelivered to the client.
        redelivered = publish_request(channel, server_id, owner, "friend@example.org")
        expected[redelivered] = "pass"
        grabber = connect(owner, password, vhost)
        check("the request to be redelivered was taken by a consumer that does not acknowledge it",
              grabber.channel().basic_get("mailfilter.user." + owner)[0] is not None)
        grabber.close()

        log_file = tempfile.NamedTemporaryFile("w+", prefix="mailfilter-client-", suffix=".log")
        client = subprocess.Popen(
            [sys.executable, str(HERE / "mailfilter_client.py"), "--amqp", url, "--block", "spammer@example.net",
             "--block", "@bad.example", "--prefetch", "2"],
            env=dict(os.environ, MAILFILTER_PASSWORD=password), stdout=log_file, stderr=subprocess.STDOUT)

        expected[publish_request(channel, server_id, owner, "friend@example.org")] = "pass"
        expected[publish_request(channel, server_id, owner, "Spammer@Example.NET")] = "deny"
        expected[publish_request(channel, server_id, owner, "anyone@bad.example")] = "deny"
        expected[publish_request(channel, server_id, owner, "")] = "pass"  # the null sender
        duplicate = publish_request(channel, server_id, owner, "spammer@example.net")
        expected[duplicate] = "deny"
        publish_request(channel, server_id, owner, "spammer@example.net", request_id=duplicate)
        late = publish_request(channel, server_id, owner, "friend@example.org", deadline_in=timedelta(seconds=-30))

        replies = collect_replies(channel, server_queue, len(expected) + 1, timeout=30)
        replies += collect_replies(channel, server_queue, 1, timeout=2)  # nothing more may come
        ids = [properties.correlation_id for _, properties, _ in replies]
        check("every request is answered, the duplicate twice", sorted(ids) == sorted(list(expected) + [duplicate]), ids)
        check("a request past its deadline is not answered", late not in ids, ids)
        for reply in replies:
            check_reply(reply, server_id, owner, expected)

        # A reply the broker cannot route (no queue for this reply_to yet) is returned; the client
        # must not acknowledge the request, so it is answered once the server's queue exists.
        later_server = server_id + "-later"
        unroutable = publish_request(channel, server_id=later_server, owner=owner, sender="friend@example.org")
        time.sleep(2.5)
        later_queue = "mailfilter.server." + later_server
        channel.queue_declare(later_queue, durable=True)
        channel.queue_bind(later_queue, "mailfilter.replies", routing_key=later_server)
        late_replies = collect_replies(channel, later_queue, 1, timeout=15)
        check("a returned reply leaves the request unacknowledged, answered again later",
              [p.correlation_id for _, p, _ in late_replies] == [unroutable], late_replies)
        for reply in late_replies:
            check_reply(reply, later_server, owner, {unroutable: "pass"})
        # The client logs a request after acknowledging it; stopping it earlier would (rightly)
        # put an answered request back in the queue.
        check("the client acknowledged the request after the confirm",
              wait_for_line(log_file, f"request {unroutable} (redelivered): pass", timeout=10), unroutable)

        client.terminate()
        check("the client stops on SIGTERM with status 0", client.wait(timeout=10) == 0, client.returncode)
        log_file.seek(0)
        output = log_file.read()
        check("the client saw the redelivered request as redelivered", f"request {redelivered} (redelivered)" in output, output)
        remaining = channel.queue_declare("mailfilter.user." + owner, passive=True).method.message_count
        check("every request was acknowledged (the owner's queue is empty)", remaining == 0, remaining)
        if failures:
            print("client output:\n" + output)
        server.close()
    finally:
        if client and client.poll() is None:
            client.kill()
        for user in [owner, second]:
            try:
                management.call("DELETE", ["users", user])
            except urllib.error.HTTPError:
                pass
        management.call("DELETE", ["vhosts", vhost])
    print(f"{len(failures)} checks failed" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        status = main()
    except Exception:
        check("test_protocol.py ran to its end", False, traceback.format_exc())
        raise
    sys.exit(status)
