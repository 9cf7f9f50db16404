#!/usr/bin/env python3
"""Writes the pipeline and the envelope senders for scripts/bench-pipeline.sh (deterministic per seed).

    pipeline_config.py DIR RECEIVER_URL [SEED]

DIR/pipeline.json: {"pipeline": [sender-list, rules, webhook]}, entries as in the client's
configuration file (docs/processors.md):
  - sender-list "senders": 40 allow entries; 1000 block entries: 700 addresses, 180 domains
    (@domain and bare), 100 subdomain wildcards (*.domain), 15 .domain entries, 5 regexes;
  - rules: 20 rules over headers, bodies (contains and regexes), attachments and size;
  - webhook "archive": the JSON summary to RECEIVER_URL, signed with a secret.
DIR/senders.txt: 1000 envelope senders in shuffled order: about 85% on no list, 5% allowed,
8% blocked (by address, domain, wildcard and regex), 2% the null sender <>.
"""
import json
import os
import random
import sys

FIRST = ["anna", "ben", "carla", "david", "eva", "felix", "greta", "hans", "ines", "jonas", "karin", "lars",
         "mia", "nils", "olga", "paul", "rita", "sven", "tina", "uwe"]
LAST = ["meyer", "schmidt", "fischer", "weber", "wagner", "becker", "hoffmann", "koch", "richter", "klein"]
TLDS = ["com", "de", "net", "org", "io", "fr", "co.uk"]


def person(rng):
    return f"{rng.choice(FIRST)}.{rng.choice(LAST)}{rng.choice(['', str(rng.randint(1, 99))])}"


def sender_list(rng):
    allow = [f"{person(rng)}@partner{n}.example" for n in range(25)]
    allow += [f"@supplier{n}.example" for n in range(10)] + [f".trusted{n}.example" for n in range(5)]
    block = [f"{person(rng)}@spam{rng.randint(0, 299)}.{rng.choice(TLDS)}" for _ in range(700)]
    block += [f"@bulk{n}.{rng.choice(TLDS)}" if n % 2 else f"bulk{n}.{rng.choice(TLDS)}" for n in range(180)]
    block += [f"*.spamfarm{n}.example" for n in range(100)]
    block += [f".junk{n}.example" for n in range(15)]
    block += ["/.*@[a-z0-9-]+\\.(top|xyz|click|loan)/", "/^bounce-[0-9a-f]{16}@.*/", "/.*[0-9]{6,}@.*/",
              "/^(win|prize|lottery)[a-z0-9._-]*@.*/", "/.*@mail[0-9]+\\.cheap-[a-z]+\\.example/"]
    return allow, block


def senders(rng, allow, block):
    chosen = []
    for _ in range(1000):
        kind = rng.random()
        if kind < 0.05:
            entry = rng.choice(allow)
            chosen.append(entry if "@" in entry and not entry.startswith("@")
                          else f"{person(rng)}@{'mail' + entry if entry.startswith('.') else entry.lstrip('@')}")
        elif kind < 0.13:
            way = rng.random()
            if way < 0.4:
                chosen.append(rng.choice(block[:700]))
            elif way < 0.6:
                chosen.append(f"{person(rng)}@{rng.choice(block[700:880]).lstrip('@')}")
            elif way < 0.8:
                chosen.append(f"{person(rng)}@mx{rng.randint(1, 9)}{rng.choice(block[880:980])[1:]}")
            else:
                chosen.append(rng.choice([f"{person(rng)}@deals{rng.randint(1, 99)}.top",
                                          f"bounce-{rng.randrange(16**16):016x}@lists.example.com",
                                          f"winner{rng.randint(1, 9999)}@prizes.example"]))
        elif kind < 0.15:
            chosen.append("<>")
        else:
            chosen.append(rng.choice([f"{person(rng)}@company{rng.randint(1, 400)}.{rng.choice(TLDS)}",
                                      f"newsletter@shop{rng.randint(1, 200)}.de",
                                      f"noreply@service{rng.randint(1, 100)}.com",
                                      f"{person(rng)}@mail.university{rng.randint(1, 50)}.edu"]))
    return chosen


def rules():
    def rule(name, condition, then):
        return {"name": name, "if": condition, "then": then}
    return [
        rule("executables", {"attachment": ["*.exe", "*.scr", "*.js", "application/x-msdownload"]},
             {"action": "quarantine", "reason": "executable attachment"}),
        rule("macro-documents", {"attachment": ["*.docm", "*.xlsm", "*.pptm"]}, {"tag": "macro", "score": 2}),
        rule("archives", {"attachment": ["application/zip", "*.rar", "*.7z"]}, {"tag": "archive", "score": 0.5}),
        rule("pdf", {"attachment": ["application/pdf"]}, {"tag": "has-pdf"}),
        rule("images", {"attachment": ["image/*"]}, {"tag": "has-image"}),
        rule("newsletter", {"all": [{"header": "List-Id", "exists": True}, {"header": "Subject", "contains": "newsletter"}]},
             {"tag": "newsletter", "add_headers": [{"name": "X-Newsletter", "value": "yes"}]}),
        rule("bulk", {"header": "List-Unsubscribe", "exists": True}, {"tag": "bulk"}),
        rule("invoice", {"header": "Subject", "matches": "\\b(invoice|rechnung|facture)\\b"}, {"tag": "invoice"}),
        rule("urgent", {"header": "Subject", "matches": "urgent|immediately|act now"}, {"score": 2}),
        rule("pills", {"body": {"matches": "v[i1]agra|c[i1]al[i1]s"}}, {"score": 5}),
        rule("lottery", {"body": {"contains": "you have won"}}, {"score": 4}),
        rule("crypto", {"body": {"matches": "\\b(bitcoin|btc)\\s+(address|wallet|transfer)"}}, {"score": 3}),
        rule("phishing", {"body": {"contains": "verify your password"}}, {"tag": "phishing", "score": 4}),
        rule("large", {"size_over": 5000000}, {"tag": "large"}),
        rule("tiny", {"size_under": 500}, {"score": 1}),
        rule("reply-to", {"header": "Reply-To", "exists": True}, {"tag": "has-reply-to"}),
        rule("mailer", {"header": "X-Mailer", "matches": "phpmailer|mass ?mail"}, {"score": 1.5}),
        rule("from-mueller", {"header": "From", "contains": "müller"}, {"tag": "from-mueller"}),
        rule("budget", {"body": {"contains": "budget"}}, {"tag": "budget"}),
        rule("no-message-id", {"not": {"header": "Message-ID", "exists": True}}, {"score": 2}),
    ]


def main():
    directory, receiver = sys.argv[1], sys.argv[2]
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
    os.makedirs(directory, exist_ok=True)
    allow, block = sender_list(rng)
    pipeline = [
        {"type": "sender-list", "name": "senders", "allow": allow, "block": block},
        {"type": "rules", "rules": rules()},
        {"type": "webhook", "name": "archive", "urls": [receiver], "body": "summary",
         "secret": "bench-secret", "request_timeout": 5, "retries": 2, "on_error": "continue"},
    ]
    with open(os.path.join(directory, "pipeline.json"), "w") as file:
        json.dump({"pipeline": pipeline}, file, indent=1)
    chosen = senders(rng, allow, block)
    with open(os.path.join(directory, "senders.txt"), "w") as file:
        file.write("\n".join(chosen) + "\n")
    print(f"{len(allow)} allow and {len(block)} block entries, {len(rules())} rules, {len(chosen)} senders")


if __name__ == "__main__":
    main()
