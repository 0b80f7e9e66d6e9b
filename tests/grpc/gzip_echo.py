#!/usr/bin/python3
"""gzip_echo.py [--listen HOST:PORT]: aurigraph.test.GzipEchoService
(tests/proto/echo.proto) on Python's grpcio (gRPC C core underneath), a
server that compresses every reply with gzip when the client accepts it,
which a grpc-js server cannot do. It does not parse requests: Unary answers
with the request's bytes (an EchoRequest holding only a payload reads as an
EchoReply with that payload), ServerStream with them REPLIES times; grpc.health.v1.Health/Check answers
SERVING (the gateway health-checks its targets). Prints
"gzip-echo listening on HOST:PORT"; stops on SIGTERM/SIGINT."""
import signal
import sys
import threading
from concurrent import futures

import grpc

REPLIES = 4
LIMIT = 64 << 20


def unary(request, context):
    return request


def server_stream(request, context):
    for _ in range(REPLIES):
        yield request


def health_check(request, context):
    return b"\x08\x01"  # HealthCheckResponse{status: SERVING}


def main():
    listen = "127.0.0.1:0"
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "--listen":
        listen = args[1]
    elif args:
        sys.exit("usage: gzip_echo.py [--listen HOST:PORT]")
    handlers = grpc.method_handlers_generic_handler("aurigraph.test.GzipEchoService", {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
    })
    health = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": grpc.unary_unary_rpc_method_handler(health_check),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[handlers, health],
                         compression=grpc.Compression.Gzip,
                         options=[("grpc.max_receive_message_length", LIMIT),
                                  ("grpc.max_send_message_length", LIMIT)])
    port = server.add_insecure_port(listen)
    if port == 0:
        sys.exit(f"gzip-echo: cannot listen on {listen}")
    server.start()
    print(f"gzip-echo listening on {listen.rsplit(':', 1)[0]}:{port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=1).wait()


if __name__ == "__main__":
    main()
