"""doctor warns when a governed Secret value holds `${` that Flux's post-build substitution would rewrite."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw_secrets.cli import main


def _secret(repo: Path, name: str, value: str, annotation: str = "") -> Path:
    path = repo / "kubernetes" / f"{name}.sops.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = f"  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: {annotation}\n" if annotation else ""
    path.write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n{meta}stringData:\n  password: '{value}'\n"
    )
    assert main(["encrypt", str(path)]) == 0
    return path


def test_flux_substitution_hazard(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _secret(repo, "live", "p@ss${word}x")
    _secret(repo, "escaped", "p@ss$${word}x")
    _secret(repo, "optout", "p@ss${word}x", annotation="disabled")
    capsys.readouterr()
    assert main(["doctor"]) == 0  # a warning, not an error
    out = capsys.readouterr().out
    assert "kubernetes/live.sops.yaml" in out and "post-build substitution" in out
    assert "escaped.sops.yaml" not in out and "optout.sops.yaml" not in out
    assert "p@ss" not in out  # the value is never shown
