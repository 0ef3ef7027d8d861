"""Split a Backme display name into surname / given name, and compare names for contact matching."""
from __future__ import annotations

import re
from dataclasses import dataclass

# Two-character surnames, longest match first at the start of a Chinese name. Source: 內政部戶政司
# 《全國姓名統計分析》 (2018 edition, as tabulated on zh.wikipedia 「台灣姓氏」, 複姓人口; the five most
# common compound/double surnames in Taiwan are 張簡、歐陽、范姜、周黃、江謝), plus the compound
# surnames the same statistics list with living bearers (司徒、上官、司馬、諸葛、東方、令狐 …) and the
# Taiwanese double surname 張廖. See docs/backme.md ("Names").
COMPOUND_SURNAMES: frozenset[str] = frozenset({
    "張簡", "歐陽", "范姜", "周黃", "江謝", "張廖", "司徒", "上官", "司馬", "諸葛", "東方", "令狐",
    "皇甫", "夏侯", "公孫", "慕容", "尉遲", "長孫", "端木", "西門", "南宮", "鍾離", "宇文", "呼延",
    "赫連", "第五", "軒轅", "澹臺", "萬俟", "申屠", "公羊", "左丘", "東郭", "百里", "太史", "聞人",
})

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
    removed): a name of 3–5 characters starting with a compound surname (``COMPOUND_SURNAMES``:
    張簡、范姜、歐陽 …) → those two + the rest; otherwise 2 characters → 1 + 1; 3–4 characters → the
    last two are the given name. Anything else (one character, five or more) is kept whole as the
    given name with no surname.
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
    if 3 <= len(compact) <= 5 and compact[:2] in COMPOUND_SURNAMES:
        return PersonName(compact[:2], compact[2:])
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
