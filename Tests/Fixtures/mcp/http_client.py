"""run_python over Streamable HTTP: the official MCP client against
sandboxd's /mcp, running the checks of checks.py.

    http_client.py --url http://127.0.0.1:PORT/mcp [--token T] \
        [--scenario core|sessions|large|budgets|packages|files|session-files|access|drain [--server-pid PID]]

Prints one "ok NAME" line per check, then "all checks passed"; exits 1 with
what went wrong otherwise.
"""

import argparse
import os
import signal
import sys

import anyio
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

import checks
import session_file_checks

INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {},
               "clientInfo": {"name": "access-check", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def access(options):
    """What /mcp answers before any MCP: the token and Origin checks of /v1/*."""
    async with httpx2.AsyncClient(timeout=30) as client:
        missing = await client.post(options.url, json=INITIALIZE, headers=MCP_HEADERS)
        checks.expect(missing.status_code == 401, f"no token: {missing.status_code} {missing.text}")
        checks.expect(missing.headers.get("www-authenticate", "").startswith("Bearer"), f"401 headers: {missing.headers}")
        wrong = await client.post(options.url, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": "Bearer nope"})
        checks.expect(wrong.status_code == 401, f"wrong token: {wrong.status_code}")
        for method in ["GET", "DELETE"]:
            refused = await client.request(method, options.url)
            checks.expect(refused.status_code == 401, f"{method} without a token: {refused.status_code}")
        authorized = {**MCP_HEADERS, "Authorization": f"Bearer {options.token}"}
        foreign = await client.post(options.url, json=INITIALIZE, headers={**authorized, "Origin": "https://evil.example"})
        checks.expect(foreign.status_code == 403, f"foreign origin: {foreign.status_code} {foreign.text}")
        unknown = await client.post(options.url, json=INITIALIZE, headers={**authorized, "Mcp-Session-Id": "no-such-session"})
        checks.expect(unknown.status_code == 404, f"an unknown session: {unknown.status_code} {unknown.text}")
        print("ok access", flush=True)
    async with create_mcp_http_client(headers={"Authorization": f"Bearer {options.token}"}) as client:
        async with streamable_http_client(options.url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await checks.run(session, [checks.prints])
    print("all checks passed", flush=True)


async def drain(options):
    """SIGTERM while a call runs: the call still gets its result."""
    async with streamable_http_client(options.url) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            await session.list_tools()
            results = []

            async def call():
                code = "import time\ntime.sleep(2)\nprint('slept')"
                results.append(await checks.call(session, {"code": code, "timeoutMs": 20000}))

            async with anyio.create_task_group() as calls:
                calls.start_soon(call)
                await anyio.sleep(1)
                os.kill(options.server_pid, signal.SIGTERM)
            result = results[0]
            checks.expect(result.content[0].text == "slept\n" and "Status: ok" in checks.text_of(result),
                          "the call in flight at SIGTERM is answered", result)
            print("ok drain", flush=True)
    print("all checks passed", flush=True)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token")
    parser.add_argument("--scenario", choices=["core", "sessions", "large", "budgets", "packages", "files", "session-files",
                                               "access", "drain"], default="core")
    parser.add_argument("--server-pid", type=int, help="drain: the sandboxd to send SIGTERM")
    options = parser.parse_args()
    if options.scenario == "drain":
        await drain(options)
        return
    if options.scenario == "access":
        await access(options)
        return
    headers = {"Authorization": f"Bearer {options.token}"} if options.token else None
    async with create_mcp_http_client(headers=headers) as client:
        async with streamable_http_client(options.url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await checks.run(session, {"core": checks.CORE, "sessions": checks.SESSIONS, "large": checks.LARGE,
                                          "budgets": checks.BUDGETS, "packages": checks.PACKAGES,
                                          "files": checks.FILES,
                                          "session-files": session_file_checks.SESSION_FILES}[options.scenario])
    if options.scenario == "core":
        await checks.newest_client_finds_the_handshake(options.url, headers)
    print("all checks passed", flush=True)


if __name__ == "__main__":
    try:
        anyio.run(main)
    except AssertionError as failure:
        print(f"FAILED: {failure}", flush=True)
        sys.exit(1)
