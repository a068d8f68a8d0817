"""The pydantic base every config model derives from: unknown keys are errors, no coercion.

Kept apart from config.py so that sources and notifiers can define their own settings models
without importing the loader (which imports their registries).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Base for config models: unknown keys are errors, no silent type coercion."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
