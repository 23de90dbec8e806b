"""`python -m sora_mcp` is `sora-mcp`."""

from sora_mcp.cli import main

raise SystemExit(main())
