"""`make run`: start RASA_SERVERS Rasa servers (2) on consecutive ports, the action server and
the web service, wait until all answer, print the URLs, and stop them all on Ctrl-C.

`make run-production` (`run_production`): the same against PostgreSQL (the shop's data and
Rasa's SQL tracker store) and Redis (Rasa's lock store); the databases are created when missing."""
import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import replace
from typing import Awaitable, Callable, Dict, List, Mapping, Optional
from urllib.parse import urlsplit

import aiohttp

from bot.config import Config
from bot.rasa.client import RasaClient

READY_TIMEOUT_SECONDS = 180


# Production defaults (README "Production"): the local PostgreSQL and Redis, 2 Rasa servers.
PRODUCTION_DEFAULTS = {
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/shop_production",
    "TRACKER_STORE_URL": "postgresql://postgres@127.0.0.1:5432/shop_production_tracker",
    "LOCK_STORE_URL": "redis://127.0.0.1:6379/1",
    "RASA_SERVERS": "2",
}
PRODUCTION_ENDPOINTS = "endpoints.production.yml"
# One compute thread per process (the sentence encoders' OpenMP, BLAS, TensorFlow) unless the
# environment says otherwise: the processes share the machine's cores, and threads that spin
# waiting for work cost more than they give (benchmarks/load.py at 10 shoppers: 13.4 messages/s
# against 11.1 with the libraries' own thread pools).
COMPUTE_THREADS = {
    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    "TF_INTER_OP_PARALLELISM_THREADS": "1", "TF_INTRA_OP_PARALLELISM_THREADS": "1",
}


def rasa_name(index: int) -> str:
    """The process name of the index-th Rasa server: "rasa", then "rasa-2", "rasa-3", ..."""
    return "rasa" if index == 0 else f"rasa-{index + 1}"


def commands(config: Config, endpoints: str = "endpoints.yml") -> Dict[str, List[str]]:
    python = sys.executable
    rasa = {
        # Rasa's own `rasa run`, less two per-message costs (bot/rasa/server.py). The HTTP API
        # (trackers, slots) needs the token; the REST webhook does not.
        rasa_name(index): [
            # "=": a token may start with "-", which argparse would take for an option.
            python, "-m", "bot.rasa.server", "run", "--enable-api", f"--auth-token={config.rasa_token}",
            "--interface", config.host, "--port", str(config.rasa_port + index),
            "--model", str(config.models_dir), "--endpoints", endpoints, "--credentials", "credentials.yml",
        ]
        for index in range(config.rasa_servers)
    }
    return {
        **rasa,
        # rasa_sdk's own action server, its garbage collector settled (bot/rasa/action_server.py).
        "actions": [python, "-m", "bot.rasa.action_server", "--actions", "actions", "--port", str(config.actions_port)],
        "web": [python, "-m", "bot", "serve"],
    }


def production_environment(environ: Mapping[str, str] = os.environ) -> Dict[str, str]:
    """The environment of a production run: the caller's, with PRODUCTION_DEFAULTS for what it
    leaves unset, and the variables endpoints.production.yml reads (from TRACKER_STORE_URL and
    LOCK_STORE_URL)."""
    env = {**PRODUCTION_DEFAULTS, **{k: v for k, v in environ.items() if v != ""}}
    for name in ("DATABASE_URL", "TRACKER_STORE_URL"):
        if not env[name].startswith("postgresql"):
            raise SystemExit(f"{name} must be a PostgreSQL URL (postgresql://user:password@host:port/database) in production.")
    tracker = urlsplit(env["TRACKER_STORE_URL"])
    lock = urlsplit(env["LOCK_STORE_URL"])
    if lock.scheme != "redis":
        raise SystemExit("LOCK_STORE_URL must be a Redis URL (redis://:password@host:port/db) in production.")
    return {
        **env,
        "TRACKER_DB_HOST": tracker.hostname or "127.0.0.1",
        "TRACKER_DB_PORT": str(tracker.port or 5432),
        "TRACKER_DB_NAME": tracker.path.lstrip("/") or "rasa",
        "TRACKER_DB_USER": tracker.username or "postgres",
        "TRACKER_DB_PASSWORD": tracker.password or "",
        # Rasa creates the tracker database from here when it is missing.
        "TRACKER_DB_LOGIN_DB": env.get("TRACKER_DB_LOGIN_DB", "postgres"),
        "LOCK_STORE_HOST": lock.hostname or "127.0.0.1",
        "LOCK_STORE_PORT": str(lock.port or 6379),
        "LOCK_STORE_DB": lock.path.lstrip("/") or "1",
        "LOCK_STORE_PASSWORD": lock.password or "",
        "LOCK_STORE_KEY_PREFIX": env.get("LOCK_STORE_KEY_PREFIX", "shop"),
    }


def create_database_if_missing(url: str) -> bool:
    """Create the PostgreSQL database `url` names when it does not exist (connecting to the
    server's `postgres` database to do so); whether it was created."""
    import sqlalchemy
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = sqlalchemy.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT", future=True)
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                sqlalchemy.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database},
            ).first()
            if exists:
                return False
            quoted = connection.dialect.identifier_preparer.quote(target.database)
            connection.execute(sqlalchemy.text(f"CREATE DATABASE {quoted}"))
            return True
    finally:
        admin.dispose()


def check_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=3)
    try:
        client.ping()
    finally:
        client.close()


def prepare_production(env: Mapping[str, str], project_dir) -> None:
    """Reach PostgreSQL and Redis (a clear message if either is not there), create the two
    databases if missing, and apply the migrations and the demo shop to the shop's database."""
    import sqlalchemy.exc
    import redis

    for name in ("DATABASE_URL", "TRACKER_STORE_URL"):
        try:
            if create_database_if_missing(env[name]):
                print(f"created the database of {name}", flush=True)
        except sqlalchemy.exc.OperationalError as error:
            raise SystemExit(f"PostgreSQL is not reachable at {name} ({error.orig}).") from error
    try:
        check_redis(env["LOCK_STORE_URL"])
    except redis.RedisError as error:
        raise SystemExit(f"Redis is not reachable at LOCK_STORE_URL ({error}).") from error
    subprocess.run([sys.executable, "-m", "bot", "db-setup"], cwd=project_dir, env=dict(env), check=True)


def run_production(environ: Optional[Mapping[str, str]] = None) -> int:
    """`make run-production`: see the module's docstring."""
    env = production_environment(os.environ if environ is None else environ)
    config = Config.from_env(env)
    prepare_production(env, config.project_dir)
    return run(config, production_env=env)


async def _wait_until_ready(config: Config, processes: Dict[str, subprocess.Popen]) -> List[str]:
    """Wait until all three answer; the ones that did not (a crash or a time-out: reported)."""

    async def answers(session: aiohttp.ClientSession, url: str) -> bool:
        try:
            async with session.get(url) as response:
                return response.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False

    started = time.monotonic()
    async with contextlib.AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)))
        checks: Dict[str, Callable[[], Awaitable[bool]]] = {}
        for index, url in enumerate(config.rasa_urls):
            rasa = await stack.enter_async_context(RasaClient.connect(url, config.rasa_token))
            checks[rasa_name(index)] = rasa.is_ready  # once the model is loaded
        checks["actions"] = lambda: answers(session, f"{config.actions_url}/health")
        checks["web"] = lambda: answers(session, f"{config.web_url}/health")
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


def run(config: Config, production_env: Optional[Mapping[str, str]] = None) -> int:
    """Start everything; embedded (endpoints.yml: SQLite, each Rasa server's locks in its memory,
    which is safe as the web service keeps each conversation on its own server) unless
    `production_env` (run_production) is given."""
    if not config.rasa_token:
        config = replace(config, rasa_token=secrets.token_urlsafe(24))
    environment = {
        **COMPUTE_THREADS,
        **(os.environ if production_env is None else production_env),
        "RASA_SERVERS": str(config.rasa_servers),
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
        # RASA_ENDPOINTS: another endpoints file for the embedded mode (the load benchmark's own tracker database).
        endpoints = os.environ.get("RASA_ENDPOINTS", "endpoints.yml") if production_env is None else PRODUCTION_ENDPOINTS
        for name, command in commands(config, endpoints).items():
            # Each child leads its own process group, so stopping it stops its children too.
            processes[name] = subprocess.Popen(command, cwd=config.project_dir, env=environment, start_new_session=True)
        started = time.monotonic()
        if asyncio.run(_wait_until_ready(config, processes)):
            return 1
        print(
            f"\nShop assistant is up after {time.monotonic() - started:.0f} s:\n"
            f"  shop storefront (demo) {config.web_url}/   (the chat widget; ?customer=cust-emma signs in)\n"
            f"  seller admin     {config.web_url}/admin   (demo login: seller / demo-seller)\n"
            f"  agent console    {config.web_url}/agent   (demo logins: agent / demo-agent, agent2 / demo-agent2)\n"
            f"  Rasa REST        {config.rasa_url}/webhooks/rest/webhook\n"
            f"  Rasa HTTP API    {config.rasa_url}/status?token=$RASA_TOKEN (set RASA_TOKEN to choose it)\n"
            + "".join(f"  Rasa server {i + 1}    {url}/webhooks/rest/webhook\n" for i, url in enumerate(config.rasa_urls[1:], 1))
            + (f"  production: shop data {_safe(production_env['DATABASE_URL'])}, conversations "
               f"{_safe(production_env['TRACKER_STORE_URL'])}, locks {_safe(production_env['LOCK_STORE_URL'])}, "
               f"{config.rasa_servers} Rasa servers\n" if production_env is not None else "")
            + f"  action server    {config.actions_url}/health\n"
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


def _safe(url: str) -> str:
    """A URL without its password, for printing."""
    parts = urlsplit(url)
    if parts.password:
        url = url.replace(f":{parts.password}@", ":***@", 1)
    return url
