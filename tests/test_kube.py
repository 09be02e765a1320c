"""Kubeconfig problems are one line in our words, naming the file and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw_secrets.errors import ConfigError
from aigw_secrets.kube import Cluster

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: not-a-real-token}}]
contexts: [{name: dev, context: {cluster: c, user: u}}, {name: prod, context: {cluster: c, user: u}}]
"""


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"no kubeconfig: .*nope\.yaml \(--kubeconfig\) does not exist; pass --kubeconfig"
    ):
        Cluster(tmp_path / "nope.yaml")


def test_unknown_context_lists_the_contexts(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text(KUBECONFIG + "current-context: dev\n")
    with pytest.raises(ConfigError, match=r"no context named 'staging' \(it has: dev, prod\)"):
        Cluster(kc, "staging")
    assert Cluster(kc, "prod").server == "https://127.0.0.1:9"


def test_no_current_context(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text(KUBECONFIG)
    with pytest.raises(ConfigError, match=r"no current-context; pass --context \(it has: dev, prod\)"):
        Cluster(kc)


def test_not_yaml(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text("{[")
    with pytest.raises(ConfigError, match="cannot be read as YAML"):
        Cluster(kc)


def test_annotations_are_read_as_kubernetes_holds_them_whatever_a_file_puts_there() -> None:
    import datetime as dt

    from aigw_secrets.kube import annotations_of

    doc = {
        "metadata": {
            "annotations": {
                "a": "x",
                "n": 3,
                "f": False,
                "t": True,
                "none": None,
                "list": ["ref"],
                "map": {"k": "v"},
                "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
                "day": dt.date(2026, 1, 2),
            }
        }
    }
    assert annotations_of(doc) == {
        "a": "x",
        "n": "3",
        "f": "false",
        "t": "true",
        "when": "2026-01-02T03:04:05+00:00",
        "day": "2026-01-02",
    }
    for bad in (None, [], "Secret", {"metadata": []}, {"metadata": {"annotations": "x"}}, {"metadata": None}):
        assert annotations_of(bad) == {}


def test_a_time_written_without_a_zone_is_utc() -> None:
    import datetime as dt

    from aigw_secrets.util import parse_stamp

    assert parse_stamp("2020-01-01T00:00:00") == dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    assert parse_stamp("2020-01-01 00:00:00+02:00") == dt.datetime(2019, 12, 31, 22, tzinfo=dt.UTC)
    assert parse_stamp("not a time") is None and parse_stamp(None) is None
