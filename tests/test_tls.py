"""`uvicorn --ssl-*`: the bytes on a TLS socket are not the core's to write, so such streams stay
with the Python session (the slower path), with the same protocol."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from websockets.sync.client import connect

from helpers import TEST_SECRET, bearer, free_port, new_experiment, terminate, token
from wsclient import TIMEOUT, recv_json


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[str]:
    """uvicorn serving the app over TLS with a self-signed certificate; yields its https URL."""
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "expstream.app:app", "--host", "127.0.0.1", "--port", str(port)]
        + ["--ssl-keyfile", str(key), "--ssl-certfile", str(cert)],
        env={**os.environ, "DATABASE_URL": database_url, "EXPSTREAM_JWT_SECRET": TEST_SECRET},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if "Uvicorn running on" in line:
            break
    else:
        raise RuntimeError("the TLS server exited before it was ready")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        terminate(process)
        process.stderr.close()


def _insecure_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate
    return context


def test_a_stream_over_tls_gets_its_snapshots(tls_server: str) -> None:
    with httpx.Client(base_url=f"https://{tls_server}", headers=bearer(), verify=False, timeout=30) as client:
        eid = new_experiment(client)["id"]
        url = f"wss://{tls_server}/api/v1/ws/experiments/{eid}/results?token={token('read')}"
        with connect(url, ssl=_insecure_context(), open_timeout=TIMEOUT) as ws:
            assert recv_json(ws)["total_participants"] == 0
            body = {"assignments": [{"user_id": "tls-user", "variant_key": "control"}]}
            assert client.post(f"/api/v1/experiments/{eid}/assignments", json=body).status_code == 200
            while (message := recv_json(ws)).get("total_participants") != 1:
                assert message.get("event") in ("results_update", "anomaly")
