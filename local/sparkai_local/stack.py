"""The whole API on one machine: local AWS (moto: DynamoDB + API Gateway usage plans), the local
SageMaker runtime (SmolLM2 or a scripted model) and the FastAPI app under uvicorn, each a real
process on a real port, supervised together; Ctrl-C stops them all."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sparkai.accounts.service import CreatedKey
from sparkai.catalog import MODELS
from sparkai.plans import plan_name
from sparkai_admin.local_stack import LocalStackState, remove_state, write_state
from sparkai_local.aws_server import local_admin, provision
from sparkai_local.cognito import LocalUserPool, create_user_pool
from sparkai_local.dashboard_site import dashboard_env
from sparkai_local.endpoint import LOCAL_TABLES, LOCAL_USAGE_PLAN_PREFIX, REGION, table_environment
from sparkai_local.function_credentials import ENV as FUNCTION_CREDENTIALS_ENV
from sparkai_local.function_credentials import FUNCTION_URL
from sparkai_local.function_roles import FunctionCredentials, provision_function_roles
from sparkai_local.net import listening_socket
from sparkai_local.supervisor import Child, ChildDied, StartupTimeout

STARTUP_TIMEOUT_SECONDS = 120


@dataclass
class StackConfig:
    port: int = 3000
    host: str = "127.0.0.1"
    model: str = "smollm2"  # or "scripted"
    gguf: list[str] = field(default_factory=list)  # ENDPOINT=PATH overrides for the real model
    n_ctx: int = 4096
    aws_port: int = 0  # 0: any free port
    sagemaker_port: int = 0
    bind_all: bool = False  # let containers (sam local) reach the AWS and SageMaker servers
    demo_key: str | None = None
    verbose: bool = False


class PortUnavailable(RuntimeError):
    """A port the stack serves on cannot be bound (another `make run`, or any server, holds it)."""

    def __init__(self, host: str, port: int, error: OSError, flag: str = "--port") -> None:
        super().__init__(
            f"cannot listen on {host}:{port} ({error.strerror or error}): is another "
            f"`make run` or server using it? Pick another port: make run ARGS='{flag} {port + 1}'"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_http(
    url: str,
    child: Child,
    others: list[Child],
    timeout: float = STARTUP_TIMEOUT_SECONDS,
    *,
    any_status: bool = False,
) -> None:
    """Until `url` answers 200 (any status, with `any_status`: a server with no such route);
    ChildDied as soon as `child` (or any other child) ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for each in others:
            if each.poll() is not None:
                when = "during startup" if each is child else f"while {child.name} was starting"
                raise ChildDied(each, when)
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - local URL
                return
        except urllib.error.HTTPError:
            if any_status:
                return  # it answers: it is up
            time.sleep(0.1)  # not this child's answer (yet): an error, or another server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise StartupTimeout(child, timeout)


def smollm2_gguf() -> str | None:
    from sparkai_local.sagemaker.llama import default_model_path

    try:
        return str(default_model_path())
    except FileNotFoundError:
        return None


class LocalStack:
    """Starts the three processes; `env` is what the API process (and sam local) needs."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.children: list[Child] = []
        # Every port is bound by start() before the process that serves it exists, and handed to
        # it: no other process can take one in between (tests/local ran into exactly that).
        self._sockets: list[socket.socket] = []
        # Each child's output, kept when something fails (the message points here).
        self.log_dir = Path(tempfile.mkdtemp(prefix="sparkai-local-logs-"))
        self.state_file: Path | None = None
        bind = "0.0.0.0" if config.bind_all else "127.0.0.1"  # noqa: S104 - opt-in, for containers
        self._bind = bind
        self.aws_port = config.aws_port  # 0 until start(): any free port
        self.sagemaker_port = config.sagemaker_port
        self.api_url = f"http://{config.host}:{config.port}"
        self.demo: CreatedKey | None = None
        self.user_pool: LocalUserPool | None = None  # the dashboard's sign-in (moto's Cognito)
        # Each function's access key in local AWS, its role's policy enforced there.
        self.functions: dict[str, FunctionCredentials] = {}

    @property
    def aws_url(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    @property
    def sagemaker_url(self) -> str:
        return f"http://127.0.0.1:{self.sagemaker_port}"

    def _listen(self, host: str, port: int, flag: str) -> socket.socket:
        """A listening socket bound now (port 0: any free one), or PortUnavailable; closed by
        stop() if start() fails before handing it over."""
        try:
            sock = listening_socket(host, port)
        except OSError as exc:
            raise PortUnavailable(host, port, exc, flag) from None
        self._sockets.append(sock)
        return sock

    def _spawn(
        self,
        name: str,
        args: list[str],
        env: dict[str, str] | None = None,
        quiet: bool = True,
        listening: socket.socket | None = None,
    ) -> Child:
        """Start a child; `listening`: the socket it serves on, passed as `--fd N` and then
        closed here (the child has its own copy)."""
        fds: tuple[int, ...] = ()
        if listening is not None:
            fds = (listening.fileno(),)
            args = [*args, "--fd", str(fds[0])]
        child = Child(
            name,
            args,
            env or os.environ.copy(),
            self.log_dir,
            echo=self.config.verbose or not quiet,
            pass_fds=fds,
        )
        if listening is not None:
            listening.close()
            self._sockets.remove(listening)
        self.children.append(child)
        return child

    def api_env(self) -> dict[str, str]:
        # The API process serves the Function URL's routes and the dashboard's: each request's
        # AWS calls are signed with its function's key (sparkai_local.function_credentials).
        function_url = self.functions[FUNCTION_URL]
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": function_url.access_key_id,
            "AWS_SECRET_ACCESS_KEY": function_url.secret_access_key,
            FUNCTION_CREDENTIALS_ENV: json.dumps(
                {name: key.as_pair() for name, key in self.functions.items()}
            ),
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL_DYNAMODB": self.aws_url,
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": self.sagemaker_url,
            "SPARKAI_AUTH_MODE": "bearer",
            **table_environment(),
            "SPARKAI_MODEL_TIMEOUT_SECONDS": "300",  # a laptop CPU is slower than a GPU endpoint
            # uvicorn outlives each response here: a stream ends before its usage is settled.
            "SPARKAI_SETTLE_AFTER_LAST_BYTE": "1",
            "POWERTOOLS_SERVICE_NAME": "sparkai-stream-local",
            "POWERTOOLS_LOG_LEVEL": "INFO" if self.config.verbose else "WARNING",
        }
        if self.user_pool is not None:
            env.update(dashboard_env(self.user_pool, self.api_url))
        if self.config.model == "smollm2" and not self.config.gguf:
            gguf = smollm2_gguf()
            if gguf:  # count prompt tokens exactly with the served model's own vocabulary
                env["SPARKAI_PROMPT_TOKENIZER"] = f"gguf:{gguf}"
        return env

    def start(self) -> None:
        # Every port first: ours from now on, and a busy one is reported before anything runs.
        api_socket = self._listen(self.config.host, self.config.port, "--port")
        aws_socket = self._listen(self._bind, self.aws_port, "--aws-port")
        sagemaker_socket = self._listen(self._bind, self.sagemaker_port, "--sagemaker-port")
        self.aws_port = aws_socket.getsockname()[1]
        self.sagemaker_port = sagemaker_socket.getsockname()[1]
        aws = self._spawn(
            "local AWS",
            ["-m", "sparkai_local.aws_server", "--no-provision"],
            listening=aws_socket,
        )
        wait_for_http(self.aws_url, aws, self.children, any_status=True)  # moto: no route at /
        provision(self.aws_url)
        self.functions = provision_function_roles(self.aws_url)
        self.user_pool = create_user_pool(self.aws_url)
        backend = "llama" if self.config.model == "smollm2" else "scripted"
        sagemaker_args = ["-m", "sparkai_local.sagemaker", "--backend", backend]
        if backend == "llama":
            sagemaker_args += ["--n-ctx", str(self.config.n_ctx)]
            for mapping in self.config.gguf:
                sagemaker_args += ["--model", mapping]
            # A tiny generation per served model before it listens: a model that cannot run
            # (a CPU instruction the OS refuses, a missing GGUF) stops the stack before the banner.
            for endpoint in MODELS:
                sagemaker_args += ["--warm-up", endpoint]
        sagemaker = self._spawn("local SageMaker", sagemaker_args, listening=sagemaker_socket)
        wait_for_http(self.sagemaker_url + "/ping", sagemaker, self.children)
        self.demo = self._seed()
        api = self._spawn(
            "API",
            ["-m", "sparkai_local.api_process"] + (["--verbose"] if self.config.verbose else []),
            env=self.api_env(),
            quiet=False,
            listening=api_socket,
        )
        wait_for_http(self.api_url + "/healthz", api, self.children)
        self.state_file = write_state(
            LocalStackState(
                pid=os.getpid(),
                api_url=self.api_url,
                aws_url=self.aws_url,
                sagemaker_url=self.sagemaker_url,
                region=REGION,
                keys_table=LOCAL_TABLES["ApiKeysTable"],
                accounts_table=LOCAL_TABLES["AccountsTable"],
                rate_limits_table=LOCAL_TABLES["RateLimitsTable"],
                usage_table=LOCAL_TABLES["UsageTable"],
                usage_plan_prefix=LOCAL_USAGE_PLAN_PREFIX,
            )
        )

    def _seed(self) -> CreatedKey:
        admin = local_admin(self.aws_url, with_usage_plans=True)
        account = admin.create_account("pro", name="Local demo")
        return admin.create_key(account.account_id, name="demo", secret=self.config.demo_key)

    def failed(self) -> ChildDied | None:
        """What went wrong, if a child has ended while the stack should be serving."""
        for child in self.children:
            if child.poll() is not None:
                return ChildDied(child, "while the stack was serving")
        return None

    def stop(self, *, keep_logs: bool = False) -> None:
        for sock in self._sockets:  # start() failed before handing these over
            sock.close()
        self._sockets.clear()
        if self.state_file is not None:
            remove_state(os.getpid(), self.state_file)
            self.state_file = None
        # One at a time, last started first: the API finishes its in-flight requests and their
        # settles (written after the last byte) while local AWS is still there to take them.
        for child in reversed(self.children):
            if child.poll() is None:
                child.process.send_signal(signal.SIGTERM)
            try:
                child.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        self.children.clear()
        if not keep_logs:
            shutil.rmtree(self.log_dir, ignore_errors=True)


@contextmanager
def running(config: StackConfig) -> Iterator[LocalStack]:
    stack = LocalStack(config)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def admin_command() -> str:
    """How to call sparkai-admin from here: the venv's script, relative when under this folder."""
    script = Path(sys.executable).parent / "sparkai-admin"
    if not script.exists():
        return "sparkai-admin"
    relative = os.path.relpath(script)
    return relative if not relative.startswith("..") else str(script)


def llama_build_flags() -> str | None:
    """The CMake flags the installed llama.cpp was built with (bootstrap records them)."""
    recorded = Path(sys.prefix) / "llama-cpp-python.CMAKE_ARGS"
    try:
        return recorded.read_text().strip()
    except OSError:
        return None


def banner(stack: LocalStack) -> str:
    assert stack.demo is not None
    url, key = stack.api_url, stack.demo.secret
    record = stack.demo.record
    limits = record.limits  # the demo account's own plan, as the key store holds it
    model = (
        "SmolLM2-135M-Instruct (llama.cpp, CPU)"
        if stack.config.model == "smollm2"
        else "scripted fake model"
    )
    return f"""
SparkAI Stream is running locally
  API          {url}   (buffered and streaming, same URL)
  dashboard    {url}/dashboard/   (sign up with any e-mail: confirmed at once locally)
  model        {model} behind spark-1, spark-turbo, spark-pro
  demo key     {key}   ({plan_name(record.plan)} plan: {limits.requests_per_minute:,} requests/min, {limits.tokens_per_minute:,} tokens/min)
  local AWS    {stack.aws_url}   local SageMaker {stack.sagemaker_url}

Try it:
  curl {url}/v1/chat \\
    -H "Content-Type: application/json" \\
    -H "Authorization: Bearer {key}" \\
    -d '{{"model": "spark-1", "messages": [{{"role": "user", "content": "Hello!"}}]}}'

  curl -N {url}/v1/chat \\
    -H "Content-Type: application/json" \\
    -H "Authorization: Bearer {key}" \\
    -d '{{"model": "spark-1", "messages": [{{"role": "user", "content": "Hello!"}}], "stream": true}}'

  export SPARKAI_API_KEY={key} SPARKAI_BASE_URL={url}
  sparkai chat "Write a haiku about the sea"

  {admin_command()} --local key list {stack.demo.record.account_id}

Ctrl-C stops everything.
"""
