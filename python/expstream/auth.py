"""Access tokens (JWT, HS256) and what they allow.

Claims: sub, exp, scope ("read" < "write" < "admin"), experiments (ids or ["*"]), optional tenant.
A token sees only experiments of its own tenant (no tenant claim: the default tenant).
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import jwt
from starlette.requests import HTTPConnection

Scope = Literal["read", "write", "admin"]
SCOPE_RANK: dict[str, int] = {"read": 1, "write": 2, "admin": 3}
ALGORITHM = "HS256"
COOKIE_NAME = "expstream_token"
ALL = "*"


class AuthError(Exception):
    """No usable token: HTTP 401, WebSocket close 4401."""


class ForbiddenError(Exception):
    """A valid token without the access asked for: HTTP 403, WebSocket close 4403."""


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    scope: Scope
    experiments: frozenset[str] | None  # None: every experiment (of its tenant)
    tenant: str | None
    expires_at: float | None = None
    token_id: str = ""  # what connection caps count: the token's jti, else its subject

    def has_scope(self, needed: Scope) -> bool:
        return SCOPE_RANK[self.scope] >= SCOPE_RANK[needed]

    def can_access(self, experiment_id: str, experiment_tenant: str | None, needed: Scope = "read") -> bool:
        return (
            self.has_scope(needed)
            and self.tenant == experiment_tenant
            and (self.experiments is None or experiment_id in self.experiments)
        )

    def require(self, experiment_id: str, experiment_tenant: str | None, needed: Scope = "read") -> None:
        if not self.can_access(experiment_id, experiment_tenant, needed):
            raise ForbiddenError(f"this token has no {needed} access to experiment {experiment_id}")


# What every request is when the server runs with --insecure-no-auth.
INSECURE = Principal(subject="anonymous", scope="admin", experiments=None, tenant=None, token_id="anonymous")


def issue_token(
    secret: str,
    *,
    subject: str,
    scope: Scope,
    experiments: list[str],
    ttl_seconds: float,
    tenant: str | None = None,
) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": subject,
        "iat": now,
        "exp": now + int(ttl_seconds),
        "jti": uuid.uuid4().hex,
        "scope": scope,
        "experiments": experiments,
    }
    if tenant is not None:
        claims["tenant"] = tenant
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


# Every stream and request verifies its token, and a dashboard's tabs and reconnects present the
# same one again and again: a verified token's principal is kept (the least recently used dropped
# past this many). Expiry is still checked on every use.
VERIFIED_TOKENS_LIMIT = 10_000
_verified: OrderedDict[tuple[str, str], Principal] = OrderedDict()


def decode_token(secret: str, token: str) -> Principal:
    """The token's principal; AuthError when it is malformed, badly signed or expired."""
    key = (secret, token)
    principal = _verified.get(key)
    if principal is not None:
        if principal.expires_at is not None and principal.expires_at <= time.time():
            del _verified[key]
            raise AuthError("token expired")
        _verified.move_to_end(key)
        return principal
    principal = _verify(secret, token)
    _verified[key] = principal
    if len(_verified) > VERIFIED_TOKENS_LIMIT:
        _verified.popitem(last=False)
    return principal


def _verify(secret: str, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "scope", "experiments"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("token expired") from exc
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid token: {exc}") from exc
    scope = claims.get("scope")
    experiments = claims.get("experiments")
    tenant = claims.get("tenant")
    if scope not in SCOPE_RANK:
        raise AuthError("invalid token: unknown scope")
    if not isinstance(experiments, list) or not all(isinstance(e, str) for e in experiments):
        raise AuthError("invalid token: experiments must be a list of ids")
    if tenant is not None and not isinstance(tenant, str):
        raise AuthError("invalid token: tenant must be a string")
    return Principal(
        subject=str(claims["sub"]),
        scope=scope,
        experiments=None if ALL in experiments else frozenset(experiments),
        tenant=tenant,
        expires_at=float(claims["exp"]),
        token_id=str(claims.get("jti") or claims["sub"]),
    )


def token_from_connection(conn: HTTPConnection, *, allow_query: bool) -> str | None:
    """Authorization: Bearer, then the cookie, then (streams only: browsers cannot set headers) ?token=."""
    header = conn.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    if cookie := conn.cookies.get(COOKIE_NAME):
        return cookie
    if allow_query and (query := conn.query_params.get("token")):
        return query
    return None
