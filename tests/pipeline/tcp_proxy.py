"""A small TCP proxy for failure tests: forwards to a real server until told to cut connections.

``cut_after(n)``: once ``n`` more bytes have flowed from the server to clients, every open
connection is closed abruptly (what a client sees when the database host goes away mid-query).
``refuse()``: new connections are closed at once (the database is down). ``restore()`` undoes both.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port: int = self._listener.getsockname()[1]
        self.url = ""
        self._lock = threading.Lock()
        self._budget: int | None = None  # bytes server->client left before the cut
        self._refusing = False
        self._conns: list[tuple[socket.socket, socket.socket]] = []
        self._stopped = threading.Event()
        self.cuts = 0

    def start(self) -> None:
        threading.Thread(target=self._accept, daemon=True, name="tcp-proxy-accept").start()

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()
        self._close_all()

    def cut_after(self, n_bytes: int) -> None:
        with self._lock:
            self._budget = n_bytes

    def refuse(self) -> None:
        with self._lock:
            self._refusing = True
        self._close_all()

    def restore(self) -> None:
        with self._lock:
            self._budget = None
            self._refusing = False

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refusing = self._refusing
            if refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_server: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_server:
                    with self._lock:
                        if self._budget is not None:
                            if len(data) > self._budget:
                                data = data[: self._budget]
                                self._budget = 0
                                cut = True
                            else:
                                self._budget -= len(data)
                                cut = False
                        else:
                            cut = False
                    if data:
                        dst.sendall(data)
                    if cut:
                        self.cuts += 1
                        self._close_all()
                        return
                else:
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()

    def _close_all(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for client, upstream in conns:
            for s in (client, upstream):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
