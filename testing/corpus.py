"""A formatting corpus: Secret files in the styles people write, each value a random marker so a
leak of any plaintext value is detectable in the encrypted result."""

from __future__ import annotations

from testing.fakes import rand


def _v() -> str:
    return "v" + rand(18)


def corpus() -> dict[str, str]:
    return {
        "basic-2-space": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: ai\ntype: Opaque\nstringData:\n  apiKey: {_v()}\n",
        "four-space": f"apiVersion: v1\nkind: Secret\nmetadata:\n    name: a\nstringData:\n    apiKey: {_v()}\n    other: {_v()}\n",
        "leading-marker-and-header": f"---\n# Managed by hand.\n# Second header line.\napiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  apiKey: {_v()}\n",
        "multi-document": (
            f"---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  k: {_v()}\n"
            f"---\n# second\napiVersion: v1\nkind: Secret\nmetadata:\n  name: b\ndata:\n  k: {_v()}\n"
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
            "immutable: true\n"
        ),
        "inline-comments-outside": f"apiVersion: v1  # core\nkind: Secret # kind\nmetadata:\n  name: a   # the name\n  labels: {{app: x}}  # flow\nstringData:\n  apiKey: {_v()}\n",
        "blank-lines": f"\napiVersion: v1\n\nkind: Secret\n\n\nmetadata:\n  name: a\n\nstringData:\n\n  apiKey: {_v()}\n\n  other: {_v()}\n\n",
        "single-quoted": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: 'a'\nstringData:\n  apiKey: '{_v()}'\n  quote: 'it''s {_v()}'\n",
        "double-quoted-escapes": f'apiVersion: v1\nkind: Secret\nmetadata:\n  name: "a"\nstringData:\n  apiKey: "{_v()}"\n  esc: "tab\\there {_v()}"\n  uni: "\\u00e9t\\u00e9 {_v()}"\n',
        "literal-block": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  config.yaml: |\n    server:\n      token: {_v()}\n    debug: true\n  after: {_v()}\n",
        "literal-chomping": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  strip: |-\n    {_v()}\n    line two\n  keep: |+\n    {_v()}\n\n  clip: |\n    {_v()}\n\n\n  last: x{_v()}\n",
        "folded-block": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  note: >\n    folded {_v()}\n    over two lines\n  one: >-\n    {_v()}\n",
        "flow-collections": f"apiVersion: v1\nkind: Secret\nmetadata: {{name: a, labels: {{app: demo, tier: 'backend'}}}}\nstringData:\n  list: [{_v()}, '{_v()}', \"{_v()}\"]\n  map: {{inner: {_v()}}}\n",
        "indentless-sequence": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  finalizers:\n  - example.com/x\nstringData:\n  hosts:\n  - {_v()}\n  - {_v()}\n",
        "indented-sequence": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  hosts:\n    - {_v()}\n    - name: n\n      secret: {_v()}\n",
        "base64-data": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\ntype: Opaque\ndata:\n  apiKey: {rand(40)}==\n  other: {rand(24)}\n",
        "crlf": f"apiVersion: v1\r\nkind: Secret\r\nmetadata:\r\n  name: a\r\nstringData:\r\n  apiKey: {_v()}\r\n",
        "no-final-newline": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  apiKey: {_v()}",
        "unicode": f'apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  annotations:\n    note: "日本語 ✓"\nstringData:\n  ключ: значение-{_v()}\n  emoji: "🔑 {_v()}"\n',
        "long-lines": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  annotations:\n    description: {'word ' * 60}end\nstringData:\n  long: {_v() * 20}\n",
        "anchors-outside": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: &n a\n  labels:\n    app: *n\n    base: &b {{x: 1}}\n    copy: *b\nstringData:\n  apiKey: {_v()}\n",
        "empty-and-null-values": f'apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  annotations: {{}}\nstringData:\n  empty: ""\n  set: {_v()}\n',
        "numbers-and-bools": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  port: 8080\n  ratio: 1.50\n  flag: true\n  key: {_v()}\n",
        "document-end-marker": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  apiKey: {_v()}\n...\n",
        "quoted-keys": f'"apiVersion": v1\n\'kind\': Secret\nmetadata:\n  "name": a\nstringData:\n  "api-key": {_v()}\n  \'other key\': {_v()}\n',
        "trailing-comments": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  apiKey: {_v()}\n# trailing comment\n\n# another, after a blank line\n",
        "data-key-nested-in-metadata": f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  annotations:\n    data: {_v()}\nstringData:\n  apiKey: {_v()}\n",
        "multi-line-plain-and-quoted": f'apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  plain: first {_v()}\n    continued line\n  dq: "first {_v()}\n    second"\n',
    }
