"""bench/delaylink.py — a TCP link with a fixed one-way delay, for measuring mcdc against a target
that is far away (a standby in another region) on one machine.

Every byte is forwarded in order, `delay_ms` after it arrived, in both directions; bandwidth is not
limited, so a client that keeps several calls in flight pays the delay once per round trip, and a
client that waits for each reply pays it per call. Listens on 127.0.0.1 only.

    link = DelayLink("127.0.0.1:19540", delay_ms=25); link.start(); ... link.address ...; link.stop()
"""
import asyncio
import threading
import time


class DelayLink:
    def __init__(self, upstream: str, delay_ms: float):
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.delay = delay_ms / 1000.0
        self.address = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server = None

    def start(self):
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("delay link did not start")
        return self

    def stop(self):
        async def close():
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self):
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._accept, "127.0.0.1", 0))
        self.address = "127.0.0.1:%d" % self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _accept(self, creader, cwriter):
        # stop() cancels every connection; a cancelled or reset connection just ends.
        uwriter = None
        try:
            ureader, uwriter = await asyncio.open_connection(*self.upstream)
            await asyncio.gather(self._pipe(creader, uwriter), self._pipe(ureader, cwriter))
        except (asyncio.CancelledError, OSError):
            pass
        finally:
            cwriter.close()
            if uwriter:
                uwriter.close()

    async def _pipe(self, reader, writer):
        queue = asyncio.Queue()

        async def deliver():
            while True:
                due, data = await queue.get()
                if data is None:
                    break
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
            writer.close()

        sender = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await reader.read(1 << 16)
                if not data:
                    break
                queue.put_nowait((time.monotonic() + self.delay, data))
        finally:
            queue.put_nowait((0, None))
            await sender
