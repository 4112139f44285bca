"""The issue codes of ``kmsd policy check`` findings, and the page each one's ``learnMoreLink`` points at.

Where IAM Access Analyzer has a check for the problem, the finding uses its
issue code (the "IAM Access Analyzer policy check reference" names each check
"<Type> – <Title>" and its code is the title in capitals with underscores);
the link is that check's anchor on the reference page, under the finding
type AWS gives it.  Codes AWS does not have are kmsd's; they link to the
page of the IAM User Guide or the KMS Developer Guide that explains the rule.
"""

from __future__ import annotations

REFERENCE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html"
_IAM_GUIDE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/"

# AWS's checks that kmsd reports, with the finding type AWS files each under (the anchor's first part).
AWS_CHECKS: dict[str, str] = {
    "ALLOW_WITH_NOT_PRINCIPAL": "security-warning",
    "DATA_TYPE_MISMATCH": "error",
    "DUPLICATE_KEYS_WITH_DIFFERENT_CASE": "error",
    "FORALLVALUES_WITH_SINGLE_VALUED_KEY": "security-warning",
    "INVALID_ACTION": "error",
    "INVALID_ARN_PREFIX": "error",
    "INVALID_CONDITION_DATA_TYPE": "error",
    "INVALID_CONDITION_OPERATOR": "error",
    "INVALID_EFFECT": "error",
    "INVALID_PARTITION": "error",
    "INVALID_POLICY_ELEMENT": "error",
    "INVALID_PRINCIPAL_FORMAT": "error",
    "INVALID_PRINCIPAL_KEY": "error",
    "INVALID_SERVICE": "error",
    "INVALID_SERVICE_CONDITION_KEY": "error",
    "INVALID_SERVICE_IN_ACTION": "error",
    "INVALID_VERSION": "error",
    "JSON_SYNTAX_ERROR": "error",
    "MISSING_ACTION": "error",
    "MISSING_ARN_FIELD": "error",
    "MISSING_EFFECT": "error",
    "MISSING_PRINCIPAL": "error",
    "MISSING_RESOURCE": "error",
    "MISSING_STATEMENT": "error",
    "MISSING_VERSION": "general-warning",
    "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA": "general-warning",
    "POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA": "general-warning",
    "REDUNDANT_ACTION": "suggestion",
    "TYPE_MISMATCH": "general-warning",
    "TYPE_MISMATCH_BOOLEAN": "general-warning",
    "TYPE_MISMATCH_DATE": "general-warning",
    "TYPE_MISMATCH_IP_RANGE": "general-warning",
    "TYPE_MISMATCH_NUMBER": "general-warning",
    "TYPE_MISMATCH_STRING": "general-warning",
    "UNIQUE_SIDS_REQUIRED": "error",
    "UNSUPPORTED_ELEMENT_COMBINATION": "error",
    "UNSUPPORTED_PRINCIPAL": "error",
    "UNSUPPORTED_SID": "error",
    "WILDCARD_WITHOUT_LIKE_OPERATOR": "general-warning",
}

# kmsd's own codes for problems Access Analyzer's basic checks do not name, and the page that explains each.
KMSD_CHECKS: dict[str, str] = {
    "ALLOW_WITH_NOT_ACTION": _IAM_GUIDE + "reference_policies_elements_notaction.html",
    "ALLOW_WITH_NOT_RESOURCE": _IAM_GUIDE + "reference_policies_elements_notresource.html",
    "ALLOW_WITH_FOR_ALL_VALUES": _IAM_GUIDE + "reference_policies_condition-single-vs-multi-valued-context-keys.html",
    "FORANYVALUE_WITH_SINGLE_VALUED_KEY": _IAM_GUIDE
    + "reference_policies_condition-single-vs-multi-valued-context-keys.html",
    "MISSING_SET_OPERATOR": _IAM_GUIDE + "reference_policies_condition-single-vs-multi-valued-context-keys.html",
    "OLD_VERSION": _IAM_GUIDE + "reference_policies_elements_version.html",
    "PUBLIC_ACCESS": _IAM_GUIDE + "reference_policies_elements_principal.html",
    "CONDITION_NEVER_MATCHES": _IAM_GUIDE + "reference_policies_elements_condition_operators.html",
    "POLICY_REFUSED": _IAM_GUIDE + "reference_policies_grammar.html",
}


def learn_more_link(issue_code: str) -> str:
    """The page that explains ``issue_code``: AWS's reference anchor for its codes, else kmsd's chosen page."""
    kind = AWS_CHECKS.get(issue_code)
    if kind is not None:
        slug = issue_code.lower().replace("_", "-")
        return f"{REFERENCE}#access-analyzer-reference-policy-checks-{kind}-{slug}"
    return KMSD_CHECKS.get(issue_code, REFERENCE)
