#!/usr/bin/env python3
"""A webhook receiver for bench/observer.sh: answers 204 at once (HTTP/1.1 keep-alive, a thread per
connection) and appends "<received ms> <committed ms>" per request to a file, the second taken from the
row's created_ms (clock_timestamp() at insert), so the latency is insert -> webhook received."""
import http.server, json, sys, threading, time

port, log_path = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
log = open(log_path, "a", buffering=1 << 16)

class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        now = time.time() * 1000
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()
        created = json.loads(body)["data"]["created_ms"]
        with lock:
            log.write(f"{now:.3f} {created:.3f}\n")

    def do_GET(self):  # /flush: write out what arrived so far
        with lock:
            log.flush()
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(("127.0.0.1", port), Receiver).serve_forever()
