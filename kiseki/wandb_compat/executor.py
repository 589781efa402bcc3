"""A lenient GraphQL executor: resolved Python data projected onto a query's selections.

The official client's documents change with every release. Rather than a schema that rejects
what it does not know, root fields are looked up in a table of resolvers and every selection is
read from plain data: a dict value, a list of them, a scalar, or a callable taking the field's
arguments (for fields with arguments or costly ones). A field nobody resolves is answered
``null``; unknown arguments and input fields are never looked at. Operations are recognised
from the document (its root fields), so an empty ``operationName`` is fine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graphql import GraphQLError, parse
from graphql.language import (
    BooleanValueNode,
    EnumValueNode,
    FieldNode,
    FloatValueNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)

from kiseki.errors import KisekiError

RootResolver = Callable[[dict[str, Any]], Any]
"""Resolves one root field from its arguments (variables already substituted)."""


def _value(node: ValueNode, variables: Mapping[str, Any]) -> Any:
    if isinstance(node, VariableNode):
        return variables.get(node.name.value)
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, FloatValueNode):
        return float(node.value)
    if isinstance(node, StringValueNode | EnumValueNode):
        return node.value
    if isinstance(node, BooleanValueNode):
        return node.value
    if isinstance(node, NullValueNode):
        return None
    if isinstance(node, ListValueNode):
        return [_value(item, variables) for item in node.values]
    if isinstance(node, ObjectValueNode):
        return {f.name.value: _value(f.value, variables) for f in node.fields}
    return None


def _arguments(node: FieldNode, variables: Mapping[str, Any]) -> dict[str, Any]:
    return {a.name.value: _value(a.value, variables) for a in node.arguments or ()}


class _Projection:
    def __init__(
        self, fragments: dict[str, FragmentDefinitionNode], variables: Mapping[str, Any]
    ) -> None:
        self.fragments = fragments
        self.variables = variables

    def fields(self, selection_set: SelectionSetNode, typename: str | None) -> list[FieldNode]:
        found: list[FieldNode] = []
        for selection in selection_set.selections:
            if not self.included(selection):
                continue
            if isinstance(selection, FieldNode):
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or typename is None or condition.name.value == typename:
                    found.extend(self.fields(selection.selection_set, typename))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    found.extend(self.fields(fragment.selection_set, typename))
        return found

    def included(self, selection: Any) -> bool:
        """Whether ``@include(if:)``/``@skip(if:)`` keep ``selection``."""
        for directive in selection.directives or ():
            condition = {
                a.name.value: _value(a.value, self.variables) for a in directive.arguments or ()
            }.get("if")
            if directive.name.value == "include" and not condition:
                return False
            if directive.name.value == "skip" and condition:
                return False
        return True

    def project(self, value: Any, selection_set: SelectionSetNode | None) -> Any:
        if selection_set is None or value is None:
            return value
        if isinstance(value, list | tuple):
            return [self.project(item, selection_set) for item in value]
        if not isinstance(value, Mapping):
            return None
        typename = value.get("__typename")
        result: dict[str, Any] = {}
        for field in self.fields(selection_set, typename if isinstance(typename, str) else None):
            name = field.name.value
            alias = field.alias.value if field.alias else name
            found = value.get(name)
            if callable(found):
                found = found(_arguments(field, self.variables))
            merged = self.project(found, field.selection_set)
            if alias in result and isinstance(result[alias], dict) and isinstance(merged, dict):
                result[alias].update(merged)
            else:
                result[alias] = merged
        return result


def execute(
    query: str,
    variables: Mapping[str, Any] | None,
    operation_name: str | None,
    roots: Mapping[str, RootResolver],
) -> dict[str, Any]:
    """Run ``query`` against the root resolvers; answers ``{"data": ...}`` (and ``errors``
    when a resolver raised a :class:`~kiseki.errors.KisekiError` or the query does not parse).

    A resolver error nulls its root field only; the others are still answered.
    """
    try:
        document = parse(query, no_location=True)
    except GraphQLError as exc:
        return {"data": None, "errors": [{"message": f"The query does not parse: {exc.message}"}]}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operation = next(
        (o for o in operations if operation_name and o.name and o.name.value == operation_name),
        operations[0] if operations else None,
    )
    if operation is None:
        return {"data": None, "errors": [{"message": "The document holds no operation."}]}
    projection = _Projection(fragments, dict(variables or {}))
    data: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for field in projection.fields(operation.selection_set, None):
        name = field.name.value
        alias = field.alias.value if field.alias else name
        resolver = roots.get(name)
        if resolver is None:
            data[alias] = None
            continue
        try:
            value = resolver(_arguments(field, projection.variables))
            data[alias] = projection.project(value, field.selection_set)
        except KisekiError as exc:
            data[alias] = None
            errors.append({"message": str(exc), "path": [alias]})
    answer: dict[str, Any] = {"data": data}
    if errors:
        answer["errors"] = errors
    return answer
