"""Run a harness CLI with no network beyond loopback, enforced by the kernel.

The command runs in a fresh network namespace (``unshare --net --map-root-user``: a user namespace,
so no privilege is needed), where only its own loopback interface exists. Chosen loopback ports
of the host (the LiteLLM proxy) are bridged in through Unix sockets, which a network namespace
does not separate::

    harness -> 127.0.0.1:PORT (in the namespace) -> Unix socket -> 127.0.0.1:PORT (host) -> LiteLLM

Anything else (DNS, a registry, telemetry endpoints) fails at once with "network unreachable".

Host side: :class:`UnixBridge` (one per bridged port, threads in the test process).
Namespace side: ``python harness_sandbox.py --forward PORT=SOCKET ... -- COMMAND...`` brings the
loopback interface up, listens on each PORT and runs COMMAND, exiting with its status.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_CHUNK = 65536


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    """Copy src -> dst until EOF, then half-close dst so the peer sees the end of the stream."""
    try:
        while data := src.recv(_CHUNK):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def _splice(a: socket.socket, b: socket.socket) -> None:
    """Both directions between two connected sockets; closes both when both directions ended."""
    back = threading.Thread(target=_pipe, args=(b, a), daemon=True)
    back.start()
    _pipe(a, b)
    back.join()
    a.close()
    b.close()


class _Listener:
    """Accept connections on ``server`` and splice each with a new connection from ``connect()``."""

    def __init__(self, server: socket.socket, connect) -> None:
        self.server = server
        self.connect = connect
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return  # closed
            try:
                upstream = self.connect()
            except OSError:
                client.close()
                continue
            threading.Thread(target=_splice, args=(client, upstream), daemon=True).start()


class UnixBridge:
    """Host side: a Unix socket whose connections are forwarded to ``127.0.0.1:port``."""

    def __init__(self, path: Path, port: int) -> None:
        self.path, self.port = path, port
        self._server: socket.socket | None = None

    def __enter__(self) -> UnixBridge:
        self.path.unlink(missing_ok=True)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(self.path))
        server.listen(64)
        self._server = server
        _Listener(
            server, lambda: socket.create_connection(("127.0.0.1", self.port), timeout=30)
        ).thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
        self.path.unlink(missing_ok=True)


def netns_available() -> bool:
    """Whether this machine lets an unprivileged process create user + network namespaces."""
    try:
        done = subprocess.run(
            ["unshare", "--net", "--map-root-user", "true"], capture_output=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def sandboxed(command: list[str], forwards: dict[int, Path]) -> list[str]:
    """``command`` wrapped to run in a new network namespace with ``forwards`` bridged in."""
    spec = [f"--forward={port}={path}" for port, path in forwards.items()]
    return ["unshare", "--net", "--map-root-user", sys.executable, __file__, *spec, "--", *command]


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | _IFF_UP))


def _unix_connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="inside the namespace: forward ports, run the command")
    parser.add_argument("--forward", action="append", default=[], metavar="PORT=SOCKET")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    _loopback_up()
    for spec in args.forward:
        port, _, path = spec.partition("=")
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", int(port)))
        server.listen(64)
        _Listener(server, lambda path=path: _unix_connect(path)).thread.start()
    # the command inherits stdin/stdout/stderr; its status is ours
    try:
        return subprocess.run(command).returncode
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
