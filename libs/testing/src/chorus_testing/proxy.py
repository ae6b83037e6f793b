"""A TCP proxy that fault tests put between services and a server, to cut the network on demand.

It runs its own event loop in a thread, so that it keeps forwarding while a test blocks or sleeps.
`cut()` resets every open connection; `refuse(True)` also refuses new ones until `refuse(False)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, listen_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self.port = 0
        self.connections_accepted = 0
        self.connections_cut = 0
        self._refusing = False
        self._open: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)

    def start(self) -> TcpProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def cut(self) -> int:
        """Reset every open connection (both ends); returns how many were cut."""
        return asyncio.run_coroutine_threadsafe(self._cut(), self._loop).result(timeout=10)

    def refuse(self, refusing: bool) -> None:
        """While refusing, connections are accepted and closed at once, as by a broken link."""
        self._refusing = refusing

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.listen_host, 0, family=socket.AF_INET)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._cut()

    async def _cut(self) -> int:
        writers = list(self._open)
        for writer in writers:
            transport = writer.transport
            if isinstance(transport, asyncio.Transport):
                transport.abort()  # RST, as when a link goes down mid-stream
        self._open.clear()
        self.connections_cut += len(writers) // 2
        return len(writers) // 2

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            client_writer.transport.abort()
            return
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self.connections_accepted += 1
        self._open.update((client_writer, server_writer))
        await asyncio.gather(
            self._pump(client_reader, server_writer),
            self._pump(server_reader, client_writer),
        )
        self._open.discard(client_writer)
        self._open.discard(server_writer)

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()
