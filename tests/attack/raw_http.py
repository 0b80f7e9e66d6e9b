#!/usr/bin/env python3
"""raw_http.py PORT SECONDS < REQUEST-BYTES: one connection to 127.0.0.1:PORT,
the bytes of stdin sent in one write, then read until the server closes or
SECONDS pass. Prints one JSON object: the responses as read in order
(status, content-type, connection, body), "closed" (the server closed its
side within SECONDS) and "seconds" (how long that took), for the attack
tests to check with jq. Responses are split by their Content-Length; one
without it runs to the close."""
import json
import socket
import sys
import time


def split_responses(data):
    out = []
    while data:
        head_end = data.find(b"\r\n\r\n")
        if head_end < 0 or not data.startswith(b"HTTP/1."):
            out.append({"status": None, "junk": data[:200].decode("latin-1")})
            break
        lines = data[:head_end].decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        rest = data[head_end + 4:]
        if "content-length" in headers:
            n = int(headers["content-length"])
            body, data = rest[:n], rest[n:]
        elif status in (100, 204, 304):
            body, data = b"", rest
        else:
            body, data = rest, b""
        out.append({"status": status, "content_type": headers.get("content-type"),
                    "connection": headers.get("connection"), "body": body.decode("latin-1")})
    return out


def main():
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    request = sys.stdin.buffer.read()
    start = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=seconds)
    s.sendall(request)
    data, closed = b"", False
    deadline = start + seconds
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    s.close()
    print(json.dumps({"responses": split_responses(data), "closed": closed,
                      "seconds": round(time.monotonic() - start, 3)}))


main()
