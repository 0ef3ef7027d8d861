"""Client of the Ministry of Finance e-invoice API (財政部電子發票整合服務平台)."""
from bot.mof.client import MofClient

__all__ = ["MofClient"]
