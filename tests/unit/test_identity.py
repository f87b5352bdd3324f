"""Minion ids carry an HMAC: ours are recognised, forged and foreign ones are not."""

import re

from dcluster import identity

S = "a-secret-of-16-chars-or-more"


def test_round_trip_and_shape():
    mid = identity.make("dc", "nectar", S)
    assert re.fullmatch(r"[a-z0-9-]{1,63}", mid)
    ident = identity.parse(mid, S)
    assert (ident.cluster, ident.resource) == ("dc", "nectar")
    assert identity.parse(mid, S, cluster="dc") and identity.parse(mid, S, cluster="other") is None


def test_forged_and_foreign_ids_are_rejected():
    mid = identity.make("dc", "nectar", S)
    assert identity.parse(mid, "another-secret-value-xx") is None
    flipped = mid[:-1] + ("0" if mid[-1] != "0" else "1")
    assert identity.parse(flipped, S) is None
    for other in ("dc-nectar-abcdef-0123456789ab", "cn001", "", "DC-NECTAR-abcdef-0123456789ab", mid + "x"):
        assert identity.parse(other, S) is None


def test_ids_are_unpredictable():
    ids = {identity.make("dc", "r", S) for _ in range(200)}
    assert len(ids) == 200


def test_well_formed_checks_type_length_and_the_whole_string():
    mid = identity.make("dc", "nectar", S)
    assert identity.well_formed(mid)
    for bad in (
        mid + "\n",
        "\n" + mid,
        mid + " ",
        mid.upper(),
        mid + "0" * 64,
        "a" * 10**6,
        "",
        None,
        7,
        [mid],
        {mid: 1},
        mid.encode(),
    ):
        assert not identity.well_formed(bad), repr(bad)[:80]


def test_a_trailing_newline_does_not_make_an_id_ours():
    mid = identity.make("dc", "nectar", S)
    assert identity.parse(mid + "\n", S) is None  # "$" matched before it: fullmatch does not
