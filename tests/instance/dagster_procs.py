"""Real Dagster processes for the instance tests: a temporary instance and `dagster dev` on loopback.

Everything a test starts is started in its own session (``start_new_session=True``), so the
whole tree (webserver, daemon, code servers, run workers, step processes) shares one process
group, and :meth:`DagsterDev.stop` ends exactly that group by its id, however the test ended.
The tests talk to the services only as a user's tools do: HTTP/GraphQL, the CLI, files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DAGSTER = str(BIN / "dagster")
ARTIFACTS = Path(os.environ.get("MEMSAFE_TEST_ARTIFACTS", REPO / "test-artifacts")) / "instance"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


POSTGRES_URL_ENV = "MEMSAFE_TEST_POSTGRES_URL"  # a server the tests may create databases on (.ci/run starts one)
REQUIRE_POSTGRES_ENV = "MEMSAFE_REQUIRE_POSTGRES"  # in CI: no server is a failure, not a skip
POSTGRES_BLOCK = REPO / "docs" / "cluster" / "storage-postgres.yaml"
STORAGES = ("sqlite", "postgres")


def postgres_url() -> str:
    """The test server's URL, or skip (fail under ``MEMSAFE_REQUIRE_POSTGRES``) when there is none."""
    import pytest

    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        if os.environ.get(REQUIRE_POSTGRES_ENV):
            pytest.fail(f"PostgreSQL is required ({REQUIRE_POSTGRES_ENV} is set) but {POSTGRES_URL_ENV} is not")
        pytest.skip(f"no PostgreSQL server: set {POSTGRES_URL_ENV} (.ci/run starts one)")
    return url


def create_database(url: str) -> str:
    """A new, empty database on the server at ``url``; returns its name."""
    import uuid

    import psycopg2

    name = f"memsafe_test_{uuid.uuid4().hex[:12]}"
    con = psycopg2.connect(url)
    try:
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        con.close()
    return name


def make_home(path: Path, storage: str = "sqlite") -> Path:
    """A temporary DAGSTER_HOME: a copy of the project's dagster_home/dagster.yaml.

    ``storage="postgres"`` adds the storage block of docs/cluster/storage-postgres.yaml (the one
    the docs show) on a new database of the test server; only ``db_name`` is set literally (one
    database per test instance), the server's address goes through its ``DAGSTER_PG_*`` variables.
    """
    import yaml

    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", path / "dagster.yaml")
    if storage == "postgres":
        from urllib.parse import urlparse

        url = postgres_url()
        parts = urlparse(url)
        os.environ.update(
            DAGSTER_PG_HOST=parts.hostname or "127.0.0.1",
            DAGSTER_PG_PORT=str(parts.port or 5432),
            DAGSTER_PG_USER=parts.username or "postgres",
            DAGSTER_PG_PASSWORD=parts.password or "",
        )
        block = yaml.safe_load(POSTGRES_BLOCK.read_text())
        block["storage"]["postgres"]["postgres_db"]["db_name"] = create_database(url)
        with open(path / "dagster.yaml", "a") as f:
            f.write("\n# added by the tests: docs/cluster/storage-postgres.yaml, on a database of its own\n")
            f.write(yaml.safe_dump(block, sort_keys=False))
    elif storage != "sqlite":
        raise ValueError(f"unknown storage {storage!r}")
    return path.resolve()


def service_env(home: Path, data: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DAGSTER_HOME=str(home), MEMSAFE_DATA_DIR=str(data), PYTHONUNBUFFERED="1", DAGSTER_DISABLE_TELEMETRY="1", **extra
    )
    # Put the venv first so every `dagster` child (code servers, run workers) is this one.
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def apply_pool_limit(home: Path, data: Path) -> str:
    """``python -m iso_energy.instance``, as ``make instance`` does; returns its output."""
    out = subprocess.run(
        [sys.executable, "-m", "iso_energy.instance"],
        cwd=REPO,
        env=service_env(home, data),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out.stdout


def _is_zombie(pid: int) -> bool:
    """A process that has exited but not been reaped yet (state Z): it holds no memory, files or
    sockets, only its pid entry, until its parent (or PID 1, if orphaned) reaps it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # gone already
    return stat[stat.rindex(")") + 2 :].startswith("Z")


def session_pids(sid: int) -> list[int]:
    """Live processes of session ``sid`` (every process we started under it); zombies excluded."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getsid(int(entry)) == sid and not _is_zombie(int(entry)):
                pids.append(int(entry))
        except (ProcessLookupError, PermissionError):
            continue
    return pids


def kill_session(proc: subprocess.Popen, *, grace: float = 20.0) -> list[int]:
    """SIGTERM the process group of ``proc`` (its own session), then SIGKILL what is left.

    Returns the pids still alive afterwards (should be empty).
    """
    sid = proc.pid
    if proc.poll() is None or session_pids(sid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and session_pids(sid):
        time.sleep(0.3)
        proc.poll()
    for pid in session_pids(sid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    # SIGKILL is delivered asynchronously: give the kernel a few seconds, not one fixed pause.
    deadline = time.monotonic() + 5
    while session_pids(sid) and time.monotonic() < deadline:
        time.sleep(0.2)
    return session_pids(sid)


def wait_for(
    predicate: Callable[[], object],
    timeout: float,
    what: str,
    interval: float = 1.0,
    on_timeout: Callable[[], str] | None = None,
):
    """Poll ``predicate`` until truthy (returned) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = f"\n{on_timeout()}" if on_timeout else ""
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}{extra}")
        time.sleep(interval)


class GraphQLFailure(RuntimeError):
    """A GraphQL query the webserver answered without data (HTTP error or GraphQL errors)."""


class DagsterDev:
    """``dagster dev -w workspace.yaml`` (webserver + daemon + code servers) on a free loopback port."""

    def __init__(self, home: Path, data: Path, log: Path, storage: str = "sqlite", env: dict | None = None):
        self.home, self.data, self.log_path, self.storage = home, data, log, storage
        self.env = service_env(home, data, **(env or {}))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.leftover: list[int] = []

    def start(self) -> DagsterDev:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._log = log
        self.proc = subprocess.Popen(
            [DAGSTER, "dev", "-w", str(REPO / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(self.port)],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 240) -> None:
        def up():
            if self.proc.poll() is not None:
                raise RuntimeError(f"dagster dev exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                return requests.get(f"{self.url}/server_info", timeout=5).ok
            except requests.RequestException:
                return False

        wait_for(up, timeout, "the webserver's /server_info", on_timeout=self.log_tail)
        self.until_answered(self.locations_loaded, timeout, "every code location to load")

    def until_answered(self, predicate: Callable[[], object], timeout: float, what: str):
        """``wait_for(predicate)``, where a query the webserver answers without data counts as not
        yet: while `dagster dev` starts, CI once saw an HTTP 500 on PostgreSQL (reason unrecorded).
        On timeout the last such failure is reported with the log; any other error fails at once
        (a code location's own load error among them)."""
        last: list[str] = []

        def attempt():
            try:
                return predicate()
            except GraphQLFailure as e:
                last[:] = [str(e)]
                return False

        return wait_for(attempt, timeout, what, on_timeout=lambda: "\n".join([*last, self.log_tail()]))

    def locations_loaded(self) -> bool:
        data = self.graphql(
            """{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
                 locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
        )
        entries = data["workspaceOrError"]["locationEntries"]
        for e in entries:
            err = e["locationOrLoadError"]
            if err and err["__typename"] == "PythonError":
                raise RuntimeError(f"code location {e['name']} failed to load: {err['message']}")
        return bool(entries) and all(e["loadStatus"] == "LOADED" and e["locationOrLoadError"] for e in entries)

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 60) -> dict:
        r = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=timeout)
        try:
            body = r.json()
        except ValueError:
            body = {}
        # The webserver answers 500 also when a field resolved to a PythonError (its data then
        # holds the error, which the caller reads); only a response without data is a failure.
        if body.get("errors") or body.get("data") is None:
            raise GraphQLFailure(
                f"GraphQL query failed with HTTP {r.status_code}: {body.get('errors') or r.text[:2000]}\n"
                f"--- end of the dagster dev log ---\n{self.log_tail(20)}"
            )
        return body["data"]

    def sensors(self) -> list[dict]:
        """Every sensor of every loaded location: name, location, repository, id, status."""
        data = self.graphql(
            """{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError {
                 ... on RepositoryLocation { repositories { name sensors { id name
                 minIntervalSeconds sensorState { status } } } } } } } } }"""
        )
        out = []
        for entry in data["workspaceOrError"]["locationEntries"]:
            for repo in (entry["locationOrLoadError"] or {}).get("repositories", []):
                for s in repo["sensors"]:
                    out.append(
                        {
                            "location": entry["name"],
                            "repository": repo["name"],
                            "name": s["name"],
                            "id": s["id"],
                            "status": s["sensorState"]["status"],
                            "interval": s["minIntervalSeconds"],
                        }
                    )
        return out

    def stop_sensors(self, names: Iterable[str] | None = None) -> None:
        for s in self.sensors():
            if s["status"] == "RUNNING" and (names is None or s["name"] in names):
                self.graphql("mutation($id: String) { stopSensor(id: $id) { __typename } }", {"id": s["id"]})

    def start_sensor(self, sensor: dict) -> None:
        data = self.graphql(
            """mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) { __typename
                 ... on PythonError { message } } }""",
            {
                "s": {
                    "repositoryName": sensor["repository"],
                    "repositoryLocationName": sensor["location"],
                    "sensorName": sensor["name"],
                }
            },
        )
        assert data["startSensor"]["__typename"] == "Sensor", data

    def stop(self) -> list[int]:
        if self.proc is not None:
            self.leftover = kill_session(self.proc)
            self._log.close()
        return self.leftover


def run_cli(
    args: list[str], *, env: dict[str, str], timeout: float, log: Path | None = None
) -> subprocess.CompletedProcess:
    """Run a command in its own session; on timeout kill its whole process group and fail."""
    proc = subprocess.Popen(
        args,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        text=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_session(proc, grace=2)
        raise TimeoutError(f"{' '.join(args)} did not finish within {timeout} s") from None
    finally:
        kill_session(proc, grace=2)  # also any process the command left behind in its session
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(out)
    return subprocess.CompletedProcess(args, proc.returncode, out, None)


def start_dev(tmp, name: str, storage: str = "sqlite", env: dict | None = None) -> DagsterDev:
    """A temporary instance (copy of dagster_home/ on ``storage``, pool limits applied as `make
    instance` does) and `dagster dev` over the project's workspace.yaml, with an empty data root
    (``env``: extra environment variables of every Dagster process)."""
    home = make_home(tmp / "dagster_home", storage)
    data = tmp / "data"
    data.mkdir()
    apply_pool_limit(home, data)
    t0 = time.monotonic()
    dev = DagsterDev(home, data, ARTIFACTS / f"{name}-dagster-dev.log", storage, env).start()
    try:
        dev.wait_ready()
        dev.startup_seconds = round(time.monotonic() - t0, 1)
        print(f"dagster dev ({name}) ready on {dev.url} in {dev.startup_seconds} s")
        # Sensors that default to RUNNING would react to the data the tests write; a test that
        # wants one starts it itself.
        dev.until_answered(lambda: dev.stop_sensors() or True, 120, "the sensors to be stopped")
    except BaseException:
        dev.stop()
        raise
    return dev
