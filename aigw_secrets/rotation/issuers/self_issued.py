"""vLLM / OpenAI-compatible servers you run yourself: the tool is the issuer.

It makes a strong random key and the same value goes into the gateway's Secret and the model
server's Secret (``ai_gateway_<p>_server_secret: NAMESPACE/NAME``) in one change, so the two never
disagree in git. There is nothing to revoke at a provider: the old key stops working when the
model server restarts with the new Secret.
"""

from __future__ import annotations

import secrets

from aigw_secrets.rotation.issuers.interface import Issuer, Key, Minted


class SelfIssued(Issuer):
    kind = "self"
    records = False  # nothing registered at a provider
    generations = False

    def mint(self, name: str) -> Minted:
        value = "sk-aigw-" + secrets.token_urlsafe(40)  # 320 bits of randomness
        companions = {}
        server = self.pc.settings.get("server_secret")
        if server:
            companions[str(server)] = value
        return Minted(ref=f"self:{name}", name=name, value=value, companions=companions)

    def listed(self) -> list[Key]:
        return []  # nothing is registered anywhere but in the two Secrets

    def delete(self, ref: str) -> None:
        pass  # the model server stops accepting the old key once it runs with the new Secret
