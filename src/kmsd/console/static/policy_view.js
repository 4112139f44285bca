// A key policy as people read it: who administers the key, who uses it, which other accounts are trusted,
// who may attach it to AWS resources, and the grants on the key, beside the policy's JSON.

import { arnAccount, h, timeEl } from "./ui.js";

const ADMIN_ACTIONS = ["kms:Create*", "kms:Put*", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:Update*", "kms:Enable*", "kms:Disable*", "kms:Delete*"];
const USE_ACTIONS = [
  "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:GenerateDataKey", "kms:Sign", "kms:Verify",
  "kms:GenerateMac", "kms:VerifyMac", "kms:DeriveSharedSecret", "kms:Encapsulate", "kms:Decapsulate",
];

function asList(value) {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** Every principal of a statement as {type, value}. */
function principalsOf(statement) {
  const principal = statement.Principal;
  if (principal === "*") return [{ type: "AWS", value: "*" }];
  if (!principal || typeof principal !== "object") return [];
  const out = [];
  for (const [type, values] of Object.entries(principal)) for (const value of asList(values)) out.push({ type, value: String(value) });
  return out;
}

/** A principal in words: "user alice", "role Admin", "account 111122223333 (its IAM policies decide)", "anyone". */
export function principalLabel(p, keyAccount) {
  const value = p.value;
  if (p.type === "Service") return `AWS service ${value}`;
  if (p.type === "Federated") return `federated ${value}`;
  if (value === "*") return "anyone (any principal)";
  if (/^\d{12}$/.test(value)) return `account ${value}${value === keyAccount ? " (this account)" : ""}`;
  const m = value.match(/^arn:[^:]+:(iam|sts)::(\d{12}|\*):(.+)$/);
  if (!m) return value;
  const [, , account, rest] = m;
  if (rest === "root") return `account ${account}${account === keyAccount ? " (this account)" : ""}`;
  const [kind, ...path] = rest.split("/");
  const name = path[path.length - 1] || rest;
  const where = account === keyAccount ? "" : ` in account ${account}`;
  if (kind === "user") return `user ${name}${where}`;
  if (kind === "role") return `role ${name}${where}`;
  if (kind === "assumed-role") return `assumed role ${path[0]}${path[1] ? ` (session ${path[1]})` : ""}${where}`;
  return `${kind} ${name}${where}`;
}

function hasAny(actions, wanted) {
  return actions.some((a) => a === "kms:*" || a === "*" || wanted.includes(a));
}

function classify(statement, keyAccount) {
  const actions = asList(statement.Action);
  const sid = String(statement.Sid || "");
  const principals = principalsOf(statement);
  if (statement.Effect !== "Allow" || statement.NotAction || statement.NotPrincipal) return "other";
  const condition = JSON.stringify(statement.Condition || {});
  if (/GrantIsForAWSResource/i.test(condition) || /persistent resources/i.test(sid)) return "grants";
  const rootOfAccount = principals.length && principals.every((p) => p.value === `arn:aws:iam::${keyAccount}:root` || p.value === keyAccount);
  if (rootOfAccount && (actions.includes("kms:*") || actions.includes("*"))) return "account";
  if (/administrator/i.test(sid) || (!actions.includes("kms:*") && hasAny(actions, ADMIN_ACTIONS))) return "admins";
  if (/use of the key|key users/i.test(sid) || hasAny(actions, USE_ACTIONS)) return "users";
  return "other";
}

function actionsText(statement) {
  if (statement.NotAction) return `everything except ${asList(statement.NotAction).join(", ")}`;
  return asList(statement.Action).join(", ");
}

function conditionText(statement) {
  if (!statement.Condition) return null;
  const parts = [];
  for (const [op, body] of Object.entries(statement.Condition)) {
    for (const [key, value] of Object.entries(body || {})) parts.push(`${op} ${key} = ${asList(value).join(" | ")}`);
  }
  return parts.length ? `when ${parts.join("; and ")}` : null;
}

function principalList(statements, keyAccount, empty = "Nobody is named.") {
  const seen = new Map();
  for (const s of statements) for (const p of principalsOf(s)) seen.set(`${p.type}:${p.value}`, p);
  if (!seen.size) return h("p", { class: "muted" }, empty);
  return h(
    "ul",
    { class: "principals" },
    [...seen.values()].map((p) => h("li", null, h("span", { class: "principal-name" }, principalLabel(p, keyAccount)), p.value !== "*" && !/^\d{12}$/.test(p.value) ? h("code", { class: "principal-arn wrap" }, p.value) : null)),
  );
}

function statementNotes(statements) {
  return statements.map((s) =>
    h(
      "p",
      { class: "statement-note" },
      h("span", { class: "muted" }, s.Sid ? `“${s.Sid}” ` : "Statement "),
      s.Effect === "Deny" ? h("strong", null, "denies ") : "allows ",
      h("code", { class: "wrap" }, actionsText(s)),
      conditionText(s) ? h("span", { class: "muted" }, ` ${conditionText(s)}`) : null,
    ),
  );
}

function section(title, description, body) {
  return h("section", { class: "who" }, h("h3", null, title), description ? h("p", { class: "muted" }, description) : null, body);
}

/**
 * The readable view (#policy-readable). `grants` is the ListGrants array, or an Error-like {code, message}
 * when the grants could not be read.
 */
export function renderReadablePolicy(policyText, keyArn, grants) {
  const box = h("div", { id: "policy-readable", class: "policy-readable" });
  let doc;
  try {
    doc = JSON.parse(policyText);
  } catch (err) {
    box.appendChild(h("p", { class: "muted" }, "The policy is not valid JSON, so it cannot be summarised."));
    return box;
  }
  const keyAccount = arnAccount(keyArn);
  const statements = asList(doc.Statement);
  const groups = { account: [], admins: [], users: [], grants: [], other: [] };
  for (const s of statements) groups[classify(s, keyAccount)].push(s);

  const others = new Map();
  for (const s of statements) {
    if (s.Effect !== "Allow") continue;
    for (const p of principalsOf(s)) {
      const acct = /^\d{12}$/.test(p.value) ? p.value : arnAccount(p.value);
      if (acct && acct !== keyAccount && p.type === "AWS") {
        if (!others.has(acct)) others.set(acct, []);
        others.get(acct).push(s);
      }
    }
  }

  const cards = h("div", { class: "who-grid" });
  cards.appendChild(
    section(
      "This account's IAM policies",
      groups.account.length
        ? `IAM policies in account ${keyAccount} can allow access to this key: the policy gives the account (its root) all of kms:*.`
        : "The policy does not delegate to the account: IAM policies alone cannot allow access to this key.",
      groups.account.length ? statementNotes(groups.account) : null,
    ),
  );
  const viaIam = groups.account.length ? " Only principals the account's IAM policies allow." : "";
  cards.appendChild(section("Key administrators", "Can manage the key: its policy, state, aliases, tags and deletion.", [principalList(groups.admins, keyAccount, `No statement names key administrators.${viaIam}`), statementNotes(groups.admins)]));
  cards.appendChild(section("Key users", "Can use the key in cryptographic operations.", [principalList(groups.users, keyAccount, `No statement names key users.${viaIam}`), statementNotes(groups.users)]));
  cards.appendChild(
    section(
      "Other AWS accounts",
      "Accounts outside this one that the policy names; their own IAM policies must also allow their principals.",
      others.size
        ? h("ul", { class: "principals" }, [...others.entries()].map(([acct, ss]) => h("li", null, h("span", { class: "principal-name" }, `account ${acct}`), h("span", { class: "muted" }, ` in ${[...new Set(ss.map((s) => `“${s.Sid || "unnamed statement"}”`))].join(", ")}`))))
        : h("p", { class: "muted" }, "None."),
    ),
  );
  cards.appendChild(
    section(
      "Attachment to AWS resources",
      "Who may create grants for AWS services that use the key on their behalf (kms:GrantIsForAWSResource).",
      groups.grants.length ? [principalList(groups.grants, keyAccount), statementNotes(groups.grants)] : h("p", { class: "muted" }, "No statement for grants to AWS resources."),
    ),
  );
  if (groups.other.length) cards.appendChild(section("Other statements", null, [principalList(groups.other, keyAccount), statementNotes(groups.other)]));

  let grantsBody;
  if (!Array.isArray(grants)) {
    grantsBody = h("p", { class: "muted" }, `The grants could not be read (${grants && grants.code ? grants.code : "error"}); see the Grants tab.`);
  } else if (!grants.length) {
    grantsBody = h("p", { class: "muted" }, "No grants.");
  } else {
    grantsBody = h(
      "ul",
      { class: "principals" },
      grants.map((g) =>
        h("li", null, h("span", { class: "principal-name" }, principalLabel({ type: "AWS", value: g.GranteePrincipal || "" }, keyAccount)), " may ", h("code", { class: "wrap" }, (g.Operations || []).join(", ")), g.CreationDate ? [" (since ", timeEl(g.CreationDate), ")"] : null),
      ),
    );
  }
  cards.appendChild(section("Grants on this key", "Grants give access beside the policy, until retired or revoked.", grantsBody));
  box.appendChild(cards);
  return box;
}
