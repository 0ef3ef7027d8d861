"""A fast structural check of LINE webhook events against the SDK's own models, without building them."""
from __future__ import annotations

import enum
import typing
from typing import Any

from linebot.v3.webhooks import Event
from pydantic.v1 import BaseModel
from pydantic.v1.fields import SHAPE_DICT, SHAPE_LIST, SHAPE_MAPPING, SHAPE_SINGLETON
from pydantic.v1.types import StrictBool, StrictFloat, StrictInt, StrictStr

# /callback stores events after this check and the inbox worker builds the SDK event
# (`Event.from_dict`) when it handles one. The check follows the SDK's field declarations:
# required fields present and not null, strict-typed fields (StrictStr, StrictInt, StrictBool,
# StrictFloat) and enums of the right type or value, nested objects and lists of the right
# shape, recursively, and a discriminator (event type, message type, source type, …) this SDK
# does not know makes the event unknown (ignored, as `Event.from_dict` refuses it). Lenient
# (coercing) fields, unions, length constraints and the models' own validators are left to
# the worker, which marks an event it cannot build as failed (docs/decisions.md, 2026-11-29).


class UnknownEvent(Exception):
    """The event, or an object inside it, has a type this SDK does not know: ignore the event."""


class BadEvent(ValueError):
    """The event does not have the shape LINE documents (the body is a 400)."""


_STR, _INT, _BOOL, _FLOAT, _ENUM, _MODEL, _ANY = range(7)


class _Field:
    __slots__ = ("alias", "required", "nullable", "shape", "kind", "arg")

    def __init__(self, alias: str, required: bool, nullable: bool, shape: int, kind: int, arg: Any) -> None:
        self.alias, self.required, self.nullable, self.shape, self.kind, self.arg = alias, required, nullable, shape, kind, arg


class _Model:
    """The compiled fields of one SDK model, or its discriminator and subclasses."""

    __slots__ = ("fields", "discriminator", "subtypes")

    def __init__(self) -> None:
        self.fields: list[_Field] = []
        self.discriminator: str | None = None
        self.subtypes: dict[str, _Model] = {}


_compiled: dict[type, _Model] = {}


def _discriminator(cls: type) -> tuple[str, dict[str, str]] | None:
    mapping = cls.__dict__.get(f"_{cls.__name__}__discriminator_value_class_map")
    prop = cls.__dict__.get(f"_{cls.__name__}__discriminator_property_name")
    return (prop, mapping) if isinstance(mapping, dict) and isinstance(prop, str) else None


def _compile(cls: type) -> _Model:
    if cls in _compiled:
        return _compiled[cls]
    model = _compiled[cls] = _Model()
    found = _discriminator(cls)
    if found is not None:
        import linebot.v3.webhooks.models as sdk_models

        model.discriminator = found[0]
        for value, name in found[1].items():
            sub = getattr(sdk_models, name)
            sub_model = _Model()  # the subclass's own fields (its from_dict does not dispatch again)
            sub_model.fields = _fields(sub)
            model.subtypes[value] = sub_model
        return model
    model.fields = _fields(cls)
    return model


def _fields(cls: type) -> list[_Field]:
    out = []
    for f in cls.__fields__.values():  # type: ignore[attr-defined]
        kind, arg = _kind(f.type_)
        if f.shape not in (SHAPE_SINGLETON, SHAPE_LIST, SHAPE_DICT, SHAPE_MAPPING):
            kind, arg = _ANY, None
        out.append(_Field(f.alias, bool(f.required), bool(f.allow_none), f.shape, kind, arg))
    return out


def _kind(t: Any) -> tuple[int, Any]:
    if isinstance(t, type):
        if issubclass(t, StrictBool):
            return _BOOL, None
        if issubclass(t, StrictStr):
            return _STR, None
        if issubclass(t, StrictInt):
            return _INT, None
        if issubclass(t, StrictFloat):
            return _FLOAT, None
        if issubclass(t, enum.Enum):
            return _ENUM, frozenset(member.value for member in t)
        if issubclass(t, BaseModel):
            return _MODEL, _compile(t)
    if typing.get_origin(t) is typing.Union:  # e.g. StrictFloat | StrictInt: left to the SDK
        return _ANY, None
    return _ANY, None  # lenient (coercing) types: whatever the SDK makes of them


def _check_model(model: _Model, data: Any) -> None:
    if type(data) is not dict:
        raise BadEvent("object expected")
    if model.discriminator is not None:
        if model.discriminator not in data:
            raise BadEvent(f"{model.discriminator}: missing")
        value = data[model.discriminator]
        try:  # as the SDK's from_dict: an empty or unmapped value is an unknown type
            sub = model.subtypes.get(value) if value else None
        except TypeError:  # unhashable
            raise BadEvent(f"{model.discriminator}: not a type name") from None
        if sub is None:
            raise UnknownEvent(repr(value)[:40])
        model = sub
    for field in model.fields:
        value = data.get(field.alias)
        if value is None:
            if field.required or (field.alias in data and not field.nullable):
                raise BadEvent(f"{field.alias}: missing")
            continue
        if field.kind == _ANY:
            continue
        if field.shape == SHAPE_SINGLETON:
            _check_value(field, value)
        elif field.shape == SHAPE_LIST:
            if type(value) is not list:
                if type(value) in (str, dict) and not value:
                    continue  # the SDK iterates it: an empty list to it
                raise BadEvent(f"{field.alias}: list expected")
            for item in value:
                _check_value(field, item)
        else:
            if type(value) is not dict:
                raise BadEvent(f"{field.alias}: object expected")
            for item in value.values():
                _check_value(field, item)


def _check_value(field: _Field, value: Any) -> None:
    kind = field.kind
    if kind == _STR:
        ok = type(value) is str
    elif kind == _INT:
        ok = type(value) is int
    elif kind == _BOOL:
        ok = type(value) is bool
    elif kind == _FLOAT:
        ok = type(value) is float
    elif kind == _ENUM:
        ok = isinstance(value, (str, int)) and value in field.arg
    elif kind == _MODEL:
        _check_model(field.arg, value)
        return
    else:
        return
    if not ok:
        raise BadEvent(f"{field.alias}: wrong type")


_EVENT = _compile(Event)


def check_event(data: Any) -> None:
    """Raises BadEvent when the event is malformed for the SDK's declared types, UnknownEvent
    when it (or an object in it) has a type this SDK does not know; returns when it is fine."""
    _check_model(_EVENT, data)
