#!/usr/bin/env python3
"""Two keep-alive HTTP/1.1 connections to a server that is about to drain, for Tests/CLITests/DrainTests.

Standard library only. Connection A sends GET /healthz every 200 ms on one socket until the server
answers `Connection: close` or closes it; connection B sends one request and then stays idle until
the server closes it. Stops after --seconds. Prints one JSON object: A's statuses, whether an answer
said `Connection: close`, whether each connection was closed by the server, and any error.
"""
import argparse
import json
import socket
import threading
import time


def request(sock, host):
    sock.sendall(("GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return None, {}
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk
    return status, headers


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    host = "127.0.0.1:%d" % args.port
    result = {"statuses": [], "saw_connection_close": False, "busy_closed_by_server": False,
              "idle_closed_by_server": False, "errors": []}
    deadline = time.monotonic() + args.seconds
    ready = threading.Event()

    def idle():
        sock = socket.create_connection(("127.0.0.1", args.port))
        try:
            request(sock, host)
            ready.set()
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            if sock.recv(1) == b"":
                result["idle_closed_by_server"] = True
        except OSError as error:
            result["errors"].append("idle: %s" % error)
        finally:
            ready.set()
            sock.close()

    thread = threading.Thread(target=idle)
    thread.start()
    ready.wait(5)
    sock = socket.create_connection(("127.0.0.1", args.port))
    print("connected", flush=True)
    try:
        while time.monotonic() < deadline:
            status, headers = request(sock, host)
            if status is None:
                result["busy_closed_by_server"] = True
                break
            result["statuses"].append(status)
            if headers.get("connection", "").lower() == "close":
                result["saw_connection_close"] = True
                result["busy_closed_by_server"] = sock.recv(1) == b""
                break
            time.sleep(0.2)
    except OSError as error:
        result["errors"].append("busy: %s" % error)
    sock.close()
    thread.join()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
