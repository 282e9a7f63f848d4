#!/usr/bin/env python3
"""Runs a Lambda bootstrap binary against a local Lambda Runtime API and reports cold start.

usage: scripts/lambda-emulate.py BINARY EVENT.json...

Starts BINARY with AWS_LAMBDA_RUNTIME_API pointing at this script's server (127.0.0.1), measures
the time from process start to its first `GET /runtime/invocation/next` (ready for the first
event), then delivers each event file as one invocation and prints the function's response.
Repeats the start 20 times for the cold-start figure (median, min, max).
"""

import http.server
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time

PREFIX = "/2018-06-01/runtime/invocation"


class Runtime(http.server.ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.ready_at = None
        self.events = queue.Queue()
        self.responses = queue.Queue()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path != PREFIX + "/next":
            self.send_error(404)
            return
        if self.server.ready_at is None:
            self.server.ready_at = time.perf_counter()
        request_id, body = self.server.events.get()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60000))
        self.send_header(
            "Lambda-Runtime-Invoked-Function-Arn",
            "arn:aws:lambda:us-east-1:123456789012:function:stream-handler",
        )
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        kind = "response" if self.path.endswith("/response") else "error"
        self.server.responses.put((kind, body.decode()))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


def start(binary, server):
    env = dict(os.environ)
    env.update(
        AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}",
        AWS_LAMBDA_FUNCTION_NAME="stream-handler",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_LOG_FORMAT="JSON",
        RUST_LOG="warn",
    )
    env.pop("MIRROR_URL", None)
    env.pop("MIRROR_SECRET_ARN", None)
    server.ready_at = None
    # A fresh queue: requests still parked by a killed process keep waiting on the old one.
    server.events = queue.Queue()
    t0 = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, t0


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, events = sys.argv[1], sys.argv[2:]
    server = Runtime()
    threading.Thread(target=server.serve_forever, daemon=True).start()

    # Cold starts: process start to the first /next request.
    starts = []
    for _ in range(20):
        proc, t0 = start(binary, server)
        while server.ready_at is None:
            if proc.poll() is not None:
                print("the binary exited before asking for an event", file=sys.stderr)
                return 1
            time.sleep(0.0002)
        starts.append((server.ready_at - t0) * 1000)
        proc.kill()
        proc.wait()
    print(
        "cold start (process start -> ready for the first event), 20 runs: "
        f"median {statistics.median(starts):.1f} ms, min {min(starts):.1f} ms, max {max(starts):.1f} ms"
    )

    # One warm process, each event file as one invocation.
    proc, _ = start(binary, server)
    status = 0
    for i, path in enumerate(events):
        with open(path, "rb") as f:
            server.events.put((f"req-{i}", f.read()))
        kind, body = server.responses.get(timeout=30)
        if kind == "response":
            print(f"{path}: response: {json.dumps(json.loads(body), separators=(',', ':'))}")
        else:
            print(f"{path}: invocation error: {body}")
    proc.kill()
    proc.wait()
    return status


if __name__ == "__main__":
    sys.exit(main())
