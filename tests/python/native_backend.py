"""A native WebSocket backend (spec §7.1) for tests: the `websockets` library's threaded server,
answering the handshake with the `grip` extension when asked to, and recording each handshake's
request headers."""

import threading

from websockets.sync.server import serve

from gripway_proc import free_port


class NativeBackend:
    """`handler(connection)` runs per connection (the `websockets` sync API); `extension` is the
    `Sec-WebSocket-Extensions` value the 101 carries (None: no extension); `process_request`
    may refuse a handshake (the `websockets` hook); a context manager."""

    def __init__(self, handler, extension=None, process_request=None):
        self.handler = handler
        self.extension = extension
        self.process_request = process_request
        self.port = free_port()
        self.handshakes = []
        self._server = None
        self._thread = None

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def _process_response(self, connection, request, response):
        self.handshakes.append(request.headers)
        if self.extension is not None:
            response.headers["Sec-WebSocket-Extensions"] = self.extension
        return None

    def __enter__(self):
        self._server = serve(
            self.handler,
            "127.0.0.1",
            self.port,
            process_request=self.process_request,
            process_response=self._process_response,
            compression=None,
            ping_interval=None,
            close_timeout=2,
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._thread.join(timeout=5)
