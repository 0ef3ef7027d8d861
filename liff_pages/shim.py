"""The sandbox `liff` shim: a stand-in for LINE's LIFF SDK v2, served only in sandbox mode at
`/liff/sdk/shim.js` (pages load it instead of LINE's CDN SDK) and backed by the LINE simulator.

Contract with the sandbox chat page (bot/sandbox_chat, issue 17): in sandbox mode the card's
buttons of every channel point to `{base}/liff/{manual|carrier}?campaign={id}` (issue 29), and the
pages run under the LIFF ID `sandbox` (the API takes the campaign's channel); the chat page opens
that URL in an in-page iframe panel with `&sandbox_user=<LINE user id>` appended, and
`&sandbox_channel=<channel id>` when it talks as a channel other than the default one. The shim
then provides:

- `liff.init({liffId})` resolves; `liff.isLoggedIn()` is true; `liff.id` is the given LIFF ID.
- `liff.isInClient()` is true inside the panel (the page is framed), false when opened alone
  (then, like an external browser, `sendMessages` is unavailable and the bot pushes its answer).
- `liff.getIDToken()` is a real simulator ID token for `sandbox_user`, from
  `POST /sandbox/line/_sim/id_tokens {"userId": sandbox_user}` (the LINE simulator's mount);
  the service verifies it at `/sandbox/line/oauth2/v2.1/verify` like any LINE token.
- `liff.getProfile()` → `{userId, displayName}` (the token's claims).
- `liff.sendMessages([{type: "text", text}])` → `POST /sandbox/api/say {"user", "text",
  "channel"?}` (`sandbox_channel`) for each text, which delivers a signed text event through the real webhook (so the bot's
  reply-to-that-message path runs); rejects with `{code: "FORBIDDEN"}` when not in the client.
- `liff.closeWindow()`: in an iframe, `window.parent.postMessage({type: "liff-close"},
  location.origin)` (the chat page closes the panel); else `window.close()`.

Without `sandbox_user` the shim uses `DEMO_USER` (a fixed sandbox LINE user ID)."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.appkeys import CONFIG

SHIM_PATH = "/liff/sdk/shim.js"
# The LIFF ID the pages run under in sandbox mode, for every channel: the API then takes the
# campaign's channel and verifies the simulator's ID tokens for the sandbox's LINE Login channel.
SANDBOX_LIFF_ID = "sandbox"
DEMO_USER = "U5a4db0c0000000000000000000000001"
_SOURCE = Path(__file__).parent / "static" / "liff-shim.js"


async def handle_shim(request: web.Request) -> web.Response:
    if not request.app[CONFIG].sandbox:
        raise web.HTTPNotFound(text="the LIFF shim exists in sandbox mode only")
    body = _SOURCE.read_text(encoding="utf-8").replace("{{demo_user}}", DEMO_USER)
    return web.Response(text=body, content_type="application/javascript", charset="utf-8",
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


def setup_shim(app: web.Application) -> None:
    app.router.add_get(SHIM_PATH, handle_shim)
