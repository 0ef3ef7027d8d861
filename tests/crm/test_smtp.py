"""The SMTP backend (stdlib smtplib in a thread) against a minimal SMTP server on 127.0.0.1,
including a temporary refusal that the outbox retries."""
from __future__ import annotations

import asyncio
import datetime as dt
import email
from email.policy import default as default_policy

from bot.backme.emails import EmailSettings, SmtpBackend, send_due
from bot.simulators import backme as sim
from bot.storage.crm_models import EmailOutbox
from bot.storage.models import utcnow


class TinySmtpServer:
    """Just enough RFC 5321 for smtplib: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
    ``refuse_data`` answers the first N DATA commands with 451 (try again later)."""

    def __init__(self, refuse_data: int = 0) -> None:
        self.refuse_data = refuse_data
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.server: asyncio.base_events.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        await say("220 tiny ESMTP")
        sender, rcpts = "", []
        while line := await reader.readline():
            command = line.decode().strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                await say("250 tiny")
            elif verb == "MAIL":
                sender, rcpts = command.partition(":")[2].strip(), []
                await say("250 ok")
            elif verb == "RCPT":
                rcpts.append(command.partition(":")[2].strip())
                await say("250 ok")
            elif verb == "DATA":
                if self.refuse_data > 0:
                    self.refuse_data -= 1
                    await say("451 try again later")
                    continue
                await say("354 go ahead")
                data = b""
                while (chunk := await reader.readline()) not in (b".\r\n", b""):
                    data += chunk
                self.messages.append((sender, rcpts, data))
                await say("250 queued")
            elif verb == "QUIT":
                await say("221 bye")
                break
            else:
                await say("250 ok")
        writer.close()


async def test_smtp_backend_delivers_and_retries(crm):
    server = TinySmtpServer(refuse_data=1)
    port = await server.start()
    try:
        settings = EmailSettings(backend="smtp", smtp_host="127.0.0.1", smtp_port=port, sender="crm@example.org",
                                 backoff_seconds=5)
        await crm.post(sim.single_credit_success("REGS"))
        backend = SmtpBackend(settings)
        now = utcnow()
        assert await send_due(crm.db, backend, settings, now=now) == 0
        [row] = await crm.rows(EmailOutbox)
        assert row.state == "queued" and "451" in row.last_error
        assert await send_due(crm.db, backend, settings, now=now + dt.timedelta(seconds=6)) == 1
        assert await send_due(crm.db, backend, settings, now=now + dt.timedelta(seconds=60)) == 0
        [(sender, rcpts, data)] = server.messages
        assert sender == "<crm@example.org>" and rcpts == ["<xiaoming@example.com>"]
        message = email.message_from_bytes(data, policy=default_policy)
        assert message["Subject"] == "【海洋保育募資】付款成功確認信"
        assert message["Message-ID"].startswith("<contribution.")
    finally:
        await server.stop()
