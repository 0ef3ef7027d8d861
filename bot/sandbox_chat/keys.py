"""Typed application keys of sandbox mode: the mounted simulators' state, for the chat API."""
from __future__ import annotations

from aiohttp import web

from bot.simulators.line import LineSimulator
from bot.simulators.mof import SimState

LINE_SIM = web.AppKey("sandbox_line_simulator", LineSimulator)
MOF_SIM = web.AppKey("sandbox_mof_simulator", SimState)
