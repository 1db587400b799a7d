"""`--output json|yaml|text` and `--query`, as the AWS CLI has them: the query (JMESPath) is
applied to the JSON form of a command's output, then the result is formatted.

`text` is the AWS CLI's: each object's scalar values on one line, tab-separated, in the
order of their keys (a list of objects shares its members' keys, so its lines line up as
columns), and each nested list or object after it, its lines led by its key in capitals.
Unlike the AWS CLI's, a value's own newlines and tabs are written `\\n` and `\\t` (and
control characters escaped, as everywhere), so a
record stays one line (a template patch too).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jmespath
import yaml
from jmespath.exceptions import JMESPathError
from rich.console import Group

from ipsync_migrator.errors import InvalidInputError
from ipsync_migrator.render import Column, SafeTable, plain

_QUERY_FIX = "See https://jmespath.org for the syntax, e.g. --query 'deployments[].id'."


def compiled_query(expression: str) -> Any:
    """The `--query` expression, parsed (before anything is read, so a typo costs nothing)."""
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        problem = str(exc).splitlines()[0].rstrip(":")  # the next lines draw a caret
        raise InvalidInputError(
            f"--query {expression!r} is not a JMESPath expression: {problem}.", _QUERY_FIX
        ) from None


def queried(document: Any, query: Any) -> Any:
    """`document` (a JSON value) through a compiled query."""
    try:
        return query.search(json.loads(json.dumps(document, default=str)))
    except JMESPathError as exc:  # e.g. a function given the wrong type
        raise InvalidInputError(f"--query failed on this output: {exc}.", _QUERY_FIX) from None


def formatted(document: Any, output: str) -> str:
    """A JSON value as `json`, `yaml` or `text`, ending in a newline."""
    if output == "json":
        return json.dumps(document, indent=2, default=str) + "\n"
    if output == "yaml":
        plain_data = json.loads(json.dumps(document, default=str))
        # safe_dump escapes control characters and non-ASCII (allow_unicode off).
        return str(yaml.safe_dump(plain_data, sort_keys=False, default_flow_style=False))
    if output == "text":
        return "".join(f"{line}\n" for line in text_lines(document))
    raise ValueError(f"not a document format: {output}")


def text_lines(
    item: Any, identifier: str | None = None, keys: list[str] | None = None
) -> Iterator[str]:
    """The AWS CLI's text format of a JSON value, line by line."""
    if isinstance(item, dict):
        yield from _dict_lines(item, identifier, keys)
    elif isinstance(item, list):
        yield from _list_lines(item, identifier)
    else:
        yield _scalar(item)


def _list_lines(items: list[Any], identifier: str | None) -> Iterator[str]:
    if any(isinstance(item, dict) for item in items):
        keys = sorted(
            {
                k
                for item in items
                if isinstance(item, dict)
                for k, v in item.items()
                if _is_scalar(v)
            }
        )
        for item in items:
            yield from text_lines(item, identifier, keys)
        return
    scalars = [item for item in items if _is_scalar(item)]
    if scalars and identifier is not None:
        yield from (f"{identifier.upper()}\t{_scalar(item)}" for item in scalars)
    elif scalars:
        yield "\t".join(_scalar(item) for item in scalars)
    for nested in (item for item in items if not _is_scalar(item)):
        yield from text_lines(nested, identifier)


def _dict_lines(
    item: dict[str, Any], identifier: str | None, keys: list[str] | None
) -> Iterator[str]:
    if keys is None:
        keys = sorted(k for k, v in item.items() if _is_scalar(v))
    scalars = [_scalar(item.get(key)) for key in keys]
    if scalars:
        yield "\t".join([identifier.upper(), *scalars] if identifier else scalars)
    for key in sorted(set(item) - set(keys)):
        if not _is_scalar(item[key]):
            yield from text_lines(item[key], key)


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def _scalar(value: Any) -> str:
    """One field: `None`, `True` as the AWS CLI writes them; no newline or tab inside, and no
    control character (plain() escapes those)."""
    return plain(str(value).replace("\n", "\\n").replace("\t", "\\t")).plain


def query_table(document: Any) -> SafeTable | Group:
    """`--output table` of a query's result: objects as rows (their scalar keys as columns,
    nested values as compact JSON), other values one a row. Nothing is cut."""
    rows = document if isinstance(document, list) else [document]
    if any(isinstance(row, dict) for row in rows):
        keys = list(dict.fromkeys(k for row in rows if isinstance(row, dict) for k in row))
        table = SafeTable("", [Column(key, keep=True) for key in keys])
        for row in rows:
            values = row if isinstance(row, dict) else {}
            table.add_row(*(plain(_cell(values.get(key))) for key in keys))
        return table
    return Group(*(plain(_cell(row)) for row in rows))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), default=str)
