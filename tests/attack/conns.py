#!/usr/bin/env python3
"""conns.py PORT CASE: a connection flood against the gateway on 127.0.0.1:PORT,
one case of conn_limit_test.sh (the gateway runs with connections.max
MAX, probe_reserve RESERVE, max_per_client PER as the environment says).
Prints KEY=VALUE lines for the test to check. Every socket has a timeout,
every loop a bound.

  idle:     MAX keep-alive connections, each idle after one answer; then
            MAX/2 new clients: each is answered, as idle ones are shed
  busy:     MAX connections each in the middle of a request (nothing to
            shed): a new one may still ask /q/health (200, then closed),
            anything else is a 503; past the reserve new ones are refused;
            the reserve's connections are gone after 1 s (io_uring; FRONT=h2o
            leaves that out)
  client:   PER connections from 127.0.0.1, then one more (refused); one
            from 127.0.0.2 is answered
  flood:    FLOOD connections in the middle of a request, more than the
            gateway's open-files limit allows (the default cap, 90% of it,
            must hold accept off EMFILE); then a probe is still answered
"""
import os
import socket
import sys
import time

port, case = int(sys.argv[1]), sys.argv[2]
MAX = int(os.environ.get("MAX", "40"))
RESERVE = int(os.environ.get("RESERVE", "4"))
PER = int(os.environ.get("PER", "10"))


def connect(src="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def request(s, path):
    s.sendall(("GET %s HTTP/1.1\r\nHost: gw\r\n\r\n" % path).encode())


def answer(s):
    """The status of one response (reading to its end), or 0 when the
    connection closed (or reset) first."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                return 0
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ")[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return status
    except (ConnectionResetError, socket.timeout, BrokenPipeError):
        return 0


def closed_by_server(s, wait=0.5):
    s.settimeout(wait)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def out(k, v):
    print("%s=%s" % (k, v), flush=True)


if case == "idle":
    held = []
    ok = 0
    for _ in range(MAX):
        s = connect()
        request(s, "/q/health/live")
        ok += answer(s) == 200
        held.append(s)
    out("first_answered", ok)
    time.sleep(0.2)
    newer = 0
    extra = []
    for _ in range(MAX // 2):
        s = connect()
        request(s, "/q/health/live")
        newer += answer(s) == 200
        extra.append(s)
    out("new_answered", newer)
    out("idle_shed", sum(closed_by_server(s, 0.2) for s in held))
elif case == "busy":
    held = []
    for _ in range(MAX):
        s = connect()
        s.sendall(b"GET /q/health/live HTTP/1.1\r\nHost: gw\r\n")  # the rest never comes
        held.append(s)
    time.sleep(0.3)
    s = connect()
    request(s, "/q/health/ready")
    out("probe_status", answer(s))
    out("probe_closed_after", int(closed_by_server(s)))
    s.close()
    s = connect()
    request(s, "/api/v11/transactions/stats")
    out("api_status", answer(s))
    s.close()
    time.sleep(0.1)
    # the reserve, held idle; the next one has no room
    reserve = [connect() for _ in range(RESERVE)]
    time.sleep(0.2)
    s = connect()
    request(s, "/q/health/ready")
    out("past_reserve_status", answer(s))
    s.close()
    out("busy_still_open", sum(not closed_by_server(h, 0.01) for h in held))
    if os.environ.get("FRONT") != "h2o":
        # a reserve connection that says nothing is closed within about 1 s
        # (io_uring's; h2o's own idle timeout applies to its connections)
        t0 = time.time()
        out("reserve_closed", sum(closed_by_server(r, 2.5) for r in reserve))
        out("reserve_closed_ms", int((time.time() - t0) * 1000))
        s = connect()
        request(s, "/q/health/ready")
        out("probe_again_status", answer(s))
elif case == "flood":
    held, failed = [], 0
    for _ in range(int(os.environ.get("FLOOD", "300"))):
        try:
            s = connect()
            s.sendall(b"GET /q/health/live HTTP/1.1\r\nHost: gw\r\n")
            held.append(s)
        except OSError:
            failed += 1
    out("flood_connect_failed", failed)
    time.sleep(1.2)  # past the reserve's 1 s: its slots are free again for probes
    open_now = sum(not closed_by_server(h, 0.01) for h in held)
    out("flood_held_open", open_now)
    t0 = time.time()
    s = connect()
    request(s, "/q/health/ready")
    out("flood_probe_status", answer(s))
    out("flood_probe_ms", int((time.time() - t0) * 1000))
elif case == "client":
    held = []
    ok = 0
    for _ in range(PER):
        s = connect()
        request(s, "/q/health/live")
        ok += answer(s) == 200
        held.append(s)
    out("client_answered", ok)
    s = connect()
    request(s, "/q/health/live")
    out("one_more_status", answer(s))
    s = connect("127.0.0.2")
    request(s, "/q/health/ready")
    out("other_client_status", answer(s))
    for h in held[:1]:
        h.close()
    time.sleep(0.2)
    s = connect()
    request(s, "/q/health/live")
    out("after_one_left_status", answer(s))
