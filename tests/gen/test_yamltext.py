"""The template's YAML writer: what it writes reads back as the same data, in the template's style."""

from __future__ import annotations

from typing import Any

import pytest

from trailguard.gen.yamltext import Flow, Note, Tag, lines, scalar


def _load(text: str) -> Any:
    from cfnlint.decode import decode_str

    decoded, matches = decode_str("AWSTemplateFormatVersion: '2010-09-09'\n" + text)
    assert not matches, [str(m) for m in matches]
    return decoded


@pytest.mark.parametrize(
    "text",
    ["*", "true", "No", "null", "2012-10-17", "123", "a: b", "a #b", "trail:", " lead", "[x]", "", "it's"],
)
def test_scalars_that_yaml_would_misread_are_quoted(text: str) -> None:
    assert scalar(text).startswith('"')
    assert _load(f"X: {scalar(text)}\n")["X"] == text


@pytest.mark.parametrize(
    "text",
    [
        "StopLogging",
        "aws.cloudtrail",
        "Stealth:IAMUser/CloudTrailLoggingDisabled",
        "AWS API Call via CloudTrail",
    ],
)
def test_ordinary_names_stay_plain(text: str) -> None:
    assert scalar(text) == text
    assert scalar(text, flow=True) == text


def test_flow_lists_fit_their_line_or_become_block_lists() -> None:
    short = lines({"k": Flow(("a", "b"))}, 4)
    assert short == ["    k: [a, b]"]
    long = lines({"k": Flow(tuple(f"Name{i:03d}" for i in range(20)))}, 4)
    assert long[0] == "    k:" and long[1] == "      - Name000" and len(long) == 21


def test_nested_mappings_lists_tags_and_comments_round_trip() -> None:
    node = {
        "Statement": [
            Note(
                ("why this statement",),
                {
                    "Sid": "A",
                    "Action": ["s:B", "s:C"],
                    "Resource": [Tag("Sub", "arn:${AWS::Partition}:s:::x"), Tag("GetAtt", "T.Arn")],
                },
            ),
            {"Sid": "B", "Action": "s:D", "Resource": "*", "Filter": [{"prefix": "X2"}, "X"]},
        ]
    }
    text = "\n".join(lines(node, 0)) + "\n"
    assert "# why this statement\n  - Sid: A" in text
    assert _load(text)["Statement"] == [
        {
            "Sid": "A",
            "Action": ["s:B", "s:C"],
            "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:s:::x"}, {"Fn::GetAtt": ["T", "Arn"]}],
        },
        {"Sid": "B", "Action": "s:D", "Resource": "*", "Filter": [{"prefix": "X2"}, "X"]},
    ]


def test_a_comment_cannot_open_a_list_item_mapping() -> None:
    with pytest.raises(ValueError, match="comment"):
        lines([{"a": Note(("no",), "b")}], 0)
