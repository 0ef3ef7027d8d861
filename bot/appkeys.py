"""Typed aiohttp application keys for the resources the app factory opens."""
from __future__ import annotations

from aiohttp import web

from bot.config import Config
from bot.metrics import Metrics
from bot.photo_store import PhotoStore
from bot.state.base import BaseEventIsolation, BaseStorage
from bot.storage.database import Database

CONFIG = web.AppKey("config", Config)
DATABASE = web.AppKey("database", Database)
STATE_STORAGE = web.AppKey("state_storage", BaseStorage)
EVENT_ISOLATION = web.AppKey("event_isolation", BaseEventIsolation)
METRICS = web.AppKey("metrics", Metrics)
PHOTO_STORE = web.AppKey("photo_store", PhotoStore)
