// The demo page: kit.js wired to buttons. `window.PERSONA_RESUME_CONFIG` comes from config.js (served by the
// dev gateway under make dev; in production write your own: apiBase = your API, no devTokenEndpoint).
(function () {
  "use strict";
  const config = window.PERSONA_RESUME_CONFIG || { apiBase: "" };
  const kit = window.PersonaResumeKit;
  const $ = (id) => document.getElementById(id);
  let token = null;

  function show(state, text) {
    const status = $("status");
    status.dataset.state = state;
    status.textContent = text;
  }

  // Says what an answer that is not a success means, in the user's words.
  function explain(result) {
    switch (result.kind) {
      case "verified":
        return show("verified", "You are already verified: nothing to resume.");
      case "unavailable":
        return show("unavailable", "This verification can't be resumed right now. Please contact support.");
      case "rate_limited":
        return show(
          "rate-limited",
          "Too many attempts. Try again in " + (result.retryAfter === null ? "a moment" : result.retryAfter + " s") + "."
        );
      case "not_found":
        return show("not-found", "No such verification for this account.");
      case "unauthenticated":
        return show("unauthenticated", "Your session ended: sign in again.");
      default:
        return show("error", "Something went wrong (" + result.status + "). Try again later.");
    }
  }

  // Dev sign-in: the local issuer's token endpoint. Your app uses its own sign-in instead.
  async function signIn() {
    const sub = $("user").value.trim();
    const response = await fetch(config.devTokenEndpoint || "/dev/token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sub }),
    });
    if (!response.ok) return show("error", "Sign-in refused (" + response.status + ").");
    token = (await response.json()).token;
    $("whoami").dataset.user = sub;
    $("whoami").textContent = "signed in as " + sub;
    for (const id of ["continue", "email-link", "open-inquiry"]) $(id).disabled = false;
    $("outbox").hidden = true;
    show("signed-in", "Signed in as " + sub + ".");
  }

  function open(answer) {
    const hosted = $("prefer-hosted").checked;
    if (!hosted) {
      const client = kit.openEmbedded(config, answer, {
        onComplete: () => show("completed", "Verification submitted."),
        onCancel: () => show("cancelled", "Verification closed; continue any time."),
        onError: () => show("error", "The verification flow could not start."),
      });
      if (client) return show("embedded", "Verification opened for inquiry " + answer.inquiry_id + ".");
    }
    // Hosted flow: an immediate redirect in this browser — never send hosted_flow_url anywhere.
    show("redirecting", "Opening the verification page…");
    kit.redirectToHostedFlow(answer);
  }

  async function continueVerification() {
    show("busy", "Looking up your verification…");
    const result = await kit.resumeSession(config, token);
    return result.kind === "ok" ? open(result.body) : explain(result);
  }

  async function openInquiry() {
    const id = $("inquiry-id").value.trim();
    show("busy", "Looking up inquiry " + id + "…");
    const result = await kit.resumeInquiry(config, token, id);
    return result.kind === "ok" ? open(result.body) : explain(result);
  }

  async function emailLink() {
    show("busy", "Sending you a link…");
    const result = await kit.oneTimeLink(config, token);
    if (result.kind !== "ok") return explain(result);
    // In production your backend emails one_time_link; here the page shows what the email would hold.
    $("outbox-link").href = result.body.one_time_link;
    $("outbox-expiry").textContent = "for inquiry " + result.body.inquiry_id;
    $("outbox").hidden = false;
    show("link-sent", "We sent you a link (see the outbox below).");
  }

  const guard = (action) => () => action().catch((e) => show("error", "Network error: " + e.message));
  $("signin-button").addEventListener("click", guard(signIn));
  $("continue").addEventListener("click", guard(continueVerification));
  $("open-inquiry").addEventListener("click", guard(openInquiry));
  $("email-link").addEventListener("click", guard(emailLink));
})();
