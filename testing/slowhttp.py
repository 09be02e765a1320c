"""A stand-in that answers slowly: the status line, then one header byte at a time (a
per-read socket timeout never trips on it; only a deadline over the whole exchange does). ``completed``
counts the answers it got to send whole: a client that keeps to its deadline leaves it at 0 (it is
cut off, and ``close`` stops whatever is still dripping), one that waits for the headers does not."""

from __future__ import annotations

import socket
import threading


class SlowHeaders:
    """Accepts, then sends a status line and one header byte at a time; records whether it got to
    send a whole response (it stops as soon as the client has gone)."""

    def __init__(self, drip: float = 0.02, count: int = 60) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.drip, self.count = drip, count
        self.completed = 0
        self.stopped = threading.Event()
        self.handlers: list[threading.Thread] = []
        self.sock.settimeout(0.05)  # accept() wakes up to see ``stopped``: close() waits for it, so the
        self.thread = threading.Thread(target=self._serve, daemon=True)  # fd is never reused under it
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            handler = threading.Thread(target=self._one, args=(conn,), daemon=True)
            self.handlers.append(handler)
            handler.start()

    def _one(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\n")
            for _ in range(self.count):
                if self.stopped.wait(self.drip):
                    return
                conn.sendall(b"X")
            conn.sendall(b": y\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            self.completed += 1
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        """Stop: a connection still dripping ends where it is (not completed); ``completed`` is final
        once this returns. A client that waited for the whole answer has made it complete already."""
        self.stopped.set()
        self.thread.join()
        for handler in self.handlers:
            handler.join()
        self.sock.close()
