"""Interactive `campaigns create`: the campaign file's fields asked one by one, each answer checked
as it is entered by the campaign file's own validators (`CampaignSettings.from_dict`,
`flows.campaigns.validate`) and asked again while it is refused. The answers build a campaign
file's mapping; when anything stops the questions (Ctrl-C, the end of input, a refusal), what
was answered is saved as a YAML campaign file to finish and pass to `campaigns create -f`."""
from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import typer

Answers = dict[str, Any]
_INDEX = re.compile(r"([^.\[\]]+)|\[(\d+)\]")

#: Valid stand-ins for what is not answered yet, so that each answer is judged on its own with the
#: same validators as a whole file (errors about other fields are not shown for it).
_REWARD = {"bot_name": "機器人", "module_name": "模組", "coupon": {"kind": "code_pool"}}
_LINK = "https://example.com/coupon"
_SCOPES = {
    "whole_invoice": {"kind": "whole_invoice", "measure": "amount", "threshold": 1},
    "items": {"kind": "items", "combinator": "and", "blocks": []},
}
_BLOCK = {"keywords": ["關鍵字"], "match": "any", "measure": "amount", "threshold": 1}


def keys_of(path: str) -> list[str | int]:
    """`conditions.higher_tiers[0].min_amount` → ["conditions", "higher_tiers", 0, "min_amount"]."""
    return [int(index) if index else name for name, index in _INDEX.findall(path)]


def put(data: Answers, path: str, value: object) -> None:
    """Set `path` in `data`, making the mappings and list entries on the way."""
    keys = keys_of(path)
    node: Any = data
    for key, following in zip(keys, keys[1:]):
        empty: Any = [] if isinstance(following, int) else {}
        if isinstance(key, int):
            if key == len(node):
                node.append(empty)
            node = node[key]
        else:
            node = node.setdefault(key, empty)
    last = keys[-1]
    if isinstance(last, int) and last == len(node):
        node.append(value)
    else:
        node[last] = value


def _over(base: Answers, answers: Answers) -> Answers:
    merged = copy.deepcopy(base)
    for key, value in answers.items():
        merged[key] = _over(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else copy.deepcopy(value)
    return merged


def _reward(answers: Any) -> Answers:  # noqa: ANN401
    reward = _over(_REWARD, answers if isinstance(answers, dict) else {})
    coupon = reward.get("coupon")
    if isinstance(coupon, dict) and coupon.get("kind") == "shared_link":
        coupon.setdefault("url", _LINK)
    return reward


def completed(answers: Answers, today: dt.date) -> Answers:
    """The answers with valid stand-ins for every field not answered yet (a whole settings dict)."""
    start = dt.datetime.combine(today + dt.timedelta(days=1), dt.time())
    base = {"name": "活動", "channel_id": "1", "start_at": start.isoformat(),
            "end_at": (start + dt.timedelta(days=30)).isoformat(), "rules_url": "https://example.com/rules",
            "image_url": None, "conditions": {
                "per_person_cap": None, "sellers": None, "reward_timing": "list_only",
                "issue_dates": {"start": today.isoformat(), "end": (today + dt.timedelta(days=30)).isoformat()}}}
    data = {k: v for k, v in answers.items() if k not in ("channel", "conditions")}
    whole = _over(base, data)
    given = answers.get("conditions", {})
    conditions = _over(whole["conditions"], {k: v for k, v in given.items()
                                             if k not in ("scope", "reward", "higher_tiers")})
    immediate = conditions.get("reward_timing") == "immediate"
    scope = given.get("scope", {})
    kind = scope.get("kind") if scope.get("kind") in _SCOPES else "whole_invoice"
    conditions["scope"] = _over(_SCOPES[kind], scope)
    if kind == "items":
        conditions["scope"]["blocks"] = [_over(_BLOCK, b if isinstance(b, dict) else {})
                                         for b in scope.get("blocks") or [{}]]
    if immediate:
        conditions["reward"] = _reward(given.get("reward"))
    conditions["higher_tiers"] = [
        {"min_amount": tier.get("min_amount"), "reward": _reward(tier.get("reward")) if immediate else None}
        for tier in given.get("higher_tiers", [])]
    whole["conditions"] = conditions
    return whole


def problems(answers: Answers, path: str, today: dt.date) -> list[str]:
    """What the campaign file's validators say about `path` (and fields under it) in these answers."""
    from flows.campaigns.errors import CampaignSettingsError
    from flows.campaigns.settings import CampaignSettings
    from flows.campaigns.validate import validate

    try:
        errors = validate(CampaignSettings.from_dict(completed(answers, today)), today)
    except CampaignSettingsError as exc:
        errors = list(exc.errors)
    return [str(e) for e in errors if e.field == path or e.field.startswith((path + ".", path + "["))]


def _typed(text: str) -> object:
    """A typed answer as YAML would read it from a file: whole numbers as numbers."""
    return int(text) if text.isdigit() else text


class CampaignQuestions:
    """Asks for a campaign's settings; `answers` holds what was accepted so far (file format)."""

    def __init__(self, channels: Sequence[str], today: dt.date) -> None:
        self.channels, self.today = list(channels), today
        self.answers: Answers = {}

    def ask(self, text: str, path: str, default: str | None = None,
            parse: Callable[[str], object] = _typed, stop: str | None = None) -> Any:  # noqa: ANN401
        """Ask until the answer passes the validators; store it at `path` and return it (or
        return None, storing nothing, when the answer is `stop`)."""
        while True:
            raw = typer.prompt(text, default=default, show_default=default is not None).strip()
            if stop is not None and raw == stop:
                return None
            try:
                value = parse(raw)
            except ValueError as exc:
                typer.echo(f"  {path}: {exc}", err=True)
                continue
            trial = copy.deepcopy(self.answers)
            put(trial, path, value)
            found = problems(trial, path, self.today)
            if not found:
                self.answers = trial
                return value
            for problem in found:
                typer.echo(f"  {problem}", err=True)

    def choose(self, text: str, path: str, options: tuple[str, ...], default: str) -> str:
        def one_of(answer: str) -> str:
            if answer not in options:
                raise ValueError(f"please answer one of: {', '.join(options)}")
            return answer

        return self.ask(f"{text} [{'/'.join(options)}]", path, default, one_of)

    def _channel(self, answer: str) -> str:
        if answer not in self.channels:
            known = ", ".join(self.channels) or "none yet: `admin-cli channels add`"
            raise ValueError(f"no LINE channel named {answer!r} (channels: {known})")
        return answer

    def _reward(self, path: str, bot_name: str | None = None) -> None:
        if bot_name is None:
            bot_name = self.ask("機器人名稱 (bot name)", f"{path}.bot_name")
        else:
            put(self.answers, f"{path}.bot_name", bot_name)
        self.ask("機器人模組名稱 (module name)", f"{path}.module_name", parse=str)
        kind = self.choose("優惠券來源 coupon source", f"{path}.coupon.kind", ("code_pool", "shared_link"),
                           "code_pool")
        if kind == "shared_link":
            self.ask("共用連結 coupon URL", f"{path}.coupon.url", parse=str)

    def run(self) -> Answers:
        """Every question in the order of the campaign editor's steps 1 and 2."""
        self.ask("活動名稱 name", "name", parse=str)
        self.ask("渠道 LINE channel name", "channel", parse=self._channel)
        self.ask("活動開始 start (YYYY-MM-DDTHH:MM, Taipei time)", "start_at", parse=str)
        self.ask("活動結束 end (YYYY-MM-DDTHH:MM, Taipei time)", "end_at", parse=str)
        self.ask("活動規則網址 rules URL", "rules_url", parse=str)
        self.ask("活動圖片網址 image URL (888×888; - for none)", "image_url", "-",
                 parse=lambda a: None if a == "-" else a)
        self.ask("每人參與上限 per-person cap (- for unlimited)", "conditions.per_person_cap", "-",
                 parse=lambda a: None if a in ("", "-") else _typed(a))
        self.ask("公司行號 sellers, comma-separated (- for unlimited)", "conditions.sellers", "-",
                 parse=lambda a: None if a == "-" else [s.strip() for s in a.split(",")])
        self.ask("發票開立日期起 issue dates from (YYYY-MM-DD)", "conditions.issue_dates.start", parse=str)
        self.ask("發票開立日期迄 issue dates to (YYYY-MM-DD)", "conditions.issue_dates.end", parse=str)
        timing = self.choose("送獎時機 reward timing", "conditions.reward_timing", ("immediate", "list_only"),
                             "immediate")
        kind = self.choose("消費認列範圍 scope", "conditions.scope.kind", ("whole_invoice", "items"), "whole_invoice")
        if kind == "whole_invoice":
            measure = self.choose("門檻 measure", "conditions.scope.measure", ("amount", "count"), "amount")
            self.ask("門檻 threshold (NT$ or items)", "conditions.scope.threshold")
        else:
            put(self.answers, "conditions.scope.combinator", "and")
            measure = self.choose("門檻 measure", "conditions.scope.blocks[0].measure", ("amount", "count"),
                                  "amount")
            self.ask("品名關鍵字 keywords, comma-separated", "conditions.scope.blocks[0].keywords",
                     parse=lambda a: [k.strip() for k in a.split(",")])
            self.choose("關鍵字比對 keyword match", "conditions.scope.blocks[0].match", ("any", "all"), "any")
            self.ask("門檻 threshold (NT$ or items)", "conditions.scope.blocks[0].threshold")
        immediate = timing == "immediate"
        if immediate:
            self._reward("conditions.reward")
        if measure == "amount":
            self._tiers(immediate)
        return self.answers

    def _tiers(self, immediate: bool) -> None:
        self.answers["conditions"].setdefault("higher_tiers", [])
        while True:
            number = len(self.answers["conditions"]["higher_tiers"])
            amount = self.ask(f"第 {number + 2} 級距 tier {number + 2} amount (- for no more tiers)",
                              f"conditions.higher_tiers[{number}].min_amount", "-", stop="-")
            if amount is None:
                return
            if immediate:
                self._reward(f"conditions.higher_tiers[{number}].reward",
                             self.answers["conditions"]["reward"]["bot_name"])
            else:
                put(self.answers, f"conditions.higher_tiers[{number}].reward", None)


def save_answers(answers: Answers, folder: Path, why: str) -> Path:
    """Write the answers as a YAML campaign file under a new name in `folder` (never over a file)."""
    import yaml

    header = (f"# admin-cli campaigns create: the answers so far ({why}).\n"
              "# Complete the fields still missing (docs/campaign-file.md), then run:\n"
              "#   admin-cli campaigns create -f THIS_FILE\n")
    body = yaml.safe_dump(answers, allow_unicode=True, sort_keys=False, width=100) if answers else "{}\n"
    for n in range(1, 1000):
        path = folder / ("campaign-draft.yaml" if n == 1 else f"campaign-draft-{n}.yaml")
        try:
            with path.open("x", encoding="utf-8") as out:
                out.write(header + body)
        except FileExistsError:
            continue
        return path
    raise OSError(f"no free campaign-draft-N.yaml name in {folder}")
