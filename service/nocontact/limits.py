"""How much of a message the service reads, shows and matches. The original is always kept
whole; these bound only the work one hostile message can cause (``[limits]`` in the settings)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReadLimits:
    mime_parts: int = 1_000  # parts read for matching and walked for showing
    mime_depth: int = 50  # multipart nesting walked; and multipart sections read for matching
    header_bytes: int = 16_384  # of one sender header that the address parser reads
    attachments_shown: int = 100  # listed on an item page and in the report


DEFAULT_LIMITS = ReadLimits()
