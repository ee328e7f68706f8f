"""A TLS-terminating reverse proxy from the standard library, to try a deployment on one machine.

    python docs/examples/tls_proxy.py CERT KEY LISTEN_PORT UPSTREAM_PORT

It forwards every request to http://127.0.0.1:UPSTREAM_PORT unchanged (headers included, so the
bearer token and X-Napster-Api-Key pass), adds X-Forwarded-For/-Proto, and streams the answer back
(Server-Sent Events included). For trying things only: in production use nginx, Caddy, or your
platform's load balancer (docs/deployment.md shows an nginx block).
"""

from __future__ import annotations

import http.client
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class Proxy(BaseHTTPRequestHandler):
    upstream_port = 8000

    def forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers |= {"X-Forwarded-For": self.client_address[0], "X-Forwarded-Proto": "https"}
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=300)
        upstream.request(self.command, self.path, body=body or None, headers=headers)
        answer = upstream.getresponse()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in HOP_BY_HOP | {"content-length"}:
                self.send_header(key, value)
        self.send_header("Connection", "close")  # the body streams until the upstream ends it
        self.end_headers()
        while chunk := answer.read1(65_536):
            self.wfile.write(chunk)
            self.wfile.flush()
        upstream.close()
        self.close_connection = True

    do_GET = do_POST = do_DELETE = forward


if __name__ == "__main__":
    cert, key, port, Proxy.upstream_port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", port), Proxy)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"https://127.0.0.1:{port} -> http://127.0.0.1:{Proxy.upstream_port}", file=sys.stderr)
    server.serve_forever()
