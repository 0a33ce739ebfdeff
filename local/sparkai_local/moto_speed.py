"""moto's DynamoDB at the same answers for less CPU: what the local AWS process spent per chat
request, and five changes that keep every answer the same.

Every chat request costs the local AWS process a GetItem, a conditional UpdateItem and a
TransactWriteItems; profiled on the 2-core benchmark machine, moto spent ~9 ms of CPU on them, more
than the API process itself, and since it runs one request at a time that is the local stack's
throughput ceiling. Much of it was not DynamoDB semantics but bookkeeping around them (with
aws_server's direct DynamoDB dispatch, a chat request's three calls went from 7.3 to 4.2 ms of
moto's time in benchmarks/local_aws.py's terms):

- **Parsing the same UpdateExpression again.** moto parses each UpdateExpression twice per call
  (once to check the placeholders, once to run it) into a syntax tree, from the expression text
  alone. The tree is only read: moto's validator deep-copies it before substituting values. So
  the tree is kept per expression text (bounded), and the parse happens once per distinct text.
- **Rebuilding a dispatch table per syntax node.** Each UpdateExpression is checked and run by
  ten tree walkers; each asked its `_processing_map()` (a dict literal of node class to bound
  method, the same every time) twice per node it visited. The map is built once per walker.
- **Listing a class's methods per request.** moto finds the handler for an action by listing
  the response class's functions with `inspect.getmembers`, on every call; a class's functions
  do not change while the server runs, so the list is kept per class.
- **Parsing the same ConditionExpression twice.** A conditional UpdateItem has its condition
  parsed by the request handler (to check placeholders) and again by the backend, with the same
  names and values. The parse is a pure function of those three; the last few are kept, keyed by
  all three, so the second parse of a call is a lookup. The tree it returns is only evaluated.
- **`copy.deepcopy` through `__reduce_ex__`.** moto's validator deep-copies the syntax tree of
  every UpdateExpression it checks. moto gives its items a direct `__deepcopy__` but not its
  syntax nodes, so each node went through pickle's reconstruction protocol; they get the same
  kind of `__deepcopy__` (every attribute deep-copied, parent links kept through the memo).

Nothing here changes what any call returns or writes; tests/local and tests/functional run every
DynamoDB path of the app against the patched server, and benchmarks/local_aws.py measures it.
"""

from __future__ import annotations

import copy
import functools
import importlib
import threading
from collections import OrderedDict
from typing import Any

from moto.core.utils import method_names_from_class
from moto.dynamodb.comparisons import ConditionExpressionParser

# moto's parsing and response modules carry no usable types for what is patched here.
core_responses: Any = importlib.import_module("moto.core.responses")
expressions: Any = importlib.import_module("moto.dynamodb.parsing.expressions")
_ast: Any = importlib.import_module("moto.dynamodb.parsing.ast_nodes")
DepthFirstTraverser, Node = _ast.DepthFirstTraverser, _ast.Node

_PARSED_EXPRESSIONS = 512  # distinct UpdateExpression texts kept (the app uses a handful)
_PARSED_CONDITIONS = 64  # recent (condition, names, values): a call's second parse finds its first


def _copy_attributes(self: Any, memo: dict[int, Any]) -> Any:
    """What copy.deepcopy does for a plain object (a new instance, each attribute deep-copied,
    `memo` keeping shared and cyclic references, such as a syntax node's parent, shared), minus
    the pickle-protocol round trip."""
    cls = self.__class__
    clone = cls.__new__(cls)
    memo[id(self)] = clone
    state = clone.__dict__
    for name, value in self.__dict__.items():
        state[name] = copy.deepcopy(value, memo)
    return clone


def _processing_map(walker: Any) -> dict[type, Any]:
    cached: dict[type, Any] | None = walker.__dict__.get("_sparkai_map")
    if cached is None:
        cached = walker.__dict__["_sparkai_map"] = walker._processing_map()
    return cached


def _nodes_to_be_processed(self: Any) -> tuple[type, ...]:
    cached: tuple[type, ...] | None = self.__dict__.get("_sparkai_types")
    if cached is None:
        cached = self.__dict__["_sparkai_types"] = tuple(_processing_map(self))
    return cached


def _process(self: Any, node: Any) -> Any:
    for node_class, processor in _processing_map(self).items():
        if isinstance(node, node_class):
            return processor(node)
    return None


@functools.cache
def _method_names(cls: type) -> tuple[str, ...]:
    return tuple(method_names_from_class(cls))


def _method_names_from_class(cls: type) -> list[str]:
    return list(_method_names(cls))  # a fresh list, as moto's own returns


_conditions: OrderedDict[tuple[str, str, str], tuple[Any, list[str], list[str]]] = OrderedDict()
_conditions_lock = threading.Lock()
_parse_condition = ConditionExpressionParser.parse


def _parse_condition_once(self: ConditionExpressionParser) -> Any:
    if not self.condition_expression:
        return _parse_condition(self)
    key = (
        self.condition_expression,
        repr(self.expression_attribute_names),  # JSON-decoded dicts: repr is exact and total
        repr(self.expression_attribute_values),
    )
    with _conditions_lock:
        hit = _conditions.get(key)
    if hit is None:
        op = _parse_condition(self)  # raises for an invalid expression: nothing is kept
        hit = (op, list(self.expr_attr_names_found), list(self.expr_attr_values_found))
        with _conditions_lock:
            _conditions[key] = hit
            if len(_conditions) > _PARSED_CONDITIONS:
                _conditions.popitem(last=False)
        return op
    op, names, values = hit
    self.expr_attr_names_found.extend(names)
    self.expr_attr_values_found.extend(values)
    return op


def install() -> None:
    """Idempotent: the local AWS process and in-process test servers both call it."""
    parser = expressions.UpdateExpressionParser
    if not hasattr(parser.make, "cache_info"):
        cached = functools.lru_cache(maxsize=_PARSED_EXPRESSIONS)(parser.make)
        parser.make = staticmethod(cached)
    ConditionExpressionParser.parse = _parse_condition_once  # type: ignore[method-assign]
    core_responses.method_names_from_class = _method_names_from_class
    Node.__deepcopy__ = _copy_attributes
    DepthFirstTraverser.nodes_to_be_processed = _nodes_to_be_processed
    DepthFirstTraverser.process = _process
