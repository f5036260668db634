"""Every top-level subcommand, in help order."""

from __future__ import annotations

import click

from proctor.cli.approvals_cmd import COMMANDS as APPROVAL_COMMANDS
from proctor.cli.config_cmd import config_group
from proctor.cli.demo_cmd import demo_command
from proctor.cli.evidence_cmd import evidence_group
from proctor.cli.gateway_cmd import gateway_command
from proctor.cli.login_cmd import COMMANDS as LOGIN_COMMANDS
from proctor.cli.policy_cmd import policy_group
from proctor.cli.recordings_admin_cmd import COMMANDS as RECORDING_ADMIN_COMMANDS
from proctor.cli.recordings_cmd import COMMANDS as RECORDING_COMMANDS
from proctor.cli.sessions_cmd import sessions_group
from proctor.cli.token_cmd import token_group

ALL: list[click.Command] = [
    gateway_command,
    demo_command,
    *LOGIN_COMMANDS,
    *APPROVAL_COMMANDS,
    token_group,
    sessions_group,
    *RECORDING_COMMANDS,
    *RECORDING_ADMIN_COMMANDS,
    evidence_group,
    policy_group,
    config_group,
]
