"""Value matching as the unified test format's "Evaluating Matches" section defines it.

Root-level documents may carry extra keys; nested documents may not. Numbers compare by
value across int32/int64/double. Special operators: $$exists, $$type, $$unsetOrMatches,
$$matchesEntity, $$matchesHexBytes, $$sessionLsid, $$lte.
"""

import datetime
import re

from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp


class MatchError(AssertionError):
    """A mismatch, with the path inside the compared value where it happened."""


UNSET = object()
"""Stands for "no value" (absent key, or no result from an unacknowledged write)."""

_NUMBER_TYPES = ("int", "long", "double", "decimal")


def bson_type(value):
    """The BSON type alias of a decoded Python value (the $$type vocabulary)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Int64):
        return "long"
    if isinstance(value, int):
        return "int" if -(2**31) <= value < 2**31 else "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, Decimal128):
        return "decimal"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, (bytes, Binary)):
        return "binData"
    if isinstance(value, ObjectId):
        return "objectId"
    if isinstance(value, datetime.datetime):
        return "date"
    if value is None:
        return "null"
    if isinstance(value, (Regex, re.Pattern)):
        return "regex"
    if isinstance(value, Timestamp):
        return "timestamp"
    if isinstance(value, Code):
        return "javascript"
    if isinstance(value, MinKey):
        return "minKey"
    if isinstance(value, MaxKey):
        return "maxKey"
    return type(value).__name__


def _is_number(v):
    return isinstance(v, (int, float, Decimal128)) and not isinstance(v, bool)


def _num(v):
    return v.to_decimal() if isinstance(v, Decimal128) else v


def _operator(expected):
    """The $$operator of a one-key document, or None."""
    if isinstance(expected, dict) and len(expected) == 1:
        key = next(iter(expected))
        if key.startswith("$$"):
            return key
    return None


class Matcher:
    """Matches expected values against actual ones; entities resolve $$matchesEntity."""

    def __init__(self, entities):
        self.entities = entities

    def match(self, expected, actual, root=True, path="$"):
        op = _operator(expected)
        if op is not None:
            return self._special(op, expected[op], actual, path, root)
        if actual is UNSET:
            raise MatchError(f"{path}: expected {expected!r}, got no value")
        if isinstance(expected, dict):
            if not isinstance(actual, dict):
                raise MatchError(f"{path}: expected a document {expected!r}, got {actual!r}")
            for key, exp in expected.items():
                sub = f"{path}.{key}"
                op = _operator(exp)
                if key not in actual:
                    if op == "$$exists" and exp[op] is False:
                        continue
                    if op == "$$unsetOrMatches":
                        continue
                    raise MatchError(f"{sub}: missing (expected {exp!r})")
                self.match(exp, actual[key], root=False, path=sub)
            if not root:
                extra = [k for k in actual if k not in expected]
                if extra:
                    raise MatchError(f"{path}: unexpected keys {extra} in {actual!r}")
            return
        if isinstance(expected, list):
            if not isinstance(actual, (list, tuple)):
                raise MatchError(f"{path}: expected an array {expected!r}, got {actual!r}")
            if len(expected) != len(actual):
                raise MatchError(
                    f"{path}: expected {len(expected)} elements, got {len(actual)}: {list(actual)!r}"
                )
            for i, (exp, act) in enumerate(zip(expected, actual)):
                # Array elements keep the root-ness of their container (e.g. find results).
                self.match(exp, act, root=root, path=f"{path}[{i}]")
            return
        if _is_number(expected) and _is_number(actual):
            if _num(expected) != _num(actual):
                raise MatchError(f"{path}: expected {expected!r}, got {actual!r}")
            return
        if isinstance(expected, bool) or isinstance(actual, bool):
            if type(expected) is not type(actual) or expected != actual:
                raise MatchError(f"{path}: expected {expected!r}, got {actual!r}")
            return
        if isinstance(expected, bytes) and isinstance(actual, bytes):
            if bytes(expected) != bytes(actual):
                raise MatchError(f"{path}: expected {expected!r}, got {actual!r}")
            return
        if expected != actual or bson_type(expected) != bson_type(actual):
            raise MatchError(f"{path}: expected {expected!r}, got {actual!r}")

    def _special(self, op, arg, actual, path, root):
        if op == "$$exists":
            present = actual is not UNSET
            if present != bool(arg):
                raise MatchError(f"{path}: expected {'present' if arg else 'absent'}, got {actual!r}")
            return
        if op == "$$unsetOrMatches":
            if actual is UNSET:
                return
            return self.match(arg, actual, root=root, path=path)
        if actual is UNSET:
            raise MatchError(f"{path}: missing (expected {op}: {arg!r})")
        if op == "$$type":
            wanted = arg if isinstance(arg, list) else [arg]
            wanted = [t for w in wanted for t in (_NUMBER_TYPES if w == "number" else [w])]
            if bson_type(actual) not in wanted:
                raise MatchError(f"{path}: expected type {arg}, got {bson_type(actual)} ({actual!r})")
            return
        if op == "$$matchesEntity":
            return self.match(self.entities.get(arg), actual, root=True, path=path)
        if op == "$$matchesHexBytes":
            if not isinstance(actual, bytes) or bytes(actual).hex() != arg.lower():
                raise MatchError(f"{path}: expected bytes {arg}, got {actual!r}")
            return
        if op == "$$sessionLsid":
            return self.match(self.entities.get(arg).session_id, actual, root=False, path=path)
        if op == "$$lte":
            if not (_is_number(actual) and _num(actual) <= _num(arg)):
                raise MatchError(f"{path}: expected <= {arg!r}, got {actual!r}")
            return
        raise MatchError(f"{path}: unsupported match operator {op}")
