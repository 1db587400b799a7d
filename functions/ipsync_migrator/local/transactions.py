"""DynamoDB transactions that cost what they touch: moto 5.2.5 copies whole tables for each.

moto's ``DynamoDBBackend.transact_write_items`` backs up, before every transaction, a deep copy
of each table the transaction names (once per item), and on failure puts those copies back in
place of the live tables. The journal table grows with every migration (records, step
entries), so each ``TransactWriteItems`` costs time and memory in proportion to the whole
journal: a 1,000-migration fleet made the emulator's memory grow faster than linearly until
the kernel killed it (docs/benchmarks.md, "Fleets at scale"). Restoring whole tables also
undoes writes that other requests made to other items meanwhile, which DynamoDB never does.

Here, while installed (the realism adapter installs it, patch 8):

- ``copy.deepcopy`` as moto's DynamoDB backend module sees it returns a ``Table`` itself, so
  the backup is the live table and moto's restore puts it back unchanged (a no-op); every
  other deep copy (an item's, in ``update_item``) is the real one;
- ``transact_write_items`` first keeps a copy of each item the transaction names (or that it
  was absent) and, if the transaction fails for any reason, puts exactly those items back
  before the error goes on. Writes are all-or-nothing as on DynamoDB
  (amazondynamodb/latest/developerguide/transaction-apis.html: "either all of them succeed or
  none of them succeeds").
- one DynamoDB request runs at a time: ``transact_write_items`` (its backup, its writes and
  its restore), ``put_item``, ``update_item``, ``delete_item``, ``get_item``, ``query`` and
  ``scan`` share one re-entrant lock. moto has none, and its threaded server runs requests
  side by side, so a PutItem landing between a transaction's backup and its restore was
  undone by the restore (a rollback's takeover lost under a fenced step's failed
  completion). DynamoDB isolates transactions serializably from PutItem, UpdateItem,
  DeleteItem and GetItem, and never shows a transaction's uncommitted writes to Query or
  Scan (transaction-apis.html#transaction-isolation); one at a time is stricter, never
  weaker.

The template's tables have no streams, so no stream record needs undoing (moto's whole-table
restore did not undo those either: the shard's records are sent to Lambda as written). A
stream would also need its Lambda trigger run outside the lock: moto invokes it inside
``put_item``, and a handler's own DynamoDB request would then wait for the lock forever.
Relied on, and checked by ``tests/integration/local/test_realism.py``: the module imports
``copy`` and calls ``copy.deepcopy(self.tables[name])`` in ``transact_write_items``; a
``Table`` keeps items in ``items[hash]`` or ``items[hash][range]`` keyed by ``DynamoType``.
Lambda code never imports this module.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

__all__ = ["SERIALIZED", "backup_without_tables", "one_at_a_time", "restore_touched_items"]

_OPERATIONS = ("ConditionCheck", "Put", "Delete", "Update")
#: The backend methods that take the lock besides ``transact_write_items`` (module docstring).
SERIALIZED = ("put_item", "update_item", "delete_item", "get_item", "query", "scan")
#: Re-entrant: moto's ``transact_write_items`` calls ``get_item`` and ``put_item`` itself.
_ONE_AT_A_TIME = threading.RLock()


def backup_without_tables(original: Any) -> SimpleNamespace:
    """The ``copy`` module as moto's DynamoDB backend sees it: a table's "copy" is itself."""

    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, Table):
            return value
        return original.deepcopy(value, memo)

    return SimpleNamespace(deepcopy=deepcopy, copy=original.copy)


def restore_touched_items(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``transact_write_items``: on failure, put back the items it names, and only those."""

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        with _ONE_AT_A_TIME:
            before = _touched(self, transact_items)
            try:
                return original(self, transact_items)
            except Exception:
                for table, hash_value, range_value, item in before:
                    _put_back(table, hash_value, range_value, item)
                raise

    return transact_write_items


def one_at_a_time(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a backend method: it waits for (and holds off) every other DynamoDB request."""

    @functools.wraps(original)
    def serialized(*args: Any, **kwargs: Any) -> Any:
        with _ONE_AT_A_TIME:
            return original(*args, **kwargs)

    return serialized


def _touched(
    backend: Any, transact_items: list[dict[str, Any]]
) -> list[tuple[Table, DynamoType, DynamoType | None, Item | None]]:
    """Each named item's table and key, with a copy of it now (None: absent)."""
    found = []
    for entry in transact_items:
        if not isinstance(entry, dict) or len(entry) != 1:
            continue  # moto refuses it before writing anything
        operation, request = next(iter(entry.items()))
        table = backend.tables.get(request.get("TableName")) if operation in _OPERATIONS else None
        if table is None:
            continue
        attributes = request.get("Item") if operation == "Put" else request.get("Key")
        if not isinstance(attributes, dict) or table.hash_key_attr not in attributes:
            continue  # moto refuses it before writing anything
        try:
            hash_value = DynamoType(attributes[table.hash_key_attr])
            range_value = None
            if table.range_key_attr is not None:
                range_value = DynamoType(attributes[table.range_key_attr])
        except (KeyError, TypeError, AttributeError, ValueError):
            continue  # a malformed key: moto refuses it before writing anything
        current = table.get_item(hash_value, range_value)
        found.append((table, hash_value, range_value, copy.deepcopy(current)))
    return found


def _put_back(
    table: Table, hash_value: DynamoType, range_value: DynamoType | None, item: Item | None
) -> None:
    """Store `item` under its key as moto's ``Table.put_item`` does (None: remove the key)."""
    if range_value is None:
        if item is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = item  # type: ignore[assignment]  # as moto stores it
        return
    ranges = table.items[hash_value]
    if item is None:
        ranges.pop(range_value, None)
        if not ranges:
            table.items.pop(hash_value, None)
    else:
        ranges[range_value] = item
