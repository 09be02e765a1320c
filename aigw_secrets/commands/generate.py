"""``aigw-secrets generate``: cluster.yaml / cluster.toml + credentials → encrypted GitOps manifests.

Everything is computed first (``gateway/plan.py``), then every file is staged and the whole set is
committed under the repository lock with a journal (``rotation/journal.commit_files``): a failure, a
full disk included, leaves the output directory as it was, and a run killed while committing is
finished by the next one. Only files carrying the aigw-secrets header are overwritten or pruned, and
never through a symlink. ``--check`` writes nothing and runs no credential command.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aigw_secrets import output
from aigw_secrets.errors import ConfigError, ExitCode, OutputError
from aigw_secrets.gateway import config as gateway_config
from aigw_secrets.gateway import marks, mcp, operator, routing, secretdoc, yamltext
from aigw_secrets.gateway.plan import (
    KUSTOMIZATION,
    ROUTES_FILE,
    Planned,
    SecretJob,
    StoreJob,
    check_writable,
    encrypt_all,
    plan_external_secret,
    plan_mcp_seed,
    plan_secret,
    read_documents,
    remote_of,
    secret_generation,
    store_and_render,
)
from aigw_secrets.rotation import storepin
from aigw_secrets.rotation.journal import COMMIT_JOURNAL, commit_files, repo_lock
from aigw_secrets.sops import config as sops_config
from aigw_secrets.util import TMP_PREFIX, require_regular, stamp, sweep_stale


def generate(
    root: Path,
    *,
    config_path: Path | None = None,
    sources: Mapping[str, str] | None = None,
    interactive: bool | None = None,
    check_only: bool = False,
    fmt: str = "text",
    replace_rotated: bool = False,
) -> int:
    """Write the manifests for every enabled provider; returns an exit code."""
    root = root.resolve()
    output.begin(fmt)
    cfg = gateway_config.load(root, config_path)
    if not any(isinstance(k, str) and k.startswith("ai_gateway_") for k in cfg.raw):
        # An empty, comments-only or foreign file is far more likely a mistake than "remove everything".
        raise ConfigError(
            f"{cfg.path}: no ai_gateway_* settings (empty or comments only?); nothing generated, nothing removed"
        )
    sources = dict(sources or {})
    unknown = sorted(set(sources) - {pc.key for pc in (*cfg.providers, *cfg.mcp_backends)})
    if unknown:
        raise ConfigError(
            f"--source {unknown[0]}: no enabled provider with that key (enabled: "
            f"{', '.join(pc.key for pc in cfg.providers) or 'none'})"
        )
    if not cfg.providers:
        output.warn(f"{cfg.path}: no provider is enabled (set e.g. ai_gateway_openai_enabled: true)")
    if any(pc.auth.secret_key and pc.backend == "sops" for pc in (*cfg.providers, *cfg.mcp_backends)) or cfg.mcp_seed:
        sops_config.require(root, "the Secrets are encrypted with its creation rules")
    if interactive is None:
        interactive = sys.stdin.isatty() and sys.stderr.isatty()
    if sum(1 for spec in sources.values() if spec.strip() == "stdin") > 1:
        raise ConfigError("--source: only one provider can read its credential from stdin")
    out = cfg.output_dir
    if not out.resolve().is_relative_to(root):
        raise OutputError(f"{out.relative_to(root)}: leads out of the repository (a symlink?); refusing to write there")
    check_writable(out, root)
    _warn_about_setup(cfg)
    if check_only:  # writes nothing, runs no command, takes no lock (CI may have a read-only checkout)
        plan, jobs = _plan(cfg, root, sources, interactive, run_commands=False, replace_rotated=replace_rotated)
        return _report_check(plan, jobs, out, out.relative_to(root))
    with repo_lock(root):  # settles a commit an earlier run left half-done (rotation/journal.py)
        sweep_stale(out, TMP_PREFIX)  # temp files of killed runs (after recovery: it may still need its own)
        plan, jobs = _plan(cfg, root, sources, interactive, run_commands=True, replace_rotated=replace_rotated)
        return _write(cfg, root, plan, jobs)


def _warn_about_setup(cfg: gateway_config.Config) -> None:
    """What generate can see would break in the cluster, though every file is right."""
    from aigw_secrets.gateway import targetns

    for line in targetns.target_namespace_moves(cfg):
        output.warn(line)
    if cfg.secret_namespace and cfg.mcp_backends:
        output.info(
            f"{cfg.path.name}: the MCP servers' Secrets stay in {cfg.namespace} with their MCPRoute; "
            "ai_gateway_secret_namespace applies to the providers' policies only"
        )
    for pc in cfg.mcp_backends:
        if not pc.tls and not gateway_config.local_host(pc.host):
            output.warn(
                f"{cfg.path.name}: ai_gateway_mcp_backends: {pc.name} is http://{pc.host}: its API key would "
                "cross the network in the clear; use https:// (http:// is for loopback and in-cluster hosts)"
            )


def _plan(
    cfg: gateway_config.Config,
    root: Path,
    sources: Mapping[str, str],
    interactive: bool,
    *,
    run_commands: bool,
    replace_rotated: bool = False,
) -> tuple[list[Planned], list[SecretJob | StoreJob]]:
    out = cfg.output_dir
    rel_out = out.relative_to(root)
    header = marks.HEADER.format(config=cfg.path.name)
    names = [
        n
        for pc in cfg.providers
        for n in (f"{pc.name}.yaml", secretdoc.secret_file(pc) if pc.auth.secret_key else None)
        if n
    ]
    for name in (*names, ROUTES_FILE, KUSTOMIZATION):  # never overwrite what someone else wrote
        _refuse_foreign(out / name, rel_out / name)
    policy = operator.load(root)
    plan: list[Planned] = []
    jobs: list[SecretJob | StoreJob] = []

    def plan_credential(pc: gateway_config.ProviderConfig) -> tuple[Planned, SecretJob | StoreJob | None]:
        return _plan_credential(
            pc,
            cfg,
            out,
            sources.get(pc.key),
            interactive,
            run_commands=run_commands,
            policy=policy,
            replace_rotated=replace_rotated,
        )

    for pc in cfg.providers:
        objs, at = routing.provider_objects(pc, cfg), len(plan)
        job = None
        if pc.auth.secret_key:
            planned, job = plan_credential(pc)
            plan.append(planned)
            if job:
                jobs.append(job)
        routing.mark_generation(objs, secret_generation(pc, out, job))  # as rotation's policy bump does
        plan.insert(at, Planned(f"{pc.name}.yaml", yamltext.dump(objs, header).encode()))

    # MCP servers' API keys + MCPRoute, and the controller's MCP session seed (v1.2)
    if cfg.mcp_backends:
        plan.append(Planned(mcp.MCP_ROUTE_FILE, yamltext.dump(mcp.mcp_objects(cfg), header).encode()))
        for pc in cfg.mcp_backends:
            planned, job = plan_credential(pc)
            plan.append(planned)
            jobs += [job] if job else []
    if cfg.mcp_seed:
        planned, job = plan_mcp_seed(cfg, out)
        plan.append(planned)
        jobs += [job] if job else []
        plan.append(Planned(mcp.MCP_VALUES_FILE, mcp.mcp_values(cfg).encode()))
    for p in plan:  # the MCP files too: never overwrite what someone else wrote
        if p.rel not in names:
            _refuse_foreign(out / p.rel, rel_out / p.rel)

    existing_routes = read_documents(out / ROUTES_FILE)
    routes = routing.routes(cfg, routing.models_created_at(existing_routes), stamp())
    if routes:
        plan.append(Planned(ROUTES_FILE, yamltext.dump(routes, header).encode()))
    resources = [p.rel for p in plan if p.rel != mcp.MCP_VALUES_FILE]  # Helm values, not an object
    plan.append(Planned(KUSTOMIZATION, yamltext.dump([routing.kustomization(resources)], header).encode()))
    return plan, jobs


def _plan_credential(
    pc: gateway_config.ProviderConfig,
    cfg: gateway_config.Config,
    out: Path,
    source: str | None,
    interactive: bool,
    **kw: Any,
) -> tuple[Planned, SecretJob | StoreJob | None]:
    if pc.backend == gateway_config.EXTERNAL_SECRETS:  # the value goes to the store, an ExternalSecret to git
        kw.pop("replace_rotated", None)  # the store keeps its own versions; git holds no value to compare
        return plan_external_secret(pc, cfg, out, source, interactive, **kw)
    return plan_secret(pc, cfg, out, source, interactive, **kw)


def _holds(path: Path, content: bytes) -> bool:
    return path.is_file() and path.read_bytes() == content


def _refuse_foreign(target: Path, rel: Path) -> None:
    if require_regular(target) is None:  # a symlink, directory, pipe or device is refused here
        return
    try:
        with target.open("rb") as fh:
            head = fh.read(len(marks.MARKER))
    except OSError as exc:
        raise OutputError(f"{rel}: cannot be read ({exc.strerror or exc}); not touching it") from None
    if head != marks.MARKER.encode():
        raise OutputError(
            f"{rel}: exists and was not generated by aigw-secrets; move it away or choose another ai_gateway_output_dir"
        )


def _write(cfg: gateway_config.Config, root: Path, plan: list[Planned], jobs: list[SecretJob | StoreJob]) -> int:
    """Encrypt (or write to the store), then replace every changed file and prune stale ones in one journaled step."""
    out = cfg.output_dir
    rel_out = out.relative_to(root)
    encrypted = encrypt_all([j for j in jobs if isinstance(j, SecretJob)], root, rel_out)
    stored = [j for j in jobs if isinstance(j, StoreJob)]
    where = {
        j.pc.key: storepin.location(cfg.external_secrets, remote_of(j.document)) for j in stored if cfg.external_secrets
    }
    for j in stored:  # before any store write: a commit does not move where a credential goes
        storepin.check(root, j.pc.key, where[j.pc.key], rel=str(rel_out / j.rel))
    encrypted.update(store_and_render(stored, cfg))
    for key, at in where.items():
        storepin.remember(root, key, at)
    plan = [Planned(p.rel, *encrypted[p.rel]) if p.rel in encrypted else p for p in plan]
    keep = {p.rel for p in plan}
    stale = _stale(out, keep)
    writes = {out / p.rel: p.content for p in plan if p.content is not None and not _holds(out / p.rel, p.content)}
    commit_files(root, COMMIT_JOURNAL, writes, stale)
    for p in plan:  # reported once everything is in place
        output.status("wrote" if out / p.rel in writes else "unchanged", rel_out / p.rel, p.note)
    for path in stale:
        output.status("removed", path.relative_to(root), "provider no longer enabled")
    changed = len(writes) + len(stale)
    output.finish(
        f"{len(cfg.providers)} provider(s), {changed} file(s) changed in {rel_out}",
        providers=len(cfg.providers),
        changed=changed,
        check=False,
    )
    if changed:
        output.hint(f"review and commit the changes (git add {rel_out} && git commit), then push so Flux applies them")
    if any(
        isinstance(j, StoreJob) and j.document["metadata"]["annotations"].get(f"{marks.ANNOTATION}/generation") == "1"
        for j in jobs
    ):
        from aigw_secrets.gateway.externalsecrets import FLUX_HINT

        output.hint(FLUX_HINT)  # first ExternalSecrets in this directory
    return 0


def _stale(out: Path, keep: set[str]) -> list[Path]:
    """Our files of providers no longer enabled: what a run removes (and --check counts)."""
    if not out.is_dir():
        return []
    return sorted(
        f for f in out.glob("*.yaml") if f.name not in keep and not f.is_symlink() and f.is_file() and marks.is_ours(f)
    )


def _report_check(plan: list[Planned], jobs: list[SecretJob | StoreJob], out: Path, rel_out: Path) -> int:
    """--check: say what would change, write nothing; exit 1 when something would. Counts what a
    run would write and remove, the same way the run does."""
    pending = {j.rel for j in jobs}
    differs = 0
    for p in plan:
        target = out / p.rel
        if p.rel in pending or (p.content is not None and (not target.exists() or target.read_bytes() != p.content)):
            differs += 1
            output.status("would change", rel_out / p.rel, "")
    for path in _stale(out, {p.rel for p in plan}):
        differs += 1
        output.status("would remove", rel_out / path.name, "provider no longer enabled")
    output.finish(f"{differs} file(s) would change", changed=differs, check=True)
    return int(ExitCode.FINDINGS) if differs else 0
