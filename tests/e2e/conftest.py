"""One devnet per session on test ports: 3 real anvil chains, real Redis (a dedicated DB), real Celery
worker processes. Always torn down (process groups killed), even when a test or the start-up fails.
The browser tests' headless Chromium (Debian's package, driven by Playwright) and a page of the web
app as bob are here too (tests/e2e/test_7_web*.py; their helpers are in web_helpers.py).

Environment:
  XMARGIN_TEST_REDIS_URL   Redis to use; its DB index is forced to 5 (default redis://127.0.0.1:6379/5).
  XMARGIN_TEST_BASE_PORT   hub RPC port; spokes +1, +2, API +3 (default 8750).
  XMARGIN_TEST_REDIS_FLUSHALL=1  the Redis is private to the tests: wipe it with FLUSHALL
                           (default: FLUSHDB of DB 5 only, so a shared Redis keeps its other DBs).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from playwright import sync_api as playwright_api

sys.path.insert(0, str(Path(__file__).parent))

from helpers import Depositor  # noqa: E402
from web_helpers import ARTIFACTS, REPO  # noqa: E402

from relayer.context import Context  # noqa: E402
from relayer.devnet import processes  # noqa: E402
from relayer.devnet.layout import USER_KEYS, DevnetLayout  # noqa: E402
from relayer.devnet.runner import Devnet  # noqa: E402
from relayer.devnet.specs import relayer_specs  # noqa: E402

TEST_REDIS_DB = 5


def _test_redis_url() -> str:
    """The test Redis URL with its DB index forced to 5."""
    parts = urlsplit(os.environ.get("XMARGIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/5"))
    return urlunsplit(parts._replace(path=f"/{TEST_REDIS_DB}"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is end to end."""
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def layout(tmp_path_factory: pytest.TempPathFactory) -> DevnetLayout:
    return DevnetLayout(
        dir=tmp_path_factory.mktemp("devnet"),
        base_port=int(os.environ.get("XMARGIN_TEST_BASE_PORT", "8750")),
        redis_url=_test_redis_url(),
        confirmations=2,
        block_time=1,
    )


@pytest.fixture(scope="session")
def devnet(layout: DevnetLayout) -> Iterator[Devnet]:
    """The running devnet; every process group it started is stopped at the end, whatever happened."""
    with pytest.MonkeyPatch.context() as env:
        for name in list(os.environ):
            # Inherited settings would override the devnet's config files in the child processes.
            if name.startswith("XMARGIN_") and name not in ("XMARGIN_BUILD_DIR", "XMARGIN_ANVIL"):
                env.delenv(name)
        test_db = redis.Redis.from_url(layout.redis_url)
        test_db.flushdb()  # DB 5 is the tests' own: no stale queues or signatures from an aborted run
        net = Devnet(layout, report=lambda m: print(f"[devnet] {m}", flush=True))
        try:
            net.up()
            yield net
        finally:
            net.down()
            test_db.flushdb()


@pytest.fixture(autouse=True)
def _every_process_running(devnet: Devnet) -> None:
    """A relayer process left dead by an earlier failing test is restarted, so failures do not cascade."""
    restartable = {spec.name for spec in relayer_specs(devnet.layout)}
    for proc in devnet.dead():
        assert proc.name in restartable, f"{proc.name} died: {proc.log_tail()}"
        print(f"[devnet] restarting {proc.name} (exited with {proc.popen.returncode})", flush=True)
        devnet.replace(proc.name, processes.restart(proc.name, devnet.layout))


@pytest.fixture(scope="session")
def ctx(devnet: Devnet) -> Context:
    return Context.from_file(devnet.layout.config_path)


@pytest.fixture(scope="session")
def depositors(ctx: Context) -> dict[tuple[str, str], Depositor]:
    """(user, spoke name) -> a depositor with every ERC20 approved."""
    out = {}
    for chain in ctx.settings.chains.values():
        if chain.role != "spoke":
            continue
        for user, key in USER_KEYS.items():
            depositor = Depositor(ctx, chain.chain_id, key)
            depositor.approve_all()
            out[(user, chain.name)] = depositor
    return out


@pytest.fixture(scope="session")
def flush_redis() -> str:
    """Which wipe the FLUSH test performs: FLUSHALL only on a Redis private to the tests."""
    return "FLUSHALL" if os.environ.get("XMARGIN_TEST_REDIS_FLUSHALL") == "1" else "FLUSHDB"


@pytest.fixture(scope="module")
def browser(devnet: Devnet) -> Iterator[playwright_api.Browser]:
    """Headless Chromium (Debian's package: scripts/ensure-chromium.sh installs it when missing),
    one per module, closed before the next module runs."""
    subprocess.run(["bash", str(REPO / "scripts" / "ensure-chromium.sh")], check=True, timeout=900)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=os.environ.get("XMARGIN_CHROMIUM", shutil.which("chromium")),
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def page(devnet: Devnet, browser: playwright_api.Browser) -> Iterator[playwright_api.Page]:
    """A Chromium page on the devnet's web app, as bob (one per test module)."""
    tab = browser.new_page(viewport={"width": 1280, "height": 1000})
    tab.goto(f"http://127.0.0.1:{devnet.layout.api_port}/app/?account=bob")
    playwright_api.expect(tab.locator("#live")).to_have_text("live", timeout=30_000)
    yield tab
    tab.close()
