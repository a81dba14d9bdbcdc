"""Deciding what happens to a message: pure functions, no I/O."""

from nocontact.matching.blocklist import BlockList, ListedIdentifier, ListedPerson
from nocontact.matching.decide import Decision, Reason, decide
from nocontact.matching.facts import Facts, Party, facts_from_email

__all__ = [
    "BlockList",
    "Decision",
    "Facts",
    "ListedIdentifier",
    "ListedPerson",
    "Party",
    "Reason",
    "decide",
    "facts_from_email",
]
