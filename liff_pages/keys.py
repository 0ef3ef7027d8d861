"""Typed application keys of the LIFF pages' resources."""
from __future__ import annotations

from aiohttp import web

from bot.mof import MofClient
from liff_pages.limits import RateLimiter
from liff_pages.sealing import CodeSealer
from liff_pages.tokens import VerifiedTokens

LIFF_MOF = web.AppKey("liff_mof", MofClient)
SEALER = web.AppKey("liff_sealer", CodeSealer)
LIMITS = web.AppKey("liff_limits", dict[str, RateLimiter])
TOKENS = web.AppKey("liff_tokens", VerifiedTokens)
