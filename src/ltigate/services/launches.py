"""Reading the launch log and redeeming handoff tickets: what the app and the administrator see."""

from __future__ import annotations

from dataclasses import dataclass

from ltigate.lti.errors import LtiError, TicketUsed
from ltigate.lti.keys import parse_key_set
from ltigate.lti.message import LtiMessage, parse_message
from ltigate.lti.ticket import read_ticket
from ltigate.services.errors import NotFound
from ltigate.services.ports import Clock, LaunchLog
from ltigate.services.records import KeyPurpose, LaunchFilter, LaunchOutcome, LaunchRecord
from ltigate.services.tool_keys import ToolKeys


@dataclass(frozen=True, slots=True)
class LaunchDetail:
    record: LaunchRecord
    message: LtiMessage | None  # None for failed attempts whose claims were never verified or parsed


class Launches:
    def __init__(self, log: LaunchLog, tool_keys: ToolKeys, issuer: str, clock: Clock) -> None:
        self._log, self._tool_keys, self._issuer, self._clock = log, tool_keys, issuer, clock

    async def get(self, launch_id: str) -> LaunchDetail:
        record = await self._log.get(launch_id)
        if record is None:
            raise NotFound(f"launch '{launch_id[:64]}' does not exist")
        message = None
        if record.outcome is LaunchOutcome.SUCCEEDED and record.claims is not None and record.client_id:
            try:
                message = parse_message(record.claims, record.client_id)
            except LtiError:
                message = None
        return LaunchDetail(record=record, message=message)

    async def list(self, query: LaunchFilter) -> list[LaunchRecord]:
        return await self._log.list(query)

    async def redeem(self, ticket: str) -> LaunchDetail:
        """Verify a ticket and mark it used; a second redemption raises TicketUsed."""
        keys = parse_key_set({"keys": self._tool_keys.published(KeyPurpose.TICKET)})
        parsed = read_ticket(ticket, keys, issuer=self._issuer, now=self._clock())
        if not await self._log.redeem_ticket(parsed.launch_id, parsed.jti, self._clock()):
            raise TicketUsed("this ticket was redeemed before; each ticket can be redeemed once")
        return await self.get(parsed.launch_id)
