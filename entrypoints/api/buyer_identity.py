"""A request's buyer, verified once: the rate limiter (``entrypoints/api/rate_limit.py``) keys a
request carrying a buyer token on its buyer, before the route's ``authenticate``
(``entrypoints/api/orders.py``) asks who the caller is. The first to ask verifies the token; the
outcome, the buyer id or the error (:class:`InvalidToken`, :class:`IdentityUnavailable`), is kept
in the request's scope state, and the second gets the same answer without a second check.
"""

from __future__ import annotations

from typing import Any

from litestar.types import Scope

from adapters.http.buyer_tokens import BuyerAuthenticator, IdentityUnavailable, InvalidToken

#: ``(Authorization header, its buyer id or error)`` of the request, in ``scope["state"]``.
_STATE_KEY = "buyer_identity"


async def buyer_of(scope: Scope, authenticator: BuyerAuthenticator, authorization: str) -> str:
    """The buyer of the request's ``Authorization`` header (``scope``'s own), verified at most
    once per request; the error of an invalid one is raised again to every later asker."""
    state: dict[str, Any] = scope.setdefault("state", {})
    kept = state.get(_STATE_KEY)
    if kept is not None and kept[0] == authorization:
        known = kept[1]
    else:
        # Only the same header's outcome is reused: never another text's buyer.
        try:
            known = await authenticator.buyer_of(authorization)
        except (InvalidToken, IdentityUnavailable) as exc:
            known = exc
        state[_STATE_KEY] = (authorization, known)
    if isinstance(known, Exception):
        raise known
    buyer: str = known
    return buyer
