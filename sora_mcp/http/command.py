"""`sora-mcp token new --tenant X [--daily-budget USD]`: mint a bearer token and print its token-file line."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sora_mcp.http.tokens import mint
from sora_mcp.settings import InvalidValue, argparse_type, parse_budget
from sora_mcp.tenancy import Tenant


def _tenant(text: str) -> str:
    if not text or any(c.isspace() for c in text) or "#" in text or len(text) > 200:
        raise InvalidValue("is not a tenant id (no spaces or '#', at most 200 characters)")
    return text


def register(subparsers: Any) -> None:
    token = subparsers.add_parser("token", help="bearer tokens for the HTTP transport")
    commands = token.add_subparsers(title="token commands", metavar="COMMAND", required=True)
    new = commands.add_parser(
        "new", help="mint a token: the token goes to stdout, the line for SORA_MCP_TOKEN_FILE to stderr"
    )
    new.add_argument("--tenant", required=True, type=argparse_type(_tenant), help="who the token acts for")
    new.add_argument("--daily-budget", type=argparse_type(parse_budget), help="this tenant's USD per day")
    new.set_defaults(handler=_new)


def _new(args: argparse.Namespace) -> int:
    tenant = Tenant(args.tenant, args.daily_budget)
    token, entry = mint(tenant.id, tenant.daily_budget_usd)
    sys.stdout.write(token + "\n")
    sys.stderr.write(
        f"add this line to the token file (SORA_MCP_TOKEN_FILE); the token is shown only once:\n{entry.line()}\n"
    )
    return 0
