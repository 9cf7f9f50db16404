#!/usr/bin/env python3
"""What Python's email package (policy.default) sees in each .eml file of a directory, as a JSON
list, for MIMEMessagePythonAgreementTests: subject, From display names, To addresses, the text
and HTML bodies (CRLF folded to LF, as MIMEPart.text does) and the top-level attachments with
their decoded sizes (null for enclosed messages, whose size Python does not keep)."""
import email
import email.policy
import json
import os
import sys


def body(message, subtype):
    part = message.get_body(preferencelist=(subtype,))
    return part.get_content().replace("\r\n", "\n") if part is not None else None


def summary(name, data):
    message = email.message_from_bytes(data, policy=email.policy.default)
    attachments = []
    for part in message.iter_attachments():
        payload = None if part.get_content_type() == "message/rfc822" else len(part.get_payload(decode=True))
        attachments.append({"filename": part.get_filename(), "size": payload})
    return {
        "name": name,
        "subject": str(message["subject"]),
        "fromNames": [address.display_name for address in message["from"].addresses],
        "toAddresses": [address.addr_spec for address in message["to"].addresses],
        "text": body(message, "plain"),
        "html": body(message, "html"),
        "attachments": attachments,
    }


directory = sys.argv[1]
names = sorted(name for name in os.listdir(directory) if name.endswith(".eml"))
print(json.dumps([summary(name, open(os.path.join(directory, name), "rb").read()) for name in names]))
