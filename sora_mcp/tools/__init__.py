"""The server's tools, one module per concept; each exposes `specs(runtime) -> list[ToolSpec]`."""
