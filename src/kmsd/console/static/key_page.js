// One key's page (#/keys/<KeyId>): its summary and key actions, then tabs for configuration, key policy,
// rotation, tags, aliases, grants, public key (asymmetric), Regions (multi-Region) and recent events.
// Each change control is checked with `permissions` first and shown disabled with the reason when denied.

import { call } from "./api.js";
import { KEY_CHANGE_ACTIONS, checkActions, guard } from "./permissions.js";
import { renderReadablePolicy } from "./policy_view.js";
import {
  announce,
  applyPermissionMany,
  arnRegion,
  busy,
  callError,
  field,
  h,
  setChildren,
  showError,
  tableWrap,
  tabs,
  timeEl,
} from "./ui.js";

/** The tab shown when a key page is (re)drawn, kept across redraws after a change. */
let lastTab = { keyId: null, tab: "configuration" };

function isAsymmetric(meta) {
  const spec = meta.KeySpec || meta.CustomerMasterKeySpec || "";
  return spec !== "SYMMETRIC_DEFAULT" && !spec.startsWith("HMAC_");
}

function displayName(meta, aliases) {
  return aliases.length ? aliases[0].replace(/^alias\//, "") : meta.KeyId;
}

function dl(pairs) {
  return h(
    "dl",
    { class: "kv" },
    pairs.filter(Boolean).map(([term, value, id]) => [h("dt", null, term), h("dd", id ? { id } : null, value === undefined || value === null || value === "" ? "—" : value)]),
  );
}

function statusBadge(state) {
  const tone = { Enabled: "ok", Disabled: "neutral", PendingDeletion: "danger", PendingReplicaDeletion: "danger", Unavailable: "warn", PendingImport: "warn" }[state] || "info";
  return h("span", { class: `badge badge-${tone}` }, state);
}

export async function renderKeyPage(view, ctx) {
  const keyId = ctx.keyId;
  const signal = ctx.signal;
  if (lastTab.keyId !== keyId) lastTab = { keyId, tab: "configuration" };
  setChildren(view, h("h1", null, keyId), h("p", { class: "loading" }, "Loading the key…"));

  let meta;
  let aliasObjects = [];
  let aliasError = null;
  let perms;
  try {
    meta = (await call("kms", "DescribeKey", { KeyId: keyId }, signal)).KeyMetadata;
    const [aliasResult, permResult] = await Promise.all([
      call("kms", "ListAliases", { KeyId: meta.KeyId, Limit: 100 }, signal).catch((err) => err),
      checkActions(KEY_CHANGE_ACTIONS, meta.Arn, signal),
    ]);
    if (aliasResult instanceof Error && aliasResult.name === "AbortError") throw aliasResult;
    aliasError = aliasResult instanceof Error ? aliasResult : null;
    aliasObjects = aliasResult && Array.isArray(aliasResult.Aliases) ? aliasResult.Aliases : [];
    perms = permResult;
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    setChildren(view, h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/keys" }, "Customer managed keys")), h("h1", null, keyId), h("div"));
    showError(view.lastChild, err, "The key could not be read");
    return;
  }
  const aliases = aliasObjects.map((a) => a.AliasName).sort();
  const awsManaged = meta.KeyManager === "AWS";
  const redraw = async (focusId) => {
    const active = focusId || (document.activeElement && document.activeElement.id);
    await renderKeyPage(view, ctx);
    const target = active ? document.getElementById(active) : null;
    if (target && !target.disabled) target.focus();
    else {
      const h1 = view.querySelector("h1");
      if (h1) {
        h1.tabIndex = -1;
        h1.focus();
      }
    }
  };

  const name = displayName(meta, aliases);
  document.title = `${name} · kmsd console`;
  const crumbs = h(
    "nav",
    { class: "crumbs", "aria-label": "Breadcrumb" },
    h("ol", null, h("li", null, h("a", { href: awsManaged ? "#/aws-keys" : "#/keys" }, awsManaged ? "AWS managed keys" : "Customer managed keys")), h("li", { "aria-current": "page" }, name)),
  );

  // ---- summary and key actions ----
  const actionSlot = h("div", { class: "action-error" });
  const actions = h("div", { class: "key-actions", role: "group", "aria-label": "Key actions" });
  const state = meta.KeyState;
  const addAction = (id, label, tone, action, handler) => {
    const button = h("button", { type: "button", id, class: `btn ${tone}` }, label);
    const wrap = h("div", { class: "control" }, button);
    button.addEventListener("click", () => handler(button));
    actions.appendChild(wrap);
    guard(button, perms, action);
    return button;
  };
  const simpleAction = (operation, params, done) => async (button) => {
    actionSlot.replaceChildren();
    try {
      await busy(button, "Working…", () => call("kms", operation, params, signal));
      announce(done);
      await redraw();
    } catch (err) {
      showError(actionSlot, err, `${operation} failed`);
    }
  };
  if (state === "Disabled") addAction("enable-key", "Enable key", "", "kms:EnableKey", simpleAction("EnableKey", { KeyId: meta.KeyId }, "The key is enabled."));
  if (state === "Enabled") addAction("disable-key", "Disable key", "", "kms:DisableKey", simpleAction("DisableKey", { KeyId: meta.KeyId }, "The key is disabled."));
  if (state === "PendingDeletion" || state === "PendingReplicaDeletion") {
    addAction("cancel-deletion", "Cancel key deletion", "btn-primary", "kms:CancelKeyDeletion", simpleAction("CancelKeyDeletion", { KeyId: meta.KeyId }, "Deletion is cancelled; the key is disabled."));
  } else {
    addAction("schedule-deletion", "Schedule key deletion", "btn-danger", "kms:ScheduleKeyDeletion", () => openDeletionDialog(meta, signal, redraw));
  }

  const summary = h(
    "section",
    { class: "card summary", "aria-labelledby": "summary-heading" },
    h("h2", { id: "summary-heading", class: "visually-hidden" }, "Summary"),
    dl([
      ["Status", statusBadge(state), "key-status"],
      ["ARN", h("code", { class: "wrap" }, meta.Arn), "key-arn"],
      ["Description", meta.Description || h("span", { class: "muted" }, "No description"), "key-description"],
      ["Created", timeEl(meta.CreationDate)],
      meta.DeletionDate ? ["Deletion date", h("strong", null, timeEl(meta.DeletionDate)), "deletion-date"] : null,
      meta.PendingDeletionWindowInDays ? ["Waiting period", `${meta.PendingDeletionWindowInDays} days`] : null,
      aliases.length > 1 ? ["Aliases", aliases.join(", ")] : null,
    ]),
    h("div", { class: "summary-actions" }, h("h3", { class: "small-heading" }, "Key actions"), actions, actionSlot),
  );

  const tabList = [
    { id: "configuration", label: "Configuration", render: (panel) => renderConfiguration(panel, meta, perms, signal, redraw) },
    { id: "policy", label: "Key policy", render: (panel) => renderPolicyTab(panel, meta, perms, signal, ctx) },
    { id: "rotation", label: "Rotation", render: (panel) => renderRotation(panel, meta, perms, signal, redraw) },
    { id: "tags", label: "Tags", render: (panel) => renderTags(panel, meta, perms, signal, redraw) },
    { id: "aliases", label: "Aliases", render: (panel) => renderAliases(panel, meta, aliasObjects, aliasError, perms, signal, redraw) },
    { id: "grants", label: "Grants", render: (panel) => renderGrants(panel, meta, signal) },
  ];
  if (isAsymmetric(meta)) tabList.push({ id: "public-key", label: "Public key", render: (panel) => renderPublicKey(panel, meta, signal) });
  if (meta.MultiRegion) tabList.push({ id: "regionality", label: "Regionality", render: (panel) => renderRegionality(panel, meta) });
  tabList.push({ id: "events", label: "Events", render: (panel) => renderEvents(panel, meta, signal) });
  for (const tab of tabList) {
    const render = tab.render;
    tab.render = (panel) => {
      lastTab = { keyId, tab: tab.id };
      render(panel);
    };
  }
  const tabHost = h("div", { class: "card tabs-card" });

  setChildren(
    view,
    crumbs,
    h("div", { class: "page-head" }, h("div", null, h("h1", null, name), name !== meta.KeyId ? h("p", { class: "muted mono wrap" }, meta.KeyId) : null)),
    awsManaged ? h("p", { class: "note" }, "This is an AWS managed key: AWS services manage it for you; its policy and settings cannot be changed.") : null,
    summary,
    tabHost,
  );
  const control = tabs(tabHost, tabList, lastTab.tab);
  // Remember the tab chosen by clicks as well, so a redraw after a change stays on it.
  tabHost.querySelector(".tablist").addEventListener("click", (event) => {
    const tab = event.target.closest("[role=tab]");
    if (tab) lastTab = { keyId, tab: tab.id.replace(/^tab-/, "") };
  });
  return control;
}

// ---- schedule deletion dialog ----

function openDeletionDialog(meta, signal, redraw) {
  const waiting = h("input", { type: "number", id: "waiting-period", min: "7", max: "30", step: "1", value: "30", required: true, inputmode: "numeric" });
  const error = h("div");
  const confirm = h("button", { type: "submit", id: "confirm-schedule-deletion", class: "btn btn-danger" }, "Schedule deletion");
  const cancel = h("button", { type: "button", class: "btn", value: "cancel" }, "Cancel");
  const titleId = "deletion-dialog-title";
  const dialog = h(
    "dialog",
    { class: "dialog", "aria-labelledby": titleId },
    h(
      "form",
      { method: "dialog", novalidate: true },
      h("h2", { id: titleId }, "Schedule key deletion"),
      h(
        "p",
        null,
        "After the waiting period, kmsd deletes the key and its key material. Data encrypted under it can never be decrypted again. Until then the key is unusable, and you can cancel the deletion.",
      ),
      field("Waiting period (days)", waiting, "Between 7 and 30 days."),
      error,
      h("div", { class: "dialog-actions" }, cancel, confirm),
    ),
  );
  document.body.appendChild(dialog);
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  cancel.addEventListener("click", close);
  dialog.addEventListener("cancel", () => setTimeout(() => dialog.remove(), 0));
  dialog.querySelector("form").addEventListener("submit", async (event) => {
    event.preventDefault();
    error.replaceChildren();
    const days = Number(waiting.value);
    if (!Number.isInteger(days) || days < 7 || days > 30) {
      error.appendChild(h("p", { class: "field-error", role: "alert" }, "Enter a whole number of days from 7 to 30."));
      waiting.setAttribute("aria-invalid", "true");
      waiting.focus();
      return;
    }
    try {
      await busy(confirm, "Scheduling…", () => call("kms", "ScheduleKeyDeletion", { KeyId: meta.KeyId, PendingWindowInDays: days }, signal));
      close();
      announce(`The key is scheduled for deletion in ${days} days.`);
      await redraw("cancel-deletion");
    } catch (err) {
      showError(error, err, "ScheduleKeyDeletion failed");
    }
  });
  dialog.showModal();
  waiting.focus();
  waiting.select();
}

// ---- configuration ----

function renderConfiguration(panel, meta, perms, signal, redraw) {
  const algorithms = [
    ...(meta.EncryptionAlgorithms || []),
    ...(meta.SigningAlgorithms || []),
    ...(meta.MacAlgorithms || []),
    ...(meta.KeyAgreementAlgorithms || []),
  ];
  const input = h("input", { type: "text", id: "description-input", value: meta.Description || "", maxlength: "8192", autocomplete: "off" });
  const save = h("button", { type: "submit", id: "save-description", class: "btn btn-primary" }, "Save description");
  const slot = h("div");
  const form = h("form", { class: "inline-form", novalidate: true }, field("Description", input), h("div", { class: "control" }, save), slot);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    slot.replaceChildren();
    try {
      await busy(save, "Saving…", () => call("kms", "UpdateKeyDescription", { KeyId: meta.KeyId, Description: input.value }, signal));
      announce("The description is saved.");
      await redraw("description-input");
    } catch (err) {
      showError(slot, err, "UpdateKeyDescription failed");
    }
  });
  guard(save, perms, "kms:UpdateKeyDescription");
  if (save.disabled) input.readOnly = true;
  setChildren(
    panel,
    h("h2", null, "General configuration"),
    dl([
      ["Key ID", h("code", null, meta.KeyId)],
      ["AWS account", meta.AWSAccountId],
      ["Region", arnRegion(meta.Arn)],
      ["Key manager", meta.KeyManager === "AWS" ? "AWS" : "Customer"],
      ["Origin", meta.Origin],
      ["Created", timeEl(meta.CreationDate)],
      meta.ValidTo ? ["Key material expires", timeEl(meta.ValidTo)] : null,
      meta.ExpirationModel ? ["Expiration model", meta.ExpirationModel] : null,
    ]),
    h("h2", null, "Cryptographic configuration"),
    dl([
      ["Key spec", meta.KeySpec || meta.CustomerMasterKeySpec],
      ["Key usage", meta.KeyUsage],
      ["Regionality", meta.MultiRegion ? "Multi-Region" : "Single-Region"],
      ["Algorithms", algorithms.length ? algorithms.join(", ") : null],
    ]),
    h("h2", null, "Description"),
    form,
  );
}

// ---- key policy ----

async function renderPolicyTab(panel, meta, perms, signal, ctx) {
  setChildren(panel, h("h2", null, "Key policy"), h("p", { class: "loading" }, "Loading the policy…"));
  const edit = h("button", { type: "button", id: "edit-policy", class: "btn", onclick: () => ctx.navigate(`#/keys/${encodeURIComponent(meta.KeyId)}/policy`) }, "Edit policy");
  const [policyResult, grantsResult] = await Promise.all([
    call("kms", "GetKeyPolicy", { KeyId: meta.KeyId, PolicyName: "default" }, signal).catch((err) => err),
    call("kms", "ListGrants", { KeyId: meta.KeyId, Limit: 100 }, signal).catch((err) => err),
  ]);
  if (signal.aborted) return;
  const head = h("div", { class: "section-head" }, h("h2", null, "Key policy"), h("div", { class: "control" }, edit));
  if (policyResult instanceof Error) {
    setChildren(panel, head, callError(policyResult, "The key policy could not be read"));
    guard(edit, perms, "kms:PutKeyPolicy");
    return;
  }
  const text = policyResult.Policy || "";
  let pretty = text;
  try {
    pretty = JSON.stringify(JSON.parse(text), null, 2);
  } catch (err) {
    pretty = text;
  }
  const grants = grantsResult instanceof Error ? grantsResult : grantsResult.Grants || [];
  setChildren(
    panel,
    head,
    h("h3", null, "Who can do what"),
    renderReadablePolicy(text, meta.Arn, grants),
    h("h3", null, "Policy document (JSON)"),
    h("pre", { id: "policy-json", class: "code", tabindex: "0", "aria-label": "Key policy JSON" }, pretty),
  );
  guard(edit, perms, "kms:PutKeyPolicy");
}

// ---- rotation ----

async function renderRotation(panel, meta, perms, signal, redraw) {
  setChildren(panel, h("h2", null, "Automatic key rotation"), h("p", { class: "loading" }, "Loading…"));
  const [status, history] = await Promise.all([
    call("kms", "GetKeyRotationStatus", { KeyId: meta.KeyId }, signal).catch((err) => err),
    call("kms", "ListKeyRotations", { KeyId: meta.KeyId, Limit: 1000 }, signal).catch((err) => err),
  ]);
  if (signal.aborted) return;
  const parts = [h("h2", null, "Automatic key rotation")];
  const rotatable = (meta.KeySpec || meta.CustomerMasterKeySpec) === "SYMMETRIC_DEFAULT" && meta.Origin === "AWS_KMS" && meta.KeyManager !== "AWS";
  if (!rotatable && !(status instanceof Error && status.code === "AccessDeniedException")) {
    const why = meta.KeyManager === "AWS"
      ? "AWS rotates AWS managed keys every year; it cannot be turned off."
      : "Automatic rotation is only for symmetric encryption keys whose key material KMS generated (origin AWS_KMS).";
    parts.push(h("p", { class: "note" }, why));
    if (status && !(status instanceof Error)) parts.push(dl([["Rotation", status.KeyRotationEnabled ? "Enabled" : "Disabled"]]));
  } else if (status instanceof Error) {
    parts.push(callError(status, "The rotation status could not be read"));
  } else {
    const enabled = h("input", { type: "checkbox", id: "rotation-enabled", checked: Boolean(status.KeyRotationEnabled) });
    const period = h("input", { type: "number", id: "rotation-period", min: "90", max: "2560", step: "1", value: String(status.RotationPeriodInDays || 365), inputmode: "numeric" });
    const save = h("button", { type: "submit", id: "save-rotation", class: "btn btn-primary" }, "Save rotation");
    const slot = h("div");
    const syncPeriod = () => {
      period.disabled = !enabled.checked || save.classList.contains("denied");
    };
    enabled.addEventListener("change", syncPeriod);
    const checkboxField = h("div", { class: "field field-check" }, enabled, h("label", { for: "rotation-enabled" }, "Rotate this key's material automatically"));
    const periodField = field("Rotation period (days)", period, "From 90 to 2560 days; AWS's default is 365.");
    const form = h(
      "form",
      { class: "inline-form", novalidate: true },
      checkboxField,
      periodField,
      h("div", { class: "control" }, save),
      slot,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      slot.replaceChildren();
      const days = Number(period.value);
      if (enabled.checked && (!Number.isInteger(days) || days < 90 || days > 2560)) {
        slot.appendChild(h("p", { class: "field-error", role: "alert" }, "Enter a whole number of days from 90 to 2560."));
        period.setAttribute("aria-invalid", "true");
        period.focus();
        return;
      }
      period.removeAttribute("aria-invalid");
      try {
        if (enabled.checked) {
          await busy(save, "Saving…", () => call("kms", "EnableKeyRotation", { KeyId: meta.KeyId, RotationPeriodInDays: days }, signal));
          announce(`Automatic rotation is on, every ${days} days.`);
        } else {
          await busy(save, "Saving…", () => call("kms", "DisableKeyRotation", { KeyId: meta.KeyId }, signal));
          announce("Automatic rotation is off.");
        }
        await redraw("save-rotation");
      } catch (err) {
        showError(slot, err, "The rotation setting was not saved");
      }
    });
    const enableResult = perms.get("kms:EnableKeyRotation");
    const disableResult = perms.get("kms:DisableKeyRotation");
    if (enableResult && enableResult.allowed === false && disableResult && disableResult.allowed === false) {
      // Neither turning it on (or changing the period) nor turning it off is allowed: nothing here can change.
      const first = applyPermissionMany([save, enabled, period], enableResult, save.parentElement);
      if (status.KeyRotationEnabled && first) applyPermissionMany([enabled], disableResult, first);
    } else if (!status.KeyRotationEnabled) {
      guard(save, perms, "kms:EnableKeyRotation"); // turning it on needs EnableKeyRotation
    }
    syncPeriod();
    parts.push(
      dl([
        ["Status", status.KeyRotationEnabled ? "Enabled" : "Disabled"],
        status.KeyRotationEnabled ? ["Period", `${status.RotationPeriodInDays || 365} days`] : null,
        status.NextRotationDate ? ["Next rotation", timeEl(status.NextRotationDate)] : null,
        status.OnDemandRotationStartDate ? ["On-demand rotation started", timeEl(status.OnDemandRotationStartDate)] : null,
      ]),
      form,
    );
  }
  parts.push(h("h2", null, "Rotation history"));
  if (history instanceof Error) {
    parts.push(callError(history, "The rotation history could not be read"));
  } else {
    const rotations = history.Rotations || [];
    if (!rotations.length) parts.push(h("p", { class: "muted" }, "The key material has not been rotated yet."));
    else {
      const table = h(
        "table",
        { class: "data-table", id: "rotation-history" },
        h("thead", null, h("tr", null, h("th", { scope: "col" }, "Date"), h("th", { scope: "col" }, "Type"))),
        h("tbody", null, rotations.slice().sort((a, b) => (b.RotationDate || 0) - (a.RotationDate || 0)).map((r) => h("tr", null, h("td", null, timeEl(r.RotationDate)), h("td", null, r.RotationType === "ON_DEMAND" ? "On demand" : "Automatic")))),
      );
      parts.push(tableWrap(table, "Rotation history"));
    }
  }
  if (rotatable) parts.push(...onDemandRotation(meta, perms, signal, redraw));
  setChildren(panel, ...parts);
}

// RotateKeyOnDemand: new key material now, whatever the automatic schedule says (the console's "Rotate now").
function onDemandRotation(meta, perms, signal, redraw) {
  const slot = h("div");
  const rotate = h("button", { type: "button", id: "rotate-now", class: "btn" }, "Rotate now");
  rotate.addEventListener("click", async () => {
    setChildren(slot);
    try {
      await busy(rotate, "Rotating…", () => call("kms", "RotateKeyOnDemand", { KeyId: meta.KeyId }, signal));
      announce("The key material is being rotated; new encryptions use the new material.");
      await redraw("rotate-now");
    } catch (err) {
      showError(slot, err, "The key was not rotated");
    }
  });
  const row = h("div", { class: "control" }, rotate);
  guard(rotate, perms, "kms:RotateKeyOnDemand");
  return [
    h("h2", null, "On-demand rotation"),
    h("p", { class: "muted" }, "Creates new key material now. Older material stays, so existing ciphertexts still decrypt."),
    row,
    slot,
  ];
}

// ---- tags ----

async function renderTags(panel, meta, perms, signal, redraw) {
  setChildren(panel, h("h2", null, "Tags"), h("p", { class: "loading" }, "Loading…"));
  let tags;
  try {
    const result = await call("kms", "ListResourceTags", { KeyId: meta.KeyId, Limit: 50 }, signal);
    tags = result.Tags || [];
    let marker = result.Truncated ? result.NextMarker : null;
    while (marker) {
      const more = await call("kms", "ListResourceTags", { KeyId: meta.KeyId, Limit: 50, Marker: marker }, signal);
      tags.push(...(more.Tags || []));
      marker = more.Truncated ? more.NextMarker : null;
    }
  } catch (err) {
    if (err && err.name === "AbortError") return;
    tags = err;
  }
  const slot = h("div");
  const parts = [h("h2", null, "Tags")];
  const removeButtons = [];
  if (tags instanceof Error) {
    parts.push(callError(tags, "The tags could not be read"));
  } else if (!tags.length) {
    parts.push(h("p", { class: "muted" }, "This key has no tags."));
  } else {
    const table = h(
      "table",
      { class: "data-table", id: "tags-table" },
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Tag key"), h("th", { scope: "col" }, "Tag value"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
      h(
        "tbody",
        null,
        tags.map((tag) => {
          const remove = h("button", { type: "button", class: "btn btn-small", "aria-label": `Remove tag ${tag.TagKey}`, dataset: { tagKey: tag.TagKey } }, "Remove");
          removeButtons.push(remove);
          remove.addEventListener("click", async () => {
            slot.replaceChildren();
            try {
              await busy(remove, "Removing…", () => call("kms", "UntagResource", { KeyId: meta.KeyId, TagKeys: [tag.TagKey] }, signal));
              announce(`Tag ${tag.TagKey} removed.`);
              await redraw("tag-key");
            } catch (err) {
              showError(slot, err, "UntagResource failed");
            }
          });
          return h("tr", { dataset: { tagKey: tag.TagKey } }, h("td", null, tag.TagKey), h("td", null, tag.TagValue || h("span", { class: "muted" }, "(empty)")), h("td", { class: "cell-actions" }, remove));
        }),
      ),
    );
    const wrap = tableWrap(table, "Tags");
    parts.push(wrap);
  }
  const tagKey = h("input", { type: "text", id: "tag-key", maxlength: "128", autocomplete: "off" });
  const tagValue = h("input", { type: "text", id: "tag-value", maxlength: "256", autocomplete: "off" });
  const add = h("button", { type: "submit", id: "add-tag", class: "btn btn-primary" }, "Add tag");
  const form = h("form", { class: "inline-form row-form", novalidate: true }, field("Tag key", tagKey), field("Tag value", tagValue), h("div", { class: "control" }, add));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    slot.replaceChildren();
    if (!tagKey.value.trim()) {
      slot.appendChild(h("p", { class: "field-error", role: "alert" }, "Enter a tag key."));
      tagKey.focus();
      return;
    }
    try {
      await busy(add, "Adding…", () => call("kms", "TagResource", { KeyId: meta.KeyId, Tags: [{ TagKey: tagKey.value.trim(), TagValue: tagValue.value }] }, signal));
      announce(`Tag ${tagKey.value.trim()} added.`);
      await redraw("tag-key");
    } catch (err) {
      showError(slot, err, "TagResource failed");
    }
  });
  parts.push(h("h3", null, "Add a tag"), form, slot);
  setChildren(panel, ...parts);
  guard(add, perms, "kms:TagResource");
  if (removeButtons.length) applyPermissionMany(removeButtons, perms.get("kms:UntagResource"), panel.querySelector(".table-wrap"));
}

// ---- aliases ----

function renderAliases(panel, meta, aliasObjects, aliasError, perms, signal, redraw) {
  const slot = h("div");
  const parts = [h("h2", null, "Aliases")];
  const deleteButtons = [];
  if (!aliasObjects.length) parts.push(h("p", { class: "muted" }, "This key has no aliases."));
  else {
    const list = h(
      "ul",
      { class: "alias-list", id: "alias-list" },
      aliasObjects
        .slice()
        .sort((a, b) => a.AliasName.localeCompare(b.AliasName))
        .map((alias) => {
          const del = h("button", { type: "button", class: "btn btn-small", "aria-label": `Delete alias ${alias.AliasName}`, dataset: { alias: alias.AliasName } }, "Delete");
          deleteButtons.push(del);
          del.addEventListener("click", async () => {
            slot.replaceChildren();
            try {
              await busy(del, "Deleting…", () => call("kms", "DeleteAlias", { AliasName: alias.AliasName }, signal));
              announce(`Alias ${alias.AliasName} deleted.`);
              await redraw("new-alias");
            } catch (err) {
              showError(slot, err, "DeleteAlias failed");
            }
          });
          return h("li", { dataset: { alias: alias.AliasName } }, h("span", null, h("code", { class: "wrap" }, alias.AliasName), alias.CreationDate ? h("span", { class: "muted small" }, " created ", timeEl(alias.CreationDate)) : null), alias.AliasName.startsWith("alias/aws/") ? null : del);
        }),
    );
    parts.push(list);
  }
  const input = h("input", { type: "text", id: "new-alias", autocomplete: "off", spellcheck: "false", placeholder: "alias/my-key", autocapitalize: "off" });
  const create = h("button", { type: "submit", id: "create-alias", class: "btn btn-primary" }, "Create alias");
  const form = h("form", { class: "inline-form row-form", novalidate: true }, field("New alias", input, "Letters, digits, /, _ and -; the alias/ prefix is added when missing."), h("div", { class: "control" }, create));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    slot.replaceChildren();
    let value = input.value.trim();
    if (!value) {
      slot.appendChild(h("p", { class: "field-error", role: "alert" }, "Enter an alias name."));
      input.focus();
      return;
    }
    if (!value.startsWith("alias/")) value = `alias/${value}`;
    try {
      await busy(create, "Creating…", () => call("kms", "CreateAlias", { AliasName: value, TargetKeyId: meta.KeyId }, signal));
      announce(`Alias ${value} created.`);
      await redraw("new-alias");
    } catch (err) {
      showError(slot, err, "CreateAlias failed");
    }
  });
  parts.push(h("h3", null, "Add an alias"), form, slot);
  setChildren(panel, ...parts);
  guard(create, perms, "kms:CreateAlias");
  if (deleteButtons.length) applyPermissionMany(deleteButtons, perms.get("kms:DeleteAlias"), panel.querySelector(".alias-list"));
}

// ---- grants ----

async function renderGrants(panel, meta, signal) {
  setChildren(panel, h("h2", null, "Grants"), h("p", { class: "loading" }, "Loading…"));
  let grants;
  try {
    grants = [];
    let marker = null;
    do {
      const page = await call("kms", "ListGrants", marker ? { KeyId: meta.KeyId, Limit: 100, Marker: marker } : { KeyId: meta.KeyId, Limit: 100 }, signal);
      grants.push(...(page.Grants || []));
      marker = page.Truncated ? page.NextMarker : null;
    } while (marker);
  } catch (err) {
    if (err && err.name === "AbortError") return;
    setChildren(panel, h("h2", null, "Grants"), callError(err, "The grants could not be read"));
    return;
  }
  if (!grants.length) {
    setChildren(panel, h("h2", null, "Grants"), h("p", { class: "muted" }, "This key has no grants."));
    return;
  }
  const constraints = (c) => {
    if (!c) return "—";
    const parts = [];
    if (c.EncryptionContextEquals) parts.push(`context equals ${JSON.stringify(c.EncryptionContextEquals)}`);
    if (c.EncryptionContextSubset) parts.push(`context includes ${JSON.stringify(c.EncryptionContextSubset)}`);
    return parts.join("; ") || "—";
  };
  const table = h(
    "table",
    { class: "data-table", id: "grants-table" },
    h("thead", null, h("tr", null, ["Name", "Grant ID", "Grantee", "Retiring principal", "Operations", "Constraints", "Created"].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      null,
      grants.map((g) =>
        h(
          "tr",
          null,
          h("td", null, g.Name || h("span", { class: "muted" }, "—")),
          h("td", null, h("code", { class: "mono small" }, `${String(g.GrantId).slice(0, 12)}…`)),
          h("td", null, h("code", { class: "wrap" }, g.GranteePrincipal || "")),
          h("td", null, g.RetiringPrincipal ? h("code", { class: "wrap" }, g.RetiringPrincipal) : "—"),
          h("td", null, (g.Operations || []).join(", ")),
          h("td", null, constraints(g.Constraints)),
          h("td", null, timeEl(g.CreationDate)),
        ),
      ),
    ),
  );
  setChildren(panel, h("h2", null, "Grants"), tableWrap(table, "Grants"));
}

// ---- public key ----

function pem(base64) {
  const lines = String(base64).match(/.{1,64}/g) || [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join("\n")}\n-----END PUBLIC KEY-----\n`;
}

async function renderPublicKey(panel, meta, signal) {
  setChildren(panel, h("h2", null, "Public key"), h("p", { class: "loading" }, "Loading…"));
  let result;
  try {
    result = await call("kms", "GetPublicKey", { KeyId: meta.KeyId }, signal);
  } catch (err) {
    if (err && err.name === "AbortError") return;
    setChildren(panel, h("h2", null, "Public key"), callError(err, "The public key could not be read"));
    return;
  }
  const text = pem(result.PublicKey || "");
  const copy = h("button", { type: "button", class: "btn", id: "copy-public-key" }, "Copy");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      announce("The public key is copied.");
    } catch (err) {
      announce("Copying is not allowed here; select the text instead.");
    }
  });
  const download = h("a", { class: "btn", download: `${meta.KeyId}.pem`, href: URL.createObjectURL(new Blob([text], { type: "application/x-pem-file" })) }, "Download PEM");
  const algorithms = [...(result.EncryptionAlgorithms || []), ...(result.SigningAlgorithms || []), ...(result.KeyAgreementAlgorithms || [])];
  setChildren(
    panel,
    h("div", { class: "section-head" }, h("h2", null, "Public key"), h("div", { class: "button-row" }, copy, download)),
    dl([
      ["Key spec", result.KeySpec],
      ["Key usage", result.KeyUsage],
      ["Algorithms", algorithms.join(", ")],
    ]),
    h("pre", { id: "public-key-pem", class: "code", tabindex: "0", "aria-label": "Public key (PEM)" }, text),
  );
}

// ---- regionality ----

function renderRegionality(panel, meta) {
  const config = meta.MultiRegionConfiguration || {};
  const primary = config.PrimaryKey || {};
  const replicas = config.ReplicaKeys || [];
  const rows = [];
  if (primary.Arn) rows.push({ role: "Primary", ...primary });
  for (const replica of replicas) rows.push({ role: "Replica", ...replica });
  const table = h(
    "table",
    { class: "data-table", id: "regions-table" },
    h("thead", null, h("tr", null, h("th", { scope: "col" }, "Region"), h("th", { scope: "col" }, "Role"), h("th", { scope: "col" }, "ARN"))),
    h(
      "tbody",
      null,
      rows.map((r) => h("tr", { class: r.Arn === meta.Arn ? "current-row" : null }, h("td", null, r.Region, r.Arn === meta.Arn ? h("span", { class: "muted" }, " (this key)") : null), h("td", null, r.role), h("td", null, h("code", { class: "wrap" }, r.Arn)))),
    ),
  );
  setChildren(
    panel,
    h("h2", null, "Regionality"),
    dl([
      ["Regionality", "Multi-Region"],
      ["This key is", config.MultiRegionKeyType === "REPLICA" ? "a replica key" : "the primary key"],
      ["Primary Region", primary.Region],
    ]),
    rows.length ? tableWrap(table, "Related multi-Region keys") : h("p", { class: "muted" }, "No related keys."),
  );
}

// ---- events ----

const SHOWN_EVENTS = 20;
const EVENT_PAGES = 5; // at most 5 pages of 50: the console's own reads can bury a key's changes quickly

function parseRecord(event) {
  try {
    return event.CloudTrailEvent ? JSON.parse(event.CloudTrailEvent) : {};
  } catch (err) {
    return {};
  }
}

function isReadOnly(event, record) {
  const flag = event.ReadOnly !== undefined ? event.ReadOnly : record.readOnly;
  return flag === true || flag === "true";
}

/**
 * The key's recent events from the audit trail (cloudtrail LookupEvents, ResourceName = the key's ARN).
 * By default the 20 latest changes and refusals show, because every page view of the console itself
 * adds read-only calls (DescribeKey, ListAliases...) that would push the changes out of a plain "last 20";
 * a checkbox shows the read-only calls too.
 */
async function renderEvents(panel, meta, signal, includeReads = false) {
  setChildren(panel, h("h2", null, "Recent events"), h("p", { class: "loading" }, "Loading…"));
  const matching = [];
  let scanned = 0;
  let more = false;
  try {
    let token = null;
    for (let page = 0; page < EVENT_PAGES; page += 1) {
      const params = { LookupAttributes: [{ AttributeKey: "ResourceName", AttributeValue: meta.Arn }], MaxResults: includeReads ? SHOWN_EVENTS : 50 };
      if (token) params.NextToken = token;
      const result = await call("cloudtrail", "LookupEvents", params, signal);
      for (const event of result.Events || []) {
        scanned += 1;
        const record = parseRecord(event);
        if (includeReads || !isReadOnly(event, record) || record.errorCode) matching.push({ event, record });
      }
      token = result.NextToken || null;
      if (matching.length >= SHOWN_EVENTS || !token || includeReads) break;
    }
    more = Boolean(token);
  } catch (err) {
    if (err && err.name === "AbortError") return;
    setChildren(panel, h("h2", null, "Recent events"), callError(err, "The events could not be read"));
    return;
  }
  const shown = matching.slice(0, SHOWN_EVENTS);
  const toggle = h("input", { type: "checkbox", id: "events-include-reads", checked: includeReads });
  toggle.addEventListener("change", async () => {
    await renderEvents(panel, meta, signal, toggle.checked);
    const again = panel.querySelector("#events-include-reads");
    if (again) again.focus();
  });
  const table = h(
    "table",
    { class: "data-table", id: "key-events" },
    h("caption", { class: "visually-hidden" }, includeReads ? "The key's latest events from the audit trail" : "The key's latest changes and refused calls from the audit trail"),
    h("thead", null, h("tr", null, ["Time", "Event name", "User", "Error code"].map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      null,
      shown.length
        ? shown.map(({ event: e, record }) => {
            const user = e.Username || (record.userIdentity && (record.userIdentity.arn || record.userIdentity.principalId)) || "—";
            const code = record.errorCode || "";
            return h(
              "tr",
              { class: code ? "row-error" : null, dataset: { eventName: e.EventName || record.eventName || "" } },
              h("td", null, timeEl(e.EventTime, true)),
              h("td", null, e.EventName || record.eventName || "", isReadOnly(e, record) ? h("span", { class: "muted small" }, " (read)") : null),
              h("td", null, h("span", { class: "wrap" }, user)),
              h("td", null, code ? h("span", { class: "badge badge-danger", title: record.errorMessage || "" }, code) : h("span", { class: "muted" }, "—")),
            );
          })
        : h("tr", null, h("td", { colspan: "4", class: "empty" }, includeReads ? "No events recorded for this key yet." : "No changes or refused calls recorded for this key yet.")),
    ),
  );
  const scope = includeReads
    ? `The ${SHOWN_EVENTS} latest calls on this key, from kmsd's audit trail.`
    : `The latest changes and refused calls on this key (up to ${SHOWN_EVENTS}) among its last ${scanned} events${more ? "; older ones were not searched" : ""}, from kmsd's audit trail.`;
  setChildren(
    panel,
    h("h2", null, "Recent events"),
    h("p", { class: "muted" }, scope),
    h("div", { class: "field field-check" }, toggle, h("label", { for: "events-include-reads" }, "Include read-only calls (DescribeKey, List…, Get…)")),
    tableWrap(table, "Recent events"),
  );
}

/** Which tab the key page opens on next (the policy editor returns to "Key policy"). */
export function rememberKeyTab(keyId, tab) {
  lastTab = { keyId, tab };
}

/** Forgets the remembered tab (sign-out). */
export function forgetKeyPage() {
  lastTab = { keyId: null, tab: "configuration" };
}
