// The key lists (#/keys customer managed, #/aws-keys AWS managed): every page of ListKeys and ListAliases,
// then DescribeKey through `calls` in batches of 100, rendering each page of the table as the details arrive.
// Sorting, filtering and paging run on the rows in memory, so thousands of keys stay quick.

import { call, calls, changeCount, listAll } from "./api.js";
import { checkActions, guard } from "./permissions.js";
import { arnRegion, field, h, setChildren, showError, tableWrap } from "./ui.js";

const BATCH = 100;

/** The rows of the last full load, shared by both lists; reloaded when something may have changed. */
const cache = { stamp: -1, token: 0, rows: null, loading: null, described: 0, listeners: new Set(), error: null };

/** Per-list view state, kept across navigations so coming back restores the same page. */
const state = {
  keys: { filter: "", sort: "aliases", dir: "ascending", pageSize: 25, page: 0 },
  "aws-keys": { filter: "", sort: "aliases", dir: "ascending", pageSize: 25, page: 0 },
};

const COLUMNS = [
  { id: "aliases", label: "Aliases", value: (r) => (r.aliases[0] || "").replace(/^alias\//, "") },
  { id: "keyId", label: "Key ID", value: (r) => r.KeyId },
  { id: "status", label: "Status", value: (r) => status(r) },
  { id: "spec", label: "Key spec", value: (r) => (r.meta ? r.meta.KeySpec || r.meta.CustomerMasterKeySpec || "" : "") },
  { id: "usage", label: "Key usage", value: (r) => (r.meta ? r.meta.KeyUsage || "" : "") },
  { id: "regionality", label: "Regionality", value: (r) => regionality(r) },
  { id: "region", label: "Region", value: (r) => arnRegion(r.KeyArn) },
];

function status(row) {
  if (row.meta) return row.meta.KeyState || "";
  if (row.error) return "Unknown";
  return "";
}

function regionality(row) {
  if (!row.meta) return "";
  return row.meta.MultiRegion ? "Multi-Region" : "Single-Region";
}

function isAwsManaged(row) {
  if (row.meta) return row.meta.KeyManager === "AWS";
  return row.aliases.some((a) => a.startsWith("alias/aws/"));
}

function notify() {
  for (const listener of cache.listeners) listener();
}

/** Loads (or reuses) every key with its aliases, then describes them batch by batch, notifying as it goes. */
function load(force) {
  if (!force && cache.loading && cache.stamp === changeCount()) return cache.loading;
  const token = ++cache.token;
  cache.stamp = changeCount();
  cache.rows = null;
  cache.described = 0;
  cache.error = null;
  cache.loading = (async () => {
    try {
      const [keys, aliases] = await Promise.all([listAll("ListKeys", { Limit: 1000 }, "Keys"), listAll("ListAliases", { Limit: 100 }, "Aliases")]);
      const byKey = new Map();
      for (const alias of aliases) {
        if (!alias.TargetKeyId) continue;
        if (!byKey.has(alias.TargetKeyId)) byKey.set(alias.TargetKeyId, []);
        byKey.get(alias.TargetKeyId).push(alias.AliasName);
      }
      const rows = keys.map((k) => ({ KeyId: k.KeyId, KeyArn: k.KeyArn, aliases: (byKey.get(k.KeyId) || []).sort(), meta: null, error: null }));
      if (cache.token !== token) return;
      cache.rows = rows;
      notify();
      for (let start = 0; start < rows.length; start += BATCH) {
        const batch = rows.slice(start, start + BATCH);
        const results = await calls(batch.map((r) => ({ service: "kms", operation: "DescribeKey", params: { KeyId: r.KeyId } })));
        if (cache.token !== token) return;
        results.forEach((result, i) => {
          if (result.error) batch[i].error = result.error;
          else batch[i].meta = result.result.KeyMetadata;
        });
        cache.described = Math.min(rows.length, start + BATCH);
        notify();
      }
    } catch (err) {
      if (cache.token !== token) return;
      cache.error = err;
      cache.stamp = -1;
      notify();
    }
  })();
  return cache.loading;
}

// sign: 1 ascending, -1 descending; empty values sort last either way.
function compare(a, b, sign = 1) {
  if (a === b) return 0;
  if (a === "") return 1;
  if (b === "") return -1;
  return sign * a.localeCompare(b, undefined, { numeric: true, sensitivity: "base" });
}

function matches(row, needle) {
  if (!needle) return true;
  const haystack = [row.KeyId, ...row.aliases, status(row), row.meta ? row.meta.KeySpec || "" : "", row.meta ? row.meta.KeyUsage || "" : ""]
    .join("\n")
    .toLowerCase();
  return haystack.includes(needle);
}

function statusBadge(value) {
  if (!value) return h("span", { class: "muted" }, "Loading…");
  const tone = { Enabled: "ok", Disabled: "neutral", PendingDeletion: "danger", PendingReplicaDeletion: "danger", Unavailable: "warn", PendingImport: "warn", Creating: "info", Updating: "info", Unknown: "warn" }[value] || "neutral";
  return h("span", { class: `badge badge-${tone}` }, value);
}

export async function renderKeyList(view, ctx) {
  const kind = ctx.awsManaged ? "aws-keys" : "keys";
  const st = state[kind];
  const title = ctx.awsManaged ? "AWS managed keys" : "Customer managed keys";

  const heading = h("h1", null, title);
  const actions = h("div", { class: "page-actions" });
  const refresh = h("button", { type: "button", class: "btn", id: "refresh-keys" }, "Refresh");
  actions.appendChild(refresh);
  let createWrap = null;
  if (!ctx.awsManaged) {
    const create = h("button", { type: "button", class: "btn btn-primary", id: "create-key", onclick: () => ctx.navigate("#/create") }, "Create key");
    createWrap = h("div", { class: "control" }, create);
    actions.appendChild(createWrap);
    checkActions(["kms:CreateKey"], "*", ctx.signal).then(
      (perms) => guard(create, perms, "kms:CreateKey"),
      () => {}, // the view was left before the answer came
    );
  }

  const intro = h(
    "p",
    { class: "muted lede" },
    ctx.awsManaged
      ? "Keys that AWS services created in this account on your behalf. You can view them but not change them."
      : "Keys that you create, own and manage in this account.",
  );

  const filter = h("input", { type: "search", id: "keys-filter", value: st.filter, placeholder: "Alias, key ID, status, spec or usage", autocomplete: "off", spellcheck: "false" });
  const pageSize = h(
    "select",
    { id: "page-size" },
    [10, 25, 50, 100].map((n) => h("option", { value: String(n), selected: n === st.pageSize }, String(n))),
  );
  const prev = h("button", { type: "button", class: "btn", id: "prev-page" }, h("span", { "aria-hidden": "true" }, "‹ "), "Previous");
  const next = h("button", { type: "button", class: "btn", id: "next-page" }, "Next", h("span", { "aria-hidden": "true" }, " ›"));
  const pageStatus = h("p", { id: "page-status", class: "page-status", "aria-live": "polite" });
  const progress = h("p", { class: "progress muted", "aria-live": "polite" });
  const errorSlot = h("div");
  const emptyNote = h("p", { class: "empty-note muted", hidden: true });

  const headRow = h("tr");
  const tbody = h("tbody");
  const table = h("table", { id: "keys-table", class: "data-table" }, h("caption", { class: "visually-hidden" }, `${title}; select a column heading to sort`), h("thead", null, headRow), tbody);

  const toolbar = h(
    "div",
    { class: "toolbar" },
    h("div", { class: "toolbar-filter" }, field("Filter keys", filter)),
    h("div", { class: "toolbar-paging" }, field("Keys per page", pageSize), h("div", { class: "pager" }, prev, pageStatus, next)),
  );

  setChildren(
    view,
    h("div", { class: "page-head" }, h("div", null, heading, intro), actions),
    h("section", { class: "card", "aria-labelledby": "keys-heading" }, h("h2", { id: "keys-heading", class: "visually-hidden" }, "Keys"), toolbar, progress, errorSlot, tableWrap(table, title), emptyNote),
  );

  function renderHead() {
    setChildren(
      headRow,
      COLUMNS.map((col) => {
        const sorted = st.sort === col.id;
        const th = h("th", { scope: "col", "aria-sort": sorted ? st.dir : "none" });
        const button = h(
          "button",
          { type: "button", class: "sort", onclick: () => sortBy(col.id) },
          col.label,
          h("span", { class: "sort-icon", "aria-hidden": "true" }, sorted ? (st.dir === "ascending" ? "▲" : "▼") : "↕"),
        );
        th.appendChild(button);
        return th;
      }),
    );
  }

  function sortBy(id) {
    if (st.sort === id) st.dir = st.dir === "ascending" ? "descending" : "ascending";
    else {
      st.sort = id;
      st.dir = "ascending";
    }
    st.page = 0;
    renderHead();
    renderBody();
    const button = headRow.querySelector(`th:nth-child(${COLUMNS.findIndex((c) => c.id === id) + 1}) button`);
    if (button) button.focus();
  }

  function visibleRows() {
    const rows = (cache.rows || []).filter((r) => isAwsManaged(r) === ctx.awsManaged);
    const needle = st.filter.trim().toLowerCase();
    const filtered = rows.filter((r) => matches(r, needle));
    const col = COLUMNS.find((c) => c.id === st.sort) || COLUMNS[0];
    const sign = st.dir === "ascending" ? 1 : -1;
    filtered.sort((a, b) => compare(col.value(a), col.value(b), sign) || compare(a.KeyId, b.KeyId));
    return { total: rows.length, rows: filtered };
  }

  function renderBody() {
    if (cache.error) {
      showError(errorSlot, cache.error, "The keys could not be listed");
    } else {
      errorSlot.replaceChildren();
    }
    if (!cache.rows) {
      tbody.replaceChildren();
      emptyNote.textContent = cache.error ? "No keys to show." : "Loading keys…";
      emptyNote.hidden = false;
      pageStatus.textContent = "";
      prev.disabled = true;
      next.disabled = true;
      return;
    }
    const { total, rows } = visibleRows();
    const pages = Math.max(1, Math.ceil(rows.length / st.pageSize));
    if (st.page >= pages) st.page = pages - 1;
    const first = st.page * st.pageSize;
    const shown = rows.slice(first, first + st.pageSize);
    if (!shown.length) {
      const message = total
        ? `No keys match “${st.filter.trim()}”.`
        : ctx.awsManaged
          ? "There are no AWS managed keys in this account."
          : "There are no customer managed keys in this account yet.";
      // Said below the table rather than in a cell, so a phone's narrow scroll box never cuts the sentence.
      tbody.replaceChildren();
      emptyNote.textContent = message;
      emptyNote.hidden = false;
    } else {
      emptyNote.hidden = true;
      setChildren(tbody, shown.map(renderRow));
    }
    pageStatus.textContent = rows.length ? `${first + 1}–${first + shown.length} of ${rows.length}` : "0 of 0";
    prev.disabled = st.page === 0;
    next.disabled = st.page >= pages - 1;
    const all = cache.rows.length;
    progress.textContent = cache.described < all ? `Loading key details: ${cache.described} of ${all} keys described…` : "";
  }

  function renderRow(row) {
    const href = `#/keys/${encodeURIComponent(row.KeyId)}`;
    const aliasCell = row.aliases.length
      ? h("td", null, h("span", { class: "alias" }, row.aliases[0].replace(/^alias\//, "")), row.aliases.length > 1 ? h("span", { class: "muted more" }, ` +${row.aliases.length - 1}`) : null)
      : h("td", { class: "muted" }, "—");
    const errorTitle = row.error ? `${row.error.code}: ${row.error.message}` : null;
    return h(
      "tr",
      { dataset: { keyId: row.KeyId } },
      aliasCell,
      h("td", null, h("a", { href, class: "mono key-link" }, row.KeyId)),
      h("td", { title: errorTitle }, statusBadge(status(row))),
      h("td", null, row.meta ? row.meta.KeySpec || row.meta.CustomerMasterKeySpec || "" : ""),
      h("td", null, row.meta ? row.meta.KeyUsage || "" : ""),
      h("td", null, regionality(row)),
      h("td", null, arnRegion(row.KeyArn)),
    );
  }

  let filterTimer = null;
  filter.addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      st.filter = filter.value;
      st.page = 0;
      renderBody();
    }, 120);
  });
  filter.addEventListener("search", () => {
    st.filter = filter.value;
    st.page = 0;
    renderBody();
  });
  pageSize.addEventListener("change", () => {
    st.pageSize = Number(pageSize.value);
    st.page = 0;
    renderBody();
  });
  prev.addEventListener("click", () => {
    if (st.page > 0) st.page -= 1;
    renderBody();
  });
  next.addEventListener("click", () => {
    st.page += 1;
    renderBody();
  });
  refresh.addEventListener("click", () => {
    load(true);
    renderBody();
  });

  const listener = () => {
    if (!view.isConnected) {
      cache.listeners.delete(listener);
      return;
    }
    renderBody();
  };
  cache.listeners.add(listener);
  ctx.signal.addEventListener("abort", () => cache.listeners.delete(listener));
  renderHead();
  load(false);
  renderBody();
}

/** Reads one key's aliases; used by other views that only need the names. */
export async function aliasesOf(keyId, signal) {
  const result = await call("kms", "ListAliases", { KeyId: keyId, Limit: 100 }, signal);
  return (result.Aliases || []).map((a) => a.AliasName);
}

/** Forgets every key and view setting held in memory (sign-out). */
export function forgetKeys() {
  cache.token += 1;
  cache.stamp = -1;
  cache.rows = null;
  cache.loading = null;
  cache.described = 0;
  cache.error = null;
  cache.listeners.clear();
  for (const st of Object.values(state)) Object.assign(st, { filter: "", sort: "aliases", dir: "ascending", pageSize: 25, page: 0 });
}
