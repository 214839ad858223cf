"""Webhooks: ``POST /api/hooks/{name}`` starts a workflow when its signature is right.

A hook is registered in code, beside the workflow it starts::

    durable.http.webhook("github-push", on_push, secret=os.environ["GITHUB_HOOK_SECRET"])

The sender signs the raw body with HMAC-SHA256 and the shared secret and sends
``X-Hub-Signature-256: sha256=<hex digest>`` (GitHub's header; Stripe-style senders
can name another header and prefix).  A call unsigned, badly signed or signed with
another secret gets 401 and starts nothing; the digests are compared in constant time.
The run's id is ``hook:<name>:<delivery id>``, the delivery id taken from the
sender's delivery header (``X-GitHub-Delivery``, ``X-Delivery-Id`` or
``Idempotency-Key``; `id_from` to choose), else the body's SHA-256: a retried
delivery finds its run instead of starting a second one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from durable.api import Workflow

__all__ = ["DELIVERY_HEADERS", "Webhook", "registered", "webhook"]

DELIVERY_HEADERS = ("x-github-delivery", "x-delivery-id", "idempotency-key")

IdFrom = Callable[[Mapping[str, str], Any], str | None]


@dataclass(frozen=True)
class Webhook:
    """One registered hook (see `webhook`)."""

    name: str
    workflow: Workflow[..., Any] | str
    secrets: tuple[bytes, ...]
    id_from: IdFrom | None = None
    header: str = "x-hub-signature-256"
    prefix: str = "sha256="
    queue: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def verify(self, body: bytes, signature: str | None) -> bool:
        """Whether `signature` (the header's value) signs `body` with one of the secrets."""
        if not signature or not signature.startswith(self.prefix):
            return False
        offered = signature[len(self.prefix) :].strip().lower().encode()
        matched = False
        for secret in self.secrets:
            digest = hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
            matched |= hmac.compare_digest(digest, offered)
        return matched

    def run_id(self, headers: Mapping[str, str], body: bytes, payload: Any) -> str:
        """The id of the run a delivery starts (the same for a redelivery)."""
        delivery = self.id_from(headers, payload) if self.id_from is not None else None
        if delivery is None:
            delivery = next((headers[h] for h in DELIVERY_HEADERS if headers.get(h)), None)
        if delivery is None:
            delivery = "sha256-" + hashlib.sha256(body).hexdigest()
        return f"hook:{self.name}:{delivery}"


_registry: dict[str, Webhook] = {}


def webhook(
    name: str,
    workflow: Workflow[..., Any] | str,
    *,
    secret: str | bytes | Sequence[str | bytes],
    id_from: IdFrom | None = None,
    header: str = "X-Hub-Signature-256",
    prefix: str = "sha256=",
    queue: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Webhook:
    """Register the hook `name`: a signed ``POST /api/hooks/{name}`` starts `workflow`
    with the JSON body as its one argument.

    Parameters
    ----------
    secret:
        The shared secret, or several (rotation: each is accepted).  Required.
    id_from:
        ``id_from(headers, payload) -> str | None``: the delivery's id (headers by
        lower-case name); None falls back to the delivery headers, then the body's digest.
    header, prefix:
        Where the signature is (``X-Hub-Signature-256: sha256=<hex>`` by default).

    Examples
    --------
    >>> import durable, durable.http
    >>> @durable.workflow(name="doc.on_push")
    ... async def on_push(event: dict) -> str:
    ...     return event["ref"]
    >>> hook = durable.http.webhook("doc-push", on_push, secret="s3cret")
    >>> hook.run_id({"x-github-delivery": "42"}, b"{}", {})
    'hook:doc-push:42'
    """
    secrets = [secret] if isinstance(secret, str | bytes) else list(secret)
    encoded = tuple(s.encode() if isinstance(s, str) else bytes(s) for s in secrets)
    if not encoded or not all(encoded):
        raise ValueError(f"webhook {name!r} needs a non-empty secret")
    hook = Webhook(
        name=name,
        workflow=workflow,
        secrets=encoded,
        id_from=id_from,
        header=header.lower(),
        prefix=prefix,
        queue=queue,
        metadata=dict(metadata or {}),
    )
    _registry[name] = hook
    return hook


def registered() -> dict[str, Webhook]:
    """The hooks registered so far, by name."""
    return dict(_registry)
