"""A blocking wrapper around the MCP SDK's own client, so plain pytest functions can drive a server.

The server runs as a real subprocess (`assistant mcp` over stdio, or over streamable HTTP); the
client session lives in an anyio event loop on a portal thread for as long as the fixture does.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, Tool

from tests.helpers import subprocess_env

CLI = [sys.executable, "-c", "from assistant.cli import main; main()"]


class McpClient:
    """Call an MCP server's tools from synchronous code."""

    def __init__(self, portal: BlockingPortal, session: ClientSession) -> None:
        self._portal = portal
        self._session = session

    def tools(self) -> list[Tool]:
        return self._portal.call(self._session.list_tools).tools

    def call(self, name: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
        return self._portal.call(self._session.call_tool, name, arguments or {})

    def structured(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """The structured result of a call that must succeed."""
        result = self.call(name, arguments)
        assert not result.is_error, result.content
        assert result.structured_content is not None
        return result.structured_content


@asynccontextmanager
async def _session(transport: Any) -> AsyncIterator[ClientSession]:
    async with transport as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@contextmanager
def stdio_server(*args: str, env: dict[str, str] | None = None) -> Iterator[McpClient]:
    """`assistant mcp ARGS` as a subprocess over stdio (with `env` added), with a connected client."""
    params = StdioServerParameters(
        command=CLI[0], args=[*CLI[1:], "mcp", *args], env={**subprocess_env(), **(env or {})}
    )
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(_session(stdio_client(params))) as session,
    ):
        yield McpClient(portal, session)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def http_server(*args: str) -> Iterator[McpClient]:
    """`assistant mcp --http ARGS` as a subprocess on a free loopback port, with a connected client."""
    port = free_port()
    command = [*CLI, "mcp", "--http", "--host", "127.0.0.1", "--port", str(port), *args]
    child = subprocess.Popen(command, env=subprocess_env(), stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        _wait_for_port(port, child)
        with (
            start_blocking_portal() as portal,
            portal.wrap_async_context_manager(_session(streamable_http_client(url))) as session,
        ):
            yield McpClient(portal, session)
    finally:
        child.terminate()
        child.wait(30)


def _wait_for_port(port: int, child: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise AssertionError(f"the MCP server exited: {child.stderr.read() if child.stderr else ''}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("the MCP server did not start listening")


def index_args(index_dir: Path) -> list[str]:
    return ["--index-dir", str(index_dir)]
