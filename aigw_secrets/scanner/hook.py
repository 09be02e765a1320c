"""``aigw-secrets scan``: the pre-commit hook and CI check. Exit 0 clean, 1 findings, 2 usage/config.

Kept off click and every heavy import: a pre-commit call on a few files must start, scan and exit
well within 150 ms. YAML is imported only when a file needs the structural rules.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence

from aigw_secrets.errors import AigwError, ConfigError, ExitCode, guarded
from aigw_secrets.lean import TYPE_CHECKING
from aigw_secrets.scanner import archives, sources
from aigw_secrets.scanner.request import ScanRequest
from aigw_secrets.scanner.scan import Finding, Skipped

if TYPE_CHECKING:  # pragma: no cover - for the type checker only
    import argparse
    from pathlib import Path
    from typing import NoReturn

DEFAULT_BASELINE = ".aigw-baseline.json"


class UsageProblem(Exception):
    """The fast parser cannot take these arguments: ``entry`` hands them to click, which says why in
    the same words as every other command (and prints ``scan --help``)."""


def _parser() -> argparse.ArgumentParser:
    # argparse loads in a few milliseconds where click takes tens. `cli.scan` declares the same
    # options for `--help` and usage errors; tests keep the two in step.
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise UsageProblem(message)

    p = _Parser(
        prog="aigw-secrets scan",
        add_help=False,
        allow_abbrev=False,  # as click: no --stag for --staged
        description="Find plaintext LLM credentials, unencrypted Kubernetes Secrets and age private keys.",
    )
    p.add_argument("paths", nargs="*", help="files or directories (default: the repository's tracked files)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--staged", action="store_true", help="scan what the next commit contains (the git index)")
    mode.add_argument("--all", action="store_true", help="scan every tracked file")
    mode.add_argument(
        "--history", nargs="?", const="", metavar="RANGE", help="scan every blob reachable in RANGE (default: all refs)"
    )
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    p.add_argument("--output", "-o", help="write the report to a file instead of stdout")
    p.add_argument(
        "--baseline",
        help=(
            f"JSON file of accepted findings (SHA-256 only; default: {DEFAULT_BASELINE} at the repository root, "
            "when it exists)"
        ),
    )
    p.add_argument(
        "--update-baseline",
        action="store_true",
        help=f"record the current findings in the baseline (--baseline, default {DEFAULT_BASELINE}) and exit 0",
    )
    from pathlib import Path

    p.add_argument(
        "--repo", type=Path, default=None, help="repository root (default: found from the current directory)"
    )
    return p


# The hook's paths are strings (os.path): pathlib costs a pre-commit call ~4 ms of imports.


def _root(repo: Path | None) -> str | None:
    if repo is not None:
        return os.path.realpath(repo)
    return sources.work_tree(os.getcwd())


def _must_encrypt(root: str | None) -> Callable[[str], bool]:
    """A predicate: does a .sops.yaml creation rule cover this (root-relative) path? The config is
    read on the first question, and only files the structural pass reads ask (a commit of code
    files never loads YAML)."""
    from aigw_secrets.scanner.scan import structured

    loaded: list[Callable[[str], bool]] = []

    def covered(rel: str) -> bool:
        if not structured(rel):
            return False
        if not loaded:
            loaded.append(_load_rules(root))
        return loaded[0](rel)

    return covered


def _load_rules(root: str | None) -> Callable[[str], bool]:
    """Coverage by the ``.sops.yaml`` sops would use from the root: the first creation rule whose
    path_regex matches a path decides (a rule without one matches everything and covers nothing)."""
    cfg_path = _find_config(root or os.getcwd())
    if cfg_path is None:
        return lambda rel: False
    regexes = _path_regexes(cfg_path)
    base = os.path.abspath(os.path.dirname(cfg_path))
    here = os.path.abspath(root or os.getcwd())

    def covered(rel: str) -> bool:
        # string arithmetic only: this runs once per scanned file
        key = os.path.relpath(os.path.join(here, rel), base) if here != base else os.path.normpath(rel)
        if key.startswith(".."):
            return False
        from aigw_secrets.sops import regex as sops_regex

        for regex in regexes:
            if not regex:
                return False  # sops picks this rule for every path: no path_regex, no coverage
            try:
                if sops_regex.search(regex, key):
                    return True
            except sops_regex.GoRegexError:
                continue  # sops refuses the whole config; `doctor` says why
        return False

    return covered


def _find_config(start: str) -> str | None:
    """``sops.config.find`` (``$SOPS_CONFIG``, else walking up), without importing the YAML reader."""
    explicit = os.environ.get("SOPS_CONFIG")
    if explicit:
        return explicit if os.path.isfile(explicit) else None
    directory = os.path.realpath(start)
    while True:
        candidate = os.path.join(directory, ".sops.yaml")
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _path_regexes(cfg_path: str) -> list[str | None]:
    """Each creation rule's path_regex, in order. Reading YAML (PyYAML, the sops config module)
    costs a pre-commit hook more than its whole scan, so the answer is kept in the user's cache
    under the SHA-256 of the config's bytes: a config changed by one byte is read again, and a
    cache entry can only ever describe the exact text it was computed from."""
    try:
        with open(cfg_path, "rb") as fh:
            raw: bytes | None = fh.read()
    except OSError:
        raw = None
    cache = os.path.join(_cache_dir(), f"{_sha256(raw)}.rules") if raw is not None else None
    if cache is not None:
        try:
            with open(cache, "rb") as fh:
                cached = _cache_load(fh.read())
            if cached is not None:
                return cached
        except (OSError, ValueError):
            pass
    from pathlib import Path

    from aigw_secrets.sops import config as sops_config

    try:
        cfg = sops_config.load(Path(cfg_path))
    except RecursionError:
        raise ConfigError(f"{cfg_path}: nested too deeply to read") from None
    regexes = [rule.path_regex for rule in cfg.rules]
    if cache is not None:
        _remember(cache, _cache_dump(regexes))
    return regexes


# The cache file: a header line, then one line per creation rule: "-" (no path_regex) or "+" and the
# regex with unicode_escape (one ASCII line whatever it holds). Not JSON: json costs a hook ~2.5 ms to import.
_CACHE_HEAD = "aigw-secrets sops path_regex 1\n"


def _cache_dump(regexes: list[str | None]) -> bytes:
    lines = ["-" if r is None else "+" + r.encode("unicode_escape").decode("ascii") for r in regexes]
    return (_CACHE_HEAD + "".join(line + "\n" for line in lines)).encode("ascii")


def _cache_load(raw: bytes) -> list[str | None] | None:
    """The regexes a cache file holds; None when it is not one (damaged, another format)."""
    text = raw.decode("ascii")
    if not text.startswith(_CACHE_HEAD) or not text.endswith("\n"):
        return None
    out: list[str | None] = []
    for line in text[len(_CACHE_HEAD) : -1].split("\n") if len(text) > len(_CACHE_HEAD) else []:
        if line == "-":
            out.append(None)
        elif line.startswith("+"):
            out.append(line[1:].encode("ascii").decode("unicode_escape"))
        else:
            return None
    return out


def _sha256(data: bytes) -> str:
    if TYPE_CHECKING:  # pragma: no cover - for the type checker only
        from hashlib import sha256
    else:
        try:
            from _sha256 import sha256  # the built-in module: hashlib (OpenSSL) costs a hook ~3 ms to import
        except ImportError:  # pragma: no cover - an interpreter built without it
            from hashlib import sha256
    return sha256(data).hexdigest()


def _cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "aigw-secrets", "sops-rules")


def _remember(path: str, data: bytes) -> None:
    """Best effort: a cache that cannot be written only costs the next run its speed."""
    from pathlib import Path

    from aigw_secrets.util import atomic_write

    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        atomic_write(Path(path), data)
    except (OSError, AigwError):
        pass


def _baseline_path(args: ScanRequest, root: str | None) -> str | None:
    """--baseline, else ``.aigw-baseline.json`` at the repository root when it exists (so the git
    hook and the pre-commit hook honour what ``--update-baseline`` accepted)."""
    if args.baseline is not None:
        return args.baseline
    default = os.path.join(root or os.getcwd(), DEFAULT_BASELINE)
    return default if os.path.lexists(default) else None


def run(args: ScanRequest) -> int:
    root = _root(args.repo)
    if root is None and args.history is not None:
        # a bare repository (a mirror, a pre-receive hook): history needs no work tree
        bare = sources.git_dir(os.getcwd())
        root = None if bare is None else os.fspath(bare)
    git_mode = args.git_mode
    if git_mode and root is None:
        raise ConfigError("not inside a git repository; pass paths or --repo")
    covered = _must_encrypt(root)
    relative = root is not None and not git_mode and bool(args.paths)  # named paths are reported relative to the root
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    checked = 0
    if args.history is not None:
        from pathlib import Path

        from aigw_secrets.scanner import history

        findings, skipped = history.scan(Path(root), args.history or None)  # type: ignore[arg-type]  # root is set in git modes
    elif args.staged:
        findings, skipped, checked = _scan_items(sources.staged(root), root, covered, relative)  # type: ignore[arg-type]  # root is set in git modes
    else:
        plan = (
            sources.plan_tracked(root)
            if root and (args.all or not args.paths)
            else list(sources.plan_paths(args.paths or ["."]))
        )
        findings, skipped, checked = _scan_plan(plan, root, covered, relative)
    baseline = _baseline_path(args, root)
    if (
        not findings
        and all(s.reason == "binary" for s in skipped)
        and baseline is None
        and not args.update_baseline
        and args.format == "text"
        and not args.output
    ):
        return _clean(args, checked)  # the hook's common case: the report module is never loaded
    from pathlib import Path

    from aigw_secrets.scanner import report

    if args.update_baseline:
        target = Path(args.baseline) if args.baseline is not None else Path(root or os.getcwd()) / DEFAULT_BASELINE
        report.write_baseline(target, findings)
        print(f"aigw-secrets: recorded {len(findings)} finding(s) in {target}", file=sys.stderr)
        return ExitCode.OK
    if baseline is not None:
        accepted = report.load_baseline(Path(baseline))
        findings = [f for f in findings if not report.in_baseline(f, accepted)]
    body = {
        "text": lambda: report.text(findings, skipped),
        "json": lambda: report.as_json(findings, skipped),
        "sarif": lambda: report.sarif(findings),
    }[args.format]()
    if args.output:
        report.write_report(Path(args.output), body + "\n")
    elif body:
        print(body, file=sys.stderr if args.format == "text" and findings else sys.stdout)
    if args.format == "text" and not findings:
        return _clean(args, checked)
    return ExitCode.FINDINGS if findings else ExitCode.OK


PARALLEL_FROM = 400  # files: a tree this size is shared out over the CPUs (starting workers costs ~20 ms)


def _scan_plan(
    plan: list[sources.Planned], root: str | None, covered: Callable[[str], bool], relative: bool
) -> tuple[list[Finding], list[Skipped], int]:
    """A tree scan; over every CPU from PARALLEL_FROM files, with the serial scan's output."""
    if len(plan) < PARALLEL_FROM:
        return _scan_items(sources.read(plan), root, covered, relative)
    from aigw_secrets.scanner import workers  # (imports typing: not on the hook's path)

    processes = workers.cpus()
    if processes == 1:
        return _scan_items(sources.read(plan), root, covered, relative)
    covered("x.yaml")  # read .sops.yaml once, before forking (a bad config stops the scan here)

    def work(chunk: list[sources.Planned]) -> tuple[list[Finding], list[Skipped], int]:
        return _scan_items(sources.read(chunk), root, covered, relative)

    findings: list[Finding] = []
    skipped: list[Skipped] = []
    checked = 0
    for found, skip, n in workers.fan_out(work, workers.chunked(plan, processes), processes):
        findings += found
        skipped += skip
        checked += n
    return findings, skipped, checked


def _scan_items(
    items: Iterable[sources.Item], root: str | None, covered: Callable[[str], bool], relative: bool
) -> tuple[list[Finding], list[Skipped], int]:
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    checked = 0
    for item in items:
        checked += 1
        if item.data is None:
            skipped.append(Skipped(item.path, item.note))
            continue
        rel = sources.relative(item.path, root) if root and relative else item.path
        found, skips = archives.scan(rel, item.data, must_encrypt=lambda: covered(rel))  # noqa: B023 - called before the loop moves on
        findings += found
        skipped += skips
    return findings, skipped, checked


def _clean(args: ScanRequest, checked: int) -> int:
    from aigw_secrets import output

    what = "history" if args.history is not None else f"{checked} file(s)"
    output.summary(
        f"aigw-secrets scan: {what} checked, no plaintext credential found"
    )  # one line, on stderr; -q hides it
    return ExitCode.OK


def parse(argv: Sequence[str]) -> ScanRequest:
    """The fast parse of ``scan``'s arguments; UsageProblem when click should handle them."""
    if any(a in ("-h", "--help") for a in argv):
        raise UsageProblem("help")
    ns = _plain(argv) or _parser().parse_args(list(argv))  # the namespace stays here: the scan gets a ScanRequest
    return ScanRequest(
        ns.paths,
        staged=ns.staged,
        all=ns.all,
        history=ns.history,
        format=ns.format,
        output=ns.output,
        baseline=ns.baseline,
        update_baseline=ns.update_baseline,
        repo=ns.repo,
    )


def _plain(argv: Sequence[str]) -> argparse.Namespace | None:
    """What a pre-commit hook passes (``--staged`` or ``--all`` alone, or file names), parsed without
    building an argparse parser (a few milliseconds of a hook's budget); None for anything else.
    Gives exactly the namespace argparse gives (tests compare the two)."""
    from types import SimpleNamespace

    mode = argv[0] if len(argv) == 1 and argv[0] in ("--staged", "--all") else None
    if mode is None and any(a.startswith("-") for a in argv):
        return None
    ns = SimpleNamespace(
        paths=[] if mode else list(argv),
        staged=mode == "--staged",
        all=mode == "--all",
        history=None,
        format="text",
        output=None,
        baseline=None,
        update_baseline=False,
        repo=None,
    )
    return ns  # type: ignore[return-value]  # the same attributes as argparse.Namespace


def main(argv: Sequence[str] | None = None) -> int:
    """The hook's entry point for parsed-or-not arguments (``entry.main`` sends help and usage errors
    through click instead); ``execute`` runs the scan inside the one error boundary."""
    return execute(parse(list(argv) if argv is not None else sys.argv[1:]))


def execute(args: ScanRequest) -> int:
    """Run a scan inside the one error boundary; exit 0 clean, 1 findings, 2 usage or configuration
    problem: 1 means "findings" to pre-commit and CI, so anything else that stops a scan is 2,
    whatever its code elsewhere."""
    return guarded(lambda: run(args), prog="aigw-secrets scan", failure=ExitCode.USAGE)


HOOK_MARKER = "# aigw-secrets pre-commit hook"
CHAINED = "pre-commit.aigw-chained"


def install_hook(repo: Path) -> int:
    """A plain git pre-commit hook running ``scan --staged``; an existing hook is kept and run first."""
    import shutil
    import stat
    from pathlib import Path

    from aigw_secrets import git, output
    from aigw_secrets.errors import ConfigError
    from aigw_secrets.util import atomic_write

    root = sources.toplevel(repo)
    hooks = git.hooks_dir(root)
    hooks.mkdir(parents=True, exist_ok=True)
    hook = hooks / "pre-commit"
    if hook.exists() and HOOK_MARKER not in hook.read_text("utf-8", "replace"):
        if (hooks / CHAINED).exists():
            raise ConfigError(f"{hook} is not ours and {hooks / CHAINED} exists already; merge them by hand")
        hook.rename(hooks / CHAINED)
        output.status("kept", hooks / CHAINED, "your existing hook; it runs first")
    exe = shutil.which("aigw-secrets") or str(Path(sys.executable).with_name("aigw-secrets"))
    script = f"""#!/bin/sh
{HOOK_MARKER} (installed by `aigw-secrets install-hook`; remove this file to uninstall)
here=$(dirname "$0")
if [ -x "$here/{CHAINED}" ]; then "$here/{CHAINED}" "$@" || exit $?; fi
aigw=${{AIGW_SECRETS:-{exe}}}
command -v "$aigw" >/dev/null 2>&1 || aigw=aigw-secrets
exec "$aigw" scan --staged
"""
    atomic_write(hook, script.encode(), mode=0o755)
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    output.status("installed", hook, "runs `aigw-secrets scan --staged` before every commit")
    return 0
