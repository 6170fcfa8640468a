// Production config.js for the kit (make dev serves its own at /web/config.js).
window.PERSONA_RESUME_CONFIG = {
  apiBase: "https://api.example.com", // your API Gateway URL; its CORS must allow your origin
  // devTokenEndpoint: none — your sign-in gives the JWT
  // personaCustomHost: none — Persona's own hosts
};
