// The create-key wizard (#/create), in the AWS console's five steps: key type, labels (alias, description,
// tags), key administrators, key usage (users and other accounts), and review with the console's default
// key policy from `console-policy`. Finish calls CreateKey with that policy, then CreateAlias.

import { call, consolePolicy, iamListAll } from "./api.js";
import { checkActions, guard } from "./permissions.js";
import { announce, busy, callError, field, h, reasonText, setChildren, showError, uid } from "./ui.js";

const KEY_TYPES = {
  symmetric: {
    label: "Symmetric",
    hint: "One key that encrypts and decrypts. The right choice for most uses, and for AWS services.",
    usages: { ENCRYPT_DECRYPT: ["SYMMETRIC_DEFAULT"] },
  },
  asymmetric: {
    label: "Asymmetric",
    hint: "A public and private key pair, for public-key encryption, signing or key agreement.",
    usages: {
      ENCRYPT_DECRYPT: ["RSA_2048", "RSA_3072", "RSA_4096"],
      SIGN_VERIFY: ["RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519", "ML_DSA_44", "ML_DSA_65", "ML_DSA_87"],
      KEY_AGREEMENT: ["ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521"],
      ENCAPSULATE_DECAPSULATE: ["ML_KEM_768", "ML_KEM_1024"],
    },
  },
  hmac: {
    label: "HMAC",
    hint: "A symmetric key that generates and verifies message authentication codes.",
    usages: { GENERATE_VERIFY_MAC: ["HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512"] },
  },
};

const USAGE_LABELS = {
  ENCRYPT_DECRYPT: "Encrypt and decrypt",
  SIGN_VERIFY: "Sign and verify",
  KEY_AGREEMENT: "Key agreement",
  ENCAPSULATE_DECAPSULATE: "Key encapsulation",
  GENERATE_VERIFY_MAC: "Generate and verify MAC",
};

const STEPS = ["Key type", "Labels", "Administrators", "Usage", "Review"];

/** Users and roles of the account, read once per wizard; each list or the error that kept it empty. */
function loadPrincipals(signal) {
  const users = iamListAll("ListUsers", "Users", signal).then(
    (list) => ({ list: list.map((u) => ({ arn: u.Arn, name: u.UserName, kind: "User", path: u.Path })) }),
    (error) => ({ list: [], error }),
  );
  const roles = iamListAll("ListRoles", "Roles", signal).then(
    (list) => ({ list: list.map((r) => ({ arn: r.Arn, name: r.RoleName, kind: "Role", path: r.Path })) }),
    (error) => ({ list: [], error }),
  );
  return Promise.all([users, roles]);
}

/** A picker of users and roles: checkboxes with values the ARNs, a filter, a way to add an ARN by hand. */
function picker(prefix, legend, principalsPromise) {
  const list = h("div", { id: `${prefix}-list`, class: "picker-list", role: "group", "aria-label": legend });
  const reason = h("div", { class: "empty-reason-slot" });
  const filter = h("input", { type: "search", id: `${prefix}-filter`, autocomplete: "off", placeholder: "Name or ARN" });
  const manual = h("input", { type: "text", id: `${prefix}-add-arn-input`, autocomplete: "off", spellcheck: "false", placeholder: "arn:aws:iam::111122223333:user/name" });
  const manualButton = h("button", { type: "button", class: "btn", id: `${prefix}-add-arn` }, "Add");
  const manualError = h("div");
  const count = h("p", { class: "muted small", "aria-live": "polite" });
  const seen = new Set();
  const filterField = field(`Filter ${legend.toLowerCase()}`, filter);

  const updateCount = () => {
    const checked = list.querySelectorAll("input[type=checkbox]:checked").length;
    count.textContent = `${checked} selected`;
  };

  const addEntry = (p, checked) => {
    if (seen.has(p.arn)) {
      const existing = [...list.querySelectorAll("input[type=checkbox]")].find((i) => i.value === p.arn);
      if (existing && checked) existing.checked = true;
      return;
    }
    seen.add(p.arn);
    const id = uid(prefix);
    const box = h("input", { type: "checkbox", id, value: p.arn, checked: Boolean(checked) });
    box.addEventListener("change", updateCount);
    list.appendChild(
      h(
        "div",
        { class: "picker-item", dataset: { search: `${p.name} ${p.arn}`.toLowerCase() } },
        box,
        h("label", { for: id }, h("span", { class: "picker-name" }, p.name), h("span", { class: "badge badge-neutral" }, p.kind), h("code", { class: "picker-arn wrap" }, p.arn)),
      ),
    );
  };

  filter.addEventListener("input", () => {
    const needle = filter.value.trim().toLowerCase();
    for (const item of list.querySelectorAll(".picker-item")) item.hidden = Boolean(needle) && !item.dataset.search.includes(needle);
  });
  manualButton.addEventListener("click", () => {
    manualError.replaceChildren();
    const arn = manual.value.trim();
    const m = arn.match(/^arn:aws[a-z-]*:(iam|sts)::(\d{12}):((user|role|assumed-role)\/.+|root)$/);
    if (!m) {
      manualError.appendChild(h("p", { class: "field-error", role: "alert" }, "Enter the ARN of an IAM user or role, such as arn:aws:iam::111122223333:role/Admin."));
      manual.focus();
      return;
    }
    const name = m[3] === "root" ? `account ${m[2]}` : m[3].split("/").slice(-1)[0];
    addEntry({ arn, name, kind: m[3] === "root" ? "Account" : m[4] === "user" ? "User" : "Role" }, true);
    list.querySelector(".picker-placeholder")?.remove();
    manual.value = "";
    updateCount();
    announce(`${name} added.`);
  });
  manual.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      manualButton.click();
    }
  });

  list.appendChild(h("p", { class: "muted picker-placeholder" }, "Loading users and roles…"));
  principalsPromise.then(([users, roles]) => {
    list.querySelector(".picker-placeholder")?.remove();
    const all = [...users.list, ...roles.list].sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
    for (const p of all) addEntry(p, false);
    const errors = [users.error && ["users", "iam:ListUsers", users.error], roles.error && ["roles", "iam:ListRoles", roles.error]].filter(Boolean);
    if (errors.length) {
      const what = errors.map(([w]) => w).join(" and ");
      const words = all.length
        ? `The account's ${what} are missing from this list: you may not list them.`
        : `This list is empty because you may not list the account's ${what}.`;
      setChildren(
        reason,
        h(
          "div",
          { id: `${prefix}-empty-reason`, class: "empty-reason" },
          h("p", null, h("strong", null, words), ` The console reads them with ${errors.map(([, action]) => action).join(" and ")}, which ${errors.length > 1 ? "were" : "was"} refused. You can still add a principal by its ARN below.`),
          errors.map(([, , error]) => callError(error, `${error.operation || "The list call"} was refused`)),
        ),
      );
    } else if (!all.length) {
      list.appendChild(h("p", { class: "muted picker-placeholder" }, "This account has no users or roles."));
    }
    filterField.hidden = all.length < 2;
    updateCount();
  });
  updateCount();

  const element = h(
    "div",
    { class: "picker" },
    reason,
    filterField,
    count,
    list,
    h("div", { class: "manual-add" }, field("Add by ARN", manual), manualButton),
    manualError,
  );
  return { element, selected: () => [...list.querySelectorAll("input[type=checkbox]:checked")].map((i) => i.value) };
}

export async function renderWizard(view, ctx) {
  const { signal } = ctx;
  let step = 0;
  const principals = loadPrincipals(signal);
  const perms = checkActions(["kms:CreateKey"], "*", signal);

  // ---- step 1: key type ----
  const typeRadios = Object.entries(KEY_TYPES).map(([value, type]) => {
    const id = `key-type-${value}`;
    const hintId = `${id}-hint`;
    return h(
      "div",
      { class: "radio-card" },
      h("input", { type: "radio", name: "key-type", id, value, checked: value === "symmetric", "aria-describedby": hintId }),
      h("label", { for: id }, h("span", { class: "radio-title" }, type.label), h("span", { class: "radio-hint", id: hintId }, type.hint)),
    );
  });
  const usage = h("select", { id: "key-usage" });
  const spec = h("select", { id: "key-spec" });
  const origin = h("select", { id: "origin" }, h("option", { value: "AWS_KMS" }, "KMS (kmsd generates the key material)"), h("option", { value: "EXTERNAL" }, "External (you import the key material)"));
  const multiRegion = h("input", { type: "checkbox", id: "multi-region" });
  const typeValue = () => (view.querySelector("input[name=key-type]:checked") || {}).value || "symmetric";
  const fillUsage = () => {
    const usages = Object.keys(KEY_TYPES[typeValue()].usages);
    const previous = usage.value;
    setChildren(usage, usages.map((u) => h("option", { value: u, selected: u === previous }, USAGE_LABELS[u] || u)));
    fillSpec();
  };
  const fillSpec = () => {
    const specs = KEY_TYPES[typeValue()].usages[usage.value] || [];
    const previous = spec.value;
    setChildren(spec, specs.map((s) => h("option", { value: s, selected: s === previous }, s)));
  };
  usage.addEventListener("change", fillSpec);
  const step1 = h(
    "div",
    null,
    h("fieldset", { class: "radio-group" }, h("legend", null, "Key type"), typeRadios),
    h("div", { class: "grid-2" }, field("Key usage", usage), field("Key spec", spec, "The kind of key material and its size.")),
    h(
      "details",
      { class: "advanced" },
      h("summary", null, "Advanced options"),
      field("Key material origin", origin),
      h("div", { class: "field field-check" }, multiRegion, h("label", { for: "multi-region" }, "Multi-Region key"), h("p", { class: "hint" }, "A primary key that can be replicated to other Regions. This cannot be changed later.")),
    ),
  );
  step1.addEventListener("change", (event) => {
    if (event.target.name === "key-type") fillUsage();
  });
  fillUsage();

  // ---- step 2: labels ----
  const alias = h("input", { type: "text", id: "wizard-alias", autocomplete: "off", spellcheck: "false", autocapitalize: "off", placeholder: "my-key" });
  const description = h("textarea", { id: "wizard-description", rows: "3", maxlength: "8192" });
  const tagKey = h("input", { type: "text", id: "wizard-tag-key", autocomplete: "off", maxlength: "128" });
  const tagValue = h("input", { type: "text", id: "wizard-tag-value", autocomplete: "off", maxlength: "256" });
  const addTag = h("button", { type: "button", id: "wizard-add-tag", class: "btn" }, "Add tag");
  const tagList = h("ul", { id: "wizard-tags", class: "chip-list" });
  const tagError = h("div");
  const aliasError = h("div");
  const tags = new Map();
  const renderTags = () => {
    setChildren(
      tagList,
      [...tags.entries()].map(([k, v]) => {
        const remove = h("button", { type: "button", class: "chip-remove", "aria-label": `Remove tag ${k}` }, "×");
        remove.addEventListener("click", () => {
          tags.delete(k);
          renderTags();
          tagKey.focus();
        });
        return h("li", { class: "chip", dataset: { tagKey: k } }, h("span", null, `${k} = ${v || "(empty)"}`), remove);
      }),
    );
  };
  addTag.addEventListener("click", () => {
    tagError.replaceChildren();
    const k = tagKey.value.trim();
    if (!k) {
      tagError.appendChild(h("p", { class: "field-error", role: "alert" }, "Enter a tag key."));
      tagKey.focus();
      return;
    }
    tags.set(k, tagValue.value);
    tagKey.value = "";
    tagValue.value = "";
    renderTags();
    announce(`Tag ${k} added.`);
    tagKey.focus();
  });
  for (const input of [tagKey, tagValue]) {
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        addTag.click();
      }
    });
  }
  const step2 = h(
    "div",
    null,
    field("Alias", alias, "A friendly name such as my-key; alias/ is added in front. Letters, digits, /, _ and -."),
    aliasError,
    field("Description (optional)", description),
    h("fieldset", { class: "plain" }, h("legend", null, "Tags (optional)"), h("div", { class: "row-form" }, field("Tag key", tagKey), field("Tag value", tagValue), addTag), tagError, tagList),
  );

  // ---- step 3: administrators ----
  const admins = picker("admins", "Key administrators", principals);
  const adminsCanDelete = h("input", { type: "checkbox", id: "admins-can-delete", checked: true });
  const step3 = h(
    "div",
    null,
    h("p", { class: "muted" }, "Key administrators manage the key (its policy, state, aliases and tags) but cannot use it in cryptographic operations unless you also make them key users."),
    admins.element,
    h("div", { class: "field field-check" }, adminsCanDelete, h("label", { for: "admins-can-delete" }, "Allow key administrators to delete this key")),
  );

  // ---- step 4: usage ----
  const users = picker("users", "Key users", principals);
  const otherAccount = h("input", { type: "text", id: "other-account", inputmode: "numeric", autocomplete: "off", maxlength: "12", placeholder: "111122223333" });
  const addAccount = h("button", { type: "button", id: "add-other-account", class: "btn" }, "Add account");
  const accountList = h("ul", { id: "other-accounts", class: "chip-list" });
  const accountError = h("div");
  const accounts = [];
  const renderAccounts = () => {
    setChildren(
      accountList,
      accounts.map((acct) => {
        const remove = h("button", { type: "button", class: "chip-remove", "aria-label": `Remove account ${acct}` }, "×");
        remove.addEventListener("click", () => {
          accounts.splice(accounts.indexOf(acct), 1);
          renderAccounts();
          otherAccount.focus();
        });
        return h("li", { class: "chip", dataset: { account: acct } }, h("span", null, acct), remove);
      }),
    );
  };
  addAccount.addEventListener("click", () => {
    accountError.replaceChildren();
    const acct = otherAccount.value.trim();
    if (!/^\d{12}$/.test(acct)) {
      accountError.appendChild(h("p", { class: "field-error", role: "alert" }, "An AWS account id is 12 digits."));
      otherAccount.setAttribute("aria-invalid", "true");
      otherAccount.focus();
      return;
    }
    otherAccount.removeAttribute("aria-invalid");
    if (!accounts.includes(acct)) accounts.push(acct);
    otherAccount.value = "";
    renderAccounts();
    announce(`Account ${acct} added.`);
  });
  otherAccount.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      addAccount.click();
    }
  });
  const step4 = h(
    "div",
    null,
    h("p", { class: "muted" }, "Key users can use the key in cryptographic operations, and attach it to AWS resources through grants."),
    users.element,
    h(
      "fieldset",
      { class: "plain" },
      h("legend", null, "Other AWS accounts"),
      h("p", { class: "muted small" }, "Let principals of other accounts use the key; each account's administrators must also allow them in IAM."),
      h("div", { class: "row-form" }, field("AWS account ID", otherAccount), addAccount),
      accountError,
      accountList,
    ),
  );

  // ---- step 5: review ----
  const reviewSummary = h("div");
  const preview = h("pre", { id: "policy-preview", class: "code", tabindex: "0", "aria-label": "Key policy preview" }, "");
  const reviewError = h("div");
  const step5 = h("div", null, reviewSummary, h("h3", null, "Key policy"), h("p", { class: "muted small" }, "The policy the console writes for these choices."), reviewError, preview);

  // ---- frame ----
  const stepBodies = [step1, step2, step3, step4, step5];
  const indicator = h(
    "ol",
    { class: "steps" },
    STEPS.map((label, i) => h("li", { class: "step-item", dataset: { step: String(i + 1) } }, h("span", { class: "step-number", "aria-hidden": "true" }, String(i + 1)), h("span", null, label))),
  );
  const stepHeading = h("h2", { class: "step-heading", tabindex: "-1" });
  const back = h("button", { type: "button", id: "wizard-back", class: "btn" }, "Back");
  const next = h("button", { type: "button", id: "wizard-next", class: "btn btn-primary" }, "Next");
  const create = h("button", { type: "button", id: "create-button", class: "btn btn-primary", hidden: true }, "Create key");
  const cancel = h("a", { href: "#/keys", class: "btn btn-quiet" }, "Cancel");
  const createWrap = h("div", { class: "control" }, create);
  const finishError = h("div");
  const sections = stepBodies.map((body, i) => h("section", { class: "wizard-step", dataset: { step: String(i + 1) }, hidden: i !== 0 }, body));
  setChildren(
    view,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("ol", null, h("li", null, h("a", { href: "#/keys" }, "Customer managed keys")), h("li", { "aria-current": "page" }, "Create key"))),
    h("div", { class: "page-head" }, h("h1", null, "Create key")),
    h("div", { class: "wizard" }, h("nav", { class: "wizard-nav", "aria-label": "Steps" }, indicator), h("form", { class: "card wizard-card", novalidate: true, id: "wizard-form" }, stepHeading, sections, finishError, h("div", { class: "form-actions wizard-actions" }, cancel, h("div", { class: "button-row" }, back, next, createWrap)))),
  );
  view.querySelector("#wizard-form").addEventListener("submit", (event) => event.preventDefault());
  perms.then((p) => {
    guard(create, p, "kms:CreateKey");
    const result = p.get("kms:CreateKey");
    if (result && result.allowed === false) {
      // Said up front too, so nobody fills in five steps to find the last button disabled.
      view.querySelector(".wizard-card").prepend(h("p", { class: "reason", id: "create-denied-note" }, `${reasonText(result)} You can look through the steps, but not create the key.`));
    }
  }, () => {});

  function choices() {
    const aliasName = alias.value.trim().replace(/^alias\//, "");
    return {
      keySpec: spec.value,
      keyUsage: usage.value,
      multiRegion: multiRegion.checked,
      origin: origin.value,
      alias: aliasName ? `alias/${aliasName}` : "",
      description: description.value.trim(),
      tags: [...tags.entries()].map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
      administrators: admins.selected(),
      users: users.selected(),
      otherAccounts: accounts.slice(),
      administratorsMayDelete: adminsCanDelete.checked,
    };
  }

  function validate(index) {
    if (index === 1) {
      aliasError.replaceChildren();
      alias.removeAttribute("aria-invalid");
      const name = alias.value.trim().replace(/^alias\//, "");
      let problem = null;
      if (name && !/^[a-zA-Z0-9/_-]+$/.test(name)) problem = "An alias may only contain letters, digits, /, _ and -.";
      else if (name.startsWith("aws/")) problem = "Aliases starting with aws/ are reserved for AWS managed keys.";
      else if (name.length > 250) problem = "An alias is at most 256 characters with its alias/ prefix.";
      if (problem) {
        aliasError.appendChild(h("p", { class: "field-error", role: "alert" }, problem));
        alias.setAttribute("aria-invalid", "true");
        alias.focus();
        return false;
      }
    }
    return true;
  }

  let policyText = null;
  async function loadPreview() {
    policyText = null;
    preview.textContent = "Writing the policy…";
    reviewError.replaceChildren();
    const c = choices();
    renderReview(c);
    try {
      const text = await consolePolicy(
        {
          keySpec: c.keySpec,
          keyUsage: c.keyUsage,
          multiRegion: c.multiRegion,
          origin: c.origin,
          administrators: c.administrators,
          users: c.users,
          otherAccounts: c.otherAccounts,
          administratorsMayDelete: c.administratorsMayDelete,
        },
        signal,
      );
      policyText = text;
      preview.textContent = text;
    } catch (err) {
      if (err && err.name === "AbortError") return;
      preview.textContent = "";
      showError(reviewError, err, "The key policy could not be written");
    }
  }

  function renderReview(c) {
    const list = (items) => (items.length ? h("ul", { class: "plain-list" }, items.map((i) => h("li", null, h("code", { class: "wrap" }, i)))) : h("span", { class: "muted" }, "None"));
    setChildren(
      reviewSummary,
      h(
        "dl",
        { class: "kv" },
        h("dt", null, "Key type"),
        h("dd", null, KEY_TYPES[typeValue()].label),
        h("dt", null, "Key spec"),
        h("dd", null, c.keySpec),
        h("dt", null, "Key usage"),
        h("dd", null, USAGE_LABELS[c.keyUsage] || c.keyUsage),
        h("dt", null, "Origin"),
        h("dd", null, c.origin),
        h("dt", null, "Regionality"),
        h("dd", null, c.multiRegion ? "Multi-Region" : "Single-Region"),
        h("dt", null, "Alias"),
        h("dd", null, c.alias || h("span", { class: "muted" }, "None")),
        h("dt", null, "Description"),
        h("dd", null, c.description || h("span", { class: "muted" }, "None")),
        h("dt", null, "Tags"),
        h("dd", null, c.tags.length ? c.tags.map((t) => `${t.TagKey}=${t.TagValue}`).join(", ") : h("span", { class: "muted" }, "None")),
        h("dt", null, "Administrators"),
        h("dd", null, list(c.administrators)),
        h("dt", null, "Administrators may delete"),
        h("dd", null, c.administratorsMayDelete ? "Yes" : "No"),
        h("dt", null, "Key users"),
        h("dd", null, list(c.users)),
        h("dt", null, "Other accounts"),
        h("dd", null, list(c.otherAccounts)),
      ),
    );
  }

  function show(index, focus) {
    step = index;
    sections.forEach((s, i) => {
      s.hidden = i !== index;
    });
    [...indicator.children].forEach((li, i) => {
      li.classList.toggle("done", i < index);
      li.classList.toggle("current", i === index);
      if (i === index) li.setAttribute("aria-current", "step");
      else li.removeAttribute("aria-current");
    });
    stepHeading.textContent = `Step ${index + 1} of ${STEPS.length}: ${STEPS[index]}`;
    back.disabled = index === 0;
    const last = index === STEPS.length - 1;
    next.hidden = last;
    create.hidden = !last;
    createWrap.hidden = !last;
    if (last) loadPreview();
    if (focus) stepHeading.focus();
  }

  back.addEventListener("click", () => {
    if (step > 0) show(step - 1, true);
  });
  next.addEventListener("click", () => {
    if (!validate(step)) return;
    if (step < STEPS.length - 1) show(step + 1, true);
  });
  create.addEventListener("click", async () => {
    finishError.replaceChildren();
    if (!policyText) {
      finishError.appendChild(h("p", { class: "field-error", role: "alert" }, "The key policy is not ready yet."));
      return;
    }
    const c = choices();
    const params = { Policy: policyText, KeySpec: c.keySpec, KeyUsage: c.keyUsage, Origin: c.origin, MultiRegion: c.multiRegion };
    if (c.description) params.Description = c.description;
    if (c.tags.length) params.Tags = c.tags;
    let keyId;
    try {
      await busy(create, "Creating…", async () => {
        const result = await call("kms", "CreateKey", params, signal);
        keyId = result.KeyMetadata.KeyId;
        if (c.alias) await call("kms", "CreateAlias", { AliasName: c.alias, TargetKeyId: keyId }, signal);
      });
    } catch (err) {
      if (err && err.name === "AbortError") return;
      if (keyId) {
        // The key exists; only the alias failed. Say so and offer the key.
        setChildren(finishError, callError(err, `The key ${keyId} was created, but its alias was not`), h("p", null, h("a", { href: `#/keys/${encodeURIComponent(keyId)}` }, "Open the new key")));
      } else {
        setChildren(finishError, callError(err, "CreateKey failed"));
      }
      finishError.querySelector(".call-error")?.scrollIntoView({ block: "nearest" });
      return;
    }
    announce("The key is created.");
    ctx.navigate(`#/keys/${encodeURIComponent(keyId)}`);
  });

  show(0, false);
}
