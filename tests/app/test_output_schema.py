"""`trialfinder schema` against what the real CLI prints: every --json output validates against its schema."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from test_cli import one_json, run_cli

from app.outputs import OUTPUTS
from trialfinder.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def index_dir(seed_index, seed_settings) -> Path:
    return seed_settings.index_dir


@pytest.fixture(scope="module")
def schemas(index_dir) -> dict[str, dict]:
    out = one_json(run_cli("schema", "--json", index=index_dir))["schemas"]
    assert set(out) == set(OUTPUTS)
    for schema in out.values():
        jsonschema.Draft202012Validator.check_schema(schema)
    return out


def valid(schemas: dict[str, dict], name: str, instance: dict) -> None:
    jsonschema.Draft202012Validator(schemas[name]).validate(instance)


def test_one_schema_by_name_and_an_unknown_name_is_a_usage_error(index_dir, schemas):
    assert one_json(run_cli("schema", "TrialVerdict", "--json", index=index_dir)) == schemas["TrialVerdict"]
    done = run_cli("schema", "Verdicts", index=index_dir)
    assert done.returncode == 2 and done.stdout == "" and "TrialVerdict" in done.stderr


def test_real_outputs_validate_against_their_schemas(index_dir, schemas):
    valid(schemas, "TrialList", one_json(run_cli("trials", "--json", index=index_dir)))
    patient = "58-year-old man with rheumatoid arthritis for 6 years, on methotrexate, creatinine 1.1 mg/dL"
    check = one_json(run_cli("check", "--patient", patient, "--json", index=index_dir))
    valid(schemas, "CheckResult", check)
    for verdict in check["results"]:
        valid(schemas, "TrialVerdict", verdict)
    search = one_json(run_cli("search", "--patient", patient, "--json", index=index_dir))
    assert search["trials"]
    valid(schemas, "SearchResult", search)
    answer = one_json(
        run_cli(
            "ask",
            "Could I join it?",
            "--patient",
            "29-year-old woman with lupus, SLEDAI 8",
            "--trial",
            "NCT03171194",
            "--json",
            index=index_dir,
        )
    )
    assert answer["citations"] and answer["eligibility"]
    valid(schemas, "Answer", answer)


def test_ingest_output_and_a_broken_output_against_the_schemas(tmp_path, schemas):
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(PROJECT_ROOT / "data" / "trials" / "NCT03171194.txt", docs)
    (docs / "broken.json").write_text("{not json", encoding="utf-8")
    done = run_cli("ingest", str(docs), "--json", "--no-progress", index=tmp_path / "index")
    assert done.returncode == 1  # one document failed, the other is ingested
    out = one_json(done)
    valid(schemas, "IngestResult", out)
    assert [t["trial_id"] for t in out["trials"]] == ["NCT03171194"] and len(out["errors"]) == 1
    # The schemas can fail: a verdict outside the vocabulary and a missing key are refused.
    with pytest.raises(jsonschema.ValidationError):
        valid(schemas, "TrialVerdict", {"trial_id": "NCT03171194", "verdict": "probably"})
    with pytest.raises(jsonschema.ValidationError):
        valid(schemas, "IngestResult", {k: v for k, v in out.items() if k != "errors"})


def test_interface_doc_names_every_command_and_output():
    doc = (PROJECT_ROOT / "docs" / "interface.md").read_text(encoding="utf-8")
    from app.cli import build_parser

    [subcommands] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    commands = list(subcommands.choices)
    assert "schema" in commands
    for command in commands:
        assert f"trialfinder {command}" in doc, f"docs/interface.md does not describe `trialfinder {command}`"
    for name in OUTPUTS:
        assert f"**{name}**" in doc, f"docs/interface.md does not describe the {name} output"
    assert "CONTRACT" not in doc  # the interface is described here, not in a file outside the repository
    assert json.loads(json.dumps(OUTPUTS["Answer"].model_json_schema()))  # generated, not hand-written
