"""An SMTP relay a fault test controls: aiosmtpd writing a Maildir, that can be stopped (connections
refused), made to answer 451 to every recipient for a while, or 550 to some recipients for good."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


class _Handler(Mailbox):
    def __init__(self, mail_dir: Path) -> None:
        super().__init__(mail_dir)
        self.lock = threading.Lock()
        self.temporary = False
        self.refused: set[str] = set()
        self.answers: dict[str, int] = {"250": 0, "451": 0, "550": 0}

    def _count(self, code: str) -> None:
        with self.lock:
            self.answers[code] += 1

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.temporary:
            self._count("451")
            return "451 4.3.0 Try again later"
        if address.lower() in self.refused:
            self._count("550")
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def handle_message(self, message: Any) -> None:
        super().handle_message(message)
        self._count("250")


class ControlledRelay:
    """The relay on 127.0.0.1:`port` (a free one by default), mail into `mail_dir`."""

    def __init__(self, mail_dir: Path, port: int = 0) -> None:
        mail_dir.parent.mkdir(parents=True, exist_ok=True)
        self.handler = _Handler(mail_dir)
        self.port = port or _free_port()
        self._controller: Controller | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def answers(self) -> dict[str, int]:
        """How many times it answered 250 (a mail taken), 451 and 550 (a recipient refused)."""
        with self.handler.lock:
            return dict(self.handler.answers)

    def start(self) -> ControlledRelay:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused until `start()`."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def answer_temporarily(self, temporary: bool) -> None:
        """While on, every recipient gets 451 (the relay's queue is full, its disk, its greylisting)."""
        self.handler.temporary = temporary

    def refuse(self, addresses: Iterable[str]) -> None:
        """These recipients get 550 from now on."""
        self.handler.refused = {address.lower() for address in addresses}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
