"""The only module that talks HTTP to providers (credential validation, admin APIs).

It never follows a redirect (a 3xx is returned as it is, so a credential is never re-sent to another
origin or over a downgraded scheme), bounds the whole exchange by one deadline (a server that drips a
byte every few seconds cannot hold a run, or the repository lock, for longer), and reads at most
``max_bytes`` of a body; msal's requests come through ``MsalHttp``. Which hosts a credential may be
sent to is the caller's policy (``gateway/validate.py``); this module only carries the request out.
Nothing here logs a header or a body: both may hold a credential.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlencode, urlsplit

from aigw_secrets.errors import AigwError, ConfigError, ExitCode

if TYPE_CHECKING:
    import http.client

DEFAULT_DEADLINE = 20.0  # seconds, connect + send + whole response
DEFAULT_MAX_BYTES = 1024 * 1024


class Response(NamedTuple):
    status: int  # 0: no answer (connection refused, timeout, TLS failure)
    body: bytes
    headers: Mapping[str, str]
    reason: str = ""  # why there was no answer, for messages (never a header or body)

    def __repr__(self) -> str:
        return f"Response(status={self.status}, body=<{len(self.body)} bytes>)"


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    deadline: float = DEFAULT_DEADLINE,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Response:
    """One HTTP(S) exchange within ``deadline`` seconds; never raises for network trouble."""
    import http.client
    import ssl

    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"{url!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise ConfigError("a URL must not carry credentials")
    end = time.monotonic() + deadline

    def remaining() -> float:
        left = end - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline")
        return left

    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"{url!r} has an invalid port") from None
    conn: http.client.HTTPConnection = (
        http.client.HTTPSConnection(parts.hostname, port, timeout=remaining(), context=ssl.create_default_context())
        if parts.scheme == "https"
        else http.client.HTTPConnection(parts.hostname, port, timeout=remaining())
    )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # A socket timeout bounds one read, not the exchange: a server that sends its status line and
    # headers a byte at a time would never trip it. A watchdog shuts the socket down at the deadline,
    # whatever phase (TLS handshake, headers, body) the exchange is in.
    expired = threading.Event()

    def _expire() -> None:
        expired.set()
        sock = conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(max(0.0, end - time.monotonic()), _expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.request(method, target, body=body, headers=dict(headers or {}))
        # Kept here: getresponse() drops conn.sock when the server closes after the answer
        # (HTTP/1.0), but the body is still read from this socket and must stay under the deadline.
        sock = conn.sock
        if sock is not None:
            sock.settimeout(remaining())
        res = conn.getresponse()
        content = _read_body(res, sock, remaining, max_bytes)
        if expired.is_set():  # cut off at the deadline: what was read is not the whole answer
            raise TimeoutError("deadline")
        return Response(res.status, content, {k.lower(): v for k, v in res.getheaders()})
    except TimeoutError:
        return Response(0, b"", {}, f"no complete answer within {deadline:g}s")
    except (OSError, http.client.HTTPException) as exc:
        if expired.is_set():
            return Response(0, b"", {}, f"no complete answer within {deadline:g}s")
        return Response(0, b"", {}, type(exc).__name__)
    finally:
        watchdog.cancel()
        conn.close()


def _read_body(
    res: http.client.HTTPResponse, sock: socket.socket | None, remaining: Callable[[], float], max_bytes: int
) -> bytes:
    """At most ``max_bytes`` of the body, each read under what is left of the deadline."""
    chunks: list[bytes] = []
    size = 0
    while size < max_bytes:
        left = remaining()  # checked before every read: a byte every few seconds still ends here
        if sock is not None:
            sock.settimeout(left)
        chunk = res.read1(min(65536, max_bytes - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class HttpError(AigwError):
    """An HTTP answer a client library asked us to raise for (msal's ``raise_for_status``)."""

    code = ExitCode.UNAVAILABLE


class _MsalResponse:
    def __init__(self, status: int, body: bytes, headers: Any) -> None:
        self.status_code, self.text, self.headers = status, body.decode("utf-8", "replace"), dict(headers)

    def raise_for_status(self) -> None:
        if not 200 <= self.status_code < 300:
            raise HttpError(f"Azure Entra login: HTTP {self.status_code or 'no answer'}")


class MsalHttp:
    """msal's HttpClient over ``request`` (no redirects, one deadline): msal's own HTTP never leaves
    this door. ``routes`` carries a request for one URL to another (one the caller has already
    checked), ``answers`` holds documents answered without a network call, ``last`` is the last
    answer that came from the network."""

    def __init__(
        self,
        deadline: float | None = None,
        routes: Mapping[str, str] | None = None,
        answers: Mapping[str, Any] | None = None,
    ) -> None:
        self.deadline, self.routes, self.answers = deadline, dict(routes or {}), dict(answers or {})
        self.last: Response | None = None

    def _send(self, method: str, url: str, params: Any, data: Any, headers: Any) -> _MsalResponse:
        if method == "GET" and not params and url in self.answers:
            return _MsalResponse(200, json.dumps(self.answers[url]).encode(), {"content-type": "application/json"})
        url = self.routes.get(url, url)
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        if isinstance(data, dict):
            data = urlencode(data)
            headers = {**(headers or {}), "Content-Type": "application/x-www-form-urlencoded"}
        body = data.encode() if isinstance(data, str) else data
        res = self.last = request(
            method, url, headers=headers or {}, body=body, deadline=self.deadline or DEFAULT_DEADLINE
        )
        return _MsalResponse(res.status, res.body, res.headers)

    def post(self, url: str, params: Any = None, data: Any = None, headers: Any = None, **_: Any) -> _MsalResponse:
        return self._send("POST", url, params, data, headers)

    def get(self, url: str, params: Any = None, headers: Any = None, **_: Any) -> _MsalResponse:
        return self._send("GET", url, params, None, headers)

    def close(self) -> None:
        pass
