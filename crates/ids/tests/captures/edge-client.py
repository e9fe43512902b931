#!/usr/bin/env python3
"""Raw HTTP requests that a normal client would not send: pipelining, HTTP/0.9, folded and
repeated headers, URIs that need normalising, a chunked request body, a request with
100-continue. Each scenario is one TCP connection to HOST:PORT.

    edge-client.py HOST PORT
"""
import socket
import sys
import time

HOST, PORT = sys.argv[1], int(sys.argv[2])


def exchange(payloads, pause=0.05, read_until_close=False):
    s = socket.create_connection((HOST, PORT), timeout=5)
    for p in payloads:
        s.sendall(p)
        time.sleep(pause)
    s.shutdown(socket.SHUT_WR)
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except socket.timeout:
        pass
    s.close()
    return data


# Pipelined: three requests in one segment, answered in order.
exchange([
    b"GET /one HTTP/1.1\r\nHost: edge.rampart.test\r\nUser-Agent: Pipeliner/1\r\n\r\n"
    b"GET /gzip HTTP/1.1\r\nHost: edge.rampart.test\r\nUser-Agent: Pipeliner/1\r\n\r\n"
    b"HEAD /three HTTP/1.1\r\nHost: edge.rampart.test\r\nUser-Agent: Pipeliner/1\r\n\r\n"
])

# HTTP/0.9.
exchange([b"GET /simple\r\n"])

# Folded, repeated, odd headers; a URI that normalises; a cookie and referer.
exchange([
    b"GET /a/./b/../C%2fd//e%u0041\\f?x=%41+1&y=%u0042#frag HTTP/1.1\r\n"
    b"Host: EDGE.Rampart.Test.\r\n"
    b"User-Agent: Folded/1.0\r\n"
    b"X-Folded: first\r\n"
    b"  second\r\n"
    b"\tthird\r\n"
    b"X-Repeat: one\r\n"
    b"x-repeat: two\r\n"
    b"Cookie: a=1; b=2\r\n"
    b"Referer: http://ref.rampart.test/page\r\n"
    b"X-Trailing-Space: value   \r\n"
    b"\r\n"
])

# Absolute URI (as to a proxy), with a port.
exchange([
    b"GET http://Proxy.Rampart.Test:8081/abs/path?q=1 HTTP/1.1\r\n"
    b"Host: ignored.rampart.test\r\n\r\n"
])

# Chunked request body with an extension and a trailer.
exchange([
    b"POST /upload HTTP/1.1\r\nHost: edge.rampart.test\r\nContent-Type: application/octet-stream\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n",
    b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n",
])

# Split across many small segments, one byte at a time for the request line.
req = b"GET /slow HTTP/1.1\r\nHost: edge.rampart.test\r\n\r\n"
exchange([req[i:i + 1] for i in range(20)] + [req[20:]], pause=0.01)

# Bodies with content-length, 204/304 without bodies, a redirect, a close-delimited response.
exchange([
    b"GET /nocontent HTTP/1.1\r\nHost: edge.rampart.test\r\n\r\n"
    b"GET /notmodified HTTP/1.1\r\nHost: edge.rampart.test\r\n\r\n"
    b"GET /redirect HTTP/1.1\r\nHost: edge.rampart.test\r\n\r\n"
    b"GET /close HTTP/1.1\r\nHost: edge.rampart.test\r\n\r\n"
])
