"""Who pays for a message, as the seed's LINE 訊息費 column states it per message type."""
from __future__ import annotations

from enum import Enum


class Billing(str, Enum):
    """The seed's fee rule for a message type.

    The fee actually incurred follows from how a message is delivered (reply = free,
    push = billable, see flows.conversation.delivery); this rule is what the seed
    promises for the usual path and what tests hold the delivery planner to.
    """

    NEVER = "never"  # 否
    ALWAYS = "always"  # 是 (符合資格 with a coupon: two billable messages)
    AFTER_FIRST_OF_BATCH = "after_first_of_batch"  # 參與達上限: from the 2nd invoice of one batch

    def expected_billable(self, position_in_batch: int) -> bool:
        """Whether the seed expects a fee for this type at a 0-based position in a batch."""
        if position_in_batch < 0:
            raise ValueError("position_in_batch: must be >= 0")
        if self is Billing.ALWAYS:
            return True
        if self is Billing.AFTER_FIRST_OF_BATCH:
            return position_in_batch >= 1
        return False
