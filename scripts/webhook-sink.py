#!/usr/bin/env python3
"""A local webhook receiver for the demo: prints every notification promwatch delivers.

Usage: webhook-sink.py PORT   (listens on 127.0.0.1 only)
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            msg = json.loads(body)
            print(f"\n=== notification: {msg.get('status')} {msg.get('groupKey')} -> {msg.get('receiver')}", flush=True)
            for alert in msg.get("alerts", []):
                labels = ", ".join(f'{k}="{v}"' for k, v in sorted(alert.get("labels", {}).items()))
                summary = alert.get("annotations", {}).get("summary", "")
                print(f"  [{alert.get('status')}] {{{labels}}} since {alert.get('startsAt')}  {summary}", flush=True)
        except ValueError:
            print(f"\n=== non-JSON body: {body[:200]!r}", flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
