// Small DOM helpers shared by every view: element building, error panels with their "Why?" explanation,
// reasons for disabled controls, dates, tabs and status messages.

let uniqueCounter = 0;

/** A fresh id for aria wiring. */
export function uid(prefix = "id") {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}`;
}

/**
 * Builds an element: h("button", {type: "button", class: "btn", onclick: fn}, "Text", child, ...).
 * Attributes starting with "on" become listeners; `dataset` and boolean properties are set as properties.
 * Text is always set as text, never parsed as HTML.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith("on") && typeof value === "function") {
        el.addEventListener(name.slice(2), value);
      } else if (name === "dataset") {
        Object.assign(el.dataset, value);
      } else if (name === "class") {
        el.className = value;
      } else if (["value", "checked", "disabled", "hidden", "selected", "open", "required", "readOnly", "indeterminate"].includes(name)) {
        el[name] = value;
      } else {
        el.setAttribute(name, value === true ? "" : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function setChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Epoch seconds (as the KMS JSON API sends them) or an ISO string → a readable local date and time. */
export function formatDate(value, seconds = false) {
  if (value === undefined || value === null || value === "") return "—";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const options = { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
  if (seconds) options.second = "2-digit";
  return date.toLocaleString(undefined, options);
}

/** A <time> element for a date, with the exact ISO time in its datetime attribute. */
export function timeEl(value, seconds = false) {
  if (value === undefined || value === null || value === "") return document.createTextNode("—");
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return document.createTextNode(String(value));
  return h("time", { datetime: date.toISOString(), title: date.toISOString() }, formatDate(value, seconds));
}

// What each AWS error code means, in words a person reads before the code itself.
const PLAIN_WORDS = {
  AccessDeniedException: "You are not allowed to do this.",
  AccessDenied: "You are not allowed to do this.",
  NotFoundException: "The key or resource was not found.",
  NoSuchEntity: "The IAM entity was not found.",
  KMSInvalidStateException: "The key is not in a state that allows this.",
  DisabledException: "The key is disabled.",
  AlreadyExistsException: "That name is already taken.",
  InvalidAliasNameException: "That alias name is not valid.",
  LimitExceededException: "A limit was reached.",
  TagException: "The tags were refused.",
  ValidationException: "The request was not valid.",
  InvalidArnException: "The ARN is not valid.",
  UnsupportedOperationException: "This key does not support that operation.",
  MalformedPolicyDocumentException: "The key policy was refused.",
  InvalidClientTokenId: "The access key id is not known.",
  SignatureDoesNotMatch: "The secret access key does not match the access key id.",
  ExpiredToken: "The temporary credentials have expired.",
  ExpiredTokenException: "The temporary credentials have expired.",
  InvalidToken: "The session token is not valid.",
  NotSignedIn: "You are not signed in (or your session has expired).",
  InvalidCsrfToken: "The page's session token is out of date. Reload the page.",
  NetworkError: "kmsd could not be reached.",
  ThrottlingException: "Too many requests; try again in a moment.",
  DependencyTimeoutException: "kmsd took too long to answer; try again.",
  KMSInternalException: "kmsd failed internally.",
  InternalFailure: "kmsd failed internally.",
};

/** A sentence for an error: plain words first, then, for the lockout check, what it means for the person. */
export function plainWords(error) {
  let words = PLAIN_WORDS[error.code] || "The call failed.";
  const message = String(error.message || "");
  if (error.code === "MalformedPolicyDocumentException" && /lock|future|will not allow you|would not allow/i.test(message)) {
    words =
      "The key policy was refused because it would lock you out: after saving it, you could no longer change this key's policy. " +
      "Keep a statement that allows you (or your account, through IAM policies) kms:PutKeyPolicy.";
  }
  return words;
}

function yesNo(value) {
  if (value === true) return "allowed";
  if (value === false) return "denied";
  return "not checked";
}

function describeStatementTrace(entry) {
  const head = `${entry.statement || "(no Sid)"} [${entry.kind}] ${entry.effect}: `;
  if (entry.matched) return head + "matched" + (entry.via ? ` (names you via ${entry.via})` : "");
  let text = head + `did not apply (${entry.mismatch || "no match"})`;
  if (entry.detail) text += `: ${entry.detail}`;
  return text;
}

/** The authorizer's trace of one decision (the `policies` of a check) as readable lines. */
function renderDecision(decision) {
  const box = h("div", { class: "decision" });
  const facts = [];
  facts.push(h("li", null, "Decision: ", h("strong", null, decision.decision)));
  if (decision.statements && decision.statements.length) facts.push(h("li", null, "Deciding statements: ", decision.statements.join(", ")));
  if (decision.denial_kind) facts.push(h("li", null, "Decided by: ", `the ${decision.denial_kind} policies`));
  facts.push(h("li", null, "Same account as the resource: ", decision.same_account ? "yes" : "no"));
  if (decision.kinds) {
    for (const [kind, verdict] of Object.entries(decision.kinds)) {
      if (!verdict || !verdict.present) continue;
      let line = `${kind} policies: ${verdict.match}`;
      if (verdict.allow_via) line += ` (via ${verdict.allow_via})`;
      if (verdict.allow_statements && verdict.allow_statements.length) line += `; allowing: ${verdict.allow_statements.join(", ")}`;
      if (verdict.deny_statements && verdict.deny_statements.length) line += `; denying: ${verdict.deny_statements.join(", ")}`;
      facts.push(h("li", null, line));
    }
  }
  box.appendChild(h("ul", { class: "facts" }, facts));
  if (decision.trace && decision.trace.length) {
    box.appendChild(h("p", { class: "subhead" }, "Each statement, in evaluation order:"));
    box.appendChild(
      h(
        "ol",
        { class: "trace" },
        decision.trace.map((entry) =>
          h(
            "li",
            { class: entry.matched ? "matched" : "unmatched" },
            describeStatementTrace(entry),
            entry.conditions && entry.conditions.length
              ? h("ul", null, entry.conditions.map((c) => h("li", null, `${c.operator} ${c.key}: ${c.held ? "held" : "did not hold"}`)))
              : null,
          ),
        ),
      ),
    );
  }
  return box;
}

/** The "Why?" panel: the authorizer's explanation of a refusal, check by check. */
export function renderExplanation(explanation) {
  const details = h("details", { class: "why" }, h("summary", null, "Why?"));
  const body = h("div", { class: "why-body" });
  const intro = [];
  if (explanation.principal) intro.push(h("p", null, "Caller: ", h("code", null, explanation.principal)));
  if (explanation.operation) intro.push(h("p", null, "Operation: ", h("code", null, explanation.operation)));
  if (explanation.decision) intro.push(h("p", null, "Decision: ", h("strong", null, explanation.decision)));
  body.append(...intro);
  const checks = Array.isArray(explanation.checks) ? explanation.checks : [];
  for (const check of checks) {
    const section = h("section", { class: `check ${check.allowed ? "check-allowed" : "check-denied"}` });
    section.appendChild(
      h(
        "dl",
        { class: "kv" },
        h("dt", null, "Action"),
        h("dd", null, h("code", null, check.action || "")),
        h("dt", null, "Resource"),
        h("dd", null, h("code", { class: "wrap" }, check.resource || "")),
        h("dt", null, "Result"),
        h("dd", null, yesNo(check.allowed), check.allowed_by ? ` by ${check.allowed_by}` : ""),
        check.policy_source ? [h("dt", null, "Policies checked"), h("dd", null, check.policy_source)] : null,
        check.reason ? [h("dt", null, "Reason"), h("dd", null, check.reason)] : null,
      ),
    );
    if (check.policies) section.appendChild(renderDecision(check.policies));
    if (Array.isArray(check.grants) && check.grants.length) {
      section.appendChild(h("p", { class: "subhead" }, "Grants considered:"));
      section.appendChild(
        h(
          "ul",
          null,
          check.grants.map((g) =>
            h("li", null, h("code", null, g.grant_id), ` for ${g.grantee_principal}: ${(g.operations || []).join(", ")} — ${g.matched ? "matched" : "did not match"}`),
          ),
        ),
      );
    }
    body.appendChild(section);
  }
  if (!checks.length) body.appendChild(h("pre", { class: "code" }, JSON.stringify(explanation, null, 2)));
  details.appendChild(body);
  return details;
}

/** The panel for a failed call: plain words, AWS's code and message, and "Why?" when there is an explanation. */
export function callError(error, context) {
  const code = error.code || "Error";
  const box = h(
    "div",
    { class: "call-error", role: "alert" },
    h("p", { class: "call-error-title" }, context ? `${context}: ${plainWords(error)}` : plainWords(error)),
    h("p", { class: "call-error-detail" }, h("code", null, code), " ", error.message || ""),
  );
  if (error.requestId) box.appendChild(h("p", { class: "call-error-meta" }, "Request id: ", h("code", null, error.requestId)));
  if (error.explanation) box.appendChild(renderExplanation(error.explanation));
  return box;
}

/** Shows an error inside a slot (replacing what was there); non-API errors still get a readable panel. */
export function showError(slot, err, context) {
  if (err && err.name === "AbortError") return;
  const error = err && err.code ? err : { code: "Error", message: err && err.message ? err.message : String(err) };
  if (!(err && err.code)) console.error(err);
  setChildren(slot, callError(error, context));
}

/** The sentence for a permission the principal lacks. */
export function reasonText(result) {
  const action = result.action;
  const why = result.reason ? result.reason : result.message || "the authorizer refused it";
  return `Not allowed: ${action} is denied ${why.replace(/\.$/, "")}.`;
}

/**
 * Disables a change control the principal may not use and explains why in a visible .reason element,
 * wired with aria-describedby. `where` is the element after which the reason goes (default: the control).
 */
export function applyPermission(control, result, where) {
  if (!control || !result || result.allowed !== false) return;
  control.disabled = true;
  control.classList.add("denied");
  const id = uid("reason");
  const reason = h("p", { class: "reason", id }, reasonText(result));
  const existing = control.getAttribute("aria-describedby");
  control.setAttribute("aria-describedby", existing ? `${existing} ${id}` : id);
  (where || control).insertAdjacentElement("afterend", reason);
}

/** A polite live region for short confirmations ("Tag added."). */
export function announce(message) {
  let region = document.getElementById("announcer");
  if (!region) {
    region = h("div", { id: "announcer", class: "toast", role: "status", "aria-live": "polite" });
    document.body.appendChild(region);
  }
  region.textContent = message;
  region.classList.add("toast-visible");
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => region.classList.remove("toast-visible"), 4000);
}

/** A labelled form field: <div class="field"><label for>…</label>control<p class="hint"></div>. */
export function field(label, control, hint) {
  if (!control.id) control.id = uid("f");
  const parts = [h("label", { for: control.id }, label), control];
  if (hint) {
    const hintId = uid("hint");
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("p", { class: "hint", id: hintId }, hint));
  }
  return h("div", { class: "field" }, parts);
}

/** A table inside its own horizontally scrolling region, so wide tables never widen the page. */
export function tableWrap(table, label) {
  return h("div", { class: "table-wrap", role: "region", "aria-label": label, tabindex: "0" }, table);
}

/**
 * Accessible tabs: buttons with role=tab in a tablist; arrow keys, Home and End move between them.
 * tabs: [{id, label, render(panel)}]; render runs on first selection. Returns {select(id)}.
 */
export function tabs(container, list, initial) {
  const tablist = h("div", { class: "tablist", role: "tablist", "aria-label": "Key details" });
  const panels = h("div", { class: "tabpanels" });
  const entries = list.map((tab) => {
    const tabId = `tab-${tab.id}`;
    const panelId = `panel-${tab.id}`;
    const button = h("button", { type: "button", role: "tab", id: tabId, "aria-controls": panelId, "aria-selected": "false", tabindex: "-1", class: "tab" }, tab.label);
    const panel = h("section", { role: "tabpanel", id: panelId, "aria-labelledby": tabId, class: "tabpanel", tabindex: "0", hidden: true });
    tablist.appendChild(button);
    panels.appendChild(panel);
    return { tab, button, panel, rendered: false };
  });
  function select(id, focus) {
    for (const entry of entries) {
      const on = entry.tab.id === id;
      entry.button.setAttribute("aria-selected", on ? "true" : "false");
      entry.button.tabIndex = on ? 0 : -1;
      entry.panel.hidden = !on;
      if (on) {
        if (!entry.rendered) {
          entry.rendered = true;
          entry.tab.render(entry.panel);
        }
        if (focus) entry.button.focus();
      }
    }
  }
  entries.forEach((entry, index) => {
    entry.button.addEventListener("click", () => select(entry.tab.id));
    entry.button.addEventListener("keydown", (event) => {
      let next = null;
      if (event.key === "ArrowRight") next = (index + 1) % entries.length;
      else if (event.key === "ArrowLeft") next = (index - 1 + entries.length) % entries.length;
      else if (event.key === "Home") next = 0;
      else if (event.key === "End") next = entries.length - 1;
      if (next !== null) {
        event.preventDefault();
        select(entries[next].tab.id, true);
      }
    });
  });
  container.append(tablist, panels);
  const first = entries.find((e) => e.tab.id === initial) || entries[0];
  if (first) select(first.tab.id);
  return { select, rerender(id) {
    const entry = entries.find((e) => e.tab.id === id);
    if (!entry) return;
    entry.rendered = false;
    entry.panel.replaceChildren();
    if (!entry.panel.hidden) select(id);
  } };
}

/** Region of an ARN ("arn:aws:kms:us-east-1:...") or "". */
export function arnRegion(arn) {
  const parts = String(arn || "").split(":");
  return parts.length > 3 ? parts[3] : "";
}

/** Account of an ARN or "". */
export function arnAccount(arn) {
  const parts = String(arn || "").split(":");
  return parts.length > 4 ? parts[4] : "";
}

/** A button's busy state while its call runs: disabled, with its label changed, restored after. */
export async function busy(button, label, work) {
  const old = button.textContent;
  const wasDisabled = button.disabled;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  if (label) button.textContent = label;
  try {
    return await work();
  } finally {
    button.textContent = old;
    button.disabled = wasDisabled;
    button.removeAttribute("aria-busy");
  }
}

/** One visible reason shared by several controls (e.g. every "Remove" button of a table). */
export function applyPermissionMany(controls, result, where) {
  if (!result || result.allowed !== false) return null;
  const id = uid("reason");
  const reason = h("p", { class: "reason", id }, reasonText(result));
  for (const control of controls) {
    if (!control) continue;
    control.disabled = true;
    control.classList.add("denied");
    const existing = control.getAttribute("aria-describedby");
    control.setAttribute("aria-describedby", existing ? `${existing} ${id}` : id);
  }
  if (where) where.insertAdjacentElement("afterend", reason);
  return reason;
}
