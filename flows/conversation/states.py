"""Conversation states declared as classes (aiogram-style `StatesGroup` / `State`) with
stable string names such as "InvoiceUpload:awaiting_photo", as stored in the state store."""
from __future__ import annotations

from typing import Any, Iterator


class State:
    """One state of a conversation; its name is "<Group>:<attribute>" once its group is built."""

    def __init__(self) -> None:
        self._group: str | None = None
        self._attribute: str | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        self._attribute = name

    @property
    def state(self) -> str:
        """The stable name stored in the state store."""
        if self._group is None or self._attribute is None:
            raise RuntimeError("a State must be declared inside a StatesGroup class")
        return f"{self._group}:{self._attribute}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, State):
            return self.state == other.state
        if isinstance(other, str):
            return self.state == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.state)

    def __repr__(self) -> str:
        name = self.state if self._group else "<unbound>"
        return f"State({name!r})"


_REGISTRY: dict[str, State] = {}


class _StatesGroupMeta(type):
    """Binds every `State` attribute to its group's name and registers its full name."""

    __states__: tuple[State, ...]

    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any]):
        cls = super().__new__(mcls, name, bases, namespace)
        states = []
        for attribute, value in namespace.items():
            if isinstance(value, State):
                value._group = name
                value._attribute = attribute
                if value.state in _REGISTRY and _REGISTRY[value.state] is not value:
                    raise ValueError(f"state name {value.state!r} is declared twice")
                _REGISTRY[value.state] = value
                states.append(value)
        cls.__states__ = tuple(states)
        return cls

    def __iter__(cls) -> Iterator[State]:
        return iter(cls.__states__)

    def __contains__(cls, item: object) -> bool:
        name = item.state if isinstance(item, State) else item
        return any(s.state == name for s in cls.__states__)


class StatesGroup(metaclass=_StatesGroupMeta):
    """Base class for a group of states; declare `State()` attributes on a subclass."""


def resolve_state(name: str | None) -> State | None:
    """The declared `State` for a stored name, or None for no state or an unknown name
    (a stale or foreign value in the store is treated as "no conversation")."""
    if name is None:
        return None
    return _REGISTRY.get(name)


class InvoiceUpload(StatesGroup):
    """The invoice-card conversation: after a card, photos are read for its campaign."""

    awaiting_photo = State()
