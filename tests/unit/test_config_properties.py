"""dcluster:cloud:<name>:reservation:properties (a list) and its singular alias property."""

import pytest

from dcluster.config import ConfigError, load

SECRET = "0123456789abcdef"


def resource(reservation):
    cfg = load(
        {"secret": SECRET, "cluster": {"type": "slurm"}, "cloud": {"r1": {"type": "local", "reservation": reservation}}}
    )
    return cfg.resources["r1"].reservation


@pytest.mark.parametrize(
    "given, expected",
    [
        ({"properties": ["bigmem", "ssd"]}, ("bigmem", "ssd")),
        ({"properties": "bigmem"}, ("bigmem",)),  # one name needs no list
        ({"property": "bigmem"}, ("bigmem",)),  # the singular: same meaning
        ({"property": None}, ()),  # pillar.example's empty key: not set
        ({"properties": []}, ()),
        ({}, ()),
        ({"properties": ["gpu-a100", "rack_2", "v1.2"]}, ("gpu-a100", "rack_2", "v1.2")),
    ],
)
def test_properties_as_a_list_or_the_singular_alias(given, expected):
    assert resource(given).properties == expected


@pytest.mark.parametrize(
    "given, error",
    [
        (
            {"property": "a", "properties": ["b"]},
            "dcluster:cloud:r1:reservation:properties: given twice (also as 'property')",
        ),
        ({"properties": ["ok", "a|b"]}, "dcluster:cloud:r1:reservation:properties:1: 'a|b' is not a property name"),
        ({"properties": ["a&b"]}, "dcluster:cloud:r1:reservation:properties:0: 'a&b' is not a property name"),
        ({"property": "big mem"}, "dcluster:cloud:r1:reservation:properties:0: 'big mem' is not a property name"),
        ({"properties": [{"x": 1}]}, "dcluster:cloud:r1:reservation:properties:0: {'x': 1} is not a string"),
        ({"properties": {"a": 1}}, "dcluster:cloud:r1:reservation:properties: {'a': 1} is not a list of strings"),
        ({"properties": ["-x"]}, "'-x' is not a property name"),
    ],
)
def test_bad_properties_are_errors_naming_the_key_path(given, error):
    with pytest.raises(ConfigError) as err:
        resource(given)
    assert any(error in e for e in err.value.errors), err.value.errors
