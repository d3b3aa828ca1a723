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


def test_flow_lists_fit_their_line_or_are_packed_over_lines() -> None:
    short = lines({"k": Flow(("a", "b"))}, 4)
    assert short == ["    k: [a, b]"]
    names = tuple(f"Name{i:03d}" for i in range(20))
    long = lines({"k": Flow(names * 3)}, 4)
    assert long[0].startswith("    k: [Name000, Name001,") and long[-1].endswith("Name019]")
    assert 1 < len(long) < len(names) and all(len(line) <= 110 for line in long)
    assert all(line.startswith("      Name") for line in long[1:]), "continuations two deeper than the key"
    top = lines({"k": Flow(names * 3)}, 0)
    assert _load("\n".join(top) + "\n")["k"] == list(names * 3)
    in_a_list = lines([Flow(names)], 4)
    assert in_a_list[0] == "    - - Name000" and len(in_a_list) == 20, "a list item stays a block list"


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
