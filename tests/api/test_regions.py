"""Credential-scope regions (issue 9, item 6): AWS's partition patterns, or the operator's list."""

from __future__ import annotations

import json
import re
from pathlib import Path

import botocore
import pytest

from kmsd.api.regions import AWS_REGION_PATTERN, RegionPolicy, parse_region_list
from kmsd.api.sigv4.errors import SigV4Error

PARTITIONS = json.loads((Path(botocore.__file__).parent / "data" / "partitions.json").read_text())["partitions"]


def test_every_region_botocore_knows_is_valid() -> None:
    regions = [region for partition in PARTITIONS for region in partition["regions"]]
    assert len(regions) > 40
    # The aws-global style pseudo-regions are not region names; every real one is.
    real = [region for region in regions if re.fullmatch(r"[a-z]+(-[a-z]+)+-\d+", region)]
    assert real and all(AWS_REGION_PATTERN.fullmatch(region) for region in real)


def test_the_embedded_pattern_agrees_with_each_partitions_regex() -> None:
    samples = ["us-east-1", "eu-central-2", "cn-northwest-1", "us-gov-west-1", "us-isob-east-1", "eusc-de-east-1"]
    samples += ["us-east-1:999999999999", "eu-west-1a", "US-EAST-1", "mars-north-1", "us-east-1 ", "us-eāst-1"]
    for sample in samples:
        botocore_says = any(re.fullmatch(p["regionRegex"].strip("^$"), sample, re.ASCII) for p in PARTITIONS)
        assert bool(AWS_REGION_PATTERN.fullmatch(sample)) == botocore_says, sample


def test_policy_refuses_with_awss_wording() -> None:
    policy = RegionPolicy()
    policy.check("eu-west-1")
    with pytest.raises(SigV4Error) as excinfo:
        policy.check("us-east-1:999999999999")
    assert (excinfo.value.kind, excinfo.value.message) == (
        "signature",
        "Credential should be scoped to a valid region, not 'us-east-1:999999999999'. ",
    )
    assert not policy.is_valid("us-" + "a" * 300 + "-1")


def test_allow_list() -> None:
    policy = RegionPolicy(parse_region_list("us-east-1, eu-west-1"))
    assert policy.is_valid("eu-west-1") and not policy.is_valid("us-west-2")
    with pytest.raises(ValueError, match="not an AWS region name"):
        parse_region_list("us-east-1,evil:1")
    with pytest.raises(ValueError):
        parse_region_list(" , ")
