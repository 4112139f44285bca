// The console's entry point: the header (identity, theme, sign out), the sign-in form and the hash router
// that hands each route (#/keys, #/aws-keys, #/keys/<id>, #/keys/<id>/policy, #/create) to its view.

import { ApiError, currentSession, loadSession, setSignedOutHandler, signIn, signOut } from "./api.js";
import { field, h, setChildren, showError } from "./ui.js";
import { forgetKeys, renderKeyList } from "./keys.js";
import { forgetKeyPage, renderKeyPage } from "./key_page.js";
import { renderPolicyEditor } from "./policy_editor.js";
import { renderWizard } from "./wizard.js";

const main = document.getElementById("main");
let controller = null; // aborts the previous view's calls when the route changes
let wanted = null; // the route asked for before signing in, opened after it
let firstRoute = true;

// ---- theme ---------------------------------------------------------------------------------------------

function applyTheme(theme) {
  document.documentElement.setAttribute("data-theme", theme);
  const toggle = document.getElementById("theme-toggle");
  const dark = theme === "dark";
  toggle.setAttribute("aria-pressed", dark ? "true" : "false");
  toggle.textContent = dark ? "Light theme" : "Dark theme";
  toggle.setAttribute("aria-label", dark ? "Switch to the light theme" : "Switch to the dark theme");
}

function setupTheme() {
  const current = document.documentElement.getAttribute("data-theme") === "dark" ? "dark" : "light";
  applyTheme(current);
  document.getElementById("theme-toggle").addEventListener("click", () => {
    const next = document.documentElement.getAttribute("data-theme") === "dark" ? "light" : "dark";
    applyTheme(next);
    try {
      localStorage.setItem("kmsd-theme", next);
    } catch (err) {
      // Storage may be off (private mode); the theme still applies to this page.
    }
  });
}

// ---- header --------------------------------------------------------------------------------------------

function showSignedIn(session) {
  const signedIn = Boolean(session);
  document.getElementById("mainnav").hidden = !signedIn;
  document.getElementById("whoami").hidden = !signedIn;
  document.getElementById("sign-out").hidden = !signedIn;
  document.getElementById("identity").textContent = signedIn ? session.identity.Arn : "";
  document.getElementById("identity").title = signedIn ? `${session.identity.Arn} (account ${session.identity.Account}, ${session.region})` : "";
}

function markCurrentNav(route) {
  for (const link of document.querySelectorAll("#mainnav a")) {
    const href = link.getAttribute("href");
    const current = (href === "#/keys" && (route.name === "keys" || route.name === "key" || route.name === "policy" || route.name === "create")) ||
      (href === "#/aws-keys" && route.name === "aws-keys");
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

// ---- routing -------------------------------------------------------------------------------------------

function parseRoute(hash) {
  const path = decodeURIComponent((hash || "").replace(/^#/, "")).replace(/\?.*$/, "");
  let m;
  if (path === "/sign-in") return { name: "sign-in" };
  if (path === "/keys" || path === "/keys/") return { name: "keys" };
  if (path === "/aws-keys") return { name: "aws-keys" };
  if (path === "/create") return { name: "create" };
  if ((m = path.match(/^\/keys\/([^/]+)\/policy$/))) return { name: "policy", keyId: m[1] };
  if ((m = path.match(/^\/keys\/([^/]+)$/))) return { name: "key", keyId: m[1] };
  return { name: "unknown" };
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function route() {
  if (controller) controller.abort();
  controller = new AbortController();
  const signal = controller.signal;
  const routeInfo = parseRoute(location.hash);
  const session = currentSession();
  if (!session) {
    if (routeInfo.name !== "sign-in") {
      if (routeInfo.name !== "unknown") wanted = location.hash;
      history.replaceState(null, "", "#/sign-in");
    }
    showSignedIn(null);
    renderSignIn();
    return;
  }
  if (routeInfo.name === "sign-in" || routeInfo.name === "unknown") {
    history.replaceState(null, "", "#/keys");
    return route();
  }
  showSignedIn(session);
  markCurrentNav(routeInfo);
  const view = h("div", { class: "view" });
  setChildren(main, view);
  const ctx = { signal, session, navigate };
  // After a navigation, start keyboard and screen reader users at the top of the new view.
  if (!firstRoute) {
    main.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
  firstRoute = false;
  try {
    if (routeInfo.name === "keys") await renderKeyList(view, { ...ctx, awsManaged: false });
    else if (routeInfo.name === "aws-keys") await renderKeyList(view, { ...ctx, awsManaged: true });
    else if (routeInfo.name === "key") await renderKeyPage(view, { ...ctx, keyId: routeInfo.keyId });
    else if (routeInfo.name === "policy") await renderPolicyEditor(view, { ...ctx, keyId: routeInfo.keyId });
    else if (routeInfo.name === "create") await renderWizard(view, ctx);
  } catch (err) {
    if (err && err.name === "AbortError") return;
    showError(view, err);
  }
}

// ---- sign-in -------------------------------------------------------------------------------------------

function renderSignIn() {
  document.title = "Sign in · kmsd console";
  const accessKey = h("input", { type: "text", id: "access-key-id", name: "access-key-id", autocomplete: "username", required: true, spellcheck: "false", autocapitalize: "off" });
  const secret = h("input", { type: "password", id: "secret-access-key", name: "secret-access-key", autocomplete: "current-password", required: true });
  const token = h("textarea", { id: "session-token", name: "session-token", rows: "3", spellcheck: "false", autocapitalize: "off" });
  const region = h("input", { type: "text", id: "region", name: "region", value: "us-east-1", required: true, spellcheck: "false", autocapitalize: "off" });
  const error = h("div", { id: "sign-in-error", role: "alert", class: "sign-in-error" });
  const button = h("button", { type: "submit", id: "sign-in-button", class: "btn btn-primary btn-wide" }, "Sign in");
  const form = h(
    "form",
    { class: "sign-in-form", novalidate: true },
    field("Access key ID", accessKey),
    field("Secret access key", secret, "Sent once to kmsd, which keeps it sealed in an HttpOnly session cookie; this page never stores it."),
    field("Session token (optional)", token, "Only for temporary credentials from AWS STS."),
    field("Region", region),
    error,
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.replaceChildren();
    error.classList.remove("has-error");
    if (!accessKey.value.trim() || !secret.value) {
      error.classList.add("has-error");
      error.textContent = "Enter an access key ID and a secret access key.";
      (accessKey.value.trim() ? secret : accessKey).focus();
      return;
    }
    button.disabled = true;
    button.textContent = "Signing in…";
    try {
      await signIn({ accessKeyId: accessKey.value.trim(), secretAccessKey: secret.value, sessionToken: token.value.trim() || null, region: region.value.trim() || "us-east-1" });
      secret.value = "";
      token.value = "";
      const target = wanted || "#/keys";
      wanted = null;
      firstRoute = true;
      navigate(target);
    } catch (err) {
      const apiError = err instanceof ApiError ? err : { code: "Error", message: String(err) };
      error.classList.add("has-error");
      // AWS's message can run long (SignatureDoesNotMatch quotes the canonical request): its first sentence shows, the rest folds.
      const message = String(apiError.message || "");
      const cut = message.indexOf(". ");
      const first = cut > 0 ? message.slice(0, cut + 1) : message;
      const rest = cut > 0 ? message.slice(cut + 2) : "";
      setChildren(
        error,
        h("p", null, h("strong", null, "Sign-in failed. "), describeSignInError(apiError)),
        h("p", { class: "call-error-detail" }, h("code", null, apiError.code), " ", first),
        rest ? h("details", { class: "more" }, h("summary", null, "Details"), h("p", { class: "wrap small" }, rest)) : null,
      );
      button.disabled = false;
      button.textContent = "Sign in";
    }
  });
  const page = h(
    "div",
    { class: "sign-in-page" },
    h(
      "section",
      { class: "card sign-in-card", "aria-labelledby": "sign-in-title" },
      h("h1", { id: "sign-in-title" }, "Sign in to kmsd"),
      h("p", { class: "muted" }, "Use an IAM user's access key, or temporary credentials. The console can do exactly what that principal can do."),
      form,
    ),
  );
  setChildren(main, page);
  accessKey.focus();
}

function describeSignInError(err) {
  switch (err.code) {
    case "InvalidClientTokenId":
      return "kmsd does not know this access key ID.";
    case "SignatureDoesNotMatch":
      return "The secret access key does not match the access key ID.";
    case "ExpiredToken":
    case "ExpiredTokenException":
      return "These temporary credentials have expired.";
    case "NetworkError":
      return "kmsd could not be reached.";
    default:
      return "kmsd refused these credentials.";
  }
}

// ---- start ---------------------------------------------------------------------------------------------

async function start() {
  setupTheme();
  // Leaving a view aborts its calls; a promise of that view rejecting with AbortError afterwards is expected.
  window.addEventListener("unhandledrejection", (event) => {
    if (event.reason && event.reason.name === "AbortError") event.preventDefault();
  });
  setSignedOutHandler(() => {
    showSignedIn(null);
    const name = parseRoute(location.hash).name;
    if (name !== "sign-in") {
      if (name !== "unknown") wanted = location.hash;
      location.hash = "#/sign-in";
    }
  });
  document.getElementById("sign-out").addEventListener("click", async () => {
    try {
      await signOut();
    } catch (err) {
      // Signed out locally either way: the page forgets everything it held.
    }
    // Drop everything this page held in memory (the server's Clear-Site-Data has cleared the cookie and storage).
    forgetKeys();
    forgetKeyPage();
    wanted = null;
    firstRoute = true;
    if (controller) controller.abort();
    navigate("#/sign-in");
  });
  document.getElementById("skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
  });
  try {
    await loadSession();
  } catch (err) {
    // Treat an unreadable session answer as signed out; the sign-in form reports real errors.
  }
  window.addEventListener("hashchange", () => {
    if (location.hash.startsWith("#/") || location.hash === "") route();
  });
  route();
}

start();
