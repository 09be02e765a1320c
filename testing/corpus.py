"""A formatting corpus: Secret files in the styles people write, each value a random marker so a
leak of any plaintext value is detectable in the encrypted result."""

from __future__ import annotations

from testing.fakes import rand


def _v() -> str:
    return "v" + rand(18)


def corpus() -> dict[str, str]:
    return {
        "basic-2-space": (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: ai\ntype: Opaque\nstringData:\n"
            f"  apiKey: {_v()}\n"
        ),
        "four-space": (
            f"apiVersion: v1\nkind: Secret\nmetadata:\n    name: a\nstringData:\n    apiKey: {_v()}\n"
            f"    other: {_v()}\n"
        ),
        "leading-marker-and-header": (
            "---\n# Managed by hand.\n# Second header line.\napiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n"
            f"stringData:\n  apiKey: {_v()}\n"
        ),
        "multi-document": (
            f"---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  k: {_v()}\n"
            f"---\n# second\napiVersion: v1\nkind: Secret\nmetadata:\n  name: b\ndata:\n  k: {_v()}\n"
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
            "immutable: true\n"
        ),
        "inline-comments-outside": (
            "apiVersion: v1  # core\nkind: Secret # kind\nmetadata:\n  name: a   # the name\n"
            f"  labels: {{app: x}}  # flow\nstringData:\n  apiKey: {_v()}\n"
        ),
        "blank-lines": (
            f"\napiVersion: v1\n\nkind: Secret\n\n\nmetadata:\n  name: a\n\nstringData:\n\n  apiKey: {_v()}\n\n"
            f"  other: {_v()}\n\n"
        ),
        "single-quoted": (
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: 'a'\nstringData:\n  apiKey: '{_v()}'\n"
            f"  quote: 'it''s {_v()}'\n"
        ),
        "double-quoted-escapes": (
            f'apiVersion: v1\nkind: Secret\nmetadata:\n  name: "a"\nstringData:\n  apiKey: "{_v()}"\n'
            f'  esc: "tab\\there {_v()}"\n  uni: "\\u00e9t\\u00e9 {_v()}"\n'
        ),
        "literal-block": (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  config.yaml: |\n    server:\n"
            f"      token: {_v()}\n    debug: true\n  after: {_v()}\n"
        ),
        "literal-chomping": (
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  strip: |-\n    {_v()}\n"
            f"    line two\n  keep: |+\n    {_v()}\n\n  clip: |\n    {_v()}\n\n\n  last: x{_v()}\n"
        ),
        "folded-block": (
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  note: >\n    folded {_v()}\n"
            f"    over two lines\n  one: >-\n    {_v()}\n"
        ),
        "flow-collections": (
            f"apiVersion: v1\nkind: Secret\nmetadata: {{name: a, labels: {{app: demo, tier: 'backend'}}}}\n"
            f"stringData:\n  list: [{_v()}, '{_v()}', \"{_v()}\"]\n  map: {{inner: {_v()}}}\n"
        ),
        "indentless-sequence": (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  finalizers:\n  - example.com/x\nstringData:\n"
            f"  hosts:\n  - {_v()}\n  - {_v()}\n"
        ),
        "indented-sequence": (
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  hosts:\n    - {_v()}\n"
            f"    - name: n\n      secret: {_v()}\n"
        ),
        "base64-data": (
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\ntype: Opaque\ndata:\n  apiKey: {rand(40)}==\n"
            f"  other: {rand(24)}\n"
        ),
        "crlf": f"apiVersion: v1\r\nkind: Secret\r\nmetadata:\r\n  name: a\r\nstringData:\r\n  apiKey: {_v()}\r\n",
        "no-final-newline": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  apiKey: {_v()}",
        "unicode": (
            'apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  annotations:\n    note: "日本語 ✓"\nstringData:\n'
            f'  ключ: значение-{_v()}\n  emoji: "🔑 {_v()}"\n'
        ),
        "long-lines": (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  annotations:\n"
            f"    description: {'word ' * 60}end\nstringData:\n  long: {_v() * 20}\n"
        ),
        "anchors-outside": (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: &n a\n  labels:\n    app: *n\n"
            f"    base: &b {{x: 1}}\n    copy: *b\nstringData:\n  apiKey: {_v()}\n"
        ),
        "empty-and-null-values": (
            f'apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  annotations: {{}}\nstringData:\n  empty: ""\n'
            f"  set: {_v()}\n"
        ),
        "numbers-and-bools": (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  port: 8080\n  ratio: 1.50\n"
            f"  flag: true\n  key: {_v()}\n"
        ),
        "document-end-marker": (
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  apiKey: {_v()}\n...\n"
        ),
        "quoted-keys": (
            f'"apiVersion": v1\n\'kind\': Secret\nmetadata:\n  "name": a\nstringData:\n  "api-key": {_v()}\n'
            f"  'other key': {_v()}\n"
        ),
        "trailing-comments": (
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  apiKey: {_v()}\n"
            "# trailing comment\n\n# another, after a blank line\n"
        ),
        "data-key-nested-in-metadata": (
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  annotations:\n    data: {_v()}\nstringData:\n"
            f"  apiKey: {_v()}\n"
        ),
        "multi-line-plain-and-quoted": (
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  plain: first {_v()}\n"
            f'    continued line\n  dq: "first {_v()}\n    second"\n'
        ),
    }
