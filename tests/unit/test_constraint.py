"""Job property requirements: Slurm's --constraint grammar, evaluated against one resource's properties."""

import pytest

from dcluster.constraint import ConstraintError, Feature, Group, all_of, evaluate, names, parse_slurm


@pytest.mark.parametrize(
    "text, offered, expected",
    [
        ("a", {"a"}, True),
        ("a", {"b"}, False),
        ("a&b", {"a", "b"}, True),
        ("a&b", {"a"}, False),
        ("a,b", {"a"}, False),  # Slurm rewrites ',' to '&'
        ("a,b", {"a", "b"}, True),
        ("a|b", {"b"}, True),
        ("a|b", {"c"}, False),
        ("[a|b]", {"b", "x"}, True),  # matching OR: every node has b
        ("[a|b|c]", {"d"}, False),
        ("a*2", {"a"}, True),  # a count: on alike nodes, the feature must be there
        ("a*2", set(), False),
        ("[a*2&b*4]", {"a", "b"}, True),
        ("[a*2&b*4]", {"a"}, False),  # the b nodes would be missing
        ("[(knl&snc4&flat)*4&haswell*1]", {"knl", "snc4", "flat", "haswell"}, True),
        ("[(knl&snc4&flat)*4&haswell*1]", {"knl", "snc4", "haswell"}, False),
        ("[(rack1|rack2)*1&rack3*2]", {"rack2", "rack3"}, True),
        ("(a|b)&c", {"b", "c"}, True),
        ("(a|b)&c", {"a"}, False),
        ("a&(b|c)", {"a", "c"}, True),
        # Slurm reads left to right, without precedence: a|b&c is (a|b)&c, a&b|c is (a&b)|c
        ("a|b&c", {"a"}, False),
        ("a|b&c", {"a", "c"}, True),
        ("a&b|c", {"c"}, True),
        ("a&[b|c]", {"a", "c"}, True),
        ("a&[b|c]", {"b", "c"}, False),
        ("a100-80gb&preemptible&gpu-1", {"a100-80gb", "preemptible", "gpu-1"}, True),  # a recorded one (rivos)
        ("  a  ", {"a"}, True),
    ],
)
def test_slurm_constraints_evaluate_as_slurm_reads_them(text, offered, expected):
    assert evaluate(parse_slurm(text), frozenset(offered)) is expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("a&", "expected a feature name, found the end at character 3"),
        ("&a", "expected a feature name, found '&' at character 1"),
        ("a||b", "found '|' at character 3"),
        ("[a|b", "expected ']', found the end"),
        ("a|b]", "unexpected ']' at character 4"),
        ("(a&b", "expected ')'"),
        ("a)", "unexpected ')'"),
        ("((a))", "parentheses inside parentheses"),
        ("[a|[b]]", "brackets inside brackets"),
        ("[a|b]&[c|d]", "a second set of brackets"),
        ("[a&b]", "every term joined by '&' needs a count"),
        ("[a*2|b]", "a matching OR ('[a|b]') takes no counts"),
        ("[a*1&b*1|c]", "mix '&' and '|'"),
        ("a*0", "positive node count"),
        ("a*", "positive node count"),
        ("a*x", "positive node count"),
        ("a*2&b", "count ('*N') outside brackets"),
        ("(a&b)*2", "count ('*N') outside brackets"),
        ("(a*2&b)", "a count inside parentheses"),
        ("[a|b]*2", "a count after ']'"),
        ("a b", "unexpected ' '"),
        ("a\x00b", "unexpected"),
        ("[]", "expected a feature name, found ']'"),
        ("a" * 1025, "longer than 1024"),
    ],
)
def test_what_slurm_refuses_or_no_node_can_carry_is_an_error_saying_what_and_where(text, message):
    with pytest.raises(ConstraintError, match=None) as err:
        parse_slurm(text)
    assert message in str(err.value)


def test_empty_means_no_requirement_and_non_strings_are_errors():
    assert parse_slurm("") is None and parse_slurm("   ") is None
    assert evaluate(None, frozenset()) is True
    with pytest.raises(ConstraintError, match="not a string"):
        parse_slurm(["a"])


def test_the_parse_keeps_the_structure_and_the_names():
    expr = parse_slurm("[(knl&flat)*4&haswell*1]")
    (bracket,) = expr.terms
    assert bracket == Group(
        (Group((Feature("knl"), Feature("flat")), ("&",), "paren", 4), Feature("haswell", 1)), ("&",), "bracket"
    )
    assert names(expr) == ("knl", "flat", "haswell")


def test_torque_and_grid_engine_require_every_property():
    assert all_of([]) is None
    req = all_of(["bigmem", "ssd", "bigmem"])
    assert names(req) == ("bigmem", "ssd")
    assert evaluate(req, frozenset({"bigmem", "ssd", "gpu"})) is True
    assert evaluate(req, frozenset({"bigmem"})) is False
