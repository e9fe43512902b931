#!/usr/bin/env python3
"""An HTTP/1.1 server whose responses exercise an IDS's HTTP parser: gzip, deflate (zlib and
raw), chunked bodies with extensions and trailers, bodies delimited by the connection's close,
100-continue, redirects, cookies, HEAD, 204 and 304 without bodies, and HTTP/0.9. It serves
one connection at a time, keeps connections alive, and answers pipelined requests in order.

    edge-server.py PORT
"""
import socket
import sys
import zlib
import gzip

BODY = b"<html><body>" + b"Rampart edge case body. " * 40 + b"</body></html>\n"


def read_request(conn, buf):
    """Returns (head_lines, body, rest) or None at end of stream."""
    while True:
        # HTTP/0.9: a single request line without a protocol.
        line_end = buf.find(b"\n")
        if line_end >= 0:
            first = buf[:line_end].strip()
            if first and len(first.split()) == 2:
                return [first], b"", buf[line_end + 1:]
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        data = conn.recv(65536)
        if not data:
            return None
        buf += data
    head = buf[:end].split(b"\r\n")
    rest = buf[end + 4:]
    headers = {}
    for line in head[1:]:
        if b":" in line:
            k, v = line.split(b":", 1)
            headers[k.strip().lower()] = v.strip()
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        # Read chunks up to the last one and its (possibly empty) trailer.
        while True:
            body, pos = b"", 0
            while True:
                eol = rest.find(b"\r\n", pos)
                if eol < 0:
                    break
                size = int(rest[pos:eol].split(b";")[0], 16)
                if size == 0:
                    end = rest.find(b"\r\n\r\n", eol)
                    if end < 0 and rest[eol + 2:eol + 4] != b"\r\n":
                        break
                    done = eol + 4 if rest[eol + 2:eol + 4] == b"\r\n" else end + 4
                    return head, body, rest[done:]
                if len(rest) < eol + 2 + size + 2:
                    break
                body += rest[eol + 2:eol + 2 + size]
                pos = eol + 2 + size + 2
            data = conn.recv(65536)
            if not data:
                return head, body, b""
            rest += data
    length = int(headers.get(b"content-length", b"0") or 0)
    if headers.get(b"expect", b"").lower() == b"100-continue" and len(rest) < length:
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    while len(rest) < length:
        data = conn.recv(65536)
        if not data:
            break
        rest += data
    return head, rest[:length], rest[length:]


def respond(conn, head):
    parts = head[0].split()
    if len(parts) == 2:
        # HTTP/0.9: the body, then close.
        conn.sendall(BODY)
        return False
    method, target = parts[0], parts[1]
    path = target.split(b"?")[0]
    keep = True
    h = [b"Server: RampartEdge/1.0", b"Date: Tue, 08 Dec 2026 00:00:00 GMT"]
    status = b"200 OK"
    body = BODY
    if path == b"/gzip":
        body = gzip.compress(BODY, mtime=0)
        h += [b"Content-Type: text/html; charset=utf-8", b"Content-Encoding: gzip"]
    elif path == b"/deflate":
        body = zlib.compress(BODY)
        h += [b"Content-Type: text/html", b"Content-Encoding: deflate"]
    elif path == b"/rawdeflate":
        c = zlib.compressobj(wbits=-15)
        body = c.compress(BODY) + c.flush()
        h += [b"Content-Type: text/html", b"Content-Encoding: deflate"]
    elif path == b"/chunked":
        h += [b"Content-Type: text/plain", b"Transfer-Encoding: chunked", b"Trailer: X-Checksum"]
        head_bytes = b"HTTP/1.1 200 OK\r\n" + b"\r\n".join(h) + b"\r\n\r\n"
        chunks = b"1a;name=value\r\n" + BODY[:26] + b"\r\n" + (b"%x\r\n" % (len(BODY) - 26)) + BODY[26:] + b"\r\n"
        conn.sendall(head_bytes + chunks + b"0\r\nX-Checksum: 42\r\n\r\n")
        return True
    elif path == b"/gzipchunked":
        z = gzip.compress(BODY, mtime=0)
        h += [b"Content-Type: text/html", b"Content-Encoding: gzip", b"Transfer-Encoding: chunked"]
        head_bytes = b"HTTP/1.1 200 OK\r\n" + b"\r\n".join(h) + b"\r\n\r\n"
        half = len(z) // 2
        chunks = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, z[:half], len(z) - half, z[half:])
        conn.sendall(head_bytes + chunks)
        return True
    elif path == b"/close":
        h += [b"Content-Type: text/plain", b"Connection: close"]
        conn.sendall(b"HTTP/1.1 200 OK\r\n" + b"\r\n".join(h) + b"\r\n\r\n" + BODY)
        return False
    elif path == b"/redirect":
        status = b"302 Found"
        body = b""
        h += [b"Location: http://edge.rampart.test/landing", b"Content-Length: 0"]
        conn.sendall(b"HTTP/1.1 " + status + b"\r\n" + b"\r\n".join(h) + b"\r\n\r\n")
        return True
    elif path == b"/nocontent":
        conn.sendall(b"HTTP/1.1 204 No Content\r\n" + b"\r\n".join(h) + b"\r\n\r\n")
        return True
    elif path == b"/notmodified":
        conn.sendall(b"HTTP/1.1 304 Not Modified\r\n" + b"\r\n".join(h) + b"\r\nETag: \"x\"\r\n\r\n")
        return True
    else:
        h += [b"Content-Type: text/html", b"Set-Cookie: session=abc123; Path=/"]
    h.append(b"Content-Length: %d" % len(body))
    out = b"HTTP/1.1 " + status + b"\r\n" + b"\r\n".join(h) + b"\r\n\r\n"
    if method != b"HEAD":
        out += body
    conn.sendall(out)
    return keep


def main():
    port = int(sys.argv[1])
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(8)
    print("listening", flush=True)
    while True:
        conn, _ = srv.accept()
        buf = b""
        try:
            while True:
                req = read_request(conn, buf)
                if req is None:
                    break
                head, _body, buf = req
                if len(head[0].split()) < 2 or not respond(conn, head):
                    break
        except OSError:
            pass
        conn.close()


main()
