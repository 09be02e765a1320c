"""The only module that talks HTTP to providers (credential validation, admin APIs).

It never follows a redirect (a 3xx is returned as it is, so a credential is never re-sent to another
origin or over a downgraded scheme), bounds the whole exchange by one deadline (a server that drips a
byte every few seconds cannot hold a run, or the repository lock, for longer), and reads at most
``max_bytes`` of a body. Which hosts a credential may be sent to is the caller's policy
(``gateway/validate.py``); this module only carries the request out. Nothing here logs a header or
a body: both may hold a credential.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

from aigw_secrets.errors import ConfigError

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
    conn = (
        http.client.HTTPSConnection(parts.hostname, port, timeout=remaining(), context=ssl.create_default_context())
        if parts.scheme == "https"
        else http.client.HTTPConnection(parts.hostname, port, timeout=remaining())
    )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(method, target, body=body, headers=dict(headers or {}))
        # Kept here: getresponse() drops conn.sock when the server closes after the answer
        # (HTTP/1.0), but the body is still read from this socket and must stay under the deadline.
        sock = conn.sock
        if sock is not None:
            sock.settimeout(remaining())
        res = conn.getresponse()
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
        return Response(res.status, b"".join(chunks), {k.lower(): v for k, v in res.getheaders()})
    except TimeoutError:
        return Response(0, b"", {}, f"no complete answer within {deadline:.0f}s")
    except (OSError, http.client.HTTPException) as exc:
        return Response(0, b"", {}, type(exc).__name__)
    finally:
        conn.close()
