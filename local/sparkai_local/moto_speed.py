"""moto's DynamoDB at the same answers for less CPU: what the local AWS process spent per chat
request, and twelve changes that keep every answer the same.

Every chat request costs the local AWS process a GetItem, a conditional UpdateItem and a
TransactWriteItems; profiled on the 2-core benchmark machine, moto spent ~9 ms of CPU on them, more
than the API process itself, and since it runs one request at a time that is the local stack's
throughput ceiling. Much of it was not DynamoDB semantics but bookkeeping around them. With
aws_server's direct DynamoDB dispatch, the first five changes took a chat request's three calls
from 7.3 to 4.2 ms of moto's time in-process; the next three took them from 4.4 to 2.8 ms
(in-process, the same hour), and the local AWS process's CPU per chat request over HTTP from 6.2
to 4.2 ms; the last four carry their own numbers:

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
- **Re-checking an expression's shape.** Three of the ten walkers (one SET/ADD/REMOVE clause
  each, no overlapping paths, no key attribute updated) read only the expression, its attribute
  names and the table's key attributes, never values or the item, and change nothing. Once they
  pass for a (parsed expression, names, key attributes), they pass again: they are skipped for it
  (a failure is never kept, so a bad expression is refused every time). About a quarter of moto's
  time per chat request: one of them re-counted clauses at every nested node.
- **Writing each attribute value through the whole AttributeValue shape.** moto's response
  serializer writes an item by walking botocore's shape for every attribute value: ten members
  (S, N, B, ... BOOL), each looked up through five alias providers, to copy one key. An item's
  values are already in the wire's form, so a value made only of S, N, SS, NS, M, L, NULL and
  BOOL is written directly, by the serializer's own rules (strings through str(), members in the
  shape's order, a None member left out); anything else (binary, an unexpected key or type) goes
  through moto's walk as before. About a fifth of the local AWS process's CPU per chat request.
- **Splitting the same ConditionExpression into tokens per call.** The tokens are a pure
  function of the text (seven regular expressions tried per token) and immutable tuples; they
  are kept per text, and every call parses its own copy of the sequence with its own names and
  values. (The cache above only serves a call's second parse: values change every call.)
- **Parsing a ConditionExpression whose values change every call.** The cache above is keyed
  by the values too, and a reservation's condition carries the time (`:now`): every call missed
  and paid moto's whole multi-pass parse, ~0.24 ms of a conditional UpdateItem's ~0.9. A parse
  depends on the values only through their types (FuncBetween refuses a NULL bound; every other
  value is wrapped, `AttributeValue(value)`, where it stands), so it is kept per (text, names,
  value types) with the operand each placeholder became, and a call gets a copy of that tree with
  its own values put in (~0.08 ms). tests/unit/test_moto_condition_templates.py judges every
  condition both ways over the same items.
- **Walking a syntax tree through `isinstance` on abstract classes.** Every node visit asked
  `isinstance` of ABCMeta classes (Python's slowest `isinstance`) up to three times, and
  recursed through a method lookup. The walk now decides per node *type*, once per walker class,
  with the same first-match order, and recurses through a plain function: a settle's
  transaction visits ~560 nodes (seven walkers over its two update expressions). In-process,
  UpdateItem 0.88 -> 0.81 ms and the settle's TransactWriteItems 1.24 -> 1.15 ms.
  tests/unit/test_moto_update_walks.py runs updates both ways over the same items.
- **Re-measuring the whole item on every attribute set.** moto's LimitedSizeDict sums the size
  of every key and value already in the item each time one attribute is set (ten sets per
  settle), through a method and four type tests per value. Strings and numbers, what the app's
  items are made of, are counted directly by the same rule (a number's text length, an ASCII
  string's length); anything else, and any item near the limit, goes through moto's own code:
  2.3 instead of 4.9 us per set. tests/unit/test_moto_item_size.py sets both ways.
- **Leaving every call's syntax tree to the cyclic garbage collector.** A validated update's
  nodes point at their parents and back, the walkers kept bound methods of themselves, and a
  condition's copy ran through two closures that called each other: ~240 objects of cyclic
  garbage per settle, ~130 per reservation, and the collector's passes (over moto's whole heap
  in the full ones) came out of the calls. Parent links are dropped once the walkers have run
  (nothing after them reads one), the walkers' maps are kept as plain functions per walker
  class, the copy is two plain functions: nothing of a call is left for the collector
  (test_local_aws_speed checks it) and, with aws_server's gc.freeze(), in-process UpdateItem
  0.83 -> 0.71 ms. (An update that computes, `n = n + :d` or a path on the right, still leaves
  the subtrees its walkers replace to the collector; the app's updates never compute.)

Nothing here changes what any call returns or writes; tests/local and tests/functional run every
DynamoDB path of the app against the patched server, and benchmarks/local_aws.py measures it.
"""

from __future__ import annotations

import copy
import functools
import importlib
import threading
from collections import OrderedDict, deque
from typing import Any

from moto.core.utils import method_names_from_class
from moto.dynamodb.comparisons import AttributeValue, ConditionExpressionParser, Func, Op

# moto's parsing and response modules carry no usable types for what is patched here.
core_responses: Any = importlib.import_module("moto.core.responses")
expressions: Any = importlib.import_module("moto.dynamodb.parsing.expressions")
_ast: Any = importlib.import_module("moto.dynamodb.parsing.ast_nodes")
_validators: Any = importlib.import_module("moto.dynamodb.parsing.validators")
DepthFirstTraverser, Node = _ast.DepthFirstTraverser, _ast.Node
# moto's own walk, for tests that judge ours against it.
stock_traverse_node_recursively = DepthFirstTraverser.traverse_node_recursively
UpdateExpressionValidator = _validators.UpdateExpressionValidator
# The walkers that read only the expression, its names and the table's keys, and change nothing.
_SHAPE_CHECKS = (
    _validators.ActionCountValidator,
    _validators.OverlappingPathsValidator,
    _validators.UpdateHashRangeKeyValidator,
)
_validator_init = UpdateExpressionValidator.__init__
_validate_all = _validators.Validator.validate

_PARSED_EXPRESSIONS = 512  # distinct UpdateExpression texts kept (the app uses a handful)
_PARSED_CONDITIONS = 64  # recent (condition, names, values): a call's second parse finds its first
_CONDITION_TEMPLATES = 512  # (condition, names, value types) parsed once, values put in per call
_CHECKED_SHAPES = 512  # (parsed expression, names, key attributes) whose shape checks passed


class _Kept[K, V]:
    """The last `size` entries put (oldest dropped first), safe across the server's threads."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)


_ATOMIC = frozenset({str, int, float, bool, type(None)})


def _copy_attributes(self: Any, memo: dict[int, Any]) -> Any:
    """What copy.deepcopy does for a plain object (a new instance, each attribute deep-copied,
    `memo` keeping shared and cyclic references, such as a syntax node's parent, shared), minus
    the pickle-protocol round trip and, for the strings, child lists and nodes a syntax tree is
    made of, minus copy.deepcopy's generic dispatch."""
    cls = self.__class__
    clone = cls.__new__(cls)
    memo[id(self)] = clone
    state = clone.__dict__
    for name, value in self.__dict__.items():
        state[name] = _copy_value(value, memo)
    return clone


def _copy_value(value: Any, memo: dict[int, Any]) -> Any:
    kind: type = type(value)
    if kind in _ATOMIC:
        return value
    seen = memo.get(id(value), memo)  # memo itself: "not seen" (deepcopy's own sentinel idea)
    if seen is not memo:
        return seen
    if kind is list:
        copied: list[Any] = []
        memo[id(value)] = copied
        copied.extend([_copy_value(item, memo) for item in value])
        return copied
    if _is_node(kind):
        return _copy_attributes(value, memo)
    return copy.deepcopy(value, memo)


# -- attribute values, written directly ----------------------------------------------------------

_serialize: Any = importlib.import_module("moto.core.serialize")
_stock_serialize_structure = _serialize.BaseJSONSerializer._serialize_type_structure
_STRINGS = ("S", "N")
_STRING_SETS = ("SS", "NS")
_AS_IS = ("NULL", "BOOL")
_DIRECT = frozenset(_STRINGS + _STRING_SETS + _AS_IS + ("M", "L"))
_EMPTY: list[Any] = [None, {}, []]  # what moto's string serializer leaves as it is


class _Indirect(Exception):
    """This value needs moto's own walk."""


def _string(value: Any) -> Any:
    if type(value) is not str and not isinstance(value, int | float):
        raise _Indirect  # Enum, Decimal, containers: moto's rules, not ours
    return str(value) if value not in _EMPTY else value


def _attribute_value(value: Any, members: tuple[str, ...]) -> dict[str, Any]:
    """What moto's JSON serializer writes for one AttributeValue, or _Indirect."""
    if type(value) is not dict or not value.keys() <= _DIRECT:
        raise _Indirect
    out: dict[str, Any] = {}
    for name in members:  # the shape's order, as moto's walk writes them
        member = value.get(name)
        if member is None:
            continue
        if name in _STRINGS:
            out[name] = _string(member)
        elif name in _STRING_SETS:
            if type(member) is not list:
                raise _Indirect
            out[name] = [None if item is None else _string(item) for item in member]
        elif name in _AS_IS:
            out[name] = member
        elif name == "M":
            if type(member) is not dict or "" in member:  # "" would be written unwrapped
                raise _Indirect
            out[name] = {
                key: _attribute_value(item, members)
                for key, item in member.items()
                if item is not None
            }
        else:  # "L"
            if type(member) is not list:
                raise _Indirect
            out[name] = [
                None if item is None else _attribute_value(item, members) for item in member
            ]
    return out


def _serialize_type_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
    if key and value is not None and shape.name == "AttributeValue":
        try:
            direct = _attribute_value(value, tuple(shape.members))
        except _Indirect:
            pass
        else:
            self._default_serialize(serialized, direct, shape, key)
            return
    _stock_serialize_structure(self, serialized, value, shape, key)


# -- the tree walk, decided per node type -----------------------------------------------------------


@functools.cache
def _is_node(node_type: type) -> bool:
    return issubclass(node_type, Node)


_UNDECIDED = object()
_NOT_A_NODE = object()  # a child that is a plain value (a name, an operator's text): not walked


class _Walk:
    """What one walker class's walk needs, decided once for the class.

    - `processors`: its `_processing_map()` as node class -> plain function of (walker, node). Not
      the bound methods the map holds: kept on their own walker, they would make every walker a
      reference cycle, garbage only the cyclic collector can free (see _unlinked).
    - `hooked`: whether it overrides the pre-child hook (only the path resolver does).
    - `plan`: node type -> the first class of `processors` that node type is (in the map's order,
      as DepthFirstTraverser.process picks), None for a node it only walks through, or
      _NOT_A_NODE; filled as node types turn up. The map's keys are a class-level literal in
      every moto walker.
    """

    __slots__ = ("hooked", "plan", "processors")

    def __init__(self, processors: dict[type, Any], hooked: bool) -> None:
        self.processors = processors
        self.hooked = hooked
        self.plan: dict[type, Any] = {}


_walks: dict[type, _Walk] = {}


def _walk_of(walker: Any) -> _Walk:
    walker_type: type = type(walker)
    walk = _walks.get(walker_type)
    if walk is not None:
        return walk
    hook = getattr(walker_type, "pre_processing_of_child", None)
    hooked = hook is not DepthFirstTraverser.pre_processing_of_child
    stock = walker._processing_map()
    if not all(getattr(method, "__self__", None) is walker for method in stock.values()):
        # Not its own bound methods (no moto walker today): this walk only, not kept.
        return _Walk({cls: _call_with_node(method) for cls, method in stock.items()}, hooked)
    walk = _walks[walker_type] = _Walk(
        {cls: method.__func__ for cls, method in stock.items()}, hooked
    )
    return walk


def _call_with_node(method: Any) -> Any:
    return lambda _walker, node: method(node)


def _traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
    """DepthFirstTraverser.traverse_node_recursively, step for step (children first, left to
    right, the hook before each child, a processed node put back in its parent's slot), with what
    the stock walk asks per node (is it a Node, which processor, is there a hook) decided once per
    node type and walker type, and the recursion a plain function instead of a method lookup."""
    walk = _walk_of(self)
    hook = self.pre_processing_of_child if walk.hooked else None
    return _visit(self, walk.plan, walk.processors, hook, node, child_id)


def _visit(
    walker: Any, plan: dict[type, Any], processors: Any, hook: Any, node: Any, child_id: int
) -> Any:
    node_type = type(node)
    processor = plan.get(node_type, _UNDECIDED)
    if processor is _UNDECIDED:
        processor = plan[node_type] = _decide(processors, node_type)
    if processor is _NOT_A_NODE:
        return node
    parent_node = node.parent
    children = node.children
    if children is not None:
        for i, child_node in enumerate(children):
            if hook is not None:
                hook(node, i)
            _visit(walker, plan, processors, hook, child_node, i)
    if processor is not None:
        node = processors[processor](walker, node)
        node.parent = parent_node
        if parent_node:
            parent_node.children[child_id] = node
    return node


def _decide(processors: Any, node_type: type) -> Any:
    if not _is_node(node_type):
        return _NOT_A_NODE
    return next((cls for cls in processors if issubclass(node_type, cls)), None)


# -- an item's size, per attribute set ---------------------------------------------------------------

_dynamo_type: Any = importlib.import_module("moto.dynamodb.models.dynamo_type")
DynamoType, LimitedSizeDict = _dynamo_type.DynamoType, _dynamo_type.LimitedSizeDict
_ITEM_SIZE_LIMIT = 405000  # moto's own figure (LimitedSizeDict.__setitem__)
_stock_limited_setitem = LimitedSizeDict.__setitem__


def _size(part: Any) -> int:
    """What LimitedSizeDict.__setitem__ counts for one key or value, as it counts it: a number's
    text length, an ASCII string's length (its UTF-8 size); anything else, moto's own sum."""
    if type(part) is DynamoType:
        kind, value = part.type, part.value
        if kind == "N":
            return len(str(value))
        if kind == "S" and type(value) is str and value.isascii():
            return len(value)
        return int(part.size())
    text = str(part)
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _limited_setitem(self: Any, key: str, value: Any) -> None:
    """LimitedSizeDict.__setitem__ with the same sum (every key and value already in the item,
    plus the new key and value) and the same limit, without a method call and a type test per
    attribute for the strings and numbers an item is mostly made of."""
    current = sum(map(_size, self.keys())) + sum(map(_size, self.values()))
    if type(key) is not str or current + _size(key) + _size(value) > _ITEM_SIZE_LIMIT:
        _stock_limited_setitem(self, key, value)  # moto decides, and raises, as it always did
        return
    dict.__setitem__(self, key, value)


# -- shape checks, once per expression --------------------------------------------------------------

_ShapeKey = tuple[int, frozenset[tuple[str, str]], tuple[str, ...]]
_checked: _Kept[_ShapeKey, Any] = _Kept(_CHECKED_SHAPES)  # each key's parsed expression


def _shape_key(validator: Any) -> _ShapeKey:
    # The parsed expression is the parser's cached tree (one object per text, see install()); the
    # entry holds it, so its id cannot be reused while the entry exists.
    return (
        id(validator._sparkai_source),
        frozenset((validator.expression_attribute_names or {}).items()),
        tuple(validator.table.table_key_attrs),
    )


def _validate(self: Any) -> Any:
    """Validator.validate, minus the three shape checks when they already passed for this key;
    the tree it returns has no parent links (see _unlinked)."""
    node = self.node_to_validate
    try:
        node = _validate_walks(self)
        return node
    finally:
        _unlinked(node)


def _validate_walks(self: Any) -> Any:
    shape = [p for p in self.processors if isinstance(p, _SHAPE_CHECKS)]
    if shape != self.processors[: len(shape)]:  # moto reordered its walkers: no shortcut
        return _validate_all(self)
    key = _shape_key(self)
    node = self.node_to_validate
    if _checked.get(key) is None:
        for processor in shape:
            node = processor.traverse(node)
        _checked.put(key, self._sparkai_source)
    for processor in self.processors[len(shape) :]:
        node = processor.traverse(node)
    return node


def _unlinked(node: Any) -> None:
    """Drop every parent link under `node`. Each call validates its own copy of the update's
    syntax tree, whose nodes point at their parents and their parents back at them: a cycle, so
    every call left its tree (~60 nodes for a settle, with their dicts and child lists) to the
    cyclic garbage collector, whose passes cost the local AWS process ~0.1 ms per call. Only
    the walkers read parent links, and they have all run; normalize() and the executors that
    follow read children only. Unlinked, the tree is freed as soon as the call lets go of it."""
    stack: list[Any] = [node]
    while stack:
        current = stack.pop()
        current_type: type = type(current)
        if _is_node(current_type):
            current.parent = None
            if current.children:
                stack.extend(current.children)


def _init_keeping_source(self: Any, expression: Any, *args: Any, **kwargs: Any) -> None:
    self._sparkai_source = expression
    _validator_init(self, expression, *args, **kwargs)


@functools.cache
def _method_names(cls: type) -> tuple[str, ...]:
    return tuple(method_names_from_class(cls))


def _method_names_from_class(cls: type) -> list[str]:
    return list(_method_names(cls))  # a fresh list, as moto's own returns


_Parsed = tuple[Any, list[str], list[str]]  # (op, names found, values found)
_conditions: _Kept[tuple[str, str, str], _Parsed] = _Kept(_PARSED_CONDITIONS)
_parse_condition = ConditionExpressionParser.parse
_stock_lex = ConditionExpressionParser._lex_condition_expression


@functools.lru_cache(maxsize=_PARSED_EXPRESSIONS)
def _tokens(text: str) -> tuple[Any, ...]:
    lexer = ConditionExpressionParser(text, {}, {})
    return tuple(_stock_lex(lexer))  # raises for text it cannot split: nothing is kept


def _lex_condition_expression(self: ConditionExpressionParser) -> deque[Any]:
    return deque(_tokens(self.condition_expression))


class _PlacingParser(ConditionExpressionParser):
    """moto's parser, step for step, noting which placeholder each value operand was made from."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.placed: list[tuple[Any, str]] = []

    def _make_operand(self, node: Any) -> Any:
        operand = super()._make_operand(node)
        if node.kind == self.Kind.EXPRESSION_ATTRIBUTE_VALUE:
            self.placed.append((operand, node.text))
        return operand


def _value_types(values: Any) -> tuple[tuple[str, tuple[str, ...]], ...] | None:
    """Each placeholder with its AttributeValue's type keys, or None for values of another form."""
    if not isinstance(values, dict):
        return None
    kinds = []
    for name, value in values.items():
        if not isinstance(name, str) or not isinstance(value, dict):
            return None
        kinds.append((name, tuple(value)))
    return tuple(sorted(kinds))


def _instantiate(template: Any, placed: list[tuple[Any, str]], values: dict[str, Any]) -> Any:
    """The condition `template` with each value operand made again from `values`: a new tree of
    moto's Op and Func nodes (shared sub-nodes stay shared), paths reused (evaluation only reads
    them), what a parse of the same text and names with these values builds."""
    memo: dict[int, Any] = {id(operand): AttributeValue(values[name]) for operand, name in placed}
    return _copy_condition_node(template, memo)


# Plain functions, not closures over each other: two nested functions that call each other are a
# reference cycle per call, garbage only the cyclic collector frees (see _unlinked).
def _copy_condition_node(node: Any, memo: dict[int, Any]) -> Any:
    done = memo.get(id(node))
    if done is not None:
        return done
    if not isinstance(node, (Op, Func)):
        return node  # an AttributePath: read, never written, by evaluation
    clone = object.__new__(type(node))
    memo[id(node)] = clone
    clone.__dict__.update(
        {name: _copy_condition_value(value, memo) for name, value in node.__dict__.items()}
    )
    return clone


def _copy_condition_value(value: Any, memo: dict[int, Any]) -> Any:
    if type(value) is list:
        return [_copy_condition_value(item, memo) for item in value]
    if type(value) is tuple:
        return tuple(_copy_condition_value(item, memo) for item in value)
    return _copy_condition_node(value, memo)


# (op, the operand each placeholder became, names found, values found)
_templates: _Kept[tuple[Any, ...], tuple[Any, list[tuple[Any, str]], list[str], list[str]]]
_templates = _Kept(_CONDITION_TEMPLATES)


def _parse_condition_once(self: ConditionExpressionParser) -> Any:
    if not self.condition_expression:
        return _parse_condition(self)
    names_repr = repr(self.expression_attribute_names)  # JSON-decoded dicts: exact and total
    key = (self.condition_expression, names_repr, repr(self.expression_attribute_values))
    hit = _conditions.get(key)
    if hit is None:
        hit = _parse_from_template(self, names_repr)
        _conditions.put(key, hit)
    op, names, values = hit
    self.expr_attr_names_found.extend(names)
    self.expr_attr_values_found.extend(values)
    return op


def _parse_from_template(self: ConditionExpressionParser, names_repr: str) -> _Parsed:
    """(op, names found, values found) as moto's parse gives them. A parse depends on the values
    only through their types (FuncBetween refuses a NULL bound; every other value is only
    wrapped, AttributeValue(value), where it stands), so one parse per (text, names, value types)
    serves every call with other values of the same types."""
    types = _value_types(self.expression_attribute_values)
    values = self.expression_attribute_values or {}
    if types is None:
        op = _parse_condition(self)
        return op, list(self.expr_attr_names_found), list(self.expr_attr_values_found)
    key = (self.condition_expression, names_repr, types)
    template = _templates.get(key)
    if template is None:
        placing = _PlacingParser(self.condition_expression, self.expression_attribute_names, values)
        op = _parse_condition(placing)  # raises for an invalid expression: nothing is kept
        template = (
            op,
            placing.placed,
            placing.expr_attr_names_found,
            placing.expr_attr_values_found,
        )
        _templates.put(key, template)
        return op, list(template[2]), list(template[3])
    op, placed, names, found = template
    return _instantiate(op, placed, values), list(names), list(found)


def install() -> None:
    """Idempotent: the local AWS process and in-process test servers both call it."""
    parser = expressions.UpdateExpressionParser
    if not hasattr(parser.make, "cache_info"):
        cached = functools.lru_cache(maxsize=_PARSED_EXPRESSIONS)(parser.make)
        parser.make = staticmethod(cached)
    ConditionExpressionParser.parse = _parse_condition_once  # type: ignore[method-assign]
    ConditionExpressionParser._lex_condition_expression = _lex_condition_expression  # type: ignore[method-assign]
    core_responses.method_names_from_class = _method_names_from_class
    Node.__deepcopy__ = _copy_attributes
    DepthFirstTraverser.traverse_node_recursively = _traverse_node_recursively
    UpdateExpressionValidator.__init__ = _init_keeping_source
    UpdateExpressionValidator.validate = _validate
    _serialize.BaseJSONSerializer._serialize_type_structure = _serialize_type_structure
    LimitedSizeDict.__setitem__ = _limited_setitem
