"""Value types of the configuration schema, each with the message it gives when wrong.

Validators here raise ``PydanticCustomError`` whose message says what is expected and never
quotes the input: the problem translator appends "found ..." itself, and leaves the value
out when it came from a secret reference. Relative paths are resolved against the config
file's directory, found through the validation context ``{"config_path": Path}``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo
from pydantic_core import PydanticCustomError

from proctor.config import units

# The gateway encodes the worker index in the cancel keys it issues (7 bits, see server.cancel).
MAX_WORKERS = 126

# Underscores are not valid in DNS host names but are common in container service names.
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
_CONNECTION_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
_TAG_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


def base_dir(info: ValidationInfo) -> Path:
    """The directory relative paths are resolved against: the config file's, else the cwd."""
    config_path = context_config_path(info)
    return config_path.parent if config_path is not None else Path.cwd()


def context_config_path(info: ValidationInfo) -> Path | None:
    """The absolute config file path passed as ``context={"config_path": ...}``, if any."""
    context = info.context
    if isinstance(context, dict) and isinstance(context.get("config_path"), Path):
        return Path(context["config_path"])
    return None


def _not_bool(value: object) -> object:
    # Pydantic reads true as 1; in a config file a YAML boolean where a number belongs is a
    # mistake ("port: yes"), never a number.
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "expected an integer")
    return value


def _workers(value: object) -> object:
    if value == "auto":
        return min(_usable_cpus(), MAX_WORKERS)
    return _not_bool(value)


def _usable_cpus() -> int:
    # The CPUs this process may run on (a container's cpuset), not every CPU of the host.
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _duration(value: object) -> float:
    try:
        return units.parse_duration(value)
    except ValueError as exc:
        raise PydanticCustomError("duration", str(exc)) from None


def _size(value: object) -> int:
    try:
        return units.parse_size(value)
    except ValueError as exc:
        raise PydanticCustomError("size", str(exc)) from None


def _between(kind: str, low: float, high: float, low_text: str, high_text: str) -> AfterValidator:
    """A range check whose error names the range as written in the file (``1KiB``)."""

    def check(value: float) -> float:
        if not low <= value <= high:
            raise PydanticCustomError(
                f"{kind}_range", f"expected a {kind} from {low_text} to {high_text}"
            )
        return value

    return AfterValidator(check)


def duration_between(low: float, high: float, low_text: str, high_text: str) -> AfterValidator:
    return _between("duration", low, high, low_text, high_text)


def size_between(low: int, high: int, low_text: str, high_text: str) -> AfterValidator:
    return _between("size", low, high, low_text, high_text)


def _host(value: str) -> str:
    if _is_ip_address(value) or _is_host_name(value):
        return value
    raise PydanticCustomError("host", "expected a host name or an IP address")


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_host_name(text: str) -> bool:
    labels = text.removesuffix(".").split(".")
    return len(text) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels)


def _connection_name(value: str) -> str:
    if not _CONNECTION_NAME.fullmatch(value):
        raise PydanticCustomError(
            "connection_name",
            "expected a name of 1-63 lowercase letters, digits, '_', '.' or '-', "
            "starting with a letter or digit",
        )
    return value


def _tag_key(value: str) -> str:
    if not _TAG_KEY.fullmatch(value):
        raise PydanticCustomError(
            "tag_key",
            "expected a tag name of 1-63 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit",
        )
    return value


def path_text(value: object) -> object:
    # Path("") is ".", so an empty value would silently mean "the config directory".
    if isinstance(value, Path):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("path_type", "expected a file system path (a string)")
    if not value.strip():
        raise PydanticCustomError("path_type", "expected a file system path, not an empty string")
    return value


def absolute_path(value: str | Path, info: ValidationInfo) -> Path:
    """``~`` expanded, then relative paths taken from the config file's directory."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else base_dir(info) / path


def require_file(path: Path) -> Path:
    """Fail at load, not at the first client connection, when a named file is missing."""
    if not path.is_file():
        raise PydanticCustomError("file_missing", "no such file: {path}", {"path": str(path)})
    return path


# A whole number that is not a YAML boolean; strings of digits are accepted because values
# from ${env:...} references are strings.
WholeNumber = Annotated[int, BeforeValidator(_not_bool)]
Port = Annotated[WholeNumber, Field(ge=1, le=65535)]
PositiveCount = Annotated[WholeNumber, Field(ge=1)]
Workers = Annotated[int, BeforeValidator(_workers), Field(ge=1, le=MAX_WORKERS)]

Duration = Annotated[float, BeforeValidator(_duration)]
ByteSize = Annotated[int, BeforeValidator(_size)]

Text = Annotated[str, Field(min_length=1)]
Host = Annotated[Text, AfterValidator(_host)]
ConnectionName = Annotated[str, AfterValidator(_connection_name)]
TagKey = Annotated[str, AfterValidator(_tag_key)]
TagValue = Annotated[str, Field(max_length=256)]

# A path as written, made absolute against the config file's directory.
ConfigPath = Annotated[Path, BeforeValidator(path_text), AfterValidator(absolute_path)]
