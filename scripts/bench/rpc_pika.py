#!/usr/bin/python3
"""The bare RPC baseline written with pika (Debian's python3-pika), to compare with rpc-bench.

The simplest pika version with the same persistence and confirms: BlockingConnection, which
waits for each publisher confirm before returning. --concurrency publisher threads (one
connection each) publish a request (persistent, mandatory, confirmed) and wait for its reply;
one consumer thread per owner (its own connection, logged in as the owner, prefetch
--prefetch) replies (persistent, mandatory, confirmed, user_id) and then acknowledges; one
thread consumes the server's reply queue. Prints one JSON line like rpc-bench.
Run with /usr/bin/python3 (pika is installed for Debian's Python).
"""

import argparse
import json
import threading
import time

import pika


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--server-user", required=True)
    parser.add_argument("--server-id", required=True)
    parser.add_argument("--owners", required=True)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--prefetch", type=int, default=20)
    parser.add_argument("--size", type=int, default=4096)
    return parser.parse_args()


def connect(arguments, user, password):
    parameters = pika.ConnectionParameters(
        host="127.0.0.1", port=arguments.port, credentials=pika.PlainCredentials(user, password))
    return pika.BlockingConnection(parameters)


def main():
    arguments = parse_arguments()
    password = open(arguments.password_file).read().strip()
    owners = arguments.owners.split(",")
    waiting = {}
    lock = threading.Lock()
    stop = threading.Event()

    def replies():
        connection = connect(arguments, arguments.server_user, password)
        channel = connection.channel()
        channel.basic_qos(prefetch_count=256)

        def on_reply(channel, method, properties, body):
            with lock:
                event = waiting.get(properties.correlation_id)
            if event:
                event.set()
            channel.basic_ack(method.delivery_tag)

        channel.basic_consume("mailfilter.server." + arguments.server_id, on_reply)
        while not stop.is_set():
            connection.process_data_events(time_limit=0.1)
        connection.close()

    def client(owner):
        connection = connect(arguments, owner, password)
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_qos(prefetch_count=arguments.prefetch)

        def on_request(channel, method, properties, body):
            reply = json.dumps({"version": 1, "id": properties.correlation_id, "action": "pass"}).encode()
            channel.basic_publish(
                "mailfilter.replies", properties.reply_to, reply,
                pika.BasicProperties(
                    delivery_mode=2, correlation_id=properties.correlation_id, user_id=owner,
                    content_type="application/json", type="mailfilter.reply.v1"),
                mandatory=True)
            channel.basic_ack(method.delivery_tag)

        channel.basic_consume("mailfilter.user." + owner, on_request)
        while not stop.is_set():
            connection.process_data_events(time_limit=0.1)
        connection.close()

    latencies = []
    body = b"x" * arguments.size

    def publisher(lane):
        connection = connect(arguments, arguments.server_user, password)
        channel = connection.channel()
        channel.confirm_delivery()
        for index in range(lane, arguments.count, arguments.concurrency):
            request_id = "pika.%d.%f" % (index, time.time())
            event = threading.Event()
            with lock:
                waiting[request_id] = event
            started = time.monotonic()
            channel.basic_publish(
                "mailfilter.requests", owners[index % len(owners)], body,
                pika.BasicProperties(
                    delivery_mode=2, correlation_id=request_id, reply_to=arguments.server_id,
                    expiration="60000", type="mailfilter.request.v1",
                    headers={"x-mailfilter-request": json.dumps({"version": 1, "id": request_id})}),
                mandatory=True)
            event.wait(60)
            with lock:
                latencies.append(time.monotonic() - started)
                del waiting[request_id]
        connection.close()

    background = [threading.Thread(target=replies)] + [threading.Thread(target=client, args=(o,)) for o in owners]
    for thread in background:
        thread.start()
    time.sleep(1)
    started = time.monotonic()
    publishers = [threading.Thread(target=publisher, args=(lane,)) for lane in range(arguments.concurrency)]
    for thread in publishers:
        thread.start()
    for thread in publishers:
        thread.join()
    seconds = time.monotonic() - started
    stop.set()
    for thread in background:
        thread.join()
    values = sorted(latencies)
    percentile = lambda p: values[min(len(values) - 1, max(0, int(-(-len(values) * p // 1)) - 1))] * 1000
    print(json.dumps({"count": arguments.count, "seconds": round(seconds, 3), "rate": round(arguments.count / seconds, 1),
                      "p50_ms": round(percentile(0.5), 2), "p99_ms": round(percentile(0.99), 2)}))


if __name__ == "__main__":
    main()
