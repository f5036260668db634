"""``approvals:``: who reviews what the policy holds, and just-in-time access requests.

```yaml
approvals:
  default_workflow: dba-review          # for review rules that name no workflow
  workflows:
    dba-review:
      approvers: {groups: [dba]}        # who may decide (groups and/or subjects)
      min_approvals: 1                  # approvals needed
      all_of: [dba, security]           # optional: at least one approval from each group
      expires: 15m                      # a pending request expires (and is refused) after this
      reason_required: true             # reviewers must give a reason
      break_glass: false                # true: a requester may approve their own request,
                                        #   with a reason; always flagged and notified
  access:                               # `proctor request CONN --duration 2h --reason …`
    workflow: dba-review
    max_duration: 8h
    reason_required: true
```

Separation of duties is not optional: a requester never approves their own request, also not
through another identity of the same person (same e-mail, or a machine identity acting for
them). Break-glass is the one, flagged, exception.
"""

from __future__ import annotations

import re
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from proctor.config.base import ConfigModel
from proctor.config.fields import Duration, Text
from proctor.config.notify import NotifyChannels

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
DEFAULT_WORKFLOW = "default"


def _workflow_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise PydanticCustomError(
            "workflow_name", "expected a workflow name of letters, digits, '_', '.', '-'"
        )
    return value


WorkflowName = Annotated[str, AfterValidator(_workflow_name)]


class ApproversConfig(ConfigModel):
    groups: tuple[Text, ...] = ()
    subjects: tuple[Text, ...] = ()

    @model_validator(mode="after")
    def _someone(self) -> Self:
        if not self.groups and not self.subjects:
            raise PydanticCustomError(
                "approvers", "expected 'groups', 'subjects' or both: who may decide"
            )
        return self


class WorkflowConfig(ConfigModel):
    approvers: ApproversConfig
    min_approvals: Annotated[int, Field(ge=1, le=10)] = 1
    all_of: tuple[Text, ...] = ()
    expires: Duration = 900.0
    reason_required: bool = False
    break_glass: bool = False
    # May a reviewer approve "this statement for the rest of the session"?
    allow_session_scope: bool = True

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        if self.expires <= 0:
            raise PydanticCustomError("expires", "expected a duration above zero")
        if len(self.all_of) > self.min_approvals:
            raise PydanticCustomError(
                "all_of",
                f"{len(self.all_of)} groups must each approve, but min_approvals is "
                f"{self.min_approvals}: raise min_approvals to at least {len(self.all_of)}",
            )
        return self


class AccessRequestsConfig(ConfigModel):
    workflow: WorkflowName | None = None  # default: approvals.default_workflow
    max_duration: Duration = 8 * 3600.0
    reason_required: bool = True


# The workflow used when the configuration declares none: anyone in group "approver".
BUILTIN_WORKFLOW = WorkflowConfig(approvers=ApproversConfig(groups=("approver",)))


class ApprovalsConfig(ConfigModel):
    default_workflow: WorkflowName = DEFAULT_WORKFLOW
    workflows: dict[WorkflowName, WorkflowConfig] = Field(default_factory=dict)
    access: AccessRequestsConfig = Field(default_factory=AccessRequestsConfig)
    # How often a held statement checks for a decision made through another worker or
    # gateway (seconds). Decisions made through the same worker wake it at once; on a
    # PostgreSQL store, LISTEN/NOTIFY wakes it promptly and this poll is the fallback.
    poll_interval: Duration = 0.5
    # Where reviewers hear about requests (docs/approvals-notifications.md).
    notify: NotifyChannels = ()

    @model_validator(mode="after")
    def _known_workflows(self) -> Self:
        known = self.workflow_names()
        for where, name in (
            ("default_workflow", self.default_workflow),
            ("access.workflow", self.access.workflow),
        ):
            if name is not None and name not in known:
                raise PydanticCustomError(
                    "unknown_workflow",
                    f"{where}: no workflow named {name!r} (workflows: {', '.join(sorted(known))})",
                )
        return self

    def workflow_names(self) -> frozenset[str]:
        return frozenset({DEFAULT_WORKFLOW, *self.workflows})

    def workflow(self, name: str) -> WorkflowConfig:
        found = self.workflows.get(name)
        if found is not None:
            return found
        if name == DEFAULT_WORKFLOW:
            return BUILTIN_WORKFLOW
        raise KeyError(name)
