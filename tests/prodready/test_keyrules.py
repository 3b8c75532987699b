"""The key rules every check shares: strength, placeholders, formats and the policy's minimum."""

from __future__ import annotations

import base64
import json
import re
import secrets
from pathlib import Path

import pytest

from prodready import cli, keyrules, policyfiles


def _raw_bits(spec: keyrules.KeySpec, value: str) -> int:
    # Bits of the random bytes behind a generated value, decoded from its format.
    if spec.hex_bytes is not None:
        return len(bytes.fromhex(value)) * 8
    return len(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))) * 8


def test_the_key_list_is_the_projects(project: Path, key_names: tuple[str, ...]) -> None:
    assert key_names == keyrules.KEY_NAMES
    assert [spec.name for spec in keyrules.KEYS] == list(key_names)
    assert keyrules.load().min_bits == 256


def test_generated_keys_have_at_least_256_bits(project: Path) -> None:
    for spec in keyrules.KEYS:
        value = spec.generate()
        assert _raw_bits(spec, value) >= 256, spec.name
        assert spec.bits >= 256, spec.name
        assert keyrules.estimated_bits(value) >= 256, spec.name


def test_fresh_keys_always_pass_the_rules(project: Path) -> None:
    for spec in keyrules.generated_keys():
        for _ in range(200):
            value = keyrules.fresh_value(spec)
            assert keyrules.key_problems(spec.name, value) == [], (spec.name, value)


def test_the_rules_almost_never_flag_a_random_key(project: Path) -> None:
    # A rule that trips on random values (a short alphabet run, "xxx" inside a key) would flag
    # real keys now and then and train people to ignore the check. Whole-word markers still
    # can, very rarely: a token_urlsafe value with "_tBd_" or "-xxx-" in it (about one draw in
    # 10^5, which fresh_value discards). At most 2 in 2,000 draws per key: a broader rule fails.
    for spec in keyrules.generated_keys():
        flagged = [value for value in (spec.generate() for _ in range(2000)) if keyrules.key_problems(spec.name, value)]
        assert len(flagged) <= 2, (spec.name, flagged)


def test_generated_keys_differ(project: Path) -> None:
    for spec in keyrules.KEYS:
        assert len({spec.generate() for _ in range(20)}) == 20


def test_db_encryption_key_is_an_aes_256_key(project: Path) -> None:
    assert len(bytes.fromhex(keyrules.generate("DB_ENCRYPTION_KEY"))) == 32


@pytest.mark.parametrize(
    "value",
    [
        "CHANGE_ME",
        "change-me-please-in-production-now",
        "${SECRET_KEY}",
        "<generated-by-keys-ensure>",
        "replace_me_with_a_long_random_string",
        "your-secret-key-goes-here-1234567890",
        "secret",
        "password123",
        "dev-key",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "TODO",
    ],
)
def test_placeholders_are_recognised(project: Path, value: str) -> None:
    assert keyrules.is_placeholder(value)
    assert keyrules.key_problems("SECRET_KEY", value)


def test_marker_words_inside_a_random_key_are_not_placeholders(project: Path) -> None:
    value = secrets.token_urlsafe(40) + "xxxtodoexample" + secrets.token_urlsafe(40)
    assert not keyrules.is_placeholder(value)


@pytest.mark.parametrize("value", ["${DB_HOST}", "<your-host>", "CHANGE_ME", "change-me.example.org"])
def test_unfilled_deployment_values(value: str) -> None:
    assert keyrules.is_unfilled(value)


@pytest.mark.parametrize("value", ["db.internal", "10.0.0.7", "redis-primary.prod.svc"])
def test_real_deployment_values_are_filled(value: str) -> None:
    assert not keyrules.is_unfilled(value)


def test_a_short_key_is_named_with_its_length_and_never_shown(project: Path) -> None:
    value = "s3cr3t-but-short"
    problems = keyrules.key_problems("JWT_SECRET_KEY", value)
    assert problems
    assert all("JWT_SECRET_KEY" in problem for problem in problems)
    assert any(f"{len(value)} characters long; the minimum is 32" in problem for problem in problems)
    assert not any(value in problem for problem in problems)


def test_a_long_key_of_few_characters_is_weak(project: Path) -> None:
    problems = keyrules.key_problems("SECRET_KEY", "ab" * 40)
    assert any("bits of randomness" in problem for problem in problems)


def test_missing_and_empty_keys_are_named(project: Path) -> None:
    assert keyrules.key_problems("SECRET_KEY", None) == ["SECRET_KEY is missing"]
    assert keyrules.key_problems("SECRET_KEY", "") == ["SECRET_KEY is missing"]


@pytest.mark.parametrize("name", ["DB_ENCRYPTION_KEY", "DB_ENCRYPTION_KEY_PREVIOUS"])
def test_the_cipher_key_must_be_32_bytes_of_hex(project: Path, name: str) -> None:
    problems = keyrules.key_problems(name, secrets.token_urlsafe(64))
    assert any(f"{name} must be 64 hex characters" in problem for problem in problems)
    assert keyrules.key_problems(name, secrets.token_hex(32)) == []


def test_min_length_is_a_parameter(project: Path) -> None:
    value = keyrules.generate("SECRET_KEY")
    assert keyrules.key_problems("SECRET_KEY", value, min_length=len(value)) == []
    assert keyrules.key_problems("SECRET_KEY", value, min_length=len(value) + 1)


def test_check_keys_reports_every_key_and_only_set_previous_values(project: Path) -> None:
    values: dict[str, str | None] = {spec.name: spec.generate() for spec in keyrules.KEYS}
    assert keyrules.check_keys(values) == {}
    values["JWT_SECRET_KEY_PREVIOUS"] = "short"
    values["SECRET_KEY"] = None
    found = keyrules.check_keys(values)
    assert set(found) == {"SECRET_KEY", "JWT_SECRET_KEY_PREVIOUS"}


def test_fingerprint_is_short_stable_and_not_the_value(project: Path) -> None:
    value = keyrules.generate("SECRET_KEY")
    assert keyrules.fingerprint(value) == keyrules.fingerprint(value)
    assert re.fullmatch(r"[0-9a-f]{12}", keyrules.fingerprint(value))
    assert keyrules.fingerprint(value) not in value


def test_generate_rejects_unknown_names(project: Path) -> None:
    with pytest.raises(KeyError, match="unknown key"):
        keyrules.generate("NOT_A_KEY")


def test_min_key_length_comes_from_the_encryption_policy(project: Path) -> None:
    directory = project / "security" / "policies"
    path = directory / "encryption_policy.json"
    assert policyfiles.min_key_length(directory) == json.loads(path.read_text())["min_key_length"]
    assert policyfiles.min_key_length() == policyfiles.min_key_length(directory)
    policy = json.loads(path.read_text())
    policy["min_key_length"] = 64
    path.write_text(json.dumps(policy))
    assert policyfiles.min_key_length(directory) == 64


def test_the_policy_cannot_lower_the_floor(project: Path) -> None:
    directory = project / "security" / "policies"
    path = directory / "encryption_policy.json"
    policy = json.loads(path.read_text())
    policy["min_key_length"] = 8
    path.write_text(json.dumps(policy))
    assert policyfiles.min_key_length(directory) == keyrules.MIN_KEY_LENGTH


def test_without_a_policy_the_floor_applies(tmp_path: Path) -> None:
    assert policyfiles.min_key_length(tmp_path) == keyrules.MIN_KEY_LENGTH
    assert policyfiles.max_key_age_days(tmp_path) is None


def test_a_broken_policy_is_an_error_naming_the_file(project: Path) -> None:
    directory = project / "security" / "policies"
    (directory / "encryption_policy.json").write_text("{not json")
    with pytest.raises(policyfiles.PolicyError, match=r"encryption_policy\.json"):
        policyfiles.min_key_length(directory)


# --- the key list is the project's data -------------------------------------------------------


def _keys_file(project: Path) -> Path:
    return project / "security" / "keys.json"


def _rewrite(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_without_a_key_list_the_key_commands_stop_with_one_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _keys_file(project).unlink()

    with pytest.raises(keyrules.KeyRulesError, match=r"security/keys\.json: missing"):
        keyrules.load()
    assert cli.main(["keys", "ensure"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("prodready keys: security/keys.json: missing")
    assert len(err.splitlines()) == 1
    assert not (project / ".env").exists()


def test_the_key_list_follows_the_working_directory_and_keys_file(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other" / "security"
    other.mkdir(parents=True)
    data = json.loads(_keys_file(project).read_text())
    data["keys"] = data["keys"][:1]
    (other / "keys.json").write_text(json.dumps(data))
    first = data["keys"][0]["name"]

    monkeypatch.chdir(other.parent)
    assert (first,) == keyrules.KEY_NAMES

    monkeypatch.chdir(project)
    assert len(keyrules.KEY_NAMES) > 1
    monkeypatch.setenv("KEYS_FILE", str(other / "keys.json"))
    assert (first,) == keyrules.KEY_NAMES


def test_a_changed_key_list_is_read_again(project: Path) -> None:
    before = keyrules.KEY_NAMES
    path = _keys_file(project)
    data = json.loads(path.read_text())
    data["keys"].append({"name": "WEBHOOK_SECRET", "purpose": "signs webhooks", "encoding": "urlsafe", "bytes": 48})
    path.write_text(json.dumps(data, indent=4))

    assert (*before, "WEBHOOK_SECRET") == keyrules.KEY_NAMES
    assert keyrules.key_problems("WEBHOOK_SECRET", keyrules.generate("WEBHOOK_SECRET")) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot be read as JSON"),
        ('{"keys": []}', "must be an object with a non-empty list `keys`"),
        ('{"min_bits": 256, "keys": [{"name": "A", "purpose": "p", "encoding": "base32", "bytes": 32}]}', "encoding"),
        ('{"min_bits": 256, "keys": [{"name": "A", "purpose": "p", "encoding": "hex", "bytes": "32"}]}', "bytes must"),
        ('{"min_bits": true, "keys": [{"name": "A", "purpose": "p", "encoding": "hex", "bytes": 32}]}', "min_bits"),
        (
            '{"min_bits": 256, "keys": [{"name": "A", "purpose": "p", "encoding": "hex", "bytes": 32, '
            '"previous_until": "forever"}]}',
            "previous_until must be one of next_rotation, grace_period, reencryption, not 'forever'",
        ),
    ],
    ids=["not-json", "no-keys", "encoding", "bytes", "min-bits", "previous-until"],
)
def test_a_malformed_key_list_is_an_error_naming_the_field(project: Path, content: str, message: str) -> None:
    _keys_file(project).write_text(content)

    with pytest.raises(keyrules.KeyRulesError, match=message) as raised:
        keyrules.load()

    assert "keys.json" in str(raised.value)


def test_placeholder_words_come_from_the_key_list(project: Path) -> None:
    value = secrets.token_urlsafe(24) + "-acme-" + secrets.token_urlsafe(24)
    assert not keyrules.is_placeholder(value)

    data = json.loads(_keys_file(project).read_text())
    _rewrite(_keys_file(project), placeholder_words=[*data["placeholder_words"], "acme"])

    assert keyrules.is_placeholder(value)


def test_min_bits_comes_from_the_key_list(project: Path) -> None:
    value = keyrules.generate("SECRET_KEY")
    assert keyrules.key_problems("SECRET_KEY", value) == []

    _rewrite(_keys_file(project), min_bits=1024)

    assert keyrules.key_problems("SECRET_KEY", value) == [
        f"SECRET_KEY has about {keyrules.estimated_bits(value)} bits of randomness; the minimum is 1024"
    ]
