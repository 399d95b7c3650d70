"""kb's HTTP API (FastAPI): the contract's endpoints over one shared ``KnowledgeBase``.

Importing ``api`` is cheap; ``api.app`` pulls in FastAPI and is imported only by ``kb serve``
(or by whoever serves ``api.app:create_app`` with another ASGI server).
"""

from __future__ import annotations

__all__: list[str] = []
