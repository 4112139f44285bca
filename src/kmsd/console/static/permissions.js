// Which change controls the signed-in principal may use, asked of kmsd's authorizer up front (without acting),
// so a control the principal may not use is shown disabled with the reason instead of failing when clicked.

import { permissions } from "./api.js";
import { applyPermission } from "./ui.js";

/** The change actions of a key page, each checked on the key's ARN. */
export const KEY_CHANGE_ACTIONS = [
  "kms:EnableKey",
  "kms:DisableKey",
  "kms:ScheduleKeyDeletion",
  "kms:CancelKeyDeletion",
  "kms:EnableKeyRotation",
  "kms:DisableKeyRotation",
  "kms:RotateKeyOnDemand",
  "kms:CreateAlias",
  "kms:DeleteAlias",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:UpdateKeyDescription",
  "kms:PutKeyPolicy",
];

/**
 * Asks about each action on a resource; resolves to a Map action → result ({allowed, reason, message}).
 * If the question itself fails, resolves to an empty map: the controls stay enabled and a refused call
 * still explains itself when it is made.
 */
export async function checkActions(actions, resource, signal) {
  const map = new Map();
  try {
    const results = await permissions(actions.map((action) => ({ action, resource })), signal);
    for (const result of results) map.set(result.action, result);
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    console.warn("permissions check failed", err);
  }
  return map;
}

/** Disables `control` with a visible reason when `action` is not allowed in `perms`. */
export function guard(control, perms, action, where) {
  if (!perms) return;
  const result = perms.get(action);
  if (result) applyPermission(control, result, where);
}

/** Whether an action is known to be denied. */
export function denied(perms, action) {
  const result = perms && perms.get(action);
  return Boolean(result && result.allowed === false);
}
