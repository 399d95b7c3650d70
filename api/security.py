"""The optional API key: ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``.

Declared through FastAPI's security classes so that ``/openapi.json`` lists both schemes
and the "Authorize" button of ``/docs`` works; api/gate.py applies the same check before a
request's body is read. Keys are compared in constant time.
"""

from __future__ import annotations

import hmac
from typing import Mapping

from fastapi import Depends, HTTPException, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

UNAUTHORIZED = "missing or wrong API key: send it as 'X-API-Key: <key>' or 'Authorization: Bearer <key>'"

_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The server's KB_API_KEY.")
_bearer = HTTPBearer(auto_error=False, description="The server's KB_API_KEY as a bearer token.")


def _matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def key_matches(headers: Mapping[str, str], expected: str) -> bool:
    """Whether lower-cased request ``headers`` carry ``expected`` in either form."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" else None
    return _matches(headers.get("x-api-key"), expected) or _matches(bearer, expected)


def require_key(expected: str):
    """A dependency that lets a request through only with ``expected`` in one of the two headers."""

    async def check(  # async: no thread-pool trip just to compare two strings
        header_key: str | None = Security(_header),
        bearer: HTTPAuthorizationCredentials | None = Security(_bearer),
    ) -> None:
        if not (_matches(header_key, expected) or _matches(bearer.credentials if bearer else None, expected)):
            raise HTTPException(status_code=401, detail=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})

    return Depends(check)
