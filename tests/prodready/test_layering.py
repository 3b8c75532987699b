"""Layered configuration: YAML files read, merged in order, each value's file remembered."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from prodready import layers


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_config_dir_follows_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CONFIG_DIR", str(tmp_path))
    assert layers.config_dir() == tmp_path

    monkeypatch.delenv("CONFIG_DIR")
    assert layers.config_dir() == Path("config")


def test_read_yaml_returns_the_mapping(tmp_path: Path) -> None:
    path = _tree(tmp_path, {"a.yaml": "app:\n  debug: false\n"}) / "a.yaml"

    assert layers.read_yaml(path) == {"app": {"debug": False}}


def test_an_empty_file_is_an_empty_mapping(tmp_path: Path) -> None:
    path = _tree(tmp_path, {"empty.yaml": "# nothing yet\n"}) / "empty.yaml"

    assert layers.read_yaml(path) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [("app: [unclosed\n", "is not valid YAML"), ("- a\n- b\n", "the top level must be a mapping, not list")],
)
def test_bad_files_are_named_in_the_error(tmp_path: Path, text: str, message: str) -> None:
    path = _tree(tmp_path, {"bad.yaml": text}) / "bad.yaml"

    with pytest.raises(layers.ConfigError, match=message) as raised:
        layers.read_yaml(path)

    assert str(path) in str(raised.value)


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(layers.ConfigError, match="cannot be read"):
        layers.read_yaml(tmp_path / "missing.yaml")


def test_deep_merge_recurses_and_records_origins() -> None:
    base = {"app": {"name": "a", "debug": True}, "cache": {"ttl": 1}}
    origins: dict[str, str] = {}
    layers.deep_merge(base, {"app": {"debug": False}, "server": {"port": 1}}, origins, "override.yaml")

    assert base == {"app": {"name": "a", "debug": False}, "cache": {"ttl": 1}, "server": {"port": 1}}
    assert origins == {"app.debug": "override.yaml", "server.port": "override.yaml"}


def test_deep_merge_replaces_a_whole_value_that_is_not_a_mapping() -> None:
    origins = {"app.hosts": "first.yaml", "app.sub.x": "first.yaml"}
    base = {"app": {"hosts": ["a"], "sub": {"x": 1}}}

    layers.deep_merge(base, {"app": {"hosts": ["b", "c"], "sub": 5}}, origins, "second.yaml")

    assert base == {"app": {"hosts": ["b", "c"], "sub": 5}}
    assert origins == {"app.hosts": "second.yaml", "app.sub": "second.yaml"}


def test_deep_merge_copies_so_later_changes_do_not_leak() -> None:
    override = {"app": {"hosts": ["a"]}}
    merged = layers.deep_merge({}, override)

    merged["app"]["hosts"].append("b")

    assert override == {"app": {"hosts": ["a"]}}


def test_layer_files_are_services_sorted_then_the_environment(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {"services/b.yaml": "", "services/a.yaml": "", "services/notes.txt": "", "environments/testing.yaml": ""},
    )

    files = layers.layer_files("testing", root)

    assert [path.relative_to(root).as_posix() for path in files] == [
        "services/a.yaml",
        "services/b.yaml",
        "environments/testing.yaml",
    ]


def test_layer_files_refuse_unknown_and_missing_environments(tmp_path: Path) -> None:
    with pytest.raises(layers.ConfigError, match="unknown environment 'prod'"):
        layers.layer_files("prod", tmp_path)
    with pytest.raises(layers.ConfigError, match="missing"):
        layers.layer_files("staging", tmp_path)


def test_load_layers_merges_in_order_and_knows_where_each_value_came_from(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "services/database.yaml": "database:\n  host: db\n  port: 5432\n",
            "environments/staging.yaml": "database:\n  host: staging-db\napp:\n  debug: false\n",
        },
    )

    merged, origins = layers.load_layers("staging", root)

    assert merged == {"database": {"host": "staging-db", "port": 5432}, "app": {"debug": False}}
    assert origins["database.host"].endswith("staging.yaml")
    assert origins["database.port"].endswith("database.yaml")


def test_the_projects_own_layers_load_for_every_environment(project: Path) -> None:
    for env in layers.ENVIRONMENTS:
        merged, _ = layers.load_layers(env)
        assert {"app", "server", "database", "cache"} <= set(merged)


def _billion_laughs(levels: int = 9) -> str:
    """A few KB of YAML whose aliases expand to ``10**levels`` strings."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 10)}]")
    return "\n".join(lines) + "\n"


def test_aliases_are_refused_at_once_naming_the_line(tmp_path: Path) -> None:
    path = _tree(tmp_path, {"bomb.yaml": _billion_laughs()}) / "bomb.yaml"
    started = time.perf_counter()

    with pytest.raises(layers.ConfigError) as raised:
        layers.read_yaml(path)

    assert time.perf_counter() - started < 1
    assert str(raised.value).startswith(f"{path}: line 1:")
    assert "aliases" in str(raised.value)


def test_an_anchor_used_once_more_is_refused_too(tmp_path: Path) -> None:
    path = _tree(tmp_path, {"a.yaml": "app: &app {debug: false}\nworker: *app\n"}) / "a.yaml"

    with pytest.raises(layers.ConfigError, match="aliases"):
        layers.read_yaml(path)


def test_other_yaml_files_may_still_use_aliases() -> None:
    # CI files and compose files use anchors by design; only configuration refuses them.
    assert layers.parse_yaml("a: &a [1]\nb: *a\n") == {"a": [1], "b": [1]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rate_limit: {enabled: true}\napp: {}\nrate_limit:\n  enabled: false\n", "line 3: rate_limit is set twice"),
        ("app:\n  debug: false\n  name: a\n  debug: true\n", "line 4: debug is set twice"),
        ("rate_limit: {enabled: true, enabled: false}\n", "line 1: enabled is set twice"),
    ],
)
def test_a_repeated_key_is_refused_naming_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = _tree(tmp_path, {"a.yaml": text}) / "a.yaml"

    with pytest.raises(layers.ConfigError, match=message) as raised:
        layers.read_yaml(path)

    assert str(raised.value).startswith(f"{path}: ")
