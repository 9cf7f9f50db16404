"""Parses a quarantine digest with Python's email package and prints what it found as JSON.

An independent check of QuarantineDigestComposer: usage `parse_digest.py FILE`.
"""
import email
import email.policy
import email.utils
import json
import sys

raw = open(sys.argv[1], "rb").read()
message = email.message_from_bytes(raw, policy=email.policy.default)
lines = raw.split(b"\r\n")
fields = ["From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "MIME-Version",
          "Content-Type", "Content-Transfer-Encoding"]
date = message["Date"]
print(json.dumps({
    "headers": {name: str(message[name]) for name in fields if message[name] is not None},
    "fromAddress": message["From"].addresses[0].addr_spec,
    "toAddress": message["To"].addresses[0].addr_spec,
    "dateValid": date is not None and date.datetime is not None,
    "charset": message.get_content_charset(),
    "defects": [type(d).__name__ for d in message.defects],
    "body": message.get_content(),
    "maxLine": max(len(line) for line in lines),
    "bareLineEnd": b"\n" in raw.replace(b"\r\n", b""),
    "sevenBit": all(byte < 128 for byte in raw),
}))
