"""sora-mcp: an MCP server that lets agents generate videos with Sora-style APIs without guesswork."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sora-mcp")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
