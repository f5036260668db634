"""``masking.profiles`` in proctor.yaml, checked with the policy that chooses among them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from proctor.cli.config_cmd import config_group
from proctor.config import load_config
from proctor.pipeline.masking import MaskerChooser, MaskingSetupError, load_profiles
from proctor.policy import Policy, load_configured_policy

from .conftest import MINIMAL, WriteConfig

KEY = "a-masking-key-of-more-than-16-bytes"
POLICY = """version: 1
default: allow
masking:
  - profile: none
    match: {groups: dba}
  - profile: pii
"""


def _with_masking(write_config: WriteConfig, tmp_path: Path, profiles: str, policy: str) -> Path:
    (tmp_path / "policy.yaml").write_text(policy)
    return write_config(MINIMAL + "policy: {file: policy.yaml}\nmasking:\n  profiles:\n" + profiles)


def run(*args: str) -> Result:
    return CliRunner().invoke(config_group, ["check", *args])


def test_profiles_load_and_the_hash_key_stays_hidden(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    path = _with_masking(
        write_config,
        tmp_path,
        f"    pii: {{hash_key: {KEY}, entities: {{email: hash}}}}\n",
        POLICY,
    )
    config = load_config(path)
    assert KEY not in repr(config) and KEY not in str(config.public_view())
    profiles = load_profiles(config, load_configured_policy(config))
    assert set(profiles) == {"default", "pii"}
    chooser = MaskerChooser(profiles, load_configured_policy(config))
    assert chooser.used
    assert chooser.masker("pii").mask_text("jane@example.com").startswith("tok_")


def test_a_bad_profile_is_a_configuration_problem(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    path = _with_masking(write_config, tmp_path, "    pii: {entities: {card: shred}}\n", POLICY)
    result = run(str(path))
    assert result.exit_code == 1
    assert "masking.profiles.pii" in result.stderr and "shred" in result.stderr


def test_the_policy_may_only_name_declared_profiles(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    path = _with_masking(write_config, tmp_path, "    other: {}\n", POLICY)
    result = run(str(path))
    assert result.exit_code == 1
    assert "pii" in result.stderr and "masking.profiles" in result.stderr
    with pytest.raises(MaskingSetupError):
        config = load_config(path)
        load_profiles(config, load_configured_policy(config))


def test_the_builtin_profile_needs_no_declaration(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    path = _with_masking(
        write_config, tmp_path, "    {}\n", POLICY.replace("profile: pii", "profile: default")
    )
    assert run(str(path)).exit_code == 0, run(str(path)).output


def test_reserved_profile_name(write_config: WriteConfig, tmp_path: Path) -> None:
    path = _with_masking(write_config, tmp_path, "    none: {}\n", "version: 1\ndefault: allow\n")
    result = run(str(path))
    assert result.exit_code == 1 and "reserved" in result.stderr


def test_no_masking_section_means_nothing_is_masked() -> None:
    chooser = MaskerChooser({}, Policy.builtin())
    assert not chooser.used
