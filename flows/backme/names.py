"""Split a Backme display name into surname / given name, and compare names for contact matching."""
from __future__ import annotations

import re
from dataclasses import dataclass

_LATIN = re.compile(r"[A-Za-z]")
_SPACES = re.compile(r"[\s\u3000]+")


@dataclass(frozen=True)
class PersonName:
    """A contact's name as the CRM stores it."""

    last_name: str  # surname
    first_name: str  # given name


def split_name(full: str) -> PersonName:
    """Surname / given name, as netiCRM does it.

    Latin names: "Last, First" splits at the comma; otherwise the last word is the surname and the
    words before it the given name ("John Paul Smith" → Smith / John Paul). Chinese names (spaces
    removed): 2 characters → 1 + 1; 3–4 characters → the last two are the given name. Anything
    else (one character, five or more) is kept whole as the given name with no surname.
    """
    text = full.replace("\r", "").replace("\n", "").strip()
    if not text:
        return PersonName("", "")
    if _LATIN.search(text):
        if "," in text:
            last, _, first = text.partition(",")
            return PersonName(_SPACES.sub(" ", last).strip(), _SPACES.sub(" ", first).strip())
        words = [w for w in _SPACES.split(text) if w]
        if len(words) == 1:
            return PersonName("", words[0])
        return PersonName(words[-1], " ".join(words[:-1]))
    compact = _SPACES.sub("", text)
    if len(compact) == 2:
        return PersonName(compact[0], compact[1])
    if len(compact) in (3, 4):
        return PersonName(compact[:-2], compact[-2:])
    return PersonName("", compact)


def name_key(text: str) -> str:
    """A comparison key: whitespace removed, case folded."""
    return _SPACES.sub("", text).casefold()


def same_person_name(full: str, last_name: str, first_name: str) -> bool:
    """Whether a Backme display name is the name of a CRM contact stored as last/first name
    (either order, so both "王測試" and "John Smith" match)."""
    key = name_key(full)
    if not key:
        return False
    return key in (name_key(last_name + first_name), name_key(first_name + last_name))
