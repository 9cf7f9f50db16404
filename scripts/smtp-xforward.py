#!/usr/bin/env python3
"""Send one message over SMTP, announcing the original client with XFORWARD.

swaks can send XCLIENT but not XFORWARD, the command Postfix's "scan" transport
uses towards filterd and filterd uses towards Postfix's reinjection smtpd. The
integration tests use this script to play either side of that conversation.

Example:
    smtp-xforward.py --server 127.0.0.1:10025 --from bob@example.test \\
        --to alice@example.test --xforward NAME=client.example \\
        --xforward ADDR=192.0.2.9 --subject "hello"

Exits 0 when the message was accepted, 1 with the server's reply otherwise.
"""

import argparse
import smtplib
import sys
from email.message import EmailMessage


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="HOST:PORT")
    parser.add_argument("--from", dest="sender", required=True)
    parser.add_argument("--to", dest="recipients", action="append", required=True)
    parser.add_argument(
        "--xforward",
        action="append",
        default=[],
        metavar="ATTR=VALUE",
        help="XFORWARD attribute (NAME, ADDR, PORT, PROTO, HELO, IDENT, SOURCE); repeatable",
    )
    parser.add_argument("--subject", default="XFORWARD test")
    parser.add_argument("--body", default="Sent by scripts/smtp-xforward.py.\n")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds")
    return parser.parse_args()


def main():
    arguments = parse_arguments()
    host, _, port = arguments.server.rpartition(":")
    message = EmailMessage()
    message["From"] = arguments.sender
    message["To"] = ", ".join(arguments.recipients)
    message["Subject"] = arguments.subject
    message.set_content(arguments.body)

    with smtplib.SMTP(host, int(port), timeout=arguments.timeout) as client:
        client.set_debuglevel(1)
        client.ehlo("xforward-test.localdomain")
        if arguments.xforward:
            if not client.has_extn("xforward"):
                print("server does not announce XFORWARD", file=sys.stderr)
                return 1
            code, reply = client.docmd("XFORWARD", " ".join(arguments.xforward))
            if code != 250:
                print(f"XFORWARD refused: {code} {reply.decode()}", file=sys.stderr)
                return 1
        try:
            client.send_message(message, arguments.sender, arguments.recipients)
        except smtplib.SMTPException as error:
            print(f"message refused: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
