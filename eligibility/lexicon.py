"""Medical vocabulary shared by the criteria parser and the fact extractor.

One table of conditions (diagnoses, infections, cancers, procedures) and one of drugs with their
classes. Both sides of the checker use the same canonical names, which is what makes a patient's
"lupus" meet a trial's "systemic lupus erythematosus" and "MabThera" count as "anti-CD20".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from eligibility import prefilter


@dataclass(frozen=True)
class Term:
    """A canonical name, its category, its parents (what it implies) and its spellings."""

    name: str
    category: str  # disease | infection | cancer | procedure | condition | allergy | symptom
    patterns: tuple[str, ...]
    parents: tuple[str, ...] = ()
    label: str = ""
    case_sensitive: tuple[str, ...] = field(default=())  # abbreviations that must keep their case


def _t(name, category, patterns, parents=(), label="", case_sensitive=()):
    return Term(name, category, tuple(patterns), tuple(parents), label or name, tuple(case_sensitive))


# Order matters only for overlapping spellings: longer, more specific terms come first.
TERMS: tuple[Term, ...] = (
    _t(
        "lupus_nephritis",
        "disease",
        [r"lupus nephritis", r"renal lupus", r"lupus glomerulonephritis"],
        ["sle"],
        "lupus nephritis",
    ),
    _t("lupus_cytopenia", "disease", [r"lupus cytopenia"], ["sle"], "lupus cytopenia"),
    _t(
        "sle",
        "disease",
        [r"systemic lupus erythematou?s", r"lupus"],
        ["ctd"],
        label="systemic lupus erythematosus",
        case_sensitive=(r"SLE",),
    ),
    _t(
        "ssc",
        "disease",
        [r"systemic sclerosis", r"scleroderma"],
        label="systemic sclerosis",
        parents=("ctd",),
        case_sensitive=(r"SSc", r"SSC"),
    ),
    _t("ra", "disease", [r"rheumatoid arthritis"], ["ctd"], label="rheumatoid arthritis", case_sensitive=(r"RA",)),
    _t(
        "as",
        "disease",
        [r"ankylosing spond[yi]litis", r"axial spondyloarthritis"],
        label="ankylosing spondylitis",
        case_sensitive=(r"AS",),
    ),
    _t(
        "jia",
        "disease",
        [r"juvenile idiopathic arthritis"],
        label="juvenile idiopathic arthritis",
        case_sensitive=(r"JIA",),
    ),
    _t(
        "jdm",
        "disease",
        [r"juvenile dermatomyositis"],
        ["myositis"],
        "juvenile dermatomyositis",
        case_sensitive=(r"JDM",),
    ),
    _t(
        "ibm",
        "disease",
        [r"inclusion body myositis"],
        ["myositis"],
        "inclusion body myositis",
        case_sensitive=(r"IBM",),
    ),
    _t("dm", "disease", [r"dermatomyositis"], ["myositis"], "dermatomyositis"),
    _t("pm", "disease", [r"polymyositis"], ["myositis"], "polymyositis"),
    _t("myositis", "disease", [r"myositis", r"inflammatory myopath(?:y|ies)"], ["ctd"], label="myositis"),
    _t("sjogren", "disease", [r"sj[oö]gren'?s?(?: syndrome| disease)?"], ["ctd"], label="Sjögren's syndrome"),
    _t(
        "vasculitis",
        "disease",
        [r"anca[- ]associated vasculitis", r"granulomatosis with polyangiitis", r"vasculitis"],
        label="vasculitis",
        case_sensitive=(r"AAV", r"GPA"),
    ),
    _t(
        "mctd",
        "disease",
        [r"mixed connective tissue disease"],
        ["ctd"],
        "mixed connective tissue disease",
        case_sensitive=(r"MCTD",),
    ),
    _t(
        "ipaf",
        "disease",
        [
            r"interstitial pneumonia with autoimmune features",
            r"idiopathic pneumonia with "
            r"autoimmune features",
        ],
        label="IPAF",
        case_sensitive=(r"IPAF",),
    ),
    _t(
        "ctd",
        "disease",
        [r"connective tissue (?:disease|disorder)s?"],
        label="connective tissue disease",
        case_sensitive=(r"CTD",),
    ),
    _t(
        "ild",
        "disease",
        [r"interstitial lung disease", r"pulmonary fibrosis", r"lung fibrosis"],
        label="interstitial lung disease",
        case_sensitive=(r"ILD",),
    ),
    _t("ms", "disease", [r"multiple sclerosis"], label="multiple sclerosis"),
    _t(
        "psoriatic_arthritis",
        "disease",
        [r"psoriatic arthritis"],
        label="psoriatic arthritis",
        case_sensitive=(r"PsA",),
    ),
    _t(
        "diabetes",
        "disease",
        [r"diabetes(?: mellitus)?", r"t2dm", r"t1dm"],
        label="diabetes",
        case_sensitive=(r"DM2", r"IDDM", r"NIDDM"),
    ),
    _t("hypertension", "disease", [r"hypertension"], label="hypertension", case_sensitive=(r"HTN",)),
    _t(
        "pulmonary_hypertension",
        "disease",
        [r"pulmonary (?:arterial )?hypertension"],
        label="pulmonary hypertension",
        case_sensitive=(r"PAH",),
    ),
    _t(
        "cad",
        "disease",
        [r"coronary artery disease", r"myocardial infarction", r"heart attack", r"angina", r"coronary heart disease"],
        label="coronary artery disease",
        case_sensitive=(r"CAD", r"MI", r"CABG"),
    ),
    _t("chf", "disease", [r"(?:congestive )?heart failure"], label="heart failure", case_sensitive=(r"CHF",)),
    _t(
        "arrhythmia",
        "disease",
        [r"(?:cardiac )?arrhythmias?", r"atrial fibrillation", r"atrial flutter"],
        label="cardiac arrhythmia",
        case_sensitive=(r"AF", r"AFib"),
    ),
    _t(
        "copd",
        "disease",
        [r"chronic obstructive pulmonary disease", r"emphysema"],
        label="COPD",
        case_sensitive=(r"COPD",),
    ),
    _t(
        "ckd",
        "disease",
        [r"chronic kidney disease", r"renal (?:failure|insufficiency)"],
        label="chronic kidney disease",
        case_sensitive=(r"CKD",),
    ),
    _t("immunodeficiency", "disease", [r"immunodeficiency"], label="immunodeficiency"),
    _t(
        "psychiatric",
        "disease",
        [
            r"psychiatric (?:disorder|illness|disease|condition)s?",
            r"schizophrenia",
            r"bipolar(?: disorder)?",
            r"psychosis",
            r"major depress\w*",
            r"mental illness",
        ],
        label="psychiatric disorder",
    ),
    _t(
        "substance_abuse",
        "condition",
        [
            r"(?:drug|substance|alcohol) (?:abuse|dependence|use disorder)",
            r"alcoholism",
            r"addiction",
            r"alcohol or substance abuse",
            r"drug or alcohol abuse",
        ],
        label="substance or alcohol abuse",
    ),
    _t("mds", "cancer", [r"myelodysplas\w*"], ["malignancy"], "myelodysplasia", case_sensitive=(r"MDS",)),
    # Cancers: the subtypes that trials name as exceptions come first.
    _t(
        "bcc",
        "cancer",
        [r"basal[- ]cell (?:skin )?(?:carcinoma|cancer)", r"basal cell"],
        ["malignancy"],
        "basal cell carcinoma",
        case_sensitive=(r"BCC",),
    ),
    _t(
        "scc_skin",
        "cancer",
        [r"squamous[- ]cell (?:skin )?(?:carcinoma|cancer)(?: of the skin)?", r"squamous cell"],
        ["malignancy"],
        "squamous cell skin carcinoma",
    ),
    _t(
        "cervical_cis",
        "cancer",
        [
            r"carcinoma in situ of the (?:uterine )?cervix",
            r"cervical carcinoma in situ",
            r"in situ (?:grade i )?cervical cancer",
            r"cervical dysplasia",
            r"cin ?[1-3]",
        ],
        ["malignancy"],
        "cervical carcinoma in situ",
    ),
    _t(
        "malignancy",
        "cancer",
        [
            r"(?:breast|lung|colon|colorectal|prostate|skin|ovarian|cervical|pancreatic|gastric|stomach|liver|"
            r"bladder|kidney|renal cell|thyroid|uterine|endometrial|brain|testicular|esophageal) cancer",
            r"cancer",
            r"malignan(?:cy|cies|t neoplasms?|t tumou?rs?)",
            r"carcinoma",
            r"neoplasms?",
            r"lymphoma",
            r"leuka?emia",
            r"melanoma",
            r"myeloma",
            r"sarcoma",
            r"solid tumou?rs?",
            r"tumou?rs?",
            r"hematologic malignanc(?:y|ies)",
        ],
        label="cancer",
    ),
    # Infections.
    _t(
        "hiv",
        "infection",
        [r"human immunodeficiency virus(?: infection)?", r"hiv(?:-positive| positive|\+)?(?: infection)?"],
        ["infection"],
        "HIV",
        case_sensitive=(r"AIDS",),
    ),
    _t(
        "hbv",
        "infection",
        [
            r"(?:hepatitis|hep\.?) ?b(?: virus| surface antigen)?(?: infection)?",
            r"hbv(?: infection)?",
            r"hbsag",
            r"hepatitis b core antibody",
            r"hbcab",
            r"anti-hbc",
        ],
        ["infection"],
        "hepatitis B",
    ),
    _t(
        "hcv",
        "infection",
        [r"(?:hepatitis|hep\.?) ?c(?: virus)?(?: infection)?", r"hcv(?: infection)?"],
        ["infection"],
        "hepatitis C",
    ),
    _t("htlv", "infection", [r"htlv(?:-1/2|-1|-2)?", r"human t-lymphotropic virus"], ["infection"], "HTLV"),
    _t(
        "latent_tb",
        "infection",
        [
            r"latent (?:tb|tuberculosis)",
            r"positive (?:ppd|mantoux|quantiferon|igra)"
            r"(?: test)?",
            r"(?:ppd|mantoux|quantiferon|igra)(?: test)? (?:was )?positive",
        ],
        ["tb"],
        "latent tuberculosis",
    ),
    _t("tb", "infection", [r"tuberculosis(?: infection)?", r"\btb\b(?: infection)?"], ["infection"], "tuberculosis"),
    _t("herpes_zoster", "infection", [r"herpes zoster", r"shingles"], ["infection"], "herpes zoster"),
    _t(
        "infection",
        "infection",
        [
            r"infections?",
            r"pneumonia",
            r"sepsis",
            r"cellulitis",
            r"bronchitis",
            r"osteomyelitis",
            r"urinary tract infection",
            r"abscess",
        ],
        label="infection",
        case_sensitive=(r"UTI",),
    ),
    # Procedures and other conditions.
    _t(
        "stem_cell_therapy",
        "procedure",
        [
            r"(?:mesenchymal )?stem[- ]cells?(?: therapy| transplant\w*| "
            r"infusions?| treatment)?",
            r"mesenchymal stromal cells?",
            r"bone marrow transplant\w*",
        ],
        label="stem cell therapy",
        case_sensitive=(r"MSCs?", r"HSCT", r"BMT"),
    ),
    _t("renal_transplant", "procedure", [r"(?:renal|kidney) transplant\w*"], label="kidney transplant"),
    _t("dialysis", "procedure", [r"(?:hemo|haemo|peritoneal )?dialysis"], label="dialysis", case_sensitive=(r"HD",)),
    _t("major_surgery", "procedure", [r"(?:major |joint )?surgery", r"operation"], label="surgery"),
    _t(
        "planned_surgery",
        "procedure",
        [r"planned surgery", r"surgery (?:is )?(?:planned|scheduled)"],
        label="planned surgery",
    ),
    _t(
        "allergy_murine",
        "allergy",
        [
            r"(?:allerg\w*|hypersensitivity|anaphyla\w*)[^.;]{0,60}(?:mouse|murine) "
            r"proteins?"
        ],
        label="allergy to mouse proteins",
    ),
    _t(
        "allergy_mab",
        "allergy",
        [r"(?:allerg\w*|anaphyla\w*|hypersensitivity)[^.;]{0,60}monoclonal antibod\w*"],
        label="allergy to monoclonal antibodies",
    ),
    _t(
        "allergy_methotrexate",
        "allergy",
        [r"allerg\w* to (?:methotrexate|mtx)", r"(?:methotrexate|mtx) allergy"],
        label="methotrexate allergy",
    ),
    _t(
        "allergy_penicillin",
        "allergy",
        [r"(?:allerg\w*|hypersensitivity) to (?:antibiotics of )?penicillin\w*", r"penicillin allergy"],
        label="penicillin allergy",
    ),
    _t(
        "allergy_streptomycin",
        "allergy",
        [r"(?:allerg\w*|hypersensitivity) to streptomycin", r"streptomycin allergy"],
        label="streptomycin allergy",
    ),
    _t(
        "allergy_contrast",
        "allergy",
        [r"(?:allerg\w*|anaphyla\w*)[^.;]{0,60}contrast(?: agents?| media| dye)?", r"contrast allergy"],
        label="contrast allergy",
    ),
    _t("cancer_associated_myositis", "disease", [r"cancer[- ]associated myositis"], label="cancer-associated myositis"),
    _t(
        "drug_induced_myositis",
        "disease",
        [r"drug[- ]induced myositis", r"statin[- ]induced myopathy"],
        label="drug-induced myositis",
    ),
    _t(
        "arthritis_symptoms",
        "symptom",
        [r"arthritis symptoms", r"joint (?:pain|swelling)", r"arthralgias?", r"synovitis"],
        label="arthritis symptoms",
    ),
)

TERM_BY_NAME: dict[str, Term] = {t.name: t for t in TERMS}

# Primary rheumatologic diagnoses: a patient who names one of these and not a cohort's disease is
# taken not to have that cohort's disease (the cohort-membership rule of the issue).
PRIMARY_DISEASES = frozenset(
    {
        "sle",
        "lupus_nephritis",
        "lupus_cytopenia",
        "ssc",
        "ra",
        "as",
        "jia",
        "dm",
        "pm",
        "jdm",
        "ibm",
        "myositis",
        "sjogren",
        "vasculitis",
        "mctd",
        "ipaf",
        "ctd",
        "ms",
        "psoriatic_arthritis",
    }
)

AUTOIMMUNE_RHEUMATIC = (
    "sle",
    "ssc",
    "ra",
    "as",
    "jia",
    "dm",
    "pm",
    "jdm",
    "ibm",
    "myositis",
    "sjogren",
    "vasculitis",
    "mctd",
    "ctd",
    "psoriatic_arthritis",
)

# Group phrases used in criteria, mapped to the canonical names they stand for.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"(?:rheumatic|rheumatologic(?:al)?) autoimmune (?:disease|disorder)s?", AUTOIMMUNE_RHEUMATIC),
    (r"autoimmune rheumatolog\w* (?:disease|disorder)s?", AUTOIMMUNE_RHEUMATIC),
    (r"autoimmune (?:disease|disorder)s?", AUTOIMMUNE_RHEUMATIC),
    (r"(?:severe )?cardiopulmonary disease", ("cad", "chf", "arrhythmia", "ild", "copd", "pulmonary_hypertension")),
)


def _compile(term: Term) -> re.Pattern:
    parts = [rf"(?i:\b{p}\b)" for p in term.patterns]
    parts += [rf"\b{p}\b" for p in term.case_sensitive]
    return re.compile("|".join(parts))


TERM_PATTERNS: tuple[tuple[Term, re.Pattern], ...] = tuple((t, _compile(t)) for t in TERMS)
GROUP_PATTERNS = tuple((re.compile(rf"(?i)\b{p}\b"), names) for p, names in GROUPS)
_TERM_GATE = prefilter.Gate(prefilter.starts(t.patterns + t.case_sensitive) for t in TERMS)


def ancestors(name: str) -> frozenset[str]:
    """The name and every term it implies (lupus nephritis -> SLE; JDM -> myositis)."""
    seen, todo = set(), [name]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        term = TERM_BY_NAME.get(n)
        if term:
            todo.extend(term.parents)
    return frozenset(seen)


def earliest_longest(hits: list[tuple]) -> list[tuple]:
    """Non-overlapping mentions from (start, end, ...) hits: earliest first, the longest at a start."""
    hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
    out, end = [], -1
    for h in hits:
        if h[0] >= end:
            out.append(h)
            end = h[1]
    return out


def find_terms(text: str) -> list[tuple[int, int, Term]]:
    """Non-overlapping term mentions in text, earliest and longest first."""
    hits = []
    for (term, pattern), may_match in zip(TERM_PATTERNS, _TERM_GATE.open(text), strict=False):
        if not may_match:
            continue
        for m in pattern.finditer(text):
            hits.append((m.start(), m.end(), term))
    return earliest_longest(hits)


# ---------------------------------------------------------------------------------------------
# Drugs


@dataclass(frozen=True)
class Drug:
    name: str
    classes: frozenset[str]
    patterns: tuple[str, ...]
    prednisone_factor: float | None = None  # mg of prednisone per mg of this drug


def _d(name, classes, patterns=(), factor=None):
    return Drug(name, frozenset(classes), tuple(patterns) or (name,), factor)


_ANTI_CD20 = {"anti_cd20", "b_cell_depleting", "biologic", "mab"}
_ANTI_TNF_MAB = {"anti_tnf", "biologic", "mab"}

DRUGS: tuple[Drug, ...] = (
    _d("rituximab", _ANTI_CD20, [r"rituximab", r"rituxan", r"mabthera", r"truxima", r"ruxience"]),
    _d("ocrelizumab", _ANTI_CD20, [r"ocrelizumab", r"ocrevus"]),
    _d("ofatumumab", _ANTI_CD20, [r"ofatumumab", r"kesimpta", r"arzerra"]),
    _d("obinutuzumab", _ANTI_CD20, [r"obinutuzumab", r"gazyva"]),
    _d("belimumab", {"anti_blys", "biologic", "mab"}, [r"belimumab", r"benlysta"]),
    _d("anifrolumab", {"biologic", "mab"}, [r"anifrolumab", r"saphnelo"]),
    _d("etanercept", {"anti_tnf", "biologic"}, [r"etanercept", r"enbrel"]),
    _d("adalimumab", _ANTI_TNF_MAB, [r"adalimumab", r"humira"]),
    _d("infliximab", _ANTI_TNF_MAB, [r"infliximab", r"remicade"]),
    _d("golimumab", _ANTI_TNF_MAB, [r"golimumab", r"simponi"]),
    _d("certolizumab", _ANTI_TNF_MAB, [r"certolizumab(?: pegol)?", r"cimzia"]),
    _d("tocilizumab", {"anti_il6", "biologic", "mab"}, [r"tocilizumab", r"actemra"]),
    _d("sarilumab", {"anti_il6", "biologic", "mab"}, [r"sarilumab"]),
    _d("secukinumab", {"anti_il17", "biologic", "mab"}, [r"secukinumab", r"cosentyx"]),
    _d("ixekizumab", {"anti_il17", "biologic", "mab"}, [r"ixekizumab", r"taltz"]),
    _d("abatacept", {"biologic"}, [r"abatacept", r"orencia"]),
    _d("anakinra", {"il1_antagonist", "biologic"}, [r"anakinra", r"kineret"]),
    _d("tofacitinib", {"jak_inhibitor", "dmard"}, [r"tofacitinib", r"xeljanz"]),
    _d("baricitinib", {"jak_inhibitor", "dmard"}, [r"baricitinib", r"olumiant"]),
    _d("upadacitinib", {"jak_inhibitor", "dmard"}, [r"upadacitinib", r"rinvoq"]),
    _d("methotrexate", {"dmard", "immunosuppressant"}, [r"methotrexate", r"mtx"]),
    _d(
        "mycophenolate",
        {"immunosuppressant", "dmard"},
        [r"mycophenol\w*(?: mofetil)?", r"mmf", r"cellcept", r"myfortic"],
    ),
    _d("azathioprine", {"immunosuppressant", "dmard"}, [r"azathioprine", r"imuran", r"aza"]),
    _d("cyclophosphamide", {"immunosuppressant", "cytotoxic"}, [r"cyclophosphamide", r"cytoxan", r"cyc"]),
    _d("leflunomide", {"dmard"}, [r"leflunomide", r"arava"]),
    _d("sulfasalazine", {"dmard"}, [r"sulfasalazine"]),
    _d(
        "hydroxychloroquine",
        {"antimalarial", "dmard", "myositis_inducing"},
        [r"hydroxych?lor?oquine", r"plaquenil", r"hcq"],
    ),
    _d("tacrolimus", {"immunosuppressant"}, [r"tacrolimus"]),
    _d("cyclosporine", {"immunosuppressant"}, [r"cyclospor\w+", r"ciclosporin"]),
    _d("voclosporin", {"immunosuppressant"}, [r"voclosporin"]),
    _d("prednisone", {"corticosteroid"}, [r"prednisone"], 1.0),
    _d("prednisolone", {"corticosteroid"}, [r"prednisolone"], 1.0),
    _d("methylprednisolone", {"corticosteroid"}, [r"methyl ?prednisolone", r"solu-?medrol", r"medrol"], 1.25),
    _d("dexamethasone", {"corticosteroid"}, [r"dexamethasone"], 6.67),
    _d("hydrocortisone", {"corticosteroid"}, [r"hydrocortisone"], 0.25),
    _d("corticosteroid", {"corticosteroid"}, [r"(?:cortico)?steroids?", r"glucocorticoids?"]),
    _d("ivig", {"ivig"}, [r"intravenous immunoglobulins?", r"ivig", r"iv immunoglobulins?"]),
    _d("plasma_exchange", {"plasma_exchange"}, [r"plasma ?exchange", r"plasmapheresis"]),
    _d("chlorambucil", {"cytotoxic"}, [r"chlorambucil"]),
    _d("nitrogen_mustard", {"cytotoxic"}, [r"nitrogen mustard"]),
    _d("vincristine", {"cytotoxic"}, [r"vincristine"]),
    _d("procarbazine", {"cytotoxic"}, [r"procarbazine"]),
    _d("statin", {"myositis_inducing"}, [r"\w+statin", r"statins?"]),
    _d("colchicine", {"myositis_inducing"}, [r"colchicine"]),
    _d(
        "nsaid",
        {"nsaid"},
        [r"nsaids?", r"ibuprofen", r"naproxen", r"diclofenac", r"celecoxib", r"indomethacin", r"meloxicam"],
    ),
    _d(
        "live_vaccine",
        {"live_vaccine"},
        [
            r"live (?:attenuated |viral )?vaccin\w*",
            r"mmr(?: vaccine)?",
            r"yellow fever vaccine",
            r"varicella vaccine",
            r"zostavax",
            r"flumist",
            r"bcg vaccin\w*",
            r"oral polio vaccine",
        ],
    ),
    _d(
        "intra_articular_injection",
        {"intra_articular"},
        [r"intra-?articular (?:steroid )?injections?", r"joint injections?"],
    ),
    _d(
        "investigational_drug",
        {"investigational"},
        [
            r"investigational (?:drugs?|products?|agents?|therap\w+)",
            r"experimental (?:therapeutic )?(?:drugs?|agents?|therap\w+)",
            r"(?:another |a )?clinical trial",
            r"study drug",
        ],
    ),
    _d("creatine", {"supplement"}, [r"creatine"]),
    _d("metformin", {"antidiabetic"}, [r"metformin"]),
    _d("insulin", {"antidiabetic"}, [r"insulin"]),
)

DRUG_BY_NAME: dict[str, Drug] = {d.name: d for d in DRUGS}
ALL_CLASSES = frozenset(c for d in DRUGS for c in d.classes)

# Words used in criteria and in patient text for a whole drug class.
CLASS_PHRASES: tuple[tuple[str, str], ...] = (
    (r"anti-?cd20(?: monoclonal antibod\w+| mabs?| therap\w+| agents?)?", "anti_cd20"),
    (r"b[- ]cell depleting(?: biologic)?(?: therap\w+| agents?| drugs?)?", "b_cell_depleting"),
    (r"anti-?tnf(?:α|-?alpha|a)?(?: agents?| therap\w+| drugs?)?", "anti_tnf"),
    (r"tnf(?:α|-?alpha|a)? (?:inhibitors?|blockers?|antagonists?)", "anti_tnf"),
    (r"(?:biologic drug )?(?:directly )?targeting il-17(?: or il-17 receptor)?", "anti_il17"),
    (r"il-17 (?:inhibitors?|blockers?)", "anti_il17"),
    (r"biologic(?:al)?s?(?: agents?| therap\w+| drugs?| dmards?)?", "biologic"),
    (r"(?:type\(s\) of )?(?:monoclonal antibod\w+|mabs?)(?: therap\w+)?", "mab"),
    (
        r"(?:non-corticosteroid )?immunosuppress\w+(?: agents?| therap\w+| drugs?| medications?| regimens?)?",
        "immunosuppressant",
    ),
    (r"disease[- ]modifying(?: anti-?rheumatic)?(?: agents?| drugs?)?", "dmard"),
    (r"dmards?", "dmard"),
    (r"jak inhibitors?", "jak_inhibitor"),
    (r"investigational", "investigational"),
    (r"chemotherapy", "cytotoxic"),
)


def _compile_drug(d: Drug) -> re.Pattern:
    return re.compile("|".join(rf"(?i:\b{p}\b)" for p in d.patterns))


DRUG_PATTERNS = tuple((d, _compile_drug(d)) for d in DRUGS)
CLASS_PATTERNS = tuple((re.compile(rf"(?i)\b{p}"), c) for p, c in CLASS_PHRASES)
_DRUG_GATE = prefilter.Gate(
    [prefilter.starts(d.patterns) for d in DRUGS] + [prefilter.starts([p]) for p, _ in CLASS_PHRASES]
)


def find_drugs(text: str, with_classes: bool = True) -> list[tuple[int, int, str, bool]]:
    """Non-overlapping drug or class mentions: (start, end, name, is_class)."""
    hits = []
    gate = _DRUG_GATE.open(text)
    for (d, pattern), may_match in zip(DRUG_PATTERNS, gate, strict=False):
        if not may_match:
            continue
        for m in pattern.finditer(text):
            hits.append((m.start(), m.end(), d.name, False))
    if with_classes:
        for (pattern, cls), may_match in zip(CLASS_PATTERNS, gate[len(DRUG_PATTERNS) :], strict=False):
            if not may_match:
                continue
            for m in pattern.finditer(text):
                hits.append((m.start(), m.end(), cls, True))
    return earliest_longest(hits)


def drug_classes(name: str) -> frozenset[str]:
    """Classes of a drug name, or {name} when it is a class itself."""
    drug = DRUG_BY_NAME.get(name)
    if drug:
        return drug.classes
    return frozenset({name}) if name in ALL_CLASSES else frozenset()


def class_covers(broad: str, narrow: str) -> bool:
    """True when every drug of class `narrow` also belongs to class `broad` (biologic covers anti-CD20)."""
    if broad == narrow:
        return True
    members = [d for d in DRUGS if narrow in d.classes]
    return bool(members) and all(broad in d.classes for d in members)
