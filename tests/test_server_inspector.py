"""The inspector's pages over HTTP, and in a real headless Chromium against a real uvicorn server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("jinja2")

from fastapi.testclient import TestClient

from engram import AsyncMemory, HashingEmbedder, Memory
from engram.auth import create_key
from engram.server import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def seed(memory: AsyncMemory, tenant: str = "default") -> None:
    sync = Memory(store=memory.sync.store, embedder=memory.sync.embedder, tenant=tenant)
    sync.add([
        {"role": "user", "content": "I am allergic to peanuts", "timestamp": "2024-03-01T09:00:00Z"},
        {"role": "assistant", "content": "Noted, no peanuts.", "timestamp": "2024-03-01T09:00:10Z"},
    ], user_id="ana", session_id="breakfast")
    sync.add([
        {"role": "user", "content": "Book a table for two on Friday", "timestamp": "2024-03-05T18:00:00Z"},
        {"role": "user", "content": "Somewhere with peanut-free desserts <b>please</b>",
         "timestamp": "2024-03-05T18:01:00Z"},
    ], user_id="ana", session_id="dinner", agent_id="concierge")
    sync.add("Hello", user_id="bo", session_id="s1", timestamp="2024-01-01")
    sync.add([
        {"role": "user", "name": "Sam", "content": "I live in Portland and I work as a barista.",
         "timestamp": "2024-01-10T09:00:00Z"},
        {"role": "assistant", "content": "Portland has great coffee.", "timestamp": "2024-01-10T09:00:30Z"},
    ], user_id="sam", session_id="winter")
    sync.add([{"role": "user", "name": "Sam", "content": "Big news: I moved to Denver last week!",
               "timestamp": "2024-02-19T09:00:00Z"}], user_id="sam", session_id="spring")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    memory = AsyncMemory(tmp_path / "inspect.db", embedder=HashingEmbedder())
    seed(memory)
    with TestClient(create_app(memory, require_keys=False, mcp=False)) as test_client:
        yield test_client
    memory.sync.close()


def test_users_page(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'href="/user?user_id=ana"' in page.text and ">8<" in page.text  # eight turns in the cards


def test_user_timeline_and_sessions(client: TestClient) -> None:
    page = client.get("/user", params={"user_id": "ana"}).text
    assert page.index("I am allergic to peanuts") < page.index("Book a table for two")  # oldest first
    assert "agent concierge" in page and "&lt;b&gt;please&lt;/b&gt;" in page
    dinner = client.get("/user", params={"user_id": "ana", "session_id": "dinner"}).text
    assert "Book a table" in dinner and "allergic" not in dinner


def test_user_page_shows_profile_facts_with_history_and_episodes(client: TestClient) -> None:
    page = client.get("/user", params={"user_id": "sam"}).text
    profile = page[page.index('id="profile"'):page.index('id="facts"')]
    assert "Sam lives in Denver" in profile and "Portland" not in profile and "barista" in profile
    facts = page[page.index('id="facts"'):page.index('id="timeline"')]
    assert facts.index("Portland") < facts.index("Denver")  # the slot's versions, oldest first
    assert "2024-02-12 00:00" in facts and "still true" in facts  # Portland's end, Denver open
    assert "superseded" in facts and "by “Denver”" in facts and "current" in facts
    timeline = page[page.index('id="timeline"'):]
    assert timeline.count('class="episode"') == 2
    assert timeline.index("episode <code>e_") < timeline.index("I live in Portland")  # each episode heads its turns
    assert "· 2 turns<" in timeline and "· 1 turn<" in timeline and 'class="chip">denver<' in timeline
    only = client.get("/user", params={"user_id": "sam", "session_id": "spring"}).text
    assert only.count('class="episode"') == 1 and "I live in Portland" not in only.split('id="timeline"')[1]
    nobody = client.get("/user", params={"user_id": "ana"}).text
    assert "No facts known yet" in nobody and nobody.count('class="episode"') == 2


def test_search_trace_shows_fact_and_episode_candidates(client: TestClient) -> None:
    # The default recipe has no episode route; the trace shows episodes whenever one is used.
    page = client.get(
        "/search", params={"user_id": "sam", "q": "where does Sam live now?", "k": 2, "config": "engram-episodes"}
    ).text
    facts = page[page.index('id="facts"'):page.index('id="episodes"')]
    assert "[F1]" in facts and "Sam lives in Denver" in facts and "#1 " in facts  # learned from candidate 1
    assert "barista" not in facts  # a work fact does not bear on where Sam lives
    episodes = page[page.index('id="episodes"'):page.index('id="context"')]
    assert episodes.count("<tr>") == 3 and "Denver" in episodes and "spring" in episodes  # header + 2 episodes
    assert "episode rank" in page and "fact rank" in page
    assert "[F1]" in page[page.index('id="context"'):]


def test_the_inspector_does_not_reinforce_what_it_shows(client: TestClient) -> None:
    def recalls() -> list[int]:
        memory = client.app.state.engram.base.sync  # type: ignore[attr-defined]
        return [fact.recalls for fact in memory.facts(user_id="sam")]

    before = recalls()
    client.get("/search", params={"user_id": "sam", "q": "where does Sam live now?"})
    client.get("/user", params={"user_id": "sam"})
    assert recalls() == before
    client.post("/v1/context", json={"user_id": "sam", "query": "where does Sam live now?"})
    assert recalls() != before  # an agent's context call does reinforce


def test_search_trace_shows_every_candidate_and_the_cut(client: TestClient) -> None:
    page = client.get("/search", params={"user_id": "ana", "q": "peanut allergy", "k": 1, "budget": 80}).text
    assert page.count('class="made-cut"') == 1
    assert page.count('class="below-cut"') == 3  # every other candidate, with why it was cut
    assert "rank 2 &gt; k=1" in page and "in context as [M" in page
    assert "did not fit in the token budget" in page
    assert "bm25 rank" in page and "vector score" in page


def test_search_page_reports_bad_input(client: TestClient) -> None:
    page = client.get("/search", params={"user_id": " ana", "q": "x"})
    assert page.status_code == 422 and "user_id must be non-empty" in page.text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_inspector_in_headless_chromium(tmp_path: Path) -> None:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    uvicorn = pytest.importorskip("uvicorn")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    memory = AsyncMemory(tmp_path / "browser.db", embedder=HashingEmbedder())
    _, secret = create_key(memory.sync.store, "acme")
    seed(memory, tenant="acme")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(memory, require_keys=True, mcp=False),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,900", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    # a click that submits a form returns before the next page loads; on a loaded CI runner the
    # lookup that follows can run against the old page, so lookups wait for their element
    driver.implicitly_wait(10)
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.perf_counter()
        driver.get(f"{base}/")
        assert driver.current_url == f"{base}/login"
        driver.find_element(By.NAME, "key").send_keys(secret)
        driver.find_element(By.CSS_SELECTOR, "form button").click()
        users = driver.find_element(By.ID, "users")
        assert "ana" in users.text and "bo" in users.text and "sam" in users.text

        driver.find_element(By.LINK_TEXT, "ana").click()
        assert driver.find_element(By.ID, "user-id").text == "ana"
        timeline = driver.find_element(By.ID, "timeline").text
        assert "I am allergic to peanuts" in timeline and "<b>please</b>" in timeline  # shown as text
        assert "dinner" in driver.find_element(By.ID, "sessions").text

        box = driver.find_element(By.NAME, "q")
        box.send_keys("peanut allergy")
        box.submit()
        rows = driver.find_elements(By.CSS_SELECTOR, "#trace tbody tr")
        assert len(rows) == 4
        assert driver.find_elements(By.CSS_SELECTOR, "#trace tr.made-cut")
        assert "Context as assembled" in driver.page_source
        driver.get(f"{base}/search?user_id=ana&q=peanut+allergy&k=2&budget=80")  # a cut and a full budget
        assert len(driver.find_elements(By.CSS_SELECTOR, "#trace tr.below-cut")) == 2
        elapsed = time.perf_counter() - started

        screenshot = tmp_path / "inspector-search.png"
        assert driver.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
        print(f"\ninspector screenshot: {screenshot} (login → users → timeline → trace in {elapsed:.2f}s)")

        # the lifecycle: Sam's profile, facts with their history, episodes in the timeline
        driver.get(f"{base}/")
        driver.find_element(By.LINK_TEXT, "sam").click()
        assert "Sam lives in Denver" in driver.find_element(By.ID, "profile").text
        history = driver.find_elements(By.CSS_SELECTOR, "#facts tbody.slot")
        moved = next(slot.text for slot in history if "lives_in" in slot.text)
        assert moved.index("Portland") < moved.index("Denver") and "still true" in moved and "by “Denver”" in moved
        episodes = driver.find_elements(By.CSS_SELECTOR, "#timeline .episode")
        assert "2 turns" in episodes[0].text and "portland" in episodes[0].text and "denver" in episodes[1].text
        facts_shot = tmp_path / "inspector-facts.png"
        driver.set_window_size(1280, 1600)
        assert driver.save_screenshot(str(facts_shot)) and facts_shot.stat().st_size > 10_000
        box = driver.find_element(By.NAME, "q")
        box.send_keys("where does Sam live now?")
        box.submit()
        assert "Sam lives in Denver" in driver.find_element(By.ID, "facts").text
        assert driver.find_element(By.ID, "episodes")  # the default recipe routes no episodes: an empty table
        trace_shot = tmp_path / "inspector-trace-lifecycle.png"
        assert driver.save_screenshot(str(trace_shot)) and trace_shot.stat().st_size > 10_000
        print(f"lifecycle screenshots: {facts_shot}, {trace_shot}")
        severe = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert not severe, severe  # no CSP violations, no failed loads
    finally:
        driver.quit()
        server.should_exit = True
        thread.join(timeout=10)
        memory.sync.close()
