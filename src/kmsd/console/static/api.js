// The console's one way to talk to kmsd: JSON POSTs to /console/api/, carrying the session's CSRF token.
// The secret never reaches this code: the server keeps it in a sealed HttpOnly cookie and signs each call itself.

const BASE = "/console/api/";

/** The session as the server last described it (identity, region, csrfToken, expiresAt), or null. */
let session = null;
/** Called when the server says the session is gone (401 NotSignedIn). */
let onSignedOut = () => {};
/** Bumped by every call that may change something, so cached lists know they are stale. */
let changes = 0;

/** An error answer of the API: AWS's code and message, and the authorizer's explanation when there is one. */
export class ApiError extends Error {
  constructor(error) {
    super(error.message || error.code || "Unknown error");
    this.name = "ApiError";
    this.code = error.code || "UnknownError";
    this.status = error.status;
    this.requestId = error.requestId;
    this.explanation = error.explanation || null;
    this.service = error.service;
    this.operation = error.operation;
  }
}

export function currentSession() {
  return session;
}

export function changeCount() {
  return changes;
}

export function setSignedOutHandler(handler) {
  onSignedOut = handler;
}

function forget() {
  session = null;
  changes += 1;
}

async function request(method, path, body, signal) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin", cache: "no-store", signal };
  if (method === "POST") {
    headers["Content-Type"] = "application/json";
    if (session && session.csrfToken) headers["X-Kmsd-Csrf"] = session.csrfToken;
    init.body = JSON.stringify(body ?? {});
  }
  let response;
  try {
    response = await fetch(BASE + path, init);
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError({ code: "NetworkError", message: "The console could not reach kmsd. Check that the server is running." });
  }
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    data = null;
  }
  if (data === null || typeof data !== "object") {
    data = { error: { code: `HTTP${response.status}`, message: `kmsd answered ${response.status} ${response.statusText} without a JSON body.` } };
  }
  if (response.status === 401 && data.error && data.error.code === "NotSignedIn" && path !== "sign-in") {
    forget();
    onSignedOut();
  }
  if (!response.ok && !data.error) {
    data = { error: { code: `HTTP${response.status}`, message: `kmsd answered ${response.status} ${response.statusText}.` } };
  }
  return data;
}

function unwrap(data) {
  if (data.error) throw new ApiError(data.error);
  return data;
}

export async function signIn({ accessKeyId, secretAccessKey, sessionToken, region }) {
  const data = unwrap(await request("POST", "sign-in", { accessKeyId, secretAccessKey, sessionToken: sessionToken || null, region }));
  session = data;
  changes += 1;
  return data;
}

/** The current session, or null when not signed in. */
export async function loadSession() {
  const data = await request("GET", "session");
  if (data.error) {
    if (data.error.code === "NotSignedIn") {
      session = null;
      return null;
    }
    throw new ApiError(data.error);
  }
  session = data;
  return data;
}

export async function signOut() {
  try {
    await request("POST", "sign-out", {});
  } finally {
    forget();
  }
}

const READ_ONLY = /^(List|Describe|Get|Lookup|Validate|Simulate)/;

/** One API call as the signed-in principal; resolves to its result, throws ApiError with AWS's error. */
export async function call(service, operation, params = {}, signal) {
  if (!READ_ONLY.test(operation)) changes += 1;
  const data = await request("POST", "call", { service, operation, params }, signal);
  if (data.error) throw new ApiError({ ...data.error, service, operation });
  return data.result ?? {};
}

/** Up to 100 calls in one request; resolves to one {result}|{error} per call, in order. */
export async function calls(list, signal) {
  if (list.some((c) => !READ_ONLY.test(c.operation))) changes += 1;
  const data = unwrap(await request("POST", "calls", { calls: list }, signal));
  return data.results;
}

/** Whether the signed-in principal may do each {action, resource}, decided by kmsd's authorizer without acting. */
export async function permissions(checks, signal) {
  const data = unwrap(await request("POST", "permissions", { checks }, signal));
  return data.results;
}

export async function lint(policy, keyArn, signal) {
  return unwrap(await request("POST", "lint", { policy, keyArn: keyArn || null }, signal));
}

export async function consolePolicy(spec, signal) {
  const data = unwrap(await request("POST", "console-policy", spec, signal));
  return data.policy;
}

/** Every page of a paged KMS list operation, following NextMarker/Truncated. */
export async function listAll(operation, params, field, signal, onPage) {
  const items = [];
  let marker = null;
  for (;;) {
    const page = await call("kms", operation, marker ? { ...params, Marker: marker } : params, signal);
    const got = page[field] || [];
    items.push(...got);
    if (onPage) onPage(got, items);
    if (!page.Truncated || !page.NextMarker) break;
    marker = page.NextMarker;
  }
  return items;
}

/** Every page of an IAM list operation (query API: Marker/IsTruncated as strings). */
export async function iamListAll(operation, field, signal) {
  const items = [];
  let marker = null;
  for (;;) {
    const params = { MaxItems: "1000" };
    if (marker) params.Marker = marker;
    const page = await call("iam", operation, params, signal);
    const got = page[field];
    if (Array.isArray(got)) items.push(...got);
    if (String(page.IsTruncated) !== "true" || !page.Marker) break;
    marker = page.Marker;
  }
  return items;
}
