"""The pydantic base every config model derives from (unknown keys are errors, no coercion), and
the field checks several models share.

Kept apart from config.py so that sources and notifiers can define their own settings models
without importing the loader (which imports their registries).
"""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Base for config models: unknown keys are errors, no silent type coercion."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def one_line(value: str) -> str:
    """A field validator: one line of text without control characters. For values that end up
    in headers (a profile's name is its email's List-Id), where a line break starts a new one."""
    for ch in value:
        if ch in "\r\n\u2028\u2029\x85":
            raise ValueError("contains a line break: write it on one line")
        if unicodedata.category(ch) == "Cc":
            raise ValueError(
                f"contains the control character U+{ord(ch):04X}: write it as plain text"
            )
    return value
