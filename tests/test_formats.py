"""Round trips for every registered graph format, and the cohort check on import."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg_editor.adapters.pgmpy import from_pgmpy_model, to_pgmpy_model
from kg_editor.errors import FormatError
from kg_editor.formats import (
    GraphFormat,
    check_against_cohort,
    format_for_path,
    get_format,
    list_formats,
    read_graph,
    read_graph_with_model,
    register_format,
    write_graph,
)
from kg_editor.model.fit import bundled_network
from kg_editor.model.graph import CausalGraph

ODD = "cond:asia visit"  # a code with a colon and a space: not a BIF identifier


@pytest.fixture(scope="module")
def asia():
    return bundled_network("asia")


@pytest.fixture(scope="module")
def rich(asia) -> CausalGraph:
    """Asia with odd ids, labels with quotes, evidence, roles and an isolated node."""
    g = from_pgmpy_model(asia).to_networkx()
    g = nx.relabel_nodes(g, {"asia": ODD})
    g.add_node("age_band", label="Age band", domain="demographic", states=("young", "old"), tier=0)
    g.nodes[ODD].update(label='Visit to "Asia" (a=b; c)', domain="condition")
    g.nodes["lung"].update(label="Lung cancer", role="outcome")
    g.nodes["smoke"].update(label="Smoking", role="exposure")
    for u, v in g.edges:
        g.edges[u, v].update(
            provenance="distilled",
            endorsed=(u == "smoke"),
            evidence={"odds_ratio": 2.5, "ci": [1.2, 4.0], "q": 0.01},
            orientation="temporal precedence",
        )
    return CausalGraph(g, metadata={"source": "synthetic-asia", "target": "lung"})


def _relabelled_model(asia):
    from kg_editor.adapters.pgmpy import _relabel

    return _relabel(asia, {"asia": ODD})


def _structure_and_labels(g: CausalGraph) -> tuple:
    return (sorted(g.nodes), sorted(g.edges), {n: g.label(n) for n in g.nodes})


STRUCTURE_FORMATS = ["json", "graphml", "gml", "dot", "csv", "dagitty"]


@pytest.mark.parametrize("name", STRUCTURE_FORMATS)
def test_structure_formats_round_trip(rich, name, tmp_path):
    path = tmp_path / f"g{get_format(name).extensions[0]}"
    write_graph(rich, name, path)
    assert format_for_path(path).name == name
    back = read_graph(path)
    assert _structure_and_labels(back) == _structure_and_labels(rich)
    # and from text with an explicit format
    assert read_graph(path.read_text(encoding="utf-8"), name) == rich


@pytest.mark.parametrize("name", ["json", "graphml", "gml"])
def test_lossless_formats_keep_every_attribute(rich, name):
    back = read_graph(write_graph(rich, name), name)
    assert back.to_dict()["metadata"] == rich.to_dict()["metadata"]
    key = lambda d: sorted(d, key=lambda x: (x.get("id") or x["source"], x.get("target", "")))  # noqa: E731
    assert key(back.to_dict()["nodes"]) == key(rich.to_dict()["nodes"])
    assert key(back.to_dict()["edges"]) == key(rich.to_dict()["edges"])


@pytest.mark.parametrize("name", ["dot", "csv"])
def test_edge_evidence_and_provenance_survive(rich, name):
    back = read_graph(write_graph(rich, name), name)
    for u, v in rich.edges:
        a, b = rich.edge_attrs(u, v), back.edge_attrs(u, v)
        assert b["evidence"] == a["evidence"]
        assert b["provenance"] == a["provenance"]
        assert b["endorsed"] == a["endorsed"]


def test_dagitty_keeps_roles_and_positions(rich):
    g = rich.to_networkx()
    g.nodes["xray"]["pos"] = [1.5, -2.0]
    text = write_graph(CausalGraph(g), "dagitty")
    assert "smoke [exposure" in text and "lung [outcome" in text
    back = read_graph(text, "dagitty")
    assert back.node_attrs("smoke")["role"] == "exposure"
    assert back.node_attrs("lung")["role"] == "outcome"
    assert back.node_attrs("xray")["pos"] == [1.5, -2.0]
    assert back.metadata["outcome"] == "lung" and back.metadata["exposure"] == "smoke"


def test_dagitty_reads_what_dagitty_net_writes():
    text = """dag {
bb="0,0,1,1"
"Smoking status" [exposure,pos="0.2,0.3"]
Cancer [outcome,pos="0.5,0.3"]
Age [adjusted]
Age -> {"Smoking status" Cancer}
"Smoking status" -> Cancer <- Genes
}
"""
    g = read_graph(text, "dagitty")
    assert sorted(g.edges) == [
        ("Age", "Cancer"),
        ("Age", "Smoking status"),
        ("Genes", "Cancer"),
        ("Smoking status", "Cancer"),
    ]
    assert g.node_attrs("Age")["role"] == "adjusted"
    assert g.node_attrs("Smoking status")["role"] == "exposure"


def test_dagitty_bidirected_edges_and_latent_nodes_are_unmeasured_causes():
    g, _ = read_graph_with_model("dag { a -> c  a <-> b  U [latent]  U -> c  U -> d }", "dagitty")
    assert sorted(g.nodes) == ["a", "b", "c", "d"]  # the latent node is not a variable
    assert g.latent_pairs == [("a", "b"), ("c", "d")]
    back, _ = read_graph_with_model(write_graph(g, "dagitty"), "dagitty")
    assert back == g and back.latent_pairs == g.latent_pairs
    with pytest.raises(FormatError, match="causes of its own"):
        read_graph("dag { U [latent] x -> U U -> y }", "dagitty")


@pytest.mark.parametrize("name", ["bif", "xmlbif"])
def test_bif_formats_round_trip_with_cpds(rich, asia, name, tmp_path):
    model = _relabelled_model(asia)
    g = CausalGraph(rich.to_networkx().subgraph(model.nodes()).copy())  # BIF needs a CPD per node
    path = tmp_path / f"asia{get_format(name).extensions[0]}"
    write_graph(g, name, path, cpds=model)
    back, back_model = read_graph_with_model(path)
    assert _structure_and_labels(back) == _structure_and_labels(g)
    for node in model.nodes():
        a, b = model.get_cpds(node), back_model.get_cpds(node)
        assert a.state_names == b.state_names
        np.testing.assert_allclose(a.get_values(), b.get_values())
    # the read model is a valid pgmpy network that pgmpy can use as is
    assert back_model.check_model()


@pytest.mark.slow
def test_bif_round_trips_the_bundled_networks_byte_for_byte_in_tables():
    for net in ("cancer", "child"):
        model = bundled_network(net)
        g = from_pgmpy_model(model)
        _, m2 = read_graph_with_model(write_graph(g, "bif", cpds=model), "bif")
        for node in model.nodes():
            np.testing.assert_allclose(
                model.get_cpds(node).get_values(), m2.get_cpds(node).get_values()
            )


def test_bif_without_cpds_says_what_to_do(rich):
    with pytest.raises(FormatError, match="fit the model first"):
        write_graph(rich, "bif")
    text = write_graph(rich, "bif", cpds="uniform")
    back, model = read_graph_with_model(text, "bif")
    assert back == rich
    np.testing.assert_allclose(model.get_cpds("xray").get_values(), 0.5)


def test_cpds_fitted_for_another_structure_are_refused(asia):
    g = from_pgmpy_model(asia)
    other = CausalGraph.from_edges([("tub", "asia")], nodes=g.nodes)
    with pytest.raises(FormatError, match="Refit"):
        to_pgmpy_model(other, asia)


def test_every_registered_format_is_documented():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "formats.md").read_text(encoding="utf-8")
    for fmt in list_formats():
        assert f"`{fmt.name}`" in doc, f"format {fmt.name} is not documented in docs/formats.md"


def test_registry_accepts_new_formats_and_refuses_duplicates():
    fmt = GraphFormat("upper-csv", (".ucsv",), None, lambda g, _c: ",".join(g.nodes).upper())
    register_format(fmt)
    try:
        assert write_graph(CausalGraph.from_edges([("a", "b")]), "upper-csv") == "A,B"
        with pytest.raises(FormatError, match="already registered"):
            register_format(fmt)
        with pytest.raises(FormatError, match="not read"):
            read_graph("x", "upper-csv")
    finally:
        from kg_editor.formats import registry as formats

        formats._REGISTRY.pop("upper-csv")
    with pytest.raises(FormatError, match="Unknown graph format"):
        get_format("pajek")


def test_bad_inputs_raise_format_errors(tmp_path):
    with pytest.raises(FormatError, match="does not exist"):
        read_graph(tmp_path / "missing.bif")
    with pytest.raises(FormatError, match="source and a target"):
        read_graph("a,b\n1,2\n", "csv")
    with pytest.raises(FormatError, match="undirected"):
        read_graph("graph { a -- b }", "dot")
    with pytest.raises(FormatError):
        read_graph("network x { nonsense", "bif")
    with pytest.raises(FormatError, match="cycle"):
        read_graph("source,target\na,b\nb,a\n", "csv")


def test_check_against_cohort_lists_every_missing_variable():
    cohort = SimpleNamespace(
        codes=["asia", "tub", "smoke"], labels={"smoke": "Smoking"}, variables={}
    )
    g = CausalGraph.from_edges([("smoke", "tub"), ("tubb", "lung"), ("lung", "xray")])
    with pytest.raises(FormatError) as exc:
        check_against_cohort(g, cohort)
    msg = str(exc.value)
    assert "3 variables" in msg
    for name in ("'tubb'", "'lung'", "'xray'"):
        assert name in msg
    assert "did you mean 'tub'" in msg
    check_against_cohort(CausalGraph.from_edges([("smoke", "tub")]), cohort)


def test_align_to_cohort_maps_labels_to_codes():
    from kg_editor.data.cohort import Variable

    variables = {
        "c1": Variable("c1", "Smoking", "condition", ("absent", "present"), 10, 0.1),
        "c2": Variable("c2", "Lung cancer", "condition", ("absent", "present"), 5, 0.05),
    }
    cohort = SimpleNamespace(
        codes=list(variables),
        labels={c: v.label for c, v in variables.items()},
        variables=variables,
    )
    g = read_graph('dag { "smoking" -> "Lung cancer" }', "dagitty", cohort=cohort)
    assert g.edges == [("c1", "c2")]
    assert g.node_attrs("c2")["states"] == ("absent", "present")
    with pytest.raises(FormatError, match="'Asbestos'"):
        read_graph('dag { Asbestos -> "Lung cancer" }', "dagitty", cohort=cohort)


@pytest.mark.slow
def test_export_and_import_cli(tmp_path, asia, capsys):
    from kg_editor.cli import main

    bif = tmp_path / "asia.bif"
    write_graph(from_pgmpy_model(asia), "bif", bif, cpds=asia)
    assert main(["export", str(bif), "-o", str(tmp_path / "asia.dagitty")]) == 0
    assert main(["export", str(bif), "-f", "xmlbif", "-o", str(tmp_path / "asia.xml")]) == 0
    _, m2 = read_graph_with_model(tmp_path / "asia.xml")
    np.testing.assert_allclose(
        m2.get_cpds("either").get_values(), asia.get_cpds("either").get_values()
    )
    # structure-only input to BIF needs tables: a clear error, or placeholders on request
    assert main(["export", str(tmp_path / "asia.dagitty"), "-f", "bif"]) == 2
    assert "fit the model first" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "asia.dagitty"), "-f", "bif", "--cpds", str(bif)]) == 0
    assert "probability ( either | lung, tub )" in capsys.readouterr().out
    assert main(["import", str(tmp_path / "asia.dagitty"), "-o", str(tmp_path / "asia.json")]) == 0
    assert CausalGraph.from_json(tmp_path / "asia.json") == from_pgmpy_model(asia)


@pytest.mark.slow
def test_import_cli_checks_a_real_cohort(tmp_path, capsys):
    from kg_editor.cli import main
    from kg_editor.data.sources.synthetic import network_events

    syn = network_events("asia", 400, seed=3)
    events = tmp_path / "events.csv"
    persons = tmp_path / "persons.csv"
    syn.source.events.to_csv(events, index=False)
    syn.source.persons.to_csv(persons, index=False)
    good = tmp_path / "good.dagitty"
    good.write_text("dag { smoke -> lung\n lung -> either }\n", encoding="utf-8")
    bad = tmp_path / "bad.dagitty"
    bad.write_text("dag { smoking -> lung\n lung -> copd\n copd -> either }\n", encoding="utf-8")
    common = ["--cohort", str(events), "--persons", str(persons), "--min-patients", "1"]
    db = tmp_path / "s.sqlite"
    assert main(["import", str(good), *common, "--store", str(db), "--project", "asia"]) == 0
    out = capsys.readouterr().out
    assert '"checked_against_cohort": true' in out and '"version"' in out
    assert main(["import", str(bad), *common]) == 2
    err = capsys.readouterr().err
    assert (
        "2 variables the cohort lacks" in err
        and "'smoking' (did you mean 'smoke'?)" in err
        and "'copd'" in err
    )


_ids = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12
).filter(lambda s: s.strip() == s and s != "")
_labels = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20
)


@st.composite
def _graphs(draw):
    nodes = draw(st.lists(_ids, min_size=1, max_size=6, unique=True))
    labels = {n: (draw(_labels).strip() or n) for n in nodes}
    pairs = [(nodes[i], nodes[j]) for i in range(len(nodes)) for j in range(i + 1, len(nodes))]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True)) if pairs else []
    return CausalGraph.from_edges(edges, nodes=nodes, labels=labels)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_graphs(), st.sampled_from(STRUCTURE_FORMATS))
def test_any_graph_round_trips_through_structure_formats(g, name):
    back = read_graph(write_graph(g, name), name)
    assert _structure_and_labels(back) == _structure_and_labels(g)
