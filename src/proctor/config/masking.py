"""``masking:``: the masking profiles the policy can choose from.

```yaml
masking:
  profiles:
    pii:                                  # a name the policy's ``masking`` section uses
      hash_key: ${env:PROCTOR_MASK_KEY}   # a secret: write it as a reference
      entities: {card: partial, email: hash}
      columns: {shop.customers.ssn: partial-last-4}
```

The body of each profile is validated by ``proctor.masking`` (see docs/masking.md) when the
gateway starts and by ``proctor config check``: this module only checks the shape and keeps
the ``hash_key`` secret out of ``repr``, fingerprints and messages.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from proctor.config.base import HIDDEN, ConfigModel

# The profile the policy may name without declaring it: every built-in detector, redacted.
BUILTIN_PROFILE = "default"
_SECRET_KEYS = ("hash_key",)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def _profile_name(value: str) -> str:
    if not _NAME.fullmatch(value) or value == "none":
        raise PydanticCustomError(
            "profile_name",
            "expected a profile name of letters, digits, '_', '.', '-' ('none' is reserved: "
            "it means no masking)",
        )
    return value


ProfileName = Annotated[str, AfterValidator(_profile_name)]


class MaskingConfig(ConfigModel):
    profiles: dict[ProfileName, dict[str, Any]] = Field(default_factory=dict)

    def shown_value(self, field_name: str) -> object:
        shown = super().shown_value(field_name)
        if field_name != "profiles" or not isinstance(shown, dict):
            return shown
        return {name: _hide_secrets(body) for name, body in shown.items()}

    def names(self) -> frozenset[str]:
        """Profile names the policy may use (the built-in one included)."""
        return frozenset({BUILTIN_PROFILE, *self.profiles})


def _is_reference(value: object) -> bool:
    return isinstance(value, str) and value.startswith("${") and value.endswith("}")


def _hide_secrets(body: object) -> object:
    if not isinstance(body, dict):
        return body
    shown = dict(body)
    for key in _SECRET_KEYS:
        value = shown.get(key)
        if value is None or _is_reference(value):
            continue
        shown[key] = HIDDEN  # a literal key is a secret; a reference, as written, is not

    return shown
