"""Flux facts every layer may need: how a resource opts out of post-build variable substitution,
and which values that substitution would rewrite."""

from __future__ import annotations

# Flux opts a resource out of post-build substitution with this label or annotation
# (https://fluxcd.io/flux/components/kustomize/kustomizations/#post-build-variable-substitution).
FLUX_SUBSTITUTE = "kustomize.toolkit.fluxcd.io/substitute"


def flux_substitution_hazard(value: str) -> bool:
    """Would Flux's post-build substitution rewrite (or, strict by default since Flux 2.9, fail on)
    this value? True when it holds a ``${`` that is not escaped as ``$${``: Flux substitutes
    ``${VAR}`` forms and turns ``$${VAR}`` into a literal ``${VAR}``. A run of ``$`` before ``{``
    escapes pairwise, so an odd run is live."""
    start = value.find("${")
    while start != -1:
        run = 1
        while start - run >= 0 and value[start - run] == "$":
            run += 1
        if run % 2 == 1:
            return True
        start = value.find("${", start + 2)
    return False
