"""The front-end kit (examples/web) walked in headless Chromium against a running `make dev`.

    .venv-tools/browser/bin/python tests/browser/journey.py      (ci/browser.sh sets everything up)

Persona's real JS client (npm `persona`, served from examples/web/node_modules) runs: make dev gives it
`customHost: localhost:<fake port>`, so its iframe loads the fake Persona's stand-in flow
(tests/src/fake_persona/hosted_flow.rs) instead of Persona's servers. The test reads the iframe's page, and
also what the client was constructed with through the kit's documented seam (`PersonaResumeKit.seam`).
Chromium resolves no name but localhost (--host-resolver-rules): nothing leaves the machine.

Each step saves a screenshot under <target>/browser/ and prints its path.
"""

import json
import os
import pathlib
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

ROOT = pathlib.Path(__file__).resolve().parents[2]
GATEWAY = f"http://127.0.0.1:{os.environ.get('GATEWAY_PORT', '9001')}"
FAKE_PORT = os.environ.get("FAKE_PERSONA_PORT", "9000")
FAKE = f"http://127.0.0.1:{FAKE_PORT}"
KIT = f"{GATEWAY}/web/"
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
if not TARGET.is_absolute():
    TARGET = ROOT / TARGET
SHOTS = TARGET / "browser"

ALICE_INQUIRY = "inq_DemoAlice0001"
BOB_INQUIRY = "inq_DemoBob0001"


class Journey:
    def __init__(self) -> None:
        options = webdriver.ChromeOptions()
        options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
        for arg in (
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--window-size=1200,900",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
        ):
            options.add_argument(arg)
        service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
        self.driver = webdriver.Chrome(options=options, service=service)
        self.wait = WebDriverWait(self.driver, 30)
        self.step = 0
        SHOTS.mkdir(parents=True, exist_ok=True)

    def shot(self, name: str) -> None:
        self.step += 1
        path = SHOTS / f"{self.step:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        print(f"browser: step {self.step}: {name}: {path}")

    def status(self, state: str) -> str:
        self.wait.until(lambda d: d.find_element(By.ID, "status").get_attribute("data-state") == state)
        return self.driver.find_element(By.ID, "status").text

    def sign_in(self, user: str, hosted: bool = False) -> None:
        self.driver.get(KIT)
        field = self.wait.until(EC.presence_of_element_located((By.ID, "user")))
        field.clear()
        field.send_keys(user)
        self.driver.find_element(By.ID, "signin-button").click()
        self.status("signed-in")
        assert self.driver.find_element(By.ID, "whoami").get_attribute("data-user") == user
        box = self.driver.find_element(By.ID, "prefer-hosted")
        if box.is_selected() != hosted:
            box.click()

    def open_inquiry(self, inquiry_id: str) -> str:
        """Opens an inquiry by id; returns the status text once the answer is a 404."""
        d = self.driver
        d.execute_script("document.getElementById('status').dataset.state = 'stale'")
        field = d.find_element(By.ID, "inquiry-id")
        field.clear()
        field.send_keys(inquiry_id)
        d.find_element(By.ID, "open-inquiry").click()
        return self.status("not-found")

    def flow_page(self) -> tuple[str, str]:
        main = self.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "main[data-outcome]")))
        return main.get_attribute("data-outcome"), main.get_attribute("data-inquiry-id")

    def run(self) -> None:
        d = self.driver

        # 1. Alice signs in.
        self.sign_in("alice")
        self.shot("alice-signed-in")

        # 2. Continue verification: the embedded flow (Persona's client) opens alice's inquiry.
        d.find_element(By.ID, "continue").click()
        text = self.status("embedded")
        assert ALICE_INQUIRY in text, text
        seam = d.execute_script("return window.PersonaResumeKit.seam.lastEmbedded")
        assert seam["inquiryId"] == ALICE_INQUIRY, seam
        assert seam["sessionToken"] and seam["sessionToken"].count(".") == 2, "constructed with a session token"
        frame = self.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "iframe.persona-widget__iframe")))
        src = frame.get_attribute("src")
        assert src.startswith(f"http://localhost:{FAKE_PORT}/widget?"), src
        self.wait.until(lambda _: frame.is_displayed())
        d.switch_to.frame(frame)
        assert self.flow_page() == ("token-accepted", ALICE_INQUIRY), self.flow_page()
        d.switch_to.default_content()
        time.sleep(0.5)  # the client's open animation
        self.shot("alice-embedded-flow")

        # 3. The hosted-flow fallback: an immediate redirect in the same browser.
        self.sign_in("alice", hosted=True)
        d.find_element(By.ID, "continue").click()
        self.wait.until(lambda drv: drv.current_url.startswith(f"http://localhost:{FAKE_PORT}/verify?"))
        assert self.flow_page() == ("token-accepted", ALICE_INQUIRY), self.flow_page()
        self.shot("alice-hosted-flow")

        # 4. Email me a link: the one-time link opens once, the second visit is refused.
        self.sign_in("alice")
        d.find_element(By.ID, "email-link").click()
        self.status("link-sent")
        link = d.find_element(By.ID, "outbox-link").get_attribute("href")
        assert link.startswith(f"http://localhost:{FAKE_PORT}/verify?code="), link
        self.shot("alice-link-in-outbox")
        d.get(link)
        assert self.flow_page() == ("link-accepted", ALICE_INQUIRY), self.flow_page()
        self.shot("link-first-visit")
        d.get(link)
        assert self.flow_page() == ("link-used", ""), self.flow_page()
        assert "already used" in d.find_element(By.TAG_NAME, "main").text
        self.shot("link-second-visit-refused")

        # 5. Bob cannot open alice's inquiry: the same answer as a missing one.
        self.sign_in("bob")
        missing = self.open_inquiry("inq_Missing0001")
        assert self.open_inquiry(ALICE_INQUIRY) == missing
        self.shot("bob-refused-alice-inquiry")
        # ... while his own opens.
        d.find_element(By.ID, "continue").click()
        assert BOB_INQUIRY in self.status("embedded")
        assert d.execute_script("return window.PersonaResumeKit.seam.lastEmbedded")["inquiryId"] == BOB_INQUIRY

        # 6. A verified user is not re-verified: 409.
        self.sign_in("demo-user-completed")
        d.find_element(By.ID, "continue").click()
        self.status("verified")
        self.shot("completed-user-already-verified")

        # 7. session_token: null (Persona would not resume a created inquiry): the client opens it by id alone.
        settings = control("GET", "/_control/settings")
        control("PUT", "/_control/settings", dict(settings, resume_created_conflict=True))
        try:
            self.sign_in("demo-user-created")
            d.find_element(By.ID, "continue").click()
            assert "inq_DemoCreated0001" in self.status("embedded")
            seam = d.execute_script("return window.PersonaResumeKit.seam.lastEmbedded")
            assert seam == {"inquiryId": "inq_DemoCreated0001", "sessionToken": None}, seam
            frame = self.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "iframe.persona-widget__iframe")))
            assert "session-token" not in frame.get_attribute("src")
            d.switch_to.frame(frame)
            assert self.flow_page() == ("id-accepted", "inq_DemoCreated0001"), self.flow_page()
            d.switch_to.default_content()
            time.sleep(0.5)
            self.shot("created-inquiry-without-token")
        finally:
            control("PUT", "/_control/settings", settings)

        # 8. 429 with Retry-After: Persona's rate limit (1 request / 2 min) outlasts the request's deadline.
        settings = control("GET", "/_control/settings")
        limited = dict(settings, rate_limit={"enabled": True, "limit": 1, "window_ms": 120_000})
        control("PUT", "/_control/settings", limited)
        try:
            self.sign_in("carol")
            d.find_element(By.ID, "continue").click()
            text = self.status("rate-limited")
            assert "Try again in" in text and " s." in text, text
            self.shot("rate-limited-retry-after")
        finally:
            control("PUT", "/_control/settings", settings)

    def close(self) -> None:
        self.driver.quit()


def control(method: str, path: str, body: object = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(FAKE + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def main() -> int:
    started = time.monotonic()
    journey = Journey()
    try:
        journey.run()
    except Exception:
        journey.shot("FAILED")
        raise
    finally:
        journey.close()
    print(f"browser: journey passed, {journey.step} screenshots in {SHOTS}, {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
