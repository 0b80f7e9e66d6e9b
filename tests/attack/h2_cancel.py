#!/usr/bin/env python3
"""h2_cancel.py HOST PORT PATH N [BODY]: opens one HTTP/2 (prior knowledge)
connection, starts N requests for PATH (a POST with BODY when given, else a
GET), each with x-canary: always, waits HOLD_S seconds (0.3) while the
calls are under way, then resets every stream (RST_STREAM CANCEL) and
closes.

No HTTP/2 library: the frames are few and simple (HPACK literals without
indexing, no Huffman), and this way the test needs nothing beyond python3.
Prints the number of streams reset."""
import os
import socket
import struct
import sys
import time

host, port, path, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
body = sys.argv[5].encode() if len(sys.argv) > 5 else None


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def literal(name, value):
    # literal header field without indexing, new name; lengths under 127
    name, value = name.encode(), value.encode()
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def headers(method):
    h = literal(":method", method) + literal(":scheme", "http") + literal(":path", path)
    h += literal(":authority", "%s:%d" % (host, port)) + literal("x-canary", "always")
    if body is not None:
        h += literal("content-type", "application/json")
    return h


s = socket.create_connection((host, port), timeout=5)
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0))
streams = [1 + 2 * i for i in range(n)]
out = b""
for sid in streams:
    if body is None:
        out += frame(1, 0x5, sid, headers("GET"))  # END_HEADERS | END_STREAM
    else:
        out += frame(1, 0x4, sid, headers("POST")) + frame(0, 0x1, sid, body)
s.sendall(out)
# read (and acknowledge SETTINGS) for a while: the calls are under way upstream
s.settimeout(0.05)
deadline = time.time() + float(os.environ.get("HOLD_S", "0.3"))
buf = b""
while time.time() < deadline:
    try:
        data = s.recv(65536)
        if not data:
            break
        buf += data
    except socket.timeout:
        continue
    while len(buf) >= 9:
        length = int.from_bytes(buf[:3], "big")
        if len(buf) < 9 + length:
            break
        kind, flags = buf[3], buf[4]
        if kind == 4 and not flags & 1:
            s.sendall(frame(4, 1, 0))
        buf = buf[9 + length:]
s.sendall(b"".join(frame(3, 0, sid, struct.pack(">I", 8)) for sid in streams))  # RST_STREAM CANCEL
time.sleep(0.2)
s.close()
print(len(streams))
