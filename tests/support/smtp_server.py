#!/usr/bin/python3
"""A real SMTP server on 127.0.0.1 for the email receiver's tests (Debian python3-aiosmtpd).

Every message it accepts is parsed back with Python's `email` package and written to
--dir as NNN.json: envelope (mail_from, rcpt_tos), headers (From, To, Cc, Subject decoded
from RFC 2047, Date, Message-Id), the MIME structure and each text part decoded. Every DATA
it answers is counted in --dir/attempts (one line per attempt, with the reply).

  --port N           listen on 127.0.0.1:N
  --replies 451,250  the reply to each DATA in turn (the last repeats); default 250
  --auth USER:PASS   require AUTH (PLAIN and LOGIN) with these credentials
  --starttls CERT KEY  offer STARTTLS with this certificate (and require it before AUTH)
  --no-starttls      offer no STARTTLS (the default without --starttls)

Prints "ready" on stdout once it listens; runs until killed.
"""

import argparse
import email
import email.header
import email.policy
import json
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def decoded(value):
    if value is None:
        return None
    return str(email.header.make_header(email.header.decode_header(value)))


class Handler:
    def __init__(self, directory, replies):
        self.directory = directory
        self.replies = replies
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            index = self.count
            self.count += 1
        reply = self.replies[min(index, len(self.replies) - 1)]
        with open(os.path.join(self.directory, "attempts"), "a") as f:
            f.write(f"{reply}\n")
        if reply != "250":
            text = {"451": "451 4.3.0 Temporary local problem, try again later",
                    "452": "452 4.3.1 Insufficient system storage",
                    "550": "550 5.1.1 Mailbox unavailable",
                    "554": "554 5.7.1 Message refused"}.get(reply, reply + " refused")
            return text
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            payload = part.get_payload(decode=True) or b""
            parts.append({
                "content_type": part.get_content_type(),
                "charset": part.get_content_charset(),
                "transfer_encoding": part.get("Content-Transfer-Encoding"),
                "text": payload.decode(part.get_content_charset() or "utf-8", "replace"),
            })
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": decoded(msg.get("From")),
            "to": decoded(msg.get("To")),
            "cc": decoded(msg.get("Cc")),
            "subject": decoded(msg.get("Subject")),
            "raw_subject": msg.get("Subject"),
            "raw_cc": msg.get("Cc"),
            "date": msg.get("Date"),
            "message_id": msg.get("Message-Id"),
            "content_type": msg.get_content_type(),
            "headers": {k: decoded(v) for k, v in msg.items()},
            "parts": parts,
            "tls": session.ssl is not None,
            "authenticated": bool(session.authenticated),
            "crlf_only": b"\n" not in raw.replace(b"\r\n", b""),
            "max_line": max((len(line) for line in raw.split(b"\r\n")), default=0),
        }
        name = os.path.join(self.directory, f"{index:03d}.json")
        with open(name + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(name + ".tmp", name)
        return "250 2.0.0 OK queued"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--replies", default="250")
    ap.add_argument("--auth")
    ap.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    args = ap.parse_args()

    handler = Handler(args.dir, args.replies.split(","))
    kwargs = {}
    if args.starttls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.starttls[0], args.starttls[1])
        kwargs["tls_context"] = context
        kwargs["require_starttls"] = True
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and \
                auth_data.login.decode() == user and auth_data.password.decode() == password
            with open(os.path.join(args.dir, "auth"), "a") as f:
                f.write(f"{mechanism} {'ok' if ok else 'refused'}\n")
            # handled=False: aiosmtpd answers 535 itself on failure.
            return AuthResult(success=ok, handled=False)

        kwargs["authenticator"] = authenticator
        kwargs["auth_required"] = True
        # Over STARTTLS when it is offered; in the clear otherwise (loopback tests only).
        kwargs["auth_require_tls"] = bool(args.starttls)
    controller = Controller(handler, hostname="127.0.0.1", port=args.port, **kwargs)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    sys.exit(main())
