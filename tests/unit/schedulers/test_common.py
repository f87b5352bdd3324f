from __future__ import annotations

import sys

import pytest

from dcluster.config import ConfigError
from dcluster.glue.salt_command import salt_command
from dcluster.glue.settings import cluster_settings
from dcluster.local_command import local_command
from dcluster.schedulers import ParseError, RefusedError, SchedulerError, make_adapter
from dcluster.schedulers.units import duration_s, mem_mb
from dcluster.schedulers.validate import check_host, check_jobid
from dcluster.schedulers.xml_stream import iter_xml


def test_error_names_command_and_shows_output_head():
    err = SchedulerError(["/usr/bin/qstat", "-x"], 2, "x" * 1000)
    text = str(err)
    assert "/usr/bin/qstat -x" in text and "exited with 2" in text
    assert "x" * 300 in text and "x" * 301 not in text


def test_parse_error_is_a_scheduler_error():
    err = ParseError("pbsnodes -x", "<Data><Node>", "invalid XML")
    assert isinstance(err, SchedulerError)
    assert "cannot parse output: invalid XML" in str(err) and "<Data><Node>" in str(err)


@pytest.mark.parametrize("bad", ["", "   \n", "<Data><Node><name>a</name></Node>", "<html>x</html>", "not xml"])
def test_iter_xml_never_yields_an_empty_snapshot(bad):
    with pytest.raises(ParseError):
        list(iter_xml(bad, "Node", "Data", "pbsnodes -x"))


def test_iter_xml_streams_large_documents_in_chunks():
    doc = "<Data>" + "".join(f"<Node><name>n{i}</name></Node>" for i in range(100000)) + "</Data>"
    assert len(doc) > 2 * (1 << 20)
    names = [e.findtext("name") for e in iter_xml(doc, "Node", "Data", "x")]
    assert names[0] == "n0" and names[-1] == "n99999" and len(names) == 100000


@pytest.mark.parametrize(
    "text,mb",
    [
        ("4gb", 4096),
        ("5492kb", 6),
        ("93.1G", 95335),
        ("512", 1),
        ("1024mb", 1024),
        ("", 0),
        ("junk", 0),
        ("2tb", 2 * 1024 * 1024),
    ],
)
def test_mem_mb(text, mb):
    assert mem_mb(text) == mb


@pytest.mark.parametrize(
    "text,s", [("01:00:00", 3600), ("1:00:00:00", 86400), ("3600", 3600), ("INFINITY", 0), ("", 0), ("0:10:0", 600)]
)
def test_duration(text, s):
    assert duration_s(text) == s


@pytest.mark.parametrize("name", ["a;rm -rf /", "-o", "a b", "", "$(x)", "a|b", "../x", "a\nb"])
def test_bad_host_names_refused(name):
    with pytest.raises(RefusedError):
        check_host(name)


@pytest.mark.parametrize("job", ["12", "166[1]", "12.3", "45_7", "149.server.example"])
def test_good_job_ids(job):
    assert check_jobid(job) == job


@pytest.mark.parametrize("job", ["12;x", "-p", "1 2", "", "a"])
def test_bad_job_ids(job):
    with pytest.raises(RefusedError):
        check_jobid(job)


def test_cluster_settings_validates_with_paths():
    with pytest.raises(ConfigError) as exc:
        cluster_settings(lambda key: {"type": "torque", "config": {"qstat_command": "qstat -x | grep R"}})
    assert "dcluster:cluster:config:qstat_command" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        cluster_settings(lambda key: {"type": "torque", "config": {"pbsnodes_comand": "x"}})
    assert "dcluster:cluster:config:pbsnodes_comand: unknown key (did you mean 'pbsnodes_command'?)" in str(exc.value)


def test_cluster_settings_type_mismatch_and_defaults():
    with pytest.raises(ConfigError, match="this is the slurm module"):
        cluster_settings(lambda key: {"type": "sge"}, expect="slurm")
    cluster = cluster_settings(lambda key: None, expect="sge")
    assert cluster.type == "sge" and cluster.config.qconf_command.argv == ("/usr/bin/qconf",)


def test_salt_command_passes_argv_without_shell():
    seen = {}

    def run_all(cmd, **kwargs):
        seen.update(kwargs, cmd=cmd)
        return {"retcode": 3, "stdout": "out", "stderr": "err"}

    run = salt_command(run_all, timeout=7, env={"A": "1"})
    assert run(["qstat", "-x"], stdin="in") == (3, "out", "err")
    assert seen["cmd"] == ["qstat", "-x"] and seen["python_shell"] is False
    assert seen["timeout"] == 7 and seen["stdin"] == "in" and seen["env"] == {"A": "1"}


def test_local_command_runs_argv_and_reports_missing_programs():
    run = local_command(timeout=5)
    assert run(["printf", "%s", "a;b"]) == (0, "a;b", "")
    with pytest.raises(SchedulerError, match="could not start"):
        run(["/nonexistent/qstat"])


@pytest.mark.parametrize("printed", ["a\r\nb\rc\n\r\r\n", "caf\u00e9 \u20ac\n" * 3, "", "plain\n", "\xff"])
def test_local_command_gives_what_text_mode_gives(printed):
    # it reads bytes and decodes them itself (skipping the newline passes when there is no \r):
    # the same text, universal newlines included, on stdout, stderr and through stdin, as text=True
    import subprocess

    script = (
        "import sys; d = sys.stdin.buffer.read(); sys.stdout.buffer.write(d); sys.stderr.buffer.write(b'<' + d * 2)"
    )
    argv = [sys.executable, "-c", script]
    want = subprocess.run(argv, input=printed, capture_output=True, text=True)
    assert local_command(timeout=5)(argv, stdin=printed) == (0, want.stdout, want.stderr)


def test_local_command_replaces_undecodable_bytes_as_salts_cmd_run_all_does():
    # a job named by bytes that are no UTF-8 (any user can) failed every poll on the local path (red team)
    argv = [sys.executable, "-c", "import sys; sys.stdout.buffer.write(b'ok\\xff\\xfe')"]
    assert local_command(timeout=5)(argv) == (0, "ok\ufffd\ufffd", "")


def test_make_adapter_rejects_unknown_type():
    with pytest.raises(ValueError, match="unknown scheduler type"):
        make_adapter("pbspro", {}, lambda argv: (0, "", ""))


@pytest.mark.parametrize("as_bytes", [False, True])
def test_iter_xml_multibyte_text_across_chunk_boundaries(as_bytes):
    # a str is encoded one chunk at a time, bytes are cut anywhere: either way the text arrives whole
    from dcluster.schedulers.xml_stream import CHUNK

    name = "\u00e9\u20ac\U0001f600" * 40
    doc = "<Data>" + "".join(f"<Node><name>{i}{name}</name></Node>" for i in range(3 * CHUNK // 500)) + "</Data>"
    names = [e.findtext("name") for e in iter_xml(doc.encode() if as_bytes else doc, "Node", "Data", "x")]
    assert len(names) == 3 * CHUNK // 500 and all(n == f"{i}{name}" for i, n in enumerate(names))


@pytest.mark.parametrize(
    "bad,message",
    [
        ("<Data><Node><name>a</name></Node>", "invalid XML"),  # truncated after a whole record
        ("<Data><Node><name>a</name></Node></Data><Data/>", "invalid XML"),  # a second root
        ("<html><Node><name>a</name></Node></html>", "expected a <Data> document, got <html>"),
        ("<html><Node><name>a</name>", "expected a <Data> document, got <html>"),  # wrong root wins over truncation
        ("<?xml version='1.0'?><!-- nothing -->", "invalid XML"),
    ],
)
def test_iter_xml_errors_name_the_command_and_show_the_output(bad, message):
    with pytest.raises(ParseError) as exc:
        list(iter_xml(bad, "Node", "Data", "pbsnodes -x"))
    assert "'pbsnodes -x'" in str(exc.value) and message in str(exc.value) and bad[:20] in str(exc.value)


@pytest.mark.parametrize("enabled", [True, False])
def test_gc_paused_restores_the_collector_even_on_error(enabled):
    import gc

    from dcluster.gcpause import paused as gc_paused

    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        with pytest.raises(ParseError), gc_paused():
            assert not gc.isenabled()
            raise ParseError("x", "", "boom")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


@pytest.mark.parametrize(
    "doc", ["<html><Data><Node><name>a</name></Node></Data></html>", "<Nodes><Node><name>a</name></Node></Nodes>"]
)
def test_iter_xml_checks_the_document_root_not_the_first_element_named(doc):
    with pytest.raises(ParseError, match="expected a <Data> document, got <(html|Nodes)>"):
        list(iter_xml(doc, "Node", "Data", "pbsnodes -x"))


# ---- build_records: large documents are parsed in slices; the result (or error) must be iter_xml's
FIELDS = ("Job_Id", "queue", "n")


def _fields(elem, n, kids):
    # n is for error messages only (0 on the sliced path: build_records' doc); the fields identify a record
    return tuple(sorted(kids.items()))


def _big(record, n=None, head="<Data>", tail="</Data>"):
    from dcluster.schedulers.xml_records import _FAST_MIN

    n = n or _FAST_MIN // len(record) + 1000  # over _FAST_MIN: at least 3 slices
    return head + "".join(record.replace("#", str(i)) for i in range(n)) + tail


def _both(doc, monkeypatch):
    """(result or error text) of build_records, and of the plain iter_xml path."""
    from dcluster.schedulers import xml_records as _common

    def run():
        try:
            return _common.build_records(doc, "Job", "Data", "qstat -x", _fields, FIELDS)
        except ParseError as exc:
            return str(exc)

    fast = run()
    monkeypatch.setattr(_common, "_FAST_MIN", float("inf"))
    return fast, run()


def test_build_records_slices_a_plain_large_document(monkeypatch):
    from dcluster.schedulers import xml_records as _common

    doc = _big("<Job><Job_Id>#.s</Job_Id><queue>q\u00e9</queue></Job>", head="<?xml version='1.0'?>\n<Data>")
    assert len(doc) > _common._FAST_MIN  # over two CHUNKs: at least 3 slices
    fast, exact = _both(doc, monkeypatch)
    assert fast == exact and len(fast) > 1000 and fast[-1] == (("Job_Id", f"{len(fast) - 1}.s"), ("queue", "q\u00e9"))
    monkeypatch.setattr(_common, "_FAST_MIN", 0)  # and the slices were used: iter_xml is not needed
    monkeypatch.setattr(_common, "iter_xml", None)
    assert _common.build_records(doc.encode(), "Job", "Data", "x", _fields, FIELDS) == exact


@pytest.mark.parametrize(
    "record,head,tail",
    [
        ("<!-- </Job> --><Job><Job_Id>#</Job_Id></Job>", "<Data>", "</Data>"),  # cuts inside comments
        ("<Job><Job_Id>#</Job_Id><n><![CDATA[a</Job>b]]></n></Job>", "<Data>", "</Data>"),  # inside CDATA
        ("<?pi </Job> ?><Job><Job_Id>#</Job_Id></Job>", "<Data>", "</Data>"),  # inside processing instructions
        ("<Job><Job_Id>#</Job_Id><Job><Job_Id>#b</Job_Id></Job></Job>", "<Data>", "</Data>"),  # nested records
        ("<Other><Job><Job_Id>#</Job_Id></Job></Other>", "<Data>", "</Data>"),  # records deeper down
        ("<Job><Job_Id>#</Job_Id><x><queue>deep</queue></x><queue>q</queue></Job>", "<Data>", "</Data>"),  # not fields
        ("<Job><Job_Id>#</Job_Id><queue>q<Job_Id>in</Job_Id></queue></Job>", "<Data>", "</Data>"),  # in a field
        ("<Job><Job_Id>#</Job_Id></Job>", "<Data><queue>top</queue>", "</Data>"),  # a field among the records
        ("<Job><Job_Id>#</Job_Id></Job><!-- c -->", "<Data>", "</Data>"),  # comments among the records
        ("<Job><Job_Id>#</Job_Id></Job>", "<Data>", "<Job><n/><n>2</n></Job></Data>"),  # repeated, empty
        ("<Job><Job_Id>#</Job_Id></Job>", "<Data xmlns='urn:x'>", "</Data>"),  # wrong root (namespace)
        ("<Job><Job_Id>#</Job_Id></Job>", "<html><Data>", "</Data></html>"),  # wrong root
        (
            "<Job><Job_Id>#</Job_Id></Job>",
            "<!DOCTYPE Data [<!ENTITY e 'x'>]><Data>",
            "<Job><Job_Id>&e;</Job_Id></Job></Data>",
        ),
        ("<Job><Job_Id>#</Job_Id></Job>", "<Data>", "</Data>junk"),  # garbage after the root
        ("<Job><Job_Id>#</Job_Id></Job>", "<Data>", "</Data><Data></Data>"),  # a second root
        ("<Job><Job_Id>#</Job_Id></Job>", "<Data>", "<Job><Job_Id>x</Job_Id>"),  # truncated
        ("<Job><Job_Id>#</Job_Id></Job>", "<Data>", "<Job><Job_Id>x</Job_Id></Jbo></Data>"),  # mismatched tag
    ],
)
def test_build_records_gives_the_same_result_or_error_as_iter_xml(record, head, tail, monkeypatch):
    fast, exact = _both(_big(record, head=head, tail=tail), monkeypatch)
    assert fast == exact
    if (
        "Jbo" in tail
        or tail in ("</Data>junk", "</Data><Data></Data>", "<Job><Job_Id>x</Job_Id>")
        or "html" in head
        or "xmlns" in head
    ):
        assert isinstance(fast, str) and "'qstat -x'" in fast  # an error, never a partial list


@pytest.mark.parametrize(
    "record,tail",
    [
        ("<Job><Job_Id>#</Job_Id><x><queue>deep</queue></x><queue>q</queue></Job>", "</Data>"),
        ("<Job><Job_Id>#</Job_Id><queue>q<Job_Id>in</Job_Id></queue></Job>", "</Data>"),
        ("<Job><Job_Id>#</Job_Id></Job>", "<Job><n/><n>2</n></Job></Data>"),
    ],
)
def test_build_records_slices_read_only_the_records_own_fields(record, tail, monkeypatch):
    """Elements named like fields deeper down are not fields, in the slices as in iter_xml (no fallback)."""
    from dcluster.schedulers import xml_records as _common

    doc = _big(record, tail=tail)
    fast, exact = _both(doc, monkeypatch)
    monkeypatch.setattr(_common, "_FAST_MIN", 0)
    monkeypatch.setattr(_common, "iter_xml", None)
    assert _common.build_records(doc, "Job", "Data", "x", _fields, FIELDS) == exact == fast
    assert ("queue", "deep") not in exact[0] and ("Job_Id", "in") not in exact[0]


def test_build_records_text_fields_last_one_counts_element_fields_first(monkeypatch):
    from dcluster.schedulers import xml_records as _common

    def build(elem, n, kids):
        return kids["Job_Id"], kids["r"].findtext("k"), sorted(kids)

    doc = _big("<Job><Job_Id>#</Job_Id><r><k>1</k></r><Job_Id>#b</Job_Id><r><k>2</k></r><x>no</x></Job>")
    sliced = _common.build_records(doc, "Job", "Data", "x", build, ("Job_Id",), ("r",))
    monkeypatch.setattr(_common, "_FAST_MIN", float("inf"))
    streamed = _common.build_records(doc, "Job", "Data", "x", build, ("Job_Id",), ("r",))
    assert sliced == streamed and sliced[0] == ("0b", "1", ["Job_Id", "r"])
    with pytest.raises(ValueError, match="both as text and as elements"):
        _common.build_records(doc, "Job", "Data", "x", build, ("Job_Id", "r"), ("r",))


def test_build_records_errors_of_build_are_iter_xml_s(monkeypatch):
    def build(elem, n, kids):
        if elem.findtext("Job_Id") is None:
            raise ParseError("qstat -x", "<Data>", f"a <Job> without <Job_Id> (record {n})")
        return n

    from dcluster.schedulers import xml_records as _common

    doc = _big("<Job><Job_Id>#</Job_Id></Job>", tail="<Job/></Data>")
    with pytest.raises(ParseError, match=r"record \d+\)") as fast:
        _common.build_records(doc, "Job", "Data", "qstat -x", build)
    monkeypatch.setattr(_common, "_FAST_MIN", float("inf"))
    with pytest.raises(ParseError) as exact:
        _common.build_records(doc, "Job", "Data", "qstat -x", build)
    assert str(fast.value) == str(exact.value)


def test_build_records_latin1_declaration_is_left_to_iter_xml(monkeypatch):
    doc = _big("<Job><Job_Id>#</Job_Id><n>\u00e9</n></Job>", head="<?xml version='1.0' encoding='ISO-8859-1'?><Data>")
    fast, exact = _both(doc.encode("latin-1"), monkeypatch)
    assert fast == exact and ("n", "\u00e9") in fast[0]


def test_build_records_two_threads_random_documents_give_iter_xml_s_answer(monkeypatch):
    """Differential: random documents cut into many tiny slices, which both threads read (an error in
    either thread's slice gives up), against iter_xml; no reading thread is left behind."""
    import random
    import threading

    from dcluster.schedulers import xml_records as _common

    monkeypatch.setattr(_common, "CHUNK", 64)  # many slices from a small document
    pieces = [
        "<Job_Id>#</Job_Id>", "<queue>q</queue>", "<queue/>", "<n>a b</n>", "<n>&amp;&lt;&#233;</n>", "<x>t</x>",
        "<x><queue>deep</queue></x>", "<n>\u00e9\u4e2d</n>", "\n",
        # then some of what gives up (or fails) in whichever slice it lands
        "<!-- c -->", "<n><![CDATA[<Job>]]></n>", "<Job/>", "<x><Job/></x>", "<queue>a<b/>c</queue>", "<n>", "</x>",
    ]  # fmt: skip
    took_slices = 0
    for seed in range(300):
        rnd = random.Random(seed)
        choice = pieces[:9] if rnd.random() < 0.5 else pieces
        recs = []
        for i in range(rnd.randint(1, 60)):
            body = "".join(rnd.choice(choice) for _ in range(rnd.randint(0, 6)))
            recs.append(f"<Job>{body.replace('<Job_Id>#', f'<Job_Id>{i}')}</Job>")
        doc = "<Data>" + "".join(recs) + "</Data>"

        def run(doc=doc):
            try:
                return _common.build_records(doc, "Job", "Data", "qstat -x", _fields, FIELDS)
            except ParseError as exc:
                return str(exc)

        monkeypatch.setattr(_common, "_FAST_MIN", 0)
        fast = run()
        monkeypatch.setattr(_common, "_FAST_MIN", float("inf"))
        assert fast == run(), (seed, doc)
        if choice is not pieces:
            with monkeypatch.context() as m:  # the plain ones took the slices: iter_xml is not needed
                m.setattr(_common, "_FAST_MIN", 0)
                m.setattr(_common, "iter_xml", None)
                took_slices += _common.build_records(doc, "Job", "Data", "x", _fields, FIELDS) == fast
    assert took_slices > 100
    assert not [t for t in threading.enumerate() if t.name == "dcluster-xml-slices"]


@pytest.mark.parametrize(
    "check, value",
    [
        ("check_host", "n1\n"),
        ("check_jobid", "5\n"),
        ("check_group", "all.q\n"),
        ("check_reason", "dcluster: held\n"),
    ],
)
def test_a_value_with_a_trailing_newline_is_refused(check, value):
    # "$" also matches before a final newline: such a value reached scontrol and qmgr (red team)
    from dcluster.schedulers import validate

    with pytest.raises(RefusedError):
        getattr(validate, check)(value)
    getattr(validate, check)(value[:-1])


def test_a_command_refuses_a_value_with_a_trailing_newline():
    from dcluster.config.command import Command, CommandError

    cmd = Command.parse("/usr/bin/qmgr -c 'create node {0}'")
    assert cmd.render("n1")[-1] == "create node n1"
    with pytest.raises(CommandError, match="unsafe value"):
        cmd.render("n1\n")


@pytest.mark.parametrize("bad", ["a\x01b", "a\x1bb", "a\ufffeb"])
@pytest.mark.parametrize("as_bytes", [False, True])
def test_a_character_xml_forbids_in_one_job_does_not_fail_the_poll(bad, as_bytes):
    # a user's job name printed unescaped made the whole Torque or Grid Engine document invalid (red team)
    from dcluster.schedulers import sge
    from tests.unit.schedulers.sched_helpers import data

    out = data("sge/dcsched-sge819-qstat-u-all-xml-r.xml")
    first = out.index("<JB_name>") + len("<JB_name>")
    bad_out = out[:first] + bad + out[first:]
    want = [j.id for j in sge.parse_qstat(out)]
    got = sge.parse_qstat(bad_out.encode() if as_bytes else bad_out)
    assert [j.id for j in got] == want
    with pytest.raises(ParseError, match="invalid XML"):  # a document broken otherwise still fails
        sge.parse_qstat(out.replace("</JB_name>", "</JB_nam>", 1))
