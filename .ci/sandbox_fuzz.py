#!/usr/bin/env python3
"""Runs schemathesis against each vendor's sandbox binary with the vendor's spec.

For each vendor: start `brokerkit-mock <vendor>` on a free loopback port, log in the way the
vendor does to get credentials, run a bounded number of generated cases, and fail if any
response breaks the spec (undocumented status or content type, body not matching its schema,
or a 5xx). Usage: sandbox_fuzz.py MOCK_BINARY [VENDOR...]
"""
import json
import socket
import subprocess
import sys
import time
import urllib.request

MAX_EXAMPLES = "25"
CHECKS = "response_schema_conformance,status_code_conformance,content_type_conformance,not_a_server_error"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else b""
    req = urllib.request.Request(url, data=data, method="POST", headers={"content-type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def tradelocker(base):
    t = post(f"{base}/auth/jwt/token", {"email": "trader@example.com", "password": "demo-password", "server": "OSP-DEMO"})
    return {"Authorization": f"Bearer {t['accessToken']}", "accNum": "1"}


def traderevolution(base):
    t = post(f"{base}/auth/token", {"login": "trader01", "password": "trader-pass"})
    return {"Authorization": f"Bearer {t['accessToken']}"}


def slate(base):
    t = post(f"{base}/customers/login", {"email": "trader@example.com", "password": "correct horse"})
    return {"Authorization": f"Bearer {t['access_token']}"}


def autoshares(base):
    key = {"Et-App-Key": "sandbox-app-key"}
    t = post(f"{base}/token", None, {**key, "Username": "trader", "Password": "trader-pass"})
    return {**key, "Authorization": f"Bearer {t['Token']}"}


LOGIN = {"tradelocker": tradelocker, "traderevolution": traderevolution, "slate": slate, "autoshares": autoshares}


def run(binary, vendor):
    port = free_port()
    proc = subprocess.Popen([binary, vendor, "--port", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        if "listening on" not in line:
            print(f"{vendor}: sandbox did not start: {line!r}")
            return 1
        base = line.rsplit(" ", 1)[1].strip()
        headers = LOGIN[vendor](base)
        args = ["st", "run", f"specs/{vendor}.yaml", "--url", base, "--checks", CHECKS, "-n", MAX_EXAMPLES,
                "--generation-deterministic", "--request-timeout", "10"]
        for name, value in headers.items():
            args += ["-H", f"{name}: {value}"]
        started = time.time()
        result = subprocess.run(args, capture_output=True, text=True)
        summary = [l for l in result.stdout.splitlines() if "generated" in l and "passed" in l or "failures" in l]
        print(f"{vendor}: exit {result.returncode} in {time.time() - started:.1f}s; {' | '.join(s.strip() for s in summary)}")
        if result.returncode != 0:
            print(result.stdout[-6000:])
        return result.returncode
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main():
    binary, vendors = sys.argv[1], sys.argv[2:] or list(LOGIN)
    failed = [v for v in vendors if run(binary, v) != 0]
    if failed:
        print(f"schemathesis found responses that break the spec: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
