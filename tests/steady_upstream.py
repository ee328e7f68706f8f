"""A stand-in of the Companion API whose latency does not move: ``python -m tests.steady_upstream MS COUNT``.

It answers the list and the session endpoints from bodies encoded once at start-up, after a fixed
``MS`` milliseconds, with so little work per request that its own CPU never shows in its latency.
Run as a child process (its port is the one line it prints), it measures the client's pacing: a
client busy with its own CPU must not read itself as a slow upstream.
"""

from __future__ import annotations

import asyncio
import json
import sys
from urllib.parse import parse_qsl, urlsplit

from session_mcp.simulator.data import generate_sessions

ANCHOR = 1_790_000_000
LIST_PATH = "/public/sessions"


def main() -> None:
    latency, count = int(sys.argv[1]) / 1000, int(sys.argv[2])
    sessions = sorted(generate_sessions(7, count, ANCHOR), key=lambda s: -(s.get("createdAt") or 0))
    details = {s["id"]: json.dumps(s).encode() for s in sessions}
    rows = [json.dumps({k: v for k, v in s.items() if k != "conversation"}) for s in sessions]

    def answer(target: str) -> tuple[str, bytes]:
        url = urlsplit(target)
        if url.path == LIST_PATH:
            query = dict(parse_qsl(url.query))
            size, index = int(query.get("pageSize", 10)), int(query.get("pageIndex", 0))
            items = ",".join(rows[index * size : (index + 1) * size])
            total = len(rows)
            counts = f'"pageIndex":{index},"pageSize":{size},"totalCount":{total},"filteredCount":{total}'
            page = f'{{"items":[{items}],{counts}}}'
            return "200 OK", page.encode()
        body = details.get(url.path.removeprefix(LIST_PATH + "/"))
        return ("200 OK", body) if body else ("404 Not Found", b'{"code":"SessionNotFound"}')

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request := await reader.readuntil(b"\r\n\r\n"):
                target = request.split(b" ", 2)[1].decode()
                await asyncio.sleep(latency)
                status, body = answer(target)
                head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
                writer.write(head.encode() + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def run() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        print(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
        await server.serve_forever()

    asyncio.run(run())


if __name__ == "__main__":
    main()
