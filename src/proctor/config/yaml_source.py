"""Reading ``proctor.yaml``: safe YAML, no duplicate keys, and a map of where each key sits.

Only ``yaml.SafeLoader`` constructs objects, so a config file can never instantiate Python
objects. While the node tree is still available the loader records the line and column of
every key and value (so later validation errors can point into the file) and rejects
duplicate keys, which plain YAML silently resolves by letting the last one win.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from proctor.config.errors import ConfigError, ConfigProblem
from proctor.config.paths import KeyPath, render_path

# A configuration file is a few kilobytes. The limits stop a hostile or broken file (say,
# "billion laughs" aliases) from exhausting memory before validation can say what is wrong.
MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 64

_MERGE_TAG = "tag:yaml.org,2002:merge"
_BOOL_TAG = "tag:yaml.org,2002:bool"


class Position(NamedTuple):
    line: int  # 1-based
    column: int  # 1-based


@dataclass(slots=True)
class YamlDocument:
    file: str  # as the user named it; used in every problem
    data: object  # None when the file holds no document (empty or only comments)
    value_positions: dict[KeyPath, Position] = field(default_factory=dict)
    key_positions: dict[KeyPath, Position] = field(default_factory=dict)
    # Duplicate keys are reported but do not stop loading, so one run shows every problem.
    problems: list[ConfigProblem] = field(default_factory=list)

    def position_of(self, path: KeyPath, *, at_key: bool = False) -> Position | None:
        """Where ``path`` is written; for a missing key, where its nearest parent is."""
        if at_key and path in self.key_positions:
            return self.key_positions[path]
        if path in self.value_positions:
            return self.value_positions[path]
        for end in range(len(path) - 1, -1, -1):
            parent = path[:end]
            # The parent's key line ("tls:") reads better than its first child's line.
            position = self.key_positions.get(parent) or self.value_positions.get(parent)
            if position is not None:
                return position
        return None

    def problem(self, path: KeyPath, message: str, *, at_key: bool = False) -> ConfigProblem:
        position = self.position_of(path, at_key=at_key)
        return ConfigProblem(
            file=self.file,
            path=render_path(path),
            message=message,
            line=position.line if position else None,
            column=position.column if position else None,
        )


class _DocumentTooLarge(Exception):
    pass


class SurveyingLoader(yaml.SafeLoader):
    """A SafeLoader that surveys the node tree before building Python objects from it."""

    def __init__(self, text: str, file: str) -> None:
        super().__init__(text)
        self.document = YamlDocument(file=file, data=None)
        self._nodes_left = MAX_NODES
        self._reported: set[Position] = set()

    def construct_document(self, node: Node) -> object:
        self._survey(node, (), depth=0)
        return super().construct_document(node)

    def _survey(self, node: Node, path: KeyPath, depth: int) -> None:
        # Aliases make the same node reachable along several paths; walking each path (rather
        # than each node once) is what lets the budget catch exponential alias expansion.
        self._nodes_left -= 1
        if self._nodes_left < 0 or depth > MAX_DEPTH:
            raise _DocumentTooLarge
        self.document.value_positions.setdefault(path, _position(node))
        if isinstance(node, MappingNode):
            self._survey_mapping(node, path, depth)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                self._survey(item, (*path, index), depth + 1)

    def _survey_mapping(self, node: MappingNode, path: KeyPath, depth: int) -> None:
        first_seen: dict[tuple[str, str], Position] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode):
                # "<<: *defaults" merges are surveyed where the anchored mapping is written.
                continue
            key_path = (*path, key_node.value)
            where = _position(key_node)
            # Compare tag and text: "1" and 1 are different keys, two "port" are not.
            identity = (key_node.tag, key_node.value)
            if identity in first_seen:
                self._report_duplicate(key_path, where, first_seen[identity])
            else:
                first_seen[identity] = where
            self.document.key_positions.setdefault(key_path, where)
            self._survey(value_node, key_path, depth + 1)

    def _report_duplicate(self, key_path: KeyPath, where: Position, first: Position) -> None:
        if where in self._reported:  # an aliased mapping is walked once per alias
            return
        self._reported.add(where)
        self.document.problems.append(
            ConfigProblem(
                file=self.document.file,
                path=render_path(key_path),
                message=(
                    f"duplicate key {key_path[-1]!r}; it is already set on line {first.line} "
                    "(YAML would silently keep only the last one)"
                ),
                line=where.line,
                column=where.column,
            )
        )


# YAML 1.1 (PyYAML's default) reads yes/no/on/off as booleans, so "tls: {mode: off}" would be
# false and "tags: {country: no}" not a string. Like YAML 1.2, this loader reads only
# true/false as booleans; the schema still accepts "yes"/"no" where a boolean is expected.
SurveyingLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SurveyingLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_yaml(text: str, file: str) -> YamlDocument:
    """Parse one YAML document; syntax errors raise ``ConfigError`` with line and column."""
    loader = SurveyingLoader(text, file)
    failure: ConfigProblem | None = None
    try:
        loader.document.data = loader.get_single_data()
    except _DocumentTooLarge:
        failure = ConfigProblem(
            file,
            "",
            f"the document is too large or too deeply nested once aliases are expanded "
            f"(limits: {MAX_NODES} values, {MAX_DEPTH} levels)",
        )
    except yaml.MarkedYAMLError as exc:
        failure = _syntax_problem(exc, file)
    except yaml.YAMLError as exc:  # reader errors, e.g. control characters; no mark
        failure = ConfigProblem(file, "", f"invalid YAML: {exc}")
    finally:
        loader.dispose()
    if failure is not None:
        # Raised here rather than in the except block so the YAML error, which quotes the
        # source line, is not chained to it.
        raise ConfigError([failure])
    return loader.document


def read_config_text(path: Path, file: str) -> str:
    """The file's text, or ``ConfigError`` saying precisely why it cannot be read."""

    def fail(message: str) -> ConfigError:
        return ConfigError([ConfigProblem(file, "", message)])

    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise fail("file not found") from None
    except IsADirectoryError:
        raise fail("is a directory; expected a YAML file") from None
    except OSError as exc:
        raise fail(f"cannot read the file: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise fail(f"file is larger than {MAX_FILE_BYTES} bytes; is this the right file?")
    try:
        return raw.decode("utf-8-sig")  # tolerate a byte-order mark some editors add
    except UnicodeDecodeError as exc:
        raise fail(f"not valid UTF-8 (byte {exc.start} cannot be decoded)") from None


def _position(node: Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str) -> ConfigProblem:
    # Built from the parser's problem and context only: str(exc) would also quote the
    # offending source line, which may hold a literal password.
    mark = exc.problem_mark or exc.context_mark
    message = f"invalid YAML: {exc.problem or 'syntax error'}"
    if exc.context:
        where = f" started on line {exc.context_mark.line + 1}" if exc.context_mark else ""
        message += f" ({exc.context}{where})"
    if mark is None:
        return ConfigProblem(file, "", message)
    return ConfigProblem(file, "", message, line=mark.line + 1, column=mark.column + 1)
