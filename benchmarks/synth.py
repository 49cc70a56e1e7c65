"""A generated corpus of N trials in ClinicalTrials.gov API v2 JSON, made by recombining real sections.

Each synthetic study takes its title, conditions, keywords and summary from one real record of the legacy
XML archive, and its status, sponsor, design, arms and interventions, outcomes, eligibility and locations
from other randomly chosen records, so texts, criteria layouts and sizes are real while the trials are new.
The title, conditions and summary stay together because they describe one study (a summary of another
study under the title would make an incoherent trial), and because they are what the compact dense
policy embeds, so a re-keyed trial's profile text equals that of a real record (benchmarks/scale.py reuses
the archive index's vector for it instead of embedding it again). Ids are `NCT9xxxxxxx`
(a range no real study uses). Deterministic for a given seed. Written as JSONL (one study per line).

    python -m benchmarks.synth --count 10000 --out benchmarks/out/synth-10000.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tarfile
from pathlib import Path

from defusedxml import ElementTree

from trialfinder.settings import PROJECT_ROOT, Settings

# Under TRIALFINDER_SHARED_DIR (default ../shared beside the repository), as `trialfinder eval --external`
# finds it, so a checkout elsewhere (a git worktree) can point at the shared data.
ARCHIVE = Settings().shared_dir / "corpus" / "ctgov-xml-2023-02.tar.xz"
OUT_DIR = PROJECT_ROOT / "benchmarks" / "out"


def _text(node, path: str) -> str | None:
    value = node.findtext(path)
    if value is None:
        return None
    if path.endswith("textblock"):
        value = " ".join(line.strip() for line in value.replace("\r", "").split("\n") if line.strip())
    value = value.strip()
    return value or None


def _criteria(node) -> str | None:
    """The criteria text block with its line structure kept (the criteria parser needs the lines)."""
    value = node.findtext("eligibility/criteria/textblock")
    if not value:
        return None
    lines = [line.strip() for line in value.replace("\r", "").split("\n")]
    return "\n".join(lines).strip() or None


def _enum(value: str | None) -> str | None:
    return value.upper().replace(" ", "_").replace(",", "") if value else None


def _phases(value: str | None) -> list[str]:
    if not value or value.upper() == "N/A":
        return ["NA"] if value else []
    return [p.strip().upper().replace("EARLY PHASE 1", "EARLY_PHASE1").replace(" ", "") for p in value.split("/")]


def sections_of(root) -> dict:
    """The API v2 modules of one XML record, as separate recombinable sections."""
    identification = {"briefTitle": _text(root, "brief_title"), "officialTitle": _text(root, "official_title")}
    status = {
        "overallStatus": _enum(_text(root, "overall_status")),
        "startDateStruct": {"date": _text(root, "start_date")},
        "completionDateStruct": {"date": _text(root, "completion_date")},
    }
    sponsor = {
        "leadSponsor": {"name": _text(root, "sponsors/lead_sponsor/agency")},
        "collaborators": [{"name": c.findtext("agency")} for c in root.findall("sponsors/collaborator")],
    }
    description = {
        "briefSummary": _text(root, "brief_summary/textblock"),
        "detailedDescription": _text(root, "detailed_description/textblock"),
    }
    conditions = {
        "conditions": [c.text for c in root.findall("condition") if c.text],
        "keywords": [k.text for k in root.findall("keyword") if k.text],
    }
    enrollment = root.findtext("enrollment")
    design = {
        "studyType": _enum(_text(root, "study_type")),
        "phases": _phases(_text(root, "phase")),
        "enrollmentInfo": {"count": int(enrollment) if enrollment and enrollment.isdigit() else None},
    }
    arms = {
        "armGroups": [
            {
                "label": a.findtext("arm_group_label"),
                "type": _enum(a.findtext("arm_group_type")),
                "description": a.findtext("description"),
            }
            for a in root.findall("arm_group")
        ],
        "interventions": [
            {
                "type": _enum(i.findtext("intervention_type")),
                "name": i.findtext("intervention_name"),
                "description": i.findtext("description"),
            }
            for i in root.findall("intervention")
        ],
    }
    outcomes = {
        "primaryOutcomes": [
            {"measure": o.findtext("measure"), "timeFrame": o.findtext("time_frame")}
            for o in root.findall("primary_outcome")
        ],
        "secondaryOutcomes": [
            {"measure": o.findtext("measure"), "timeFrame": o.findtext("time_frame")}
            for o in root.findall("secondary_outcome")
        ],
    }
    eligibility = {
        "eligibilityCriteria": _criteria(root),
        "sex": _enum(_text(root, "eligibility/gender")),
        "minimumAge": _text(root, "eligibility/minimum_age"),
        "maximumAge": _text(root, "eligibility/maximum_age"),
        "healthyVolunteers": (_text(root, "eligibility/healthy_volunteers") or "").lower() == "yes",
    }
    locations = {
        "locations": [
            {
                "facility": loc.findtext("facility/name"),
                "city": loc.findtext("facility/address/city"),
                "state": loc.findtext("facility/address/state"),
                "country": loc.findtext("facility/address/country"),
            }
            for loc in root.findall("location")
        ][:20]
    }
    return {
        "identification": identification,
        "status": status,
        "sponsor": sponsor,
        "description": description,
        "conditions": conditions,
        "design": design,
        "arms": arms,
        "outcomes": outcomes,
        "eligibility": eligibility,
        "locations": locations,
    }


def read_archive(archive: Path = ARCHIVE) -> list[dict]:
    """Sections of every record of the archive (streamed from the .tar.xz, never unpacked)."""
    records = []
    with tarfile.open(archive) as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".xml"):
                records.append(sections_of(ElementTree.fromstring(tar.extractfile(member).read())))
    return records


def _clean(value):
    """Drop None values and empty containers so every study looks like a real API v2 record."""
    if isinstance(value, dict):
        cleaned = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, [], {}, "")}
    if isinstance(value, list):
        return [c for c in (_clean(v) for v in value) if c not in (None, [], {}, "")]
    return value


def synthesize(records: list[dict], count: int, seed: int = 7) -> list[dict]:
    """`count` API v2 studies recombined from `records` (see the module docstring)."""
    rng = random.Random(seed)
    with_criteria = [r for r in records if r["eligibility"]["eligibilityCriteria"]]
    studies = []
    for i in range(count):
        base = records[i % len(records)]
        pick = lambda: rng.choice(records)  # noqa: E731 (a fresh donor per section)
        study = {
            "protocolSection": {
                "identificationModule": {"nctId": f"NCT9{i:07d}", **base["identification"]},
                "statusModule": pick()["status"],
                "sponsorCollaboratorsModule": pick()["sponsor"],
                "descriptionModule": base["description"],
                "conditionsModule": base["conditions"],
                "designModule": pick()["design"],
                "armsInterventionsModule": pick()["arms"],
                "outcomesModule": pick()["outcomes"],
                "eligibilityModule": rng.choice(with_criteria)["eligibility"],
                "contactsLocationsModule": pick()["locations"],
            }
        }
        studies.append(_clean(study))
    return studies


def write_corpus(count: int, out: Path | None = None, seed: int = 7) -> Path:
    """Generate (or reuse, when already there) the corpus file; returns its path."""
    out = out or OUT_DIR / f"synth-{count}.jsonl"
    if out.is_file() and sum(1 for _ in out.open(encoding="utf-8")) == count:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    studies = synthesize(read_archive(), count, seed)
    tmp = out.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for study in studies:
            handle.write(json.dumps(study, ensure_ascii=False) + "\n")
    tmp.replace(out)
    return out


def write_shards(count: int, folder: Path | None = None, per_file: int = 1000, seed: int = 7) -> list[Path]:
    """The corpus of `count` studies as JSONL files of `per_file` studies each (reused when already there).

    A bulk ingest reads a folder of files document by document, so memory follows one file, not the corpus;
    the first `k * per_file` studies of a corpus are the same for any `count`, so a smaller ingest can read
    a prefix of the files.
    """
    folder = folder or OUT_DIR / f"synth-{count}-by-{per_file}"
    paths = [folder / f"part-{start // per_file:05d}.jsonl" for start in range(0, count, per_file)]
    if all(p.is_file() for p in paths):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    studies = synthesize(read_archive(), count, seed)
    for path, start in zip(paths, range(0, count, per_file), strict=True):
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            for study in studies[start : start + per_file]:
                handle.write(json.dumps(study, ensure_ascii=False) + "\n")
        tmp.replace(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.synth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--shards", action="store_true", help="write JSONL files of 1,000 studies (write_shards)")
    args = parser.parse_args(argv)
    if not ARCHIVE.is_file():
        print(f"benchmarks.synth: the archive {ARCHIVE} is missing", file=sys.stderr)
        return 2
    if args.shards:
        print("\n".join(map(str, write_shards(args.count, args.out, seed=args.seed))))
        return 0
    print(write_corpus(args.count, args.out, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
