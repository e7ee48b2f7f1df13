"""Every name table of the Python layer (its ``Literal`` types, the tables keyed by the core's
names, the CLI's choices) holds exactly the names the core exports from its one home for each
(``helpcrunch._native``): a name added, renamed or dropped on one side fails here."""

from __future__ import annotations

import argparse
import typing

import pytest

from helpcrunch import _cli, _cli_common, _exceptions, _native, _progress, _sync, _types
from helpcrunch._customers_sync import CustomerAction, Nulls
from helpcrunch._sync import Action, MatchKind, Mode
from helpcrunch._types import CallName, ChangeKind, CustomerChangeKind, Match, TagCall


@pytest.mark.parametrize(
    ("literal", "table"),
    [
        (Mode, "MODES"),
        (MatchKind, "MATCH_KINDS"),
        (Action, "ACTIONS"),
        (CallName, "CUSTOMER_CALLS"),
        (TagCall, "TAG_CALLS"),
        (Match, "MATCHES"),
        (ChangeKind, "CHANGE_KINDS"),
        (CustomerChangeKind, "CUSTOMER_CHANGE_KINDS"),
        (CustomerAction, "CUSTOMER_ACTIONS"),
        (Nulls, "NULLS"),
    ],
)
def test_each_literal_is_its_native_table(literal: object, table: str) -> None:
    assert typing.get_args(literal) == getattr(_native, table)


def test_the_native_tables_are_tuples_of_distinct_names() -> None:
    tables = [
        "CALLS",
        "CUSTOMER_CALLS",
        "TAG_CALLS",
        "ERROR_KINDS",
        "SETTINGS",
        "MODES",
        "MATCH_KINDS",
        "ACTIONS",
        "STRATEGIES",
        "REASON_CODES",
        "MATCHES",
        "OPERATORS",
        "FIELDS",
    ]
    for name in tables:
        table = getattr(_native, name)
        assert isinstance(table, tuple) and table, name
        assert len(set(table)) == len(table), name
    assert set(_native.TAG_CALLS) <= set(_native.CUSTOMER_CALLS) <= set(_native.CALLS)


def test_tables_keyed_by_the_cores_names_have_every_name_and_no_other() -> None:
    # Each error kind has its exception class.
    assert tuple(_exceptions._BY_KIND) == _native.ERROR_KINDS
    # Each tag call its progress verb.
    assert set(_progress.VERBS) == set(_native.TAG_CALLS)
    # A plan's writes are its changes: every kind of change is an action of a plan item.
    assert set(_native.CHANGE_KINDS) <= set(_native.ACTIONS)


def test_every_argument_the_cli_names_is_one_the_core_names() -> None:
    # The settings, the search's arguments and the sync's, the call's: no entry for a name
    # the core never gives as an error's parameter.
    core = {
        *_native.SETTINGS,
        "base_url",
        "rate_limit_backend",
        "where",
        "tag",
        "email",
        "user_id",
        "match",
        "mode",
        "customer_id",
        "tags",
    }
    # And the sandbox's, which its own checks name.
    core |= {"customers", "seed", "port", "max_page_size", "max_filters"}
    assert set(_cli_common._OPTIONS) <= core
    assert set(_cli_common._CLI_ADVICE) <= set(_cli_common._OPTIONS)


def _choices(parser: argparse.ArgumentParser, command: str, option: str) -> tuple[str, ...]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[
        command
    ]
    action = next(a for a in sub._actions if option in a.option_strings)
    return tuple(action.choices or ())


def test_the_clis_choices_are_the_native_tables() -> None:
    parser = _cli.build_parser()
    assert _choices(parser, "sync-tag", "--mode") == _native.MODES
    assert _choices(parser, "sync-tag", "--match") == _native.MATCH_KINDS
    help_text = (
        next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        .choices["customers"]
        .format_help()
    )
    assert " ".join(_native.OPERATORS) in " ".join(help_text.split())


def test_a_plans_names_are_the_native_ones(sandbox_plan: _sync.TagPlan) -> None:
    assert sandbox_plan.strategy in _native.STRATEGIES
    assert {i.action for i in sandbox_plan.items} <= set(_native.ACTIONS)
    codes = {i.reason_code for i in sandbox_plan.items if i.reason_code is not None}
    assert codes and codes <= set(_native.REASON_CODES)


@pytest.fixture
def sandbox_plan() -> typing.Iterator[_sync.TagPlan]:
    from helpcrunch.sandbox import Sandbox

    with Sandbox() as sb, sb.client() as client:
        keys = ["nobody@example.com", "not an email", "", "nobody@example.com"]
        yield client.plan_tag("Lead", keys, match="email")


def test_types_exports_its_literals() -> None:
    assert {"CallName", "TagCall", "Match"} <= set(_types.__all__)
