"""aigw-secrets: Envoy AI Gateway provider credentials as SOPS-encrypted GitOps manifests."""

__version__ = "0.2.0"
