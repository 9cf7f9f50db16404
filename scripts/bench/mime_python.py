#!/usr/bin/env python3
"""The Python baseline of scripts/bench-mime.sh: parse the same corpus with the standard
library's `email` package as mime-bench does with the MIME view, and print the same JSON line.

    mime_python.py DIR [ITERATIONS]

Each pass: email.message_from_bytes(policy=email.policy.default) per message, the subject,
From and To parsed, every part walked and its payload decoded (get_content(): str for text
parts, bytes for others), the text and HTML bodies (get_body) and the attachments.
"""
import email
import email.policy
import json
import os
import sys
import time


def one_pass(messages):
    checksum = 0
    for data in messages:
        message = email.message_from_bytes(data, policy=email.policy.default)
        checksum += len(message["subject"] or "")
        checksum += len(message["from"].addresses if message["from"] else ())
        checksum += len(message["to"].addresses if message["to"] else ())
        for part in message.walk():
            if part.is_multipart():
                continue
            content = part.get_content()
            checksum += len(content) if isinstance(content, (str, bytes)) else 1
        for preference in (("plain",), ("html",)):
            body = message.get_body(preferencelist=preference)
            checksum += len(body.get_content()) if body is not None else 0
        checksum += sum(1 for _ in message.iter_attachments())
    return checksum


def main():
    directory = sys.argv[1]
    iterations = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    names = sorted(name for name in os.listdir(directory) if name.endswith(".eml"))
    messages = []
    for name in names:
        with open(os.path.join(directory, name), "rb") as file:
            messages.append(file.read())
    total = sum(len(data) for data in messages)
    checksum = one_pass(messages)
    start = time.perf_counter()
    for _ in range(iterations):
        checksum += one_pass(messages)
    seconds = time.perf_counter() - start
    print(json.dumps({"messages": len(messages), "bytes": total, "iterations": iterations,
                      "seconds": round(seconds, 3), "mb_per_s": round(total * iterations / 1e6 / seconds, 2),
                      "messages_per_s": round(len(messages) * iterations / seconds, 1), "checksum": checksum}))


if __name__ == "__main__":
    main()
