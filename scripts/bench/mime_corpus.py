#!/usr/bin/env python3
"""Writes a corpus of realistic messages for scripts/bench-mime.sh (deterministic per seed).

    mime_corpus.py DIR [COUNT [SEED]]

About 35% plain text (quoted-printable UTF-8), 30% text + HTML alternatives, 35% mixed with one
to three base64 attachments (PDF-like, images, a CSV, RFC 2231 file names, sometimes a
forwarded message/rfc822); encoded-word subjects and display names; about 50 KB on average.
"""
import os
import random
import sys
from email.message import EmailMessage
from email.policy import SMTP
from email.headerregistry import Address

WORDS = ("the of and to in is for on that with as this be by are from at was it an or have not "
         "report meeting quarter budget invoice delivery schedule project review update customer "
         "Grüße café naïve résumé Köln Zürich São Paulo 東京 日本語 Привет αβγ").split()


def paragraph(rng, words):
    return " ".join(rng.choice(WORDS) for _ in range(words))


def text_body(rng, size):
    lines, total = [], 0
    while total < size:
        line = paragraph(rng, rng.randint(8, 16))
        lines.append(line)
        total += len(line.encode()) + 1
    return "\n".join(lines) + "\n"


def html_body(text):
    paragraphs = "".join(f"<p style=\"margin:0 0 8px 0\">{line}</p>\n" for line in text.splitlines())
    return f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>\n{paragraphs}</body></html>\n"


def headers(rng, index, message):
    message["From"] = Address(rng.choice(["Jörg Müller", "Alice Smith", "山田太郎", "Renée Dupont"]), "sender", f"example{index % 7}.org")
    message["To"] = [Address("Bob", "bob", "example.net"), Address("Smith, Carol", "carol", "example.net")]
    message["Subject"] = f"{paragraph(rng, rng.randint(3, 8))} #{index}"
    message["Date"] = "Thu, 26 Nov 2026 03:00:00 +0000"
    message["Message-ID"] = f"<{index}.{rng.randrange(10**9)}@example.org>"
    for hop in range(rng.randint(2, 5)):
        message["Received"] = (f"from mx{hop}.example.org (mx{hop}.example.org [192.0.2.{hop + 1}]) by "
                               f"relay.example.net with ESMTPS id {rng.randrange(16**10):010x}; "
                               "Thu, 26 Nov 2026 03:00:00 +0000")


def build(rng, index):
    kind = rng.random()
    message = EmailMessage()
    headers(rng, index, message)
    text = text_body(rng, rng.randint(2_000, 20_000))
    message.set_content(text, cte="quoted-printable")
    if kind >= 0.35:
        message.add_alternative(html_body(text), subtype="html", cte=rng.choice(["base64", "quoted-printable"]))
    if kind >= 0.65:
        for number in range(rng.randint(1, 3)):
            choice = rng.random()
            if choice < 0.15:
                inner = EmailMessage()
                headers(rng, index * 10 + number, inner)
                inner.set_content(text_body(rng, 3_000))
                message.add_attachment(inner)
            elif choice < 0.35:
                rows = "\n".join(f"{n},{rng.random():.6f},{rng.choice(WORDS)}" for n in range(rng.randint(100, 800)))
                message.add_attachment(rows, subtype="csv", filename=f"données-{number}.csv")
            else:
                size = rng.randint(8_000, 60_000)
                maintype, subtype, suffix = rng.choice([("application", "pdf", "pdf"), ("image", "png", "png"),
                                                        ("application", "zip", "zip")])
                message.add_attachment(rng.randbytes(size), maintype=maintype, subtype=subtype,
                                       filename=f"Bericht für Q{number + 1} {index}.{suffix}")
    return message.as_bytes(policy=SMTP)


def main():
    directory = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 5)
    os.makedirs(directory, exist_ok=True)
    total = 0
    for index in range(count):
        data = build(rng, index)
        total += len(data)
        with open(os.path.join(directory, f"{index:05d}.eml"), "wb") as file:
            file.write(data)
    print(f"{count} messages, {total} bytes, {total / count / 1000:.1f} kB on average")


if __name__ == "__main__":
    main()
