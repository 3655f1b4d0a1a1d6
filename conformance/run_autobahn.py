#!/usr/bin/env python3
"""RFC 6455 conformance with the Autobahn|Testsuite fuzzing client (wstest -m fuzzingclient).

    .venv/bin/python conformance/run_autobahn.py                 # sections 1-7, 9, 10 (~10 min)
    .venv/bin/python conformance/run_autobahn.py --cases 1.*,2.*  # a subset

Autobahn|Testsuite is a Python 2.7 program (PyPI: autobahntestsuite). This script finds a Python
2.7 interpreter (AUTOBAHN_PYTHON27, else python2.7 on PATH, else pyenv's ~/.pyenv/versions/2.7.*),
installs autobahntestsuite from PyPI into a cache prefix of its own (AUTOBAHN_PREFIX, default
~/.cache/expstream-autobahn; nothing touches the interpreter's own site-packages), and runs the
fuzzing client against two agents:

  uvicorn-stack  conformance/echo_app.py: an echo endpoint served by uvicorn with exactly the options
                 `expstream serve` uses (expstream.cli.uvicorn_options: no per-message deflate, a
                 64 KiB frame cap, the same keepalive). Autobahn's verdicts expect an echo server, so
                 this is the protocol layer's conformance: frames, masking, reserved bits, opcodes,
                 fragmentation, UTF-8, close handling are all uvicorn's websockets (sans-I/O) code.
  expstream      `expstream serve` itself, the multiplexed endpoint /api/v1/ws?token=…, default
                 limits, on a fresh database. It is not an echo server: it greets with
                 {"event": "connected"}, ignores what is not a valid action, and enforces its own 4 KiB
                 message limit (1009) and 10-messages-per-10-s rate limit (1008). Autobahn's raw
                 verdicts for it are kept as they are; the summary adds, for the cases whose expected
                 outcome has no echoed message (the protocol-violation cases), the verdict once the
                 endpoint's own JSON messages are set aside, and marks the echo cases as not
                 applicable.

Writes conformance/results/autobahn-summary.json and autobahn-summary.txt; Autobahn's own report
(index.html and a JSON per case) goes to conformance/results/raw/ (not committed).
Section 12 and 13 (permessage-deflate) are not run: the server has deflate off on purpose.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "conformance"
RESULTS = HERE / "results"
RAW = RESULTS / "raw"
VENV_PY = ROOT / ".venv" / "bin" / "python"
EXPSTREAM = ROOT / ".venv" / "bin" / "expstream"
AUTOBAHN_VERSION = "25.10.1"
JWT_SECRET = "conformance-secret-" + "0123456789abcdef" * 3
DEFAULT_ADMIN_DB = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_CASES = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*"]
EXPSTREAM_CASES = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "10.*"]


def log(msg: str) -> None:
    print(f"[conformance {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"a target exited before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


# -- Python 2.7 and autobahntestsuite ------------------------------------------------------------------
def find_python27() -> str | None:
    candidates = [os.environ.get("AUTOBAHN_PYTHON27"), shutil.which("python2.7")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/2.7*/bin/python2.7")), reverse=True)
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            probe = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[:2])"],
                capture_output=True,
                text=True,
                check=False,
            )
            if probe.returncode == 0 and "(2, 7)" in probe.stdout:
                return candidate
    return None


def site_packages(prefix: Path) -> Path:
    return prefix / "lib" / "python2.7" / "site-packages"


def ensure_autobahn(py27: str, prefix: Path) -> None:
    sp = site_packages(prefix)
    if (sp / "autobahntestsuite").is_dir():
        return
    log(f"installing autobahntestsuite=={AUTOBAHN_VERSION} for {py27} into {prefix}")
    # Its dependencies build from sdists, which need setuptools importable by the 2.7 interpreter.
    subprocess.run(
        [py27, "-m", "pip", "install", "-q", "--prefix", str(prefix), "setuptools==44.0.0", "wheel"],
        check=True,
    )
    env = {**os.environ, "PYTHONPATH": str(sp)}
    subprocess.run(
        [
            py27,
            "-m",
            "pip",
            "install",
            "-q",
            "--prefix",
            str(prefix),
            f"autobahntestsuite=={AUTOBAHN_VERSION}",
        ],
        check=True,
        env=env,
    )


def wstest(py27: str, prefix: Path, spec: Path) -> None:
    # site.addsitedir, not PYTHONPATH: zope.interface is a namespace package set up by a .pth file.
    bootstrap = (
        f"import site, sys; site.addsitedir({str(site_packages(prefix))!r}); "
        "sys.argv = ['wstest'] + sys.argv[1:]; from autobahntestsuite.wstest import run; run()"
    )
    subprocess.run([py27, "-c", bootstrap, "-m", "fuzzingclient", "-s", str(spec)], check=True, cwd=RAW)


# -- targets --------------------------------------------------------------------------------------------
def start_echo(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [str(VENV_PY), str(HERE / "echo_app.py"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=(RAW / "echo.log").open("wb"),
    )
    wait_port(port, process)
    return process


def start_expstream(port: int, admin_url: str) -> tuple[subprocess.Popen[bytes], str]:
    from urllib.parse import urlsplit

    name = "expstream_conformance"
    for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        subprocess.run(
            ["psql", admin_url, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True, capture_output=True
        )
    database_url = urlsplit(admin_url)._replace(path=f"/{name}").geturl()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "EXPSTREAM_JWT_SECRET": JWT_SECRET,
        # Autobahn opens one connection per case, several hundred in all, on one token.
        "EXPSTREAM_WS_MAX_CONNECTIONS_PER_TOKEN": "1000000",
    }
    process = subprocess.Popen(
        [str(EXPSTREAM), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(RAW / "expstream.log").open("wb"),
    )
    wait_port(port, process)
    from expstream.auth import issue_token

    token = issue_token(JWT_SECRET, subject="autobahn", scope="read", experiments=["*"], ttl_seconds=86400)
    return process, token


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the summary ------------------------------------------------------------------------------------------
def _clean(text: str, limit: int = 160) -> str:
    """Autobahn's descriptions carry HTML and line breaks; one plain line."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip()[:limit]


def why(case_id: str, entry: dict[str, Any]) -> str | None:
    """Known, deliberate reasons for a non-OK verdict, so the summary separates them from defects."""
    if case_id.startswith("9.") and entry.get("remoteCloseCode") == 1009:
        return "by design: a message over the 64 KiB cap (uvicorn ws_max_size) is refused with 1009"
    if case_id.startswith("9.") and entry.get("remoteCloseCode") is None:
        return (
            "over the 64 KiB cap; the server failed the connection while the client was still sending, and "
            "the reset lost the 1009 frame before the client read it"
        )
    return None


def _same(received: list[Any], expected: list[Any]) -> bool:
    """Autobahn's comparison of events, tolerant of the ' ...' truncation in its reports."""
    if len(received) != len(expected):
        return False
    for r, e in zip(received, expected):
        if r[0] != e[0]:
            return False
        if r[0] == "message":
            continue  # expected message payloads are not in the report in full
        rp, ep = str(r[1]), str(e[1])
        if (
            rp != ep
            and not (rp.endswith(" ...") and ep.startswith(rp[:-4]))
            and not (ep.endswith(" ...") and rp.startswith(ep[:-4]))
        ):
            return False
    return True


def _is_app_message(event: list[Any]) -> bool:
    if event[0] != "message":
        return False
    text = str(event[1])
    return text.startswith('{"event": ')


def adjusted(case: dict[str, Any]) -> dict[str, Any]:
    """For the expstream endpoint: set its own JSON messages aside and compare again."""
    expected: dict[str, list[Any]] = case.get("expected") or {}
    expects_echo = any(any(e[0] == "message" for e in events) for events in expected.values())
    if expects_echo:
        return {"applies": False, "why": "the case checks an echoed message; the endpoint does not echo"}
    received = [e for e in case.get("received", []) if not _is_app_message(e)]
    for verdict, events in expected.items():
        if _same(received, events):
            return {"applies": True, "behavior": verdict, "behaviorClose": case.get("behaviorClose")}
    return {
        "applies": True,
        "behavior": "FAILED",
        "behaviorClose": case.get("behaviorClose"),
        "received_without_app_messages": received[:5],
    }


def summarise(agents: dict[str, dict[str, Any]], elapsed: float, extra: dict[str, Any]) -> dict[str, Any]:
    index = json.loads((RAW / "reports" / "index.json").read_text())
    summary: dict[str, Any] = {
        "autobahntestsuite": AUTOBAHN_VERSION,
        "wall_seconds": round(elapsed, 1),
        "agents": {},
        **extra,
    }
    for agent, meta in agents.items():
        cases = index.get(agent, {})
        by_behavior: Counter[str] = Counter()
        by_close: Counter[str] = Counter()
        per_section: dict[str, Counter[str]] = defaultdict(Counter)
        notable = []
        adjusted_counts: Counter[str] = Counter()
        not_applicable = 0
        adjusted_notable = []
        for case_id, entry in sorted(cases.items(), key=lambda kv: [int(p) for p in kv[0].split(".")]):
            by_behavior[entry["behavior"]] += 1
            by_close[entry["behaviorClose"]] += 1
            per_section[case_id.split(".")[0]][entry["behavior"]] += 1
            report = json.loads((RAW / "reports" / entry["reportfile"]).read_text())
            if entry["behavior"] not in ("OK", "INFORMATIONAL") or entry["behaviorClose"] not in (
                "OK",
                "INFORMATIONAL",
            ):
                notable.append(
                    {
                        "case": case_id,
                        "behavior": entry["behavior"],
                        "behaviorClose": entry["behaviorClose"],
                        "remoteCloseCode": entry.get("remoteCloseCode"),
                        "description": _clean(report.get("description", "")),
                        "result": _clean(report.get("result", ""), 200),
                        "resultClose": _clean(report.get("resultClose", ""), 200),
                        "why": why(case_id, entry),
                    }
                )
            if meta.get("adjust"):
                a = adjusted(report)
                if not a["applies"]:
                    not_applicable += 1
                else:
                    adjusted_counts[a["behavior"]] += 1
                    if a["behavior"] not in ("OK", "INFORMATIONAL") or a["behaviorClose"] not in (
                        "OK",
                        "INFORMATIONAL",
                    ):
                        adjusted_notable.append(
                            {
                                "case": case_id,
                                **a,
                                "remoteCloseCode": entry.get("remoteCloseCode"),
                                "description": _clean(report.get("description", "")),
                                "resultClose": _clean(report.get("resultClose", ""), 200),
                            }
                        )
        agent_summary: dict[str, Any] = {
            "url": meta["url_shown"],
            "what": meta["what"],
            "cases": len(cases),
            "behavior": dict(by_behavior),
            "behaviorClose": dict(by_close),
            "per_section": {s: dict(c) for s, c in sorted(per_section.items(), key=lambda kv: int(kv[0]))},
            "not_ok": notable,
        }
        if meta.get("adjust"):
            agent_summary["without_its_own_messages"] = {
                "protocol_cases": sum(adjusted_counts.values()),
                "echo_cases_not_applicable": not_applicable,
                "behavior": dict(adjusted_counts),
                "not_ok": adjusted_notable,
            }
        summary["agents"][agent] = agent_summary
    return summary


def text_summary(summary: dict[str, Any]) -> str:
    lines = [
        f"Autobahn|Testsuite {summary['autobahntestsuite']} fuzzingclient, {summary['wall_seconds']} s",
        f"when: {summary.get('when')}",
        "",
    ]
    for agent, s in summary["agents"].items():
        lines.append(f"== {agent}: {s['url']}")
        lines.append(f"   {s['what']}")
        lines.append(f"   {s['cases']} cases; behavior {s['behavior']}; close behavior {s['behaviorClose']}")
        for section, counts in s["per_section"].items():
            lines.append(f"   section {section}: {counts}")
        if "without_its_own_messages" in s:
            w = s["without_its_own_messages"]
            lines.append(
                f"   with the endpoint's own JSON messages set aside: {w['protocol_cases']} protocol cases "
                f"{w['behavior']}; {w['echo_cases_not_applicable']} echo cases not applicable"
            )
            for n in w["not_ok"][:40]:
                lines.append(
                    f"     {n['case']}: {n['behavior']}/{n['behaviorClose']} close={n['remoteCloseCode']} "
                    f"- {n['description']} => {n['resultClose']}"
                )
        else:
            by_design = [n for n in s["not_ok"] if n["why"]]
            for n in s["not_ok"]:
                if not n["why"]:
                    lines.append(
                        f"   {n['case']}: {n['behavior']}/{n['behaviorClose']} close={n['remoteCloseCode']} "
                        f"- {n['description']} => {n['result']} / {n['resultClose']}"
                    )
            reasons = Counter(n["why"] for n in by_design)
            for reason, count in reasons.items():
                cases = [n["case"] for n in by_design if n["why"] == reason]
                lines.append(
                    f"   {count} cases ({', '.join(cases[:6])}{', …' if len(cases) > 6 else ''}): {reason}"
                )
        lines.append("")
    for key in ("expstream_after", "notes"):
        if key in summary:
            lines.append(f"{key}: {json.dumps(summary[key])}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cases", default=",".join(DEFAULT_CASES), help="Autobahn case patterns, comma-separated"
    )
    parser.add_argument("--agents", default="uvicorn-stack,expstream")
    parser.add_argument(
        "--summarise-only",
        action="store_true",
        help="rewrite the summary from the reports already in conformance/results/raw",
    )
    parser.add_argument(
        "--admin-database-url", default=os.environ.get("EXPSTREAM_TEST_DATABASE_URL", DEFAULT_ADMIN_DB)
    )
    parser.add_argument(
        "--prefix",
        type=Path,
        default=Path(os.environ.get("AUTOBAHN_PREFIX", os.path.expanduser("~/.cache/expstream-autobahn"))),
    )
    args = parser.parse_args()

    if args.summarise_only:
        previous = json.loads((RESULTS / "autobahn-summary.json").read_text())
        agents = {
            name: {"url_shown": a["url"], "what": a["what"], "adjust": "without_its_own_messages" in a}
            for name, a in previous["agents"].items()
        }
        extra = {
            k: previous[k] for k in ("when", "python27", "cases", "expstream_after", "notes") if k in previous
        }
        return write_summary(agents, previous["wall_seconds"], extra)
    py27 = find_python27()
    if py27 is None:
        log(
            "no Python 2.7 found (AUTOBAHN_PYTHON27, python2.7 on PATH, ~/.pyenv/versions/2.7.*): "
            "autobahntestsuite runs only on Python 2.7"
        )
        return 2
    ensure_autobahn(py27, args.prefix)
    if RAW.exists():
        shutil.rmtree(RAW)
    RAW.mkdir(parents=True)
    agents_wanted = {a for a in args.agents.split(",") if a}
    cases = [c for c in args.cases.split(",") if c]
    processes = []
    agents: dict[str, dict[str, Any]] = {}
    servers = []
    started = time.monotonic()
    extra: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python27": py27,
        "cases": cases,
    }
    try:
        exclude: dict[str, list[str]] = {}
        if "uvicorn-stack" in agents_wanted:
            port = free_port()
            processes.append(start_echo(port))
            servers.append({"agent": "uvicorn-stack", "url": f"ws://127.0.0.1:{port}/"})
            agents["uvicorn-stack"] = {
                "url_shown": f"ws://127.0.0.1:{port}/",
                "what": ("echo app on uvicorn with expstream's uvicorn_options (the protocol layer)"),
            }
        expstream_process = None
        if "expstream" in agents_wanted:
            port = free_port()
            expstream_process, token = start_expstream(port, args.admin_database_url)
            processes.append(expstream_process)
            servers.append({"agent": "expstream", "url": f"ws://127.0.0.1:{port}/api/v1/ws?token={token}"})
            agents["expstream"] = {
                "url_shown": f"ws://127.0.0.1:{port}/api/v1/ws?token=…",
                "adjust": True,
                "what": "`expstream serve`, multiplexed endpoint, default limits (not an echo server)",
            }
            exclude["expstream"] = [c for c in cases if c not in EXPSTREAM_CASES]
        spec = {
            "outdir": str(RAW / "reports"),
            "servers": servers,
            "cases": cases,
            "exclude-cases": [],
            "exclude-agent-cases": exclude,
        }
        (RAW / "spec.json").write_text(json.dumps(spec, indent=2))
        log(f"running {cases} against {sorted(agents)}")
        wstest(py27, args.prefix, RAW / "spec.json")
        if expstream_process is not None:
            port = int(servers[-1]["url"].split(":")[2].split("/")[0])
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
                health = json.loads(response.read())
            extra["expstream_after"] = {"health": health, "exit_code_while_running": expstream_process.poll()}
    finally:
        for process in processes:
            stop(process)
    extra["notes"] = (
        "Frame-level behaviour (masking, reserved bits, opcodes, fragmentation, UTF-8 validation, "
        "close codes, ping/pong, the 64 KiB cap) is uvicorn's websockets sans-I/O protocol; "
        "expstream's handler adds its greeting, ignores non-actions, the 4 KiB message limit (1009) "
        "and the rate limit (1008)."
    )
    return write_summary(agents, time.monotonic() - started, extra)


def write_summary(agents: dict[str, dict[str, Any]], elapsed: float, extra: dict[str, Any]) -> int:
    summary = summarise(agents, elapsed, extra)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "autobahn-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = text_summary(summary)
    (RESULTS / "autobahn-summary.txt").write_text(text)
    print(text)
    log(
        f"wrote {RESULTS / 'autobahn-summary.json'}, {RESULTS / 'autobahn-summary.txt'}; "
        f"reports in {RAW / 'reports'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
