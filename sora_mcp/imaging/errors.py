"""The one error type of the imaging package: something the caller can fix, named with its limit."""

from __future__ import annotations


class ImageInputError(ValueError):
    """An input or request that cannot be fitted; the message names the problem, the limit and the fix."""
