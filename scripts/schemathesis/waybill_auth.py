"""Schemathesis auth hook for scripts/long-checks.sh: signs every GET and PUT as a
member of the demo, as a member's client would (security scheme `WaybillSignedRead` in
/openapi.json).

The signature is Ed25519 over `waybill/read/v1` + NUL + `METHOD\\npath?query\\nts`,
where `path?query` is the request target exactly as sent; it goes in
`Authorization: Waybill key=<hex>, ts=<ms>, sig=<hex>`. The key file is the one
`waybill demo` wrote (`WAYBILL_READ_KEY`: `{"public_key", "secret_key": <hex seed>}`).
"""

import json
import os
import time

import requests
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

DOMAIN = b"waybill/read/v1\x00"

with open(os.environ["WAYBILL_READ_KEY"], encoding="utf-8") as f:
    _KEY_FILE = json.load(f)
_KEY = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(_KEY_FILE["secret_key"]))
_PUBLIC = _KEY_FILE["public_key"]


def authorization(method: str, path_and_query: str, ts_ms: int) -> str:
    message = f"{method}\n{path_and_query}\n{ts_ms}".encode()
    sig = _KEY.sign(DOMAIN + message).hex()
    return f"Waybill key={_PUBLIC}, ts={ts_ms}, sig={sig}"


@schemathesis.auth()
class WaybillSignedRead:
    """Signs each request afresh (a signature is good for 300 s of the node's clock)."""

    def get(self, case, ctx):
        return _PUBLIC

    def set(self, case, data, ctx):
        # Reads, and the one signed write that is not a transaction (PUT
        # /v1/sealed/private); transactions and captures carry their own signatures.
        if case.method.upper() not in ("GET", "PUT"):
            return
        kwargs = case.as_transport_kwargs(base_url=os.environ["WAYBILL_API"])
        # The target exactly as the transport (requests) will send it.
        prepared = requests.Request(
            kwargs["method"], kwargs["url"], params=kwargs.get("params")
        ).prepare()
        if case.headers is None:
            case.headers = {}
        case.headers["Authorization"] = authorization(
            case.method.upper(), prepared.path_url, int(time.time() * 1000)
        )
