"""Build the optional second corpus: the autoimmune-disease and mesenchymal-stem-cell records of the archive.

Reads the ClinicalTrials.gov legacy-XML archive (default: ../shared/corpus/ctgov-xml-2023-02.tar.xz) as a
stream, keeps the records whose conditions, keywords, titles or interventions name an autoimmune or
immune-mediated disease or mesenchymal stem/stromal cells, and writes them byte for byte, in archive order,
to data/corpora/autoimmune.tar.xz. Run it again to rebuild the same selection:

    .venv/bin/python scripts/make_autoimmune_corpus.py [--archive PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ARCHIVE = ROOT.parent / "shared" / "corpus" / "ctgov-xml-2023-02.tar.xz"
DEFAULT_OUT = ROOT / "data" / "corpora" / "autoimmune.tar.xz"

# Disease names as the registry writes them (conditions, keywords, titles).
DISEASES = re.compile(
    r"rheumatoid arthritis|lupus|systemic sclerosis|scleroderma|myositis|sj[oö]gren|vasculitis|wegener"
    r"|granulomatosis with polyangiitis|polyarteritis|takayasu|giant cell arteritis|kawasaki|beh[cç]et"
    r"|ankylosing spondylitis|spondyloarthr|psoriatic arthritis|juvenile (?:idiopathic|rheumatoid) arthritis"
    r"|still'?s disease|antiphospholipid|(?:mixed|undifferentiated) connective tissue|sarcoidosis|uveitis"
    r"|multiple sclerosis|type 1 diabetes|diabetes mellitus,? type 1|insulin-dependent diabetes|crohn"
    r"|ulcerative colitis|inflammatory bowel|psoriasis|myasthenia|autoimmune|primary biliary"
    r"|sclerosing cholangitis|graves'? disease|hashimoto|immune thrombocytopeni|celiac",
    re.IGNORECASE,
)
# Cell therapy: matched in interventions and descriptions too, where trials name the product.
STEM_CELLS = re.compile(r"mesenchymal (?:stem|stromal|progenitor)|\bMSCs?\b", re.IGNORECASE)


def selected(root: ET.Element) -> bool:
    """True when the record concerns an autoimmune disease or mesenchymal stem/stromal cells."""

    def texts(*paths: str) -> str:
        return " ".join(e.text or "" for p in paths for e in root.iter(p))

    about = texts("condition", "keyword", "brief_title", "official_title")
    treatments = texts("intervention_name", "other_name", "arm_group_label")
    return bool(DISEASES.search(about) or STEM_CELLS.search(about) or STEM_CELLS.search(treatments))


def build(archive: Path, out: Path) -> tuple[int, int]:
    """Stream `archive`, write the selected records to `out`; returns (records read, records kept)."""
    read = kept = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r|*") as source, tarfile.open(out, "w:xz", preset=9) as target:
        for member in source:
            if not member.isfile():
                continue
            data = source.extractfile(member).read()
            read += 1
            if selected(ET.fromstring(data)):
                # Fixed metadata: rebuilding from the same archive gives the same bytes.
                info = tarfile.TarInfo(member.name)
                info.size, info.mtime, info.mode = len(data), member.mtime, 0o644
                target.addfile(info, io.BytesIO(data))
                kept += 1
    return read, kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not args.archive.is_file():
        print(f"archive not found: {args.archive} (pass --archive PATH)", file=sys.stderr)
        return 2
    read, kept = build(args.archive, args.out)
    print(f"{kept} of {read} records -> {args.out} ({args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
