// The key policy editor (#/keys/<KeyId>/policy): a plain textarea validated as you type by kmsd's linter
// (IAM Access Analyzer's ValidatePolicy findings, plus the lockout check for the signed-in principal),
// saved with PutKeyPolicy. Save stays disabled while there are ERROR findings.

import { call, lint } from "./api.js";
import { checkActions, guard } from "./permissions.js";
import { rememberKeyTab } from "./key_page.js";
import { announce, busy, callError, h, setChildren, showError } from "./ui.js";

const SEVERITY = {
  ERROR: { label: "Error", tone: "danger", rank: 0 },
  SECURITY_WARNING: { label: "Security warning", tone: "warn", rank: 1 },
  WARNING: { label: "Warning", tone: "warn", rank: 2 },
  SUGGESTION: { label: "Suggestion", tone: "info", rank: 3 },
};

/** Offset in the text of a 0-based line and column (used when a finding has no offset). */
function offsetOf(text, line, column) {
  let offset = 0;
  for (let i = 0; i < line; i += 1) {
    const next = text.indexOf("\n", offset);
    if (next < 0) return text.length;
    offset = next + 1;
  }
  return Math.min(text.length, offset + column);
}

function caretPosition(textarea) {
  const before = textarea.value.slice(0, textarea.selectionStart);
  const lines = before.split("\n");
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}

export async function renderPolicyEditor(view, ctx) {
  const { keyId, signal } = ctx;
  setChildren(view, h("h1", null, "Edit key policy"), h("p", { class: "loading" }, "Loading the policy…"));
  let meta;
  let policy;
  let perms;
  try {
    meta = (await call("kms", "DescribeKey", { KeyId: keyId }, signal)).KeyMetadata;
    const [policyResult, permResult] = await Promise.all([
      call("kms", "GetKeyPolicy", { KeyId: meta.KeyId, PolicyName: "default" }, signal),
      checkActions(["kms:PutKeyPolicy"], meta.Arn, signal),
    ]);
    policy = policyResult.Policy || "";
    perms = permResult;
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    const slot = h("div");
    setChildren(view, h("h1", null, "Edit key policy"), slot);
    showError(slot, err, "The key policy could not be read");
    return;
  }
  try {
    policy = JSON.stringify(JSON.parse(policy), null, 2);
  } catch (err) {
    // Keep the text as stored when it is not JSON the browser can parse.
  }
  const keyHref = `#/keys/${encodeURIComponent(meta.KeyId)}`;

  const editor = h("textarea", {
    id: "policy-editor",
    class: "code-editor",
    spellcheck: "false",
    autocapitalize: "off",
    autocomplete: "off",
    wrap: "off",
    rows: "24",
    "aria-describedby": "policy-findings-summary caret-position",
  });
  editor.value = policy;
  const caret = h("p", { id: "caret-position", class: "muted small caret" }, "Line 1, column 1");
  const summary = h("p", { id: "policy-findings-summary", class: "findings-summary", "aria-live": "polite" }, "Checking…");
  const findingsList = h("ul", { id: "policy-findings", class: "findings" });
  const lintError = h("div");
  const save = h("button", { type: "button", id: "save-policy", class: "btn btn-primary" }, "Save changes");
  const cancel = h("button", { type: "button", id: "cancel-policy", class: "btn" }, "Cancel");
  const saveError = h("div", { id: "save-policy-error" });
  let hasErrors = false;
  let lintSeq = 0;
  let timer = null;

  const updateSave = () => {
    const denied = save.classList.contains("denied");
    save.disabled = denied || hasErrors;
    if (hasErrors && !denied) save.setAttribute("aria-describedby", "policy-findings-summary");
    else if (!denied) save.removeAttribute("aria-describedby");
  };

  function renderFindings(result, text) {
    const findings = (result.findings || []).slice().sort((a, b) => (SEVERITY[a.findingType]?.rank ?? 9) - (SEVERITY[b.findingType]?.rank ?? 9));
    hasErrors = findings.some((f) => f.findingType === "ERROR");
    const counts = {};
    for (const f of findings) counts[f.findingType] = (counts[f.findingType] || 0) + 1;
    if (!findings.length) {
      summary.textContent = "No findings: the policy is valid.";
      summary.className = "findings-summary ok";
    } else {
      const parts = Object.entries(counts).map(([type, n]) => `${n} ${(SEVERITY[type]?.label || type).toLowerCase()}${n === 1 ? "" : "s"}`);
      const lockout = findings.some((f) => /LOCKOUT/.test(f.issueCode || ""));
      summary.textContent = lockout
        ? `${parts.join(", ")}. This policy would lock you out: once saved, you could no longer change it. Fix the errors to save.`
        : `${parts.join(", ")}.${hasErrors ? " Fix the errors to save." : ""}`;
      summary.className = `findings-summary ${hasErrors ? "bad" : "warn"}`;
    }
    setChildren(
      findingsList,
      findings.map((f) => {
        const sev = SEVERITY[f.findingType] || { label: f.findingType, tone: "info" };
        const location = (f.locations || [])[0];
        const span = location && location.span;
        let where = null;
        if (span && span.start) {
          // kmsd's spans count lines from 1 and columns and offsets from 0 (IAM Access Analyzer's convention);
          // the offset is the sure thing, so line and column are worked out from it when it is there.
          const offset = typeof span.start.offset === "number" ? span.start.offset : offsetOf(text, span.start.line - 1, span.start.column);
          const before = text.slice(0, offset).split(/\r\n|\r|\n/);
          const line = before.length;
          const column = before[before.length - 1].length + 1;
          const endOffset = span.end && typeof span.end.offset === "number" ? span.end.offset : offset;
          where = h(
            "button",
            { type: "button", class: "link-button location", "aria-label": `Go to line ${line}, column ${column}` },
            `${line}:${column}`,
          );
          where.addEventListener("click", () => {
            editor.focus();
            editor.setSelectionRange(offset, Math.max(offset, endOffset));
            showCaret();
          });
        }
        return h(
          "li",
          { class: `finding finding-${sev.tone}`, dataset: { findingType: f.findingType, issueCode: f.issueCode || "" } },
          h("span", { class: `badge badge-${sev.tone}` }, sev.label),
          where,
          h("span", { class: "finding-text" }, f.findingDetails || f.issueCode || ""),
          f.issueCode ? h("code", { class: "issue-code" }, f.issueCode) : null,
          f.learnMoreLink ? h("a", { href: f.learnMoreLink, class: "learn-more", rel: "noreferrer noopener", target: "_blank" }, "Learn more", h("span", { class: "visually-hidden" }, " (opens a new tab)")) : null,
        );
      }),
    );
    updateSave();
  }

  async function runLint() {
    const seq = ++lintSeq;
    const text = editor.value;
    summary.textContent = "Checking…";
    summary.className = "findings-summary";
    try {
      const result = await lint(text, meta.Arn, signal);
      if (seq !== lintSeq) return;
      lintError.replaceChildren();
      renderFindings(result, text);
    } catch (err) {
      if (err && err.name === "AbortError") return;
      if (seq !== lintSeq) return;
      summary.textContent = "The policy could not be checked.";
      showError(lintError, err, "Validation failed");
    }
  }

  function showCaret() {
    const pos = caretPosition(editor);
    caret.textContent = `Line ${pos.line}, column ${pos.column}`;
  }

  editor.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(runLint, 300);
  });
  for (const type of ["keyup", "click", "select"]) editor.addEventListener(type, showCaret);

  cancel.addEventListener("click", () => ctx.navigate(keyHref));
  save.addEventListener("click", async () => {
    saveError.replaceChildren();
    try {
      await busy(save, "Saving…", () => call("kms", "PutKeyPolicy", { KeyId: meta.KeyId, PolicyName: "default", Policy: editor.value }, signal));
      announce("The key policy is saved.");
      rememberKeyTab(meta.KeyId, "policy");
      ctx.navigate(keyHref);
    } catch (err) {
      if (err && err.name === "AbortError") return;
      setChildren(saveError, callError(err, "PutKeyPolicy failed"));
      updateSave();
    }
  });

  const name = meta.KeyId;
  setChildren(
    view,
    h(
      "nav",
      { class: "crumbs", "aria-label": "Breadcrumb" },
      h("ol", null, h("li", null, h("a", { href: "#/keys" }, "Customer managed keys")), h("li", null, h("a", { href: keyHref }, name)), h("li", { "aria-current": "page" }, "Key policy")),
    ),
    h("div", { class: "page-head" }, h("div", null, h("h1", null, "Edit key policy"), h("p", { class: "muted" }, "Checked as you type. A policy that would stop you from changing it again cannot be saved."))),
    h(
      "div",
      { class: "editor-layout" },
      h(
        "section",
        { class: "card editor-card", "aria-labelledby": "editor-label" },
        h("label", { id: "editor-label", for: "policy-editor", class: "editor-label" }, "Policy document (JSON)"),
        editor,
        caret,
      ),
      h(
        "section",
        { class: "card findings-card", "aria-labelledby": "findings-heading" },
        h("h2", { id: "findings-heading" }, "Findings"),
        summary,
        lintError,
        findingsList,
      ),
    ),
    saveError,
    h("div", { class: "form-actions" }, cancel, h("div", { class: "control" }, save)),
  );
  guard(save, perms, "kms:PutKeyPolicy");
  if (save.disabled) editor.readOnly = true;
  updateSave();
  runLint();
}
