// persona-resume front-end kit: call the API, then open Persona's flow. Plain JavaScript, no build step.
// Copy this file; app.js shows it wired to a page.
//
// SECURITY: `hosted_flow_url` carries the session token. Use it ONLY for an immediate redirect in the same
// browser (location.assign). Never email it, text it, log it or store it: a session token is not single-use.
// To reach a user on another device, send a one-time link (POST /me/one-time-link) instead.
(function (global) {
  "use strict";

  // What an API answer means for the page.
  //   {kind: "ok", body}                      200
  //   {kind: "verified", body}                409 inquiry_not_resumable: already verified (or finished); don't re-verify
  //   {kind: "unavailable", body}             409 inquiry_redacted / template_check_unavailable
  //   {kind: "rate_limited", retryAfter}      429: retry after that many seconds (Retry-After)
  //   {kind: "not_found"}                     404: no such inquiry, or not this user's (the same answer on purpose)
  //   {kind: "unauthenticated"}               401: sign in again
  //   {kind: "error", status, body}           anything else (5xx: try later)
  function classify(status, body, headers) {
    if (status === 200) return { kind: "ok", body };
    if (status === 401) return { kind: "unauthenticated", body };
    if (status === 404) return { kind: "not_found", body };
    if (status === 409) {
      const code = body && body.code;
      return { kind: code === "inquiry_not_resumable" ? "verified" : "unavailable", body };
    }
    if (status === 429) {
      const retryAfter = parseInt(headers.get("Retry-After") || "", 10);
      return { kind: "rate_limited", retryAfter: Number.isFinite(retryAfter) ? retryAfter : null, body };
    }
    return { kind: "error", status, body };
  }

  // POST to one of the four routes with the user's token (the JWT your sign-in gave).
  async function call(config, token, path, body) {
    const response = await fetch((config.apiBase || "") + path, {
      method: "POST",
      headers: Object.assign(
        { Authorization: "Bearer " + token },
        body === undefined ? {} : { "Content-Type": "application/json" }
      ),
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
    let parsed = null;
    try {
      parsed = await response.json();
    } catch (_) {
      parsed = null;
    }
    return classify(response.status, parsed, response.headers);
  }

  // "Continue verification": the user's newest inquiry (created for them if they have none).
  function resumeSession(config, token) {
    return call(config, token, "/me/session");
  }

  // A specific inquiry (yours to know, e.g. from your database): POST /inquiries/{id}/session.
  function resumeInquiry(config, token, inquiryId) {
    return call(config, token, "/inquiries/" + encodeURIComponent(inquiryId) + "/session");
  }

  // "Email me a link": a single-use link to send by email or SMS (from your backend, in real life).
  function oneTimeLink(config, token, expiresInSeconds) {
    const body = expiresInSeconds ? { expires_in_seconds: expiresInSeconds } : undefined;
    return call(config, token, "/me/one-time-link", body);
  }

  // The test seam: what the last embedded client was constructed with (tests read it; nothing else should).
  const seam = { lastEmbedded: null };

  // Opens Persona's embedded flow (npm `persona`, global `Persona`) on the answer of a session route.
  // `session_token` is null for a created inquiry Persona would not resume: it then loads by inquiry id alone.
  // Returns the client, or null when Persona's client is not loaded (then use the hosted flow).
  function openEmbedded(config, answer, callbacks) {
    if (!global.Persona || typeof global.Persona.Client !== "function") return null;
    const options = { inquiryId: answer.inquiry_id };
    if (answer.session_token) options.sessionToken = answer.session_token;
    // Dev only: the fake Persona's stand-in flow (make dev). Leave unset in production.
    if (config.personaCustomHost) options.customHost = config.personaCustomHost;
    seam.lastEmbedded = { inquiryId: options.inquiryId, sessionToken: options.sessionToken || null };
    const cb = callbacks || {};
    const client = new global.Persona.Client(
      Object.assign({}, options, {
        onReady: () => client.open(),
        onComplete: (result) => cb.onComplete && cb.onComplete(result),
        onCancel: (result) => cb.onCancel && cb.onCancel(result),
        onError: (error) => cb.onError && cb.onError(error),
      })
    );
    return client;
  }

  // The hosted flow: an immediate redirect in this browser. Never send this URL anywhere (see above).
  function redirectToHostedFlow(answer) {
    global.location.assign(answer.hosted_flow_url);
  }

  global.PersonaResumeKit = {
    classify,
    resumeSession,
    resumeInquiry,
    oneTimeLink,
    openEmbedded,
    redirectToHostedFlow,
    seam,
  };
})(window);
