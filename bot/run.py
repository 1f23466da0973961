"""`make run`: start the Rasa server, the action server and the web service, wait
until all three answer, print the URLs, and stop them all on Ctrl-C."""
import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import replace
from typing import Awaitable, Callable, Dict, List

import aiohttp

from bot.config import Config
from bot.rasa.client import RasaClient

READY_TIMEOUT_SECONDS = 180


def commands(config: Config) -> Dict[str, List[str]]:
    python = sys.executable
    return {
        # The HTTP API (trackers, slots) needs the token; the REST webhook does not.
        "rasa": [
            python, "-m", "rasa", "run", "--enable-api", "--auth-token", config.rasa_token,
            "--interface", config.host, "--port", str(config.rasa_port),
            "--model", str(config.models_dir), "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
        ],
        "actions": [python, "-m", "rasa_sdk", "--actions", "actions", "--port", str(config.actions_port)],
        "web": [python, "-m", "bot", "serve"],
    }


async def _wait_until_ready(config: Config, processes: Dict[str, subprocess.Popen]) -> List[str]:
    """Wait until all three answer; the ones that did not (a crash or a time-out: reported)."""

    async def answers(session: aiohttp.ClientSession, url: str) -> bool:
        try:
            async with session.get(url) as response:
                return response.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False

    started = time.monotonic()
    async with RasaClient.connect(config.rasa_url, config.rasa_token) as rasa, \
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        checks: Dict[str, Callable[[], Awaitable[bool]]] = {
            "rasa": rasa.is_ready,  # once the model is loaded
            "actions": lambda: answers(session, f"{config.actions_url}/health"),
            "web": lambda: answers(session, f"{config.web_url}/health"),
        }
        while checks:
            for name in list(checks):
                if processes[name].poll() is not None:
                    print(f"\n{name} exited with code {processes[name].returncode}; stopping.", file=sys.stderr)
                    return [name]
                if await checks[name]():
                    del checks[name]
            if checks and time.monotonic() - started > READY_TIMEOUT_SECONDS:
                print(f"\nNot ready after {READY_TIMEOUT_SECONDS} s: {', '.join(checks)}; stopping.", file=sys.stderr)
                return list(checks)
            await asyncio.sleep(0.5)
    return []


def _stop(processes: Dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run(config: Config) -> int:
    if not config.rasa_token:
        config = replace(config, rasa_token=secrets.token_urlsafe(24))
    environment = {
        **os.environ,
        "SANIC_HOST": config.host,  # the action server's bind address
        "ACTION_ENDPOINT_URL": f"{config.actions_url}/webhook",
        "RASA_TOKEN": config.rasa_token,  # the web service swaps models through the HTTP API
    }
    processes: Dict[str, subprocess.Popen] = {}
    # Ctrl-C and `kill` both stop everything; a shell that started us in the background
    # may have set SIGINT to "ignore", so restore Python's handler explicitly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        for name, command in commands(config).items():
            # Each child leads its own process group, so stopping it stops its children too.
            processes[name] = subprocess.Popen(command, cwd=config.project_dir, env=environment, start_new_session=True)
        started = time.monotonic()
        if asyncio.run(_wait_until_ready(config, processes)):
            return 1
        print(
            f"\nShop assistant is up after {time.monotonic() - started:.0f} s:\n"
            f"  shop chat page   {config.web_url}/\n"
            f"  seller admin     {config.web_url}/admin   (demo login: seller / demo-seller)\n"
            f"  agent console    {config.web_url}/agent   (demo logins: agent / demo-agent, agent2 / demo-agent2)\n"
            f"  Rasa REST        {config.rasa_url}/webhooks/rest/webhook\n"
            f"  Rasa HTTP API    {config.rasa_url}/status?token=$RASA_TOKEN (set RASA_TOKEN to choose it)\n"
            f"  action server    {config.actions_url}/health\n"
            f"Press Ctrl-C to stop.\n",
            flush=True,
        )
        while all(process.poll() is None for process in processes.values()):
            time.sleep(0.5)
        crashed = [name for name, process in processes.items() if process.poll() is not None]
        print(f"\n{', '.join(crashed)} stopped unexpectedly; stopping the rest.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping…", file=sys.stderr)
        return 0
    finally:
        _stop(processes)
