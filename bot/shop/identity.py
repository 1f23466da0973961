"""Signed shopper identities.

A storefront that knows who is signed in passes, in each message's REST
`metadata`, {"customer_id": ..., "expires": <unix time>, "signature": ...}
where signature = hex HMAC-SHA256(shop secret, "<customer_id>.<expires>").
A valid signature lets the bot show that customer's orders without asking
for an order number and e-mail.
"""
import hashlib
import hmac
from typing import Any, Mapping, Optional


def sign_identity(secret: str, customer_id: str, expires: int) -> str:
    message = f"{customer_id}.{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_identity(secret: str, customer_id: str, expires: int) -> dict:
    """The metadata a storefront sends for a signed-in customer (the demo storefront, tests)."""
    return {"customer_id": customer_id, "expires": expires, "signature": sign_identity(secret, customer_id, expires)}


def verified_customer_id(secret: str, metadata: Optional[Mapping[str, Any]], now: float) -> Optional[str]:
    """The customer id if the metadata carries a valid, unexpired signature; else None."""
    if not isinstance(metadata, Mapping):
        return None
    customer_id, expires, signature = (metadata.get(k) for k in ("customer_id", "expires", "signature"))
    if not isinstance(customer_id, str) or not isinstance(signature, str) or not isinstance(expires, int):
        return None
    if expires < now:
        return None
    return customer_id if hmac.compare_digest(sign_identity(secret, customer_id, expires), signature) else None


# The web service puts the shopper's network address into every message's metadata under this
# key (over whatever the storefront sent there): verification limits hold per client.
CLIENT_ADDRESS = "client_address"


def client_of(metadata: Optional[Mapping[str, Any]], sender_id: str) -> str:
    """Who is asking, for the per-client limits: the address the web service saw, else (the
    REST webhook used directly) the conversation."""
    address = metadata.get(CLIENT_ADDRESS) if isinstance(metadata, Mapping) else None
    return f"address:{address}" if isinstance(address, str) and address else f"sender:{sender_id}"
