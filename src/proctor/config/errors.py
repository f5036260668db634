"""What a configuration load reports when the file is wrong.

Every problem names the file, the dotted key path (``connections[2].port``) and, when the
YAML parser could tell, the line and column, so an operator can jump straight to it. Messages
never contain a value that came from a secret reference.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with (or, for warnings, worth changing in) a configuration file."""

    file: str
    path: str  # dotted key path such as "connections[2].port"; "" for the whole file
    message: str
    line: int | None = None  # 1-based, when the key exists in the file
    column: int | None = None  # 1-based

    @property
    def location(self) -> str:
        """``file`` or ``file:line:column``: the form editors and terminals can jump to."""
        if self.line is None:
            return self.file
        if self.column is None:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"

    def __str__(self) -> str:
        if not self.path:
            return f"{self.location}: {self.message}"
        return f"{self.location}: {self.path}: {self.message}"

    def as_dict(self) -> dict[str, str | int | None]:
        return {
            "file": self.file,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` lists every reason found, in file order."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems: list[ConfigProblem] = list(problems)
        if not self.problems:
            raise ValueError("ConfigError needs at least one problem")
        super().__init__(self._render())

    def _render(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)

    def __str__(self) -> str:
        return self._render()
