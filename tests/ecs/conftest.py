"""AWS for the ECS, S3, CloudWatch and Airflow-remote-log tests: moto in server mode
(`ThreadedMotoServer` on 127.0.0.1, a free port), started once per session and stopped at its
end — and on SIGINT/SIGTERM too (the handlers stop it, then defer to the previous ones). Real
boto3 talks to it over HTTP with dummy credentials; nothing reads the user's ~/.aws.

Each test starts from an empty AWS (`POST /moto-api/reset`) with ECS tasks pinned in their
state (moto otherwise moves a task one state per describe_tasks call): tests that want a task
to finish by itself unpin it (`aws.progress_tasks()`)."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator

import pytest

from aws_peer import REGION, Aws
from opsconsole.logs import aws as aws_logs


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    home = tmp_path_factory.mktemp("aws")
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
           "AWS_CONFIG_FILE": str(home / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
           "AWS_EC2_METADATA_DISABLED": "true"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            server.stop()

    previous = {}

    def on_signal(signum, frame):  # stop the server, then do what was done before
        stop()
        handler = previous.get(signum)
        if callable(handler):
            handler(signum, frame)
        else:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, on_signal)
    try:
        yield f"http://{host}:{port}"
    finally:
        stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        aws_logs._clients.clear()


@pytest.fixture
def aws(moto_server: str) -> Aws:
    peer = Aws(moto_server)
    peer.reset()
    return peer
