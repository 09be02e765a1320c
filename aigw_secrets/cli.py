"""Command line: click maps options to arguments, ``commands.*`` do the work, ``errors.guarded`` maps errors
to exit codes.

Command modules are imported inside each command so that ``aigw-secrets --help`` and the scanner
hook never import kubernetes, gnupg or the sops machinery.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from aigw_secrets import __version__, output
from aigw_secrets.errors import ExitCode, guarded


def _find_root(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    """Without --repo: the current directory, or, run from inside a repository, the nearest directory
    above it holding cluster.yaml / cluster.toml (no further than the git work tree's top)."""
    if ctx.get_parameter_source(param.name or "repo") is not click.core.ParameterSource.DEFAULT:
        return value
    here = Path.cwd()
    for d in (here, *here.parents):
        if (d / "cluster.yaml").is_file() or (d / "cluster.toml").is_file():
            return d if d != here else value
        if (d / ".git").exists():
            break
    return value


_REPO = click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    callback=_find_root,
    help=(
        "Repository root (where cluster.yaml / cluster.toml and .sops.yaml live; default: found from the current "
        "directory)."
    ),
)


def _provider_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion for provider names (from the provider table, not from a file)."""
    from aigw_secrets.gateway.providers import PROVIDERS

    return [k for k in PROVIDERS if k.startswith(incomplete)]


_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json (on stdout) for programs.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="aigw-secrets")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="More detail on stderr.")
@click.option(
    "--no-color", is_flag=True, help="No colour (also: NO_COLOR set; colour is only ever used on a terminal)."
)
def cli(quiet: bool, verbose: bool, no_color: bool) -> None:
    """Envoy AI Gateway provider credentials as SOPS-encrypted GitOps manifests.

    Shell completion: eval "$(_AIGW_SECRETS_COMPLETE=bash_source aigw-secrets)" (zsh_source, fish_source).
    """
    output.configure(quiet=quiet, verbose=verbose, color=False if no_color else None)


@cli.command()
@_REPO
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="age key file (default: $SOPS_AGE_KEY_FILE or <repo>/age.key).",
)
@_FORMAT
def init(repo: Path, key_file: Path | None, fmt: str) -> int:
    """Create an age key (mode 0600, git-ignored) and a .sops.yaml, if absent."""
    from aigw_secrets.commands.init import init as run
    from aigw_secrets.gateway.config import output_dir_setting

    return run(repo, key_file=key_file, output_dir=output_dir_setting(repo), fmt=fmt)


@cli.command()
@_REPO
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file (default: <repo>/cluster.yaml or cluster.toml).",
)
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="PROVIDER=SPEC",
    help="Where a provider's credential comes from: env:VAR, file:PATH, cmd:COMMAND, stdin, prompt. Repeatable.",
)
@click.option("--no-input", is_flag=True, help="Never prompt, even on a terminal.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file would change.")
@click.option(
    "--replace-rotated",
    is_flag=True,
    help="Write a credential even when a rotation already replaced it (exit 12 without this).",
)
@_FORMAT
def generate(
    repo: Path,
    config_path: Path | None,
    sources: tuple[str, ...],
    no_input: bool,
    check: bool,
    replace_rotated: bool,
    fmt: str,
) -> int:
    """Write SOPS-encrypted Secrets and the AI Gateway manifests for every enabled provider."""
    from aigw_secrets.commands.generate import generate as run

    parsed = {}
    for item in sources:
        provider, sep, spec = item.partition("=")
        if not sep or not provider or not spec:
            # never repeat the value: a key is sometimes typed here instead of a source spec
            raise click.BadParameter("expected PROVIDER=SPEC (the value given is not shown)", param_hint="--source")
        parsed[provider.strip()] = spec.strip()
    return run(
        repo,
        config_path=config_path,
        sources=parsed,
        interactive=False if no_input else None,
        check_only=check,
        fmt=fmt,
        replace_rotated=replace_rotated,
    )


_FILES = click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
_FILE = click.argument("file", type=click.Path(dir_okay=False, path_type=Path))


@cli.command()
@_REPO
@click.option("--no-verify", is_flag=True, help="Write even when no private key is available to check the result.")
@_FORMAT
@_FILES
def encrypt(repo: Path, no_verify: bool, fmt: str, files: tuple[Path, ...]) -> int:
    """Encrypt FILES in place with sops, keeping their YAML formatting.

    Without FILES: every unencrypted file a .sops.yaml creation rule matches.
    """
    from aigw_secrets.commands.crypt import encrypt as run

    return run(repo, files, verify=not no_verify, fmt=fmt)


@cli.command()
@_REPO
@_FILE
def decrypt(repo: Path, file: Path) -> int:
    """Print the plaintext of FILE in its author's formatting."""
    from aigw_secrets.commands.crypt import decrypt as run

    return run(repo, file)


@cli.command()
@_REPO
@_FILE
def edit(repo: Path, file: Path) -> int:
    """Edit FILE's plaintext in $EDITOR (private tmpfs directory); re-encrypt keeping formatting."""
    from aigw_secrets.commands.crypt import edit as run

    return run(repo, file)


@cli.command(name="set")
@_REPO
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the value from standard input.")
@click.option("--from-env", metavar="VAR", help="Read the value from environment variable VAR.")
@click.option("--from-file", type=click.Path(dir_okay=False, path_type=Path), help="Read the value from a file.")
@_FILE
@click.argument("keypath")
def set_cmd(
    repo: Path, from_stdin: bool, from_env: str | None, from_file: Path | None, file: Path, keypath: str
) -> int:
    """Change one encrypted value of FILE at KEYPATH (e.g. stringData.apiKey).

    The value never comes from the command line: --stdin, --from-env, --from-file, or a hidden prompt.
    """
    from aigw_secrets.commands.crypt import read_value, set_value

    value = read_value(from_stdin=from_stdin, from_env=from_env, from_file=from_file, label=keypath)
    return set_value(repo, file, keypath, value)


@cli.command()
@_REPO
@_FORMAT
@_FILES
def updatekeys(repo: Path, fmt: str, files: tuple[Path, ...]) -> int:
    """Re-wrap data keys for the recipients .sops.yaml lists now, keeping formatting.

    Without FILES: every encrypted file a creation rule matches.
    """
    from aigw_secrets.commands.crypt import updatekeys as run

    return run(repo, files, fmt=fmt)


@cli.command()
@_REPO
@click.option(
    "--provider",
    metavar="NAME",
    shell_complete=_provider_names,
    help="Rotate this provider's credential (staged; validated first).",
)
@click.option("--data-key", is_flag=True, help="Rotate SOPS data keys (sops rotate), formatting kept.")
@click.option("--due", is_flag=True, help="Rotate everything past its period that can be rotated unattended.")
@click.option(
    "--cancel",
    metavar="NAME",
    shell_complete=_provider_names,
    help="Abort this provider's journaled rotation that has not written the Secret yet.",
)
@click.option(
    "--source",
    metavar="SPEC",
    help="Where the new credential comes from: env:VAR, file:PATH, cmd:COMMAND, stdin, prompt.",
)
@click.option("--no-verify", is_flag=True, help="Do not check the new credential against the provider (says so).")
@click.option(
    "--accept-recipients",
    is_flag=True,
    help="At a terminal: encrypt to the recipients .sops.yaml gives now, also ones the committed Secret lacks.",
)
@_FORMAT
# --- revocation gated on the cluster
@click.option(
    "--revoke",
    "revoke",
    metavar="NAME",
    help="Revoke this provider's previous credential once every gate holds (exit 75 while one does not).",
)
@click.option(
    "--ref",
    metavar="ID",
    help="With --revoke: the provider's id of a key this tool did not create (the operator names it).",
)
@click.option(
    "--assume-applied", is_flag=True, help="Without cluster access: take the Flux and in-cluster gates as passed."
)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    help="kubeconfig for the revocation gates (default: $KUBECONFIG, ~/.kube/config, or in-cluster).",
)
@click.option("--context", help="kubeconfig context.")
@click.option(
    "--kustomization",
    default="flux-system/flux-system",
    show_default=True,
    help="Flux Kustomization that applies the Secrets, NAMESPACE/NAME.",
)
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
def rotate(
    repo: Path,
    provider: str | None,
    data_key: bool,
    due: bool,
    cancel: str | None,
    source: str | None,
    no_verify: bool,
    accept_recipients: bool,
    fmt: str,
    revoke: str | None,
    ref: str | None,
    assume_applied: bool,
    kubeconfig: Path | None,
    context: str | None,
    kustomization: str,
    files: tuple[Path, ...],
) -> int:
    """Rotate a provider credential, SOPS data keys, or everything due (cron); revoke previous credentials."""
    if sum(bool(x) for x in (provider, data_key, due, revoke, cancel)) != 1:
        raise click.UsageError("choose one of --provider NAME, --data-key, --due, --revoke NAME or --cancel NAME")
    from aigw_secrets.commands.rotate import RevokeOptions, run

    opts = RevokeOptions(
        ref=ref, assume_applied=assume_applied, kubeconfig=kubeconfig, context=context, kustomization=kustomization
    )
    return run(
        repo,
        provider=provider,
        data_key=data_key,
        due=due,
        files=files,
        source=source,
        verify=not no_verify,
        fmt=fmt,
        revoke=revoke,
        revoke_opts=opts,
        cancel=cancel,
        accept_recipients=accept_recipients,
    )


@cli.command()
@_REPO
@_FORMAT
def status(repo: Path, fmt: str) -> int:
    """Every managed Secret: age, next due date, rotation state, what is safe to revoke. Exit 1 if overdue."""
    from aigw_secrets.commands.rotate import status as run

    return run(repo, fmt="table" if fmt == "text" else fmt)


@cli.command()
@_REPO
@click.option(
    "--to",
    "to",
    type=click.Choice(["external-secrets", "sops"]),
    required=True,
    help="Where the credentials go: the secret store (ExternalSecrets in git) or SOPS Secrets.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file (default: <repo>/cluster.yaml or cluster.toml).",
)
@_FORMAT
def migrate(repo: Path, to: str, config_path: Path | None, fmt: str) -> int:
    """Move the managed credentials between SOPS Secrets and an External Secrets store (value checked on arrival)."""
    from aigw_secrets.commands.migrate import migrate as run

    return run(repo, to=to, config_path=config_path, fmt=fmt)


@cli.command()
@_REPO
@_FORMAT
def doctor(repo: Path, fmt: str) -> int:
    """Lint .sops.yaml and the key set-up for what sops silently accepts."""
    from aigw_secrets.commands.doctor import doctor as run

    return run(repo, fmt=fmt)


@cli.group()
def keys() -> None:
    """age and PGP keys, and the recipients in .sops.yaml."""


_GNUPGHOME = click.option(
    "--gnupghome",
    type=click.Path(file_okay=False, path_type=Path),
    help="GnuPG home (default: $GNUPGHOME or ~/.gnupg).",
)


@keys.command(name="generate-age")
@click.option(
    "--output",
    "-o",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Key file to create (mode 0600).",
)
def keys_generate_age(path: Path) -> int:
    """Create an age identity (age-keygen when installed); print its recipient."""
    from aigw_secrets.commands.keys import generate_age

    return generate_age(path)


@keys.command(name="generate-pgp")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--expire", default="2y", show_default=True, help="gpg expiry (e.g. 2y, 0 for never).")
@_GNUPGHOME
def keys_generate_pgp(name: str, email: str, expire: str, gnupghome: Path | None) -> int:
    """Create a passphrase-less PGP key for sops; print its fingerprint."""
    from aigw_secrets.commands.keys import generate_pgp

    return generate_pgp(name, email, gnupghome, expire)


@keys.command(name="import-pgp")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_GNUPGHOME
def keys_import_pgp(file: Path, gnupghome: Path | None) -> int:
    """Import a PGP key; print its fingerprint(s)."""
    from aigw_secrets.commands.keys import import_pgp

    return import_pgp(file, gnupghome)


@keys.command(name="list")
@_REPO
@_GNUPGHOME
@_FORMAT
@click.option("--json", "as_json", is_flag=True, hidden=True, help="Same as --format json (kept for old scripts).")
def keys_list(repo: Path, gnupghome: Path | None, fmt: str, as_json: bool) -> int:
    """Recipients in .sops.yaml and whether their private keys are available here."""
    from aigw_secrets.commands.keys import list_keys

    return list_keys(repo, gnupghome, as_json or fmt == "json")


_KUBE = [
    click.option(
        "--kubeconfig",
        type=click.Path(dir_okay=False, path_type=Path),
        help="kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster).",
    ),
    click.option("--context", help="kubeconfig context."),
]


_F = TypeVar("_F", bound=Callable[..., Any])


def _kube(f: _F) -> _F:
    for option in reversed(_KUBE):
        f = option(f)
    return f


@keys.command(name="rotate-age")
@_REPO
@_kube
@click.option(
    "--secret", default="flux-system/sops-age", show_default=True, help="Flux decryption Secret, NAMESPACE/NAME."
)
@click.option(
    "--kustomization",
    default="flux-system/flux-system",
    show_default=True,
    help="Flux Kustomization that applies the files, NAMESPACE/NAME.",
)
@click.option(
    "--grace-hours",
    type=float,
    default=24.0,
    show_default=True,
    help="Keep the old key in the cluster this long after Flux applied the re-keyed files.",
)
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The current age key file (default: $SOPS_AGE_KEY_FILE or <repo>/age.key).",
)
@click.option("--dry-run", is_flag=True, help="Print the plan and where the rotation stands; change nothing.")
@click.option(
    "--confirm-phase",
    type=click.IntRange(2, 2),
    help="Phase 2 was done by hand (the printed kubectl commands): continue from there.",
)
def keys_rotate_age(
    repo: Path,
    kubeconfig: Path | None,
    context: str | None,
    secret: str,
    kustomization: str,
    grace_hours: float,
    key_file: Path | None,
    dry_run: bool,
    confirm_phase: int | None,
) -> int:
    """Rotate the age key in the order that never leaves Flux unable to decrypt (resumable)."""
    from aigw_secrets.commands.keys import rotate_age

    return rotate_age(
        repo,
        kubeconfig=kubeconfig,
        context=context,
        secret=secret,
        kustomization=kustomization,
        grace_hours=grace_hours,
        key_file=key_file,
        dry_run=dry_run,
        confirm_phase=confirm_phase,
    )


@cli.group()
def cluster() -> None:
    """Compare with, or apply to, a cluster (the kubernetes client is loaded only here)."""


@cluster.command(name="status")
@_REPO
@_kube
@click.option(
    "--secret", default="flux-system/sops-age", show_default=True, help="Flux decryption Secret, NAMESPACE/NAME."
)
@_FORMAT
def cluster_status(repo: Path, kubeconfig: Path | None, context: str | None, secret: str, fmt: str) -> int:
    """Does the cluster hold the repository's current Secrets, the keys the policies read, every recipient's key?"""
    from aigw_secrets.commands.cluster import status

    return status(repo, kubeconfig=kubeconfig, context=context, secret=secret, fmt="table" if fmt == "text" else fmt)


@cluster.command(name="apply")
@_REPO
@_kube
def cluster_apply(repo: Path, kubeconfig: Path | None, context: str | None) -> int:
    """For clusters without Flux: decrypt in memory and server-side apply the Secrets."""
    from aigw_secrets.commands.cluster import apply

    return apply(repo, kubeconfig=kubeconfig, context=context)


@keys.command(name="add-recipient")
@_REPO
@click.option("--age", "age_recipient", metavar="AGE1...", help="age recipient to add.")
@click.option("--pgp", "pgp_fingerprint", metavar="FINGERPRINT", help="PGP fingerprint to add.")
@click.option("--rule", "rules", type=int, multiple=True, help="Creation rule number (default: all).")
@click.option(
    "--updatekeys",
    "then_updatekeys",
    is_flag=True,
    help="Then re-wrap every encrypted file for the new recipient (`aigw-secrets updatekeys`).",
)
def keys_add_recipient(
    repo: Path, age_recipient: str | None, pgp_fingerprint: str | None, rules: tuple[int, ...], then_updatekeys: bool
) -> int:
    """Add a recipient to .sops.yaml creation rules, keeping its layout; then run updatekeys."""
    from aigw_secrets.commands.keys import add_recipient

    if bool(age_recipient) == bool(pgp_fingerprint):
        raise click.UsageError("give exactly one of --age or --pgp")
    kind, value = ("age", age_recipient) if age_recipient else ("pgp", pgp_fingerprint)
    code = add_recipient(repo, kind, value or "", rules, then_updatekeys=then_updatekeys)
    if code or not then_updatekeys:
        return code
    from aigw_secrets.commands.crypt import updatekeys

    return updatekeys(repo, ())


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--staged", is_flag=True, help="Scan what the next commit contains (the git index).")
@click.option("--all", "all_", is_flag=True, help="Scan every tracked file.")
@click.option(
    "--history",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[RANGE]",
    help="Scan every blob reachable in RANGE (default: all refs).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif"]),
    default="text",
    show_default=True,
    help="sarif: SARIF 2.1.0 for code scanning.",
)
@click.option("-o", "--output", metavar="FILE", help="Write the report to FILE instead of stdout.")
@click.option(
    "--baseline",
    metavar="FILE",
    help="Accepted findings (SHA-256 only); default .aigw-baseline.json at the repository root, when it exists.",
)
@click.option("--update-baseline", is_flag=True, help="Record the current findings in the baseline and exit 0.")
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    help="Repository root (default: found from the current directory).",
)
def scan(
    paths: tuple[str, ...],
    staged: bool,
    all_: bool,
    history: str | None,
    fmt: str,
    output: str | None,
    baseline: str | None,
    update_baseline: bool,
    repo: Path | None,
) -> int:
    """Find plaintext credentials, unencrypted Secrets and age keys (pre-commit hook / CI).

    Default: the repository's tracked files. Exit 0 clean, 1 findings, 2 usage or configuration error.
    """
    from aigw_secrets.scanner.hook import execute
    from aigw_secrets.scanner.request import ScanRequest

    if sum(bool(x) for x in (staged, all_, history is not None)) > 1:
        raise click.UsageError("give at most one of --staged, --all, --history")
    return execute(
        ScanRequest(
            paths,
            staged=staged,
            all=all_,
            history=history,
            format=fmt,
            output=output,
            baseline=baseline,
            update_baseline=update_baseline,
            repo=repo,
        )
    )


@cli.command(name="install-hook")
@_REPO
def install_hook(repo: Path) -> int:
    """Install a git pre-commit hook running `scan --staged` (keeps and chains an existing hook)."""
    from aigw_secrets.scanner.hook import install_hook as run

    return run(repo)


def _click_main(argv: Sequence[str] | None) -> int:
    """click's own exceptions become exit codes here; everything else goes to ``errors.guarded``."""
    try:
        rv = cli.main(args=list(argv) if argv is not None else None, prog_name="aigw-secrets", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        output.error("interrupted")
        return ExitCode.INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        return ExitCode.USAGE if exc.exit_code == 2 else exc.exit_code
    return int(rv) if isinstance(rv, int) else ExitCode.OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the click command line inside the one error boundary (``errors.guarded``)."""
    return guarded(lambda: _click_main(argv))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
