#!/usr/bin/env python3
"""Independent check of a DSN produced by DSNComposer.

Reads one message (path in argv[1]), parses it with Python's `email` package and prints JSON
describing what it found: top-level headers, the report parts, the per-message and
per-recipient fields of the delivery-status part, the returned content, and raw-byte facts
(longest line, bare line ends, 8-bit octets). Used by Tests/FilterSMTPTests/DSNComposer+Tests.swift.
"""
import email
import email.parser
import email.policy
import json
import re
import sys


def unfold(value):
    return re.sub(r"\r?\n(?=[ \t])", "", str(value)) if value is not None else None


def fields(block):
    return {name.lower(): unfold(value) for name, value in block.items()}


def status_blocks(part):
    """Returns the field blocks of message/delivery-status or message/global-delivery-status."""
    payload = part.get_payload()
    if part.get_content_type() == "message/delivery-status":
        # The email package parses this type itself: one Message per block.
        return [fields(block) for block in payload]
    # Unknown message/* subtype: parsed as an encapsulated message whose headers are the
    # per-message block and whose body holds the per-recipient blocks.
    inner = payload[0]
    blocks = [fields(inner)]
    body = inner.get_payload()
    for chunk in re.split(r"\r?\n\r?\n", body.strip("\r\n")):
        if chunk.strip():
            blocks.append(fields(email.parser.Parser().parsestr(chunk + "\n", headersonly=True)))
    return blocks


def main():
    raw = open(sys.argv[1], "rb").read()
    lines = raw.split(b"\r\n")
    result = {
        "maxLine": max(len(line) for line in lines),
        "bareLineEnd": any(b"\n" in line or b"\r" in line for line in lines),
        "endsWithCRLF": raw.endswith(b"\r\n"),
        "eightBit": any(byte >= 0x80 for byte in raw),
    }
    message = email.message_from_string(raw.decode("utf-8", "surrogateescape"), policy=email.policy.compat32)
    result["contentType"] = message.get_content_type()
    result["reportType"] = message.get_param("report-type")
    result["boundary"] = message.get_boundary()
    result["headers"] = {name.lower(): unfold(value) for name, value in message.items()}
    result["defects"] = [type(d).__name__ for part in message.walk() for d in part.defects]
    parts = message.get_payload() if message.is_multipart() else []
    result["parts"] = [
        {
            "contentType": part.get_content_type(),
            "cte": part.get("Content-Transfer-Encoding"),
            "charset": part.get_content_charset(),
        }
        for part in parts
    ]
    if len(parts) >= 1:
        encoding = (parts[0].get("Content-Transfer-Encoding") or "7bit").lower()
        if encoding in ("7bit", "8bit"):
            # Already text: the whole message was read as UTF-8.
            result["text"] = parts[0].get_payload()
        else:
            text = parts[0].get_payload(decode=True)
            result["text"] = text.decode(parts[0].get_content_charset() or "us-ascii")
    if len(parts) >= 2:
        blocks = status_blocks(parts[1])
        result["perMessage"] = blocks[0]
        result["recipients"] = blocks[1:]
    if len(parts) >= 3:
        returned = parts[2]
        if returned.get_content_maintype() == "message":
            inner = returned.get_payload()[0]
            result["returned"] = {"headers": fields(inner), "body": inner.get_payload()}
        else:
            headers = email.parser.Parser().parsestr(returned.get_payload(), headersonly=True)
            result["returned"] = {"headers": fields(headers), "body": None}
    print(json.dumps(result))


main()
