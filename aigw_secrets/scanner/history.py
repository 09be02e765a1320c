"""``scan --history``: every blob reachable in a range, scanned with exactly the tree scan's checks
under the real path it had, split over the CPUs from PARALLEL_FROM blobs (forked workers, each
with its own ``git cat-file``, the serial order of findings kept);
each finding names the blob and the first commit that brought it in.

Works without a work tree (a bare mirror, a pre-receive hook): everything is read from the object
store. ``.sops.yaml`` coverage is judged against the repository-root ``.sops.yaml`` of the commit
that brought the blob in, never today's: during the scan a blob counts as covered when any version
of the config in the range covers its path (a superset: cheap, and the workers need no commit), and
each ``sops-rule-unencrypted`` finding is then kept only when the config of its first commit
covers it (no config at that commit: not covered).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from aigw_secrets.scanner import archives, sources, workers
from aigw_secrets.scanner.scan import Finding, Skipped, is_sops_name, structured

PARALLEL_FROM = 2000  # blobs: below this a worker pool costs more than it saves
CONFIG = ".sops.yaml"


def scan(root: Path, revisions: str | None) -> tuple[list[Finding], list[Skipped]]:
    blobs, missing = sources.history_blobs(root, revisions)
    skipped = [Skipped(f"(object {sha[:12]})", "missing from the object store; not scanned") for sha in missing]
    configs, bad = _configs(root, revisions)
    skipped += bad
    covered_any = _covered_by_any(configs)
    processes = workers.cpus() if len(blobs) >= PARALLEL_FROM else 1
    findings = []
    for found, more in workers.fan_out(
        lambda chunk: _scan_blobs(root, covered_any, chunk), workers.chunked(blobs, processes), processes
    ):
        findings += found
        skipped += more
    if findings:
        firsts = sources.first_commits(root, revisions, {f.blob: f.path for f in findings})
        findings = [f._replace(commit=firsts.get(f.blob, "")) for f in findings]
        findings = _judge_coverage(root, findings, configs)
    return findings, skipped


def _configs(root: Path, revisions: str | None) -> tuple[dict[str, Any], list[Skipped]]:
    """blob id -> the loaded SopsConfig, for every version of the root .sops.yaml in the range."""
    from aigw_secrets import git
    from aigw_secrets.errors import AigwError

    out = git.run(
        root,
        "log",
        "--format=",
        "--raw",
        "--no-abbrev",
        "--no-renames",
        *sources.revision_args(revisions),
        "--",
        f":(top,literal){CONFIG}",
    )
    ids = list(
        dict.fromkeys(
            line.split(" ", 4)[3]
            for line in out.decode("utf-8", "surrogateescape").splitlines()
            if line.startswith(":")
        )
    )
    ids = [sha for sha in ids if sha.strip("0")]  # a deletion's new side is all zeros
    if not ids:
        return {}, []
    from aigw_secrets.sops import config as sops_config

    configs: dict[str, Any] = {}
    bad: list[Skipped] = []
    for sha, content, note in sources.read_blobs(root, ids):
        where = f"{CONFIG} (blob {sha[:12]})"
        if content is None:
            bad.append(Skipped(where, f"{note}; coverage by this version not judged"))
            continue
        try:
            configs[sha] = sops_config.load_text(content.decode("utf-8", "replace"), Path(CONFIG))
        except (AigwError, RecursionError):
            bad.append(Skipped(where, "not a readable .sops.yaml; coverage by this version not judged"))
    return configs, bad


def _covers(cfg: Any, path: str) -> bool:
    rule = cfg.rule_for(path)
    return rule is not None and bool(rule.path_regex)


def _covered_by_any(configs: dict[str, Any]) -> Callable[[str], bool]:
    cfgs = list(configs.values())

    def covered(path: str) -> bool:
        return structured(path) and any(_covers(cfg, path) for cfg in cfgs)

    return covered


def _judge_coverage(root: Path, findings: list[Finding], configs: dict[str, Any]) -> list[Finding]:
    """Keep a ``sops-rule-unencrypted`` finding (for a file not named ``*.sops.*``, which needs no
    config) only when the .sops.yaml of the blob's first commit covers the path."""
    from aigw_secrets import git

    judged = [f for f in findings if f.rule == "sops-rule-unencrypted" and not is_sops_name(f.path.rsplit("/", 1)[-1])]
    if not judged:
        return findings
    commits = sorted({f.commit for f in judged if f.commit})
    at: dict[str, str] = {}  # commit -> blob id of its root .sops.yaml
    if commits:
        specs = "".join(f"{c}:{CONFIG}\n" for c in commits).encode()
        out = git.run(root, "cat-file", "--batch-check=%(objectname) %(objecttype)", stdin=specs).decode(
            "utf-8", "surrogateescape"
        )
        for commit, line in zip(commits, out.splitlines(), strict=False):
            sha, _, kind = line.partition(" ")
            if kind == "blob":
                at[commit] = sha
    keep = []
    for f in findings:
        if f in judged:
            cfg = configs.get(at.get(f.commit, ""))
            if cfg is None or not _covers(cfg, f.path):
                continue
        keep.append(f)
    return keep


def _scan_blobs(
    root: Path, covered: Callable[[str], bool], blobs: list[tuple[str, str]]
) -> tuple[list[Finding], list[Skipped]]:
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    for item in sources.history(root, blobs):
        if item.data is None:
            skipped.append(Skipped(item.path, item.note))
            continue
        path = item.path
        found, skips = archives.scan(path, item.data, must_encrypt=lambda: covered(path))  # noqa: B023 - called before the loop moves on
        findings += (f._replace(blob=item.blob) for f in found)
        skipped += skips
    return findings, skipped
