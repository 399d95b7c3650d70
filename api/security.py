"""The optional API key: ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``.

Declared through FastAPI's security classes so that ``/openapi.json`` lists both schemes
and the "Authorize" button of ``/docs`` works. Keys are compared in constant time.
"""

from __future__ import annotations

import hmac

from fastapi import Depends, HTTPException, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The server's KB_API_KEY.")
_bearer = HTTPBearer(auto_error=False, description="The server's KB_API_KEY as a bearer token.")


def require_key(expected: str):
    """A dependency that lets a request through only with ``expected`` in one of the two headers."""
    want = expected.encode("utf-8")

    async def check(  # async: no thread-pool trip just to compare two strings
        header_key: str | None = Security(_header),
        bearer: HTTPAuthorizationCredentials | None = Security(_bearer),
    ) -> None:
        for given in (header_key, bearer.credentials if bearer else None):
            if given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), want):
                return
        raise HTTPException(
            status_code=401,
            detail="missing or wrong API key: send it as 'X-API-Key: <key>' or 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )

    return Depends(check)
