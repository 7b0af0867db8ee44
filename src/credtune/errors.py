"""The errors a user can act on. The CLI prints these as one line; anything else is a bug."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class CredtuneError(Exception):
    """Base class: a problem with the user's input, recipe, data or model folder."""


class ConfigError(CredtuneError):
    """A recipe or override is invalid."""


class DataError(CredtuneError):
    """The data file cannot be used as the recipe describes it."""


class ModelError(CredtuneError):
    """A model folder is missing, incomplete or unsafe to load."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ' (did you mean 'x'?)' suffix for a misspelled name, or ''."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
