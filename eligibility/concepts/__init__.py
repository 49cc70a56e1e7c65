"""The concept registry: measurements, labs, vitals and scores (measurements.yaml, scores.yaml),
qualitative tests (serology.yaml), conditions (conditions.yaml) and drugs with their classes
(drugs.yaml) as validated data.

Each YAML entry becomes a frozen `Concept` at import; a malformed entry fails at import with the file,
the entry and the field named, so a bad edit never reaches a patient. Criteria parsing
(`eligibility.quantities`), patient extraction (`eligibility.measurements`), questions and labels are
all derived from these entries: adding a measurement is one entry here plus its tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

_DIR = Path(__file__).parent
Kind = Literal["lab", "measurement", "score", "vital"]


class UnitSpelling(BaseModel):
    """A way of writing a unit, and how a value in it converts to the canonical unit."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    unit: str = Field(description="Regular-expression alternatives for the unit as written")
    factor: float
    offset: float = 0.0
    dropped_thousands_below: float | None = Field(
        default=None,
        description="A value below this, written in this unit, lost its '10^3' and is already canonical: "
        "'WBC < 2.0/mm3' means 2.0 x 10^3/mm3",
    )

    @field_validator("unit")
    @classmethod
    def _compiles(cls, v: str) -> str:
        re.compile(v)
        return v


class BareMagnitude(BaseModel):
    """How to read a number written without a unit when its size shows the unit ("platelets 150000" is
    per µL, "platelets 150" is 10^9/L): at or above `above`, it is multiplied by `factor`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    above: float
    factor: float


class Example(BaseModel):
    """A criterion and a patient statement that must read back as this concept (tests walk them)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    criterion: str = Field(min_length=1)
    patient: str = Field(min_length=1)
    met: bool = Field(description="Whether the patient meets the criterion")


class Concept(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Kind
    label: str = Field(min_length=1, description="Plain-language name shown to people")
    question: str = Field(pattern=r"\?$", description="The plain question that gives the checker this fact")
    criteria: tuple[str, ...] = Field(min_length=1, description="Names used in trial criteria (regex)")
    patient: tuple[str, ...] = Field(min_length=1, description="Words patients use (regex)")
    unit: str
    units: tuple[UnitSpelling, ...] = ()
    require_unit: bool = Field(default=False, description="A bare number is not this measurement")
    patient_requires_unit: bool = Field(
        default=False,
        description="Patients may mean either unit ('weight 180' "
        "is pounds to many): a bare number they give is not read",
    )
    roman: bool = False
    titre: bool = Field(default=False, description="Written as a titre ('1:160'), compared by its reciprocal")
    qualitative: bool = Field(default=False, description="Also stated as positive or negative ('ANA positive')")
    value_first: bool = Field(
        default=False, description="Patients also write the value, with its unit, first ('born at 38 weeks gestation')"
    )
    bare: BareMagnitude | None = None
    integer: bool = False
    uln: bool = Field(default=False, description="Criteria may state it as a multiple of the upper limit of normal")
    range: tuple[float, float]
    example: Example

    @field_validator("criteria", "patient")
    @classmethod
    def _patterns_compile(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for p in v:
            re.compile(p)
        return v

    @cached_property
    def criteria_re(self) -> re.Pattern[str]:
        return re.compile(rf"(?i)(?<![\w-])(?:{'|'.join(self.criteria)})(?![\w])")

    @cached_property
    def patient_re(self) -> re.Pattern[str]:
        return re.compile(rf"(?i)(?<![\w-])(?:{'|'.join(self.patient)})(?![\w])")

    def to_canonical(self, value: float, unit: str | None) -> float | None:
        """`value` written in `unit` as a canonical value; None when the unit is not one of this concept's
        (or is missing where a unit is required), or the value is implausible for it."""
        if unit:
            spelling = next((s for s in self.units if re.fullmatch(rf"(?i){s.unit}", unit.strip())), None)
            if spelling is None:
                return None
            below = spelling.dropped_thousands_below
            if below is None or value >= below:
                value = value * spelling.factor + spelling.offset
        elif self.require_unit:
            return None
        elif self.bare is not None and value >= self.bare.above:
            value *= self.bare.factor
        lo, hi = self.range
        return value if lo <= value <= hi else None


class SerologyTest(BaseModel):
    """A test read as positive or negative ("RF positive", "negative for anti-CCP")."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["serology"]
    label: str = Field(min_length=1, description="Plain-language name shown to people")
    question: str = Field(pattern=r"\?$", description="The plain question that gives the checker this fact")
    criteria: tuple[str, ...] = Field(
        default=(), description="Names used in trial criteria (regex); none when criteria name it as a condition"
    )
    patient: tuple[str, ...] = Field(min_length=1, description="Words patients use (regex)")
    example: Example | None = Field(default=None, description="Required when criteria can name the test")

    @field_validator("criteria", "patient")
    @classmethod
    def _patterns_compile(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for p in v:
            re.compile(p)
        return v

    @model_validator(mode="after")
    def _example_when_required(self) -> SerologyTest:
        if self.criteria and self.example is None:
            raise ValueError("a test criteria can name needs an example criterion and patient statement")
        return self

    @cached_property
    def criteria_re(self) -> re.Pattern[str] | None:
        if not self.criteria:
            return None
        return re.compile(rf"(?i)(?<![\w-])(?:{'|'.join(self.criteria)})(?![\w])")

    @cached_property
    def patient_names(self) -> str:
        return "|".join(self.patient)


def _compiles(v: tuple[str, ...]) -> tuple[str, ...]:
    for p in v:
        re.compile(p)
    return v


Category = Literal["disease", "infection", "cancer", "procedure", "condition", "allergy", "symptom"]


class Ambiguity(BaseModel):
    """A capital-letter abbreviation that means something else in a given context ("RA" after an oxygen
    saturation is room air, not rheumatoid arthritis)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    abbreviation: str = Field(min_length=1, description="One of the entry's case_sensitive spellings, as written")
    means: str = Field(min_length=1, description="What it means there, for people reading the registry")
    preceded_by: str | None = Field(
        default=None, description="Regex the text right before it ends with (case-sensitive; use (?i:...) for words)"
    )
    followed_by: str | None = Field(default=None, description="Regex the text right after it starts with")

    @model_validator(mode="after")
    def _has_context(self) -> Ambiguity:
        if self.preceded_by is None and self.followed_by is None:
            raise ValueError("an ambiguity needs the context it depends on (preceded_by or followed_by)")
        for p in (self.preceded_by, self.followed_by):
            if p is not None:
                re.compile(p)
        return self

    def elsewhere(self, text: str, start: int, end: int) -> bool:
        """Whether the abbreviation at text[start:end] has its other meaning: every context given holds."""
        before = self.preceded_by is None or re.search(rf"(?:{self.preceded_by})$", text[max(0, start - 40) : start])
        after = self.followed_by is None or re.match(self.followed_by, text[end : end + 40])
        return bool(before and after)


class Condition(BaseModel):
    """A diagnosis, infection, cancer, procedure, allergy or symptom (the lexicon's `Term`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["condition"]
    category: Category
    label: str = Field(min_length=1, description="Plain-language name shown to people")
    names: tuple[str, ...] = Field(min_length=1, description="Spellings in criteria and patient text (regex)")
    case_sensitive: tuple[str, ...] = Field(default=(), description="Abbreviations that count only in capitals")
    lay: tuple[str, ...] = Field(default=(), description="Words only patients use (regex), never read in criteria")
    parents: tuple[str, ...] = Field(default=(), description="What it is a kind of (is-a), by id")
    question: str | None = Field(default=None, pattern=r"\?$", description="A plainer question than the derived one")
    primary: bool = Field(
        default=False,
        description="A primary rheumatologic diagnosis: naming one and not a cohort's disease means not having it",
    )
    ambiguous: tuple[Ambiguity, ...] = Field(default=(), description="Abbreviations with another meaning somewhere")
    allergen: str | None = Field(default=None, description="For an allergy: the substance alone (regex)")
    chronic: bool = Field(default=False, description="An infection that does not go away: a history of it is current")
    inactive: bool = Field(
        default=False,
        description="An inactive state of its parents (latent TB): a history of them, never an active one",
    )

    _patterns_compile = field_validator("names", "case_sensitive", "lay")(_compiles)

    @field_validator("allergen")
    @classmethod
    def _allergen_compiles(cls, v: str | None) -> str | None:
        if v is not None:
            re.compile(v)
        return v

    @model_validator(mode="after")
    def _ambiguities_are_abbreviations(self) -> Condition:
        for a in self.ambiguous:
            if not any(re.fullmatch(p, a.abbreviation) for p in self.case_sensitive):
                raise ValueError(f"ambiguous abbreviation {a.abbreviation!r} is not one of case_sensitive")
        return self

    def means_else(self, text: str, start: int, end: int) -> bool:
        """Whether the mention at text[start:end] is an abbreviation with its other meaning there."""
        return any(a.abbreviation == text[start:end] and a.elsewhere(text, start, end) for a in self.ambiguous)

    @property
    def name(self) -> str:
        """The canonical name facts and rules use (the id)."""
        return self.id

    @property
    def patterns(self) -> tuple[str, ...]:
        return self.names


class Drug(BaseModel):
    """A drug with its generic and brand spellings and every class it belongs to."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["drug"]
    names: tuple[str, ...] = Field(min_length=1, description="Generic and brand spellings (regex)")
    classes: frozenset[str] = Field(min_length=1, description="Every drug class it belongs to, by id")
    prednisone_factor: float | None = Field(default=None, gt=0, description="mg of prednisone per mg of this drug")
    label: str | None = Field(default=None, description="Plain words for questions, when its name is not plain")
    received: bool = Field(default=False, description="Asked as 'received' (a vaccine, an infusion), not 'taken'")

    _patterns_compile = field_validator("names")(_compiles)

    @property
    def name(self) -> str:
        return self.id

    @property
    def patterns(self) -> tuple[str, ...]:
        return self.names


class DrugClass(BaseModel):
    """A drug class and the phrases criteria and patients use for the whole class."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["drug_class"]
    phrases: tuple[str, ...] = Field(default=(), description="Phrases naming the whole class (regex)")
    label: str | None = Field(default=None, description="Plain words for questions ('a TNF blocker')")
    received: bool = False

    _patterns_compile = field_validator("phrases")(_compiles)


class ConditionGroup(BaseModel):
    """Phrases criteria use for a group of conditions ("autoimmune disease"), and the group's members."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["condition_group"]
    phrases: tuple[str, ...] = Field(min_length=1, description="Phrases naming the group (regex)")
    members: tuple[str, ...] = Field(min_length=1, description="The conditions it stands for, by id")

    _patterns_compile = field_validator("phrases")(_compiles)


Entry = Annotated[Concept | SerologyTest | Condition | ConditionGroup | Drug | DrugClass, Field(discriminator="kind")]
_ENTRY: TypeAdapter[Concept | SerologyTest | Condition | ConditionGroup | Drug | DrugClass] = TypeAdapter(Entry)


class RegistryError(ValueError):
    """A registry file that does not validate: says which file, entry and field."""


def _load(path: Path) -> tuple[Concept | SerologyTest | Condition | ConditionGroup | Drug | DrugClass, ...]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path.name}: not valid YAML ({exc})") from exc
    if not isinstance(raw, list):
        raise RegistryError(f"{path.name}: expected a list of concept entries")
    out = []
    for i, entry in enumerate(raw):
        name = entry.get("id", f"#{i + 1}") if isinstance(entry, dict) else f"#{i + 1}"
        try:
            out.append(_ENTRY.validate_python(entry))
        except ValidationError as exc:
            fields = "; ".join(".".join(str(p) for p in e["loc"][1:]) + ": " + e["msg"] for e in exc.errors())
            raise RegistryError(f"{path.name}: entry '{name}': {fields}") from exc
        except re.error as exc:
            raise RegistryError(f"{path.name}: entry '{name}': bad pattern ({exc})") from exc
    keys = [(type(c).__name__, c.id) for c in out]
    dupes = sorted({k[1] for k in keys if keys.count(k) > 1})
    if dupes:
        raise RegistryError(f"{path.name}: duplicate ids {dupes}")
    return tuple(out)


@dataclass(frozen=True)
class Registry:
    """Every entry of the registry, by kind and id (a drug and its class may share an id: "ivig")."""

    measurements: dict[str, Concept]
    serology: dict[str, SerologyTest]
    conditions: dict[str, Condition]
    condition_groups: dict[str, ConditionGroup]
    drugs: dict[str, Drug]
    drug_classes: dict[str, DrugClass]


def load(directory: Path = _DIR) -> Registry:
    """Every entry in `directory`'s YAML files; ids are unique within a kind, and every parent and class
    an entry names exists."""
    registry = Registry({}, {}, {}, {}, {}, {})
    for path in sorted(directory.glob("*.yaml")):
        for c in _load(path):
            tables: dict[type, dict[str, Any]] = {
                Concept: registry.measurements,
                SerologyTest: registry.serology,
                Condition: registry.conditions,
                ConditionGroup: registry.condition_groups,
                Drug: registry.drugs,
                DrugClass: registry.drug_classes,
            }
            table = tables[type(c)]
            if c.id in table or (isinstance(c, (Concept, SerologyTest)) and c.id in _quantities_and_tests(registry)):
                raise RegistryError(f"{path.name}: entry '{c.id}' is already defined in another file")
            table[c.id] = c
    for c in registry.conditions.values():
        unknown = [p for p in c.parents if p not in registry.conditions]
        if unknown:
            raise RegistryError(f"conditions: entry '{c.id}': parents {unknown} are not conditions")
    for g in registry.condition_groups.values():
        unknown = [m for m in g.members if m not in registry.conditions]
        if unknown:
            raise RegistryError(f"conditions: group '{g.id}': members {unknown} are not conditions")
    for d in registry.drugs.values():
        unknown = sorted(k for k in d.classes if k not in registry.drug_classes)
        if unknown:
            raise RegistryError(f"drugs: entry '{d.id}': classes {unknown} are not drug_class entries")
    return registry


def _quantities_and_tests(registry: Registry) -> set[str]:
    """Measurements and tests share one namespace: both are facts in a patient's labs."""
    return set(registry.measurements) | set(registry.serology)


_REGISTRY = load()
MEASUREMENTS: dict[str, Concept] = _REGISTRY.measurements
SEROLOGY: dict[str, SerologyTest] = _REGISTRY.serology
CONDITIONS: dict[str, Condition] = _REGISTRY.conditions
CONDITION_GROUPS: dict[str, ConditionGroup] = _REGISTRY.condition_groups
DRUGS: dict[str, Drug] = _REGISTRY.drugs
DRUG_CLASSES: dict[str, DrugClass] = _REGISTRY.drug_classes


def is_score(concept_id: str) -> bool:
    """Whether the concept is a score or scale (a patient's scores are kept apart from labs and vitals)."""
    c = MEASUREMENTS.get(concept_id)
    return c is not None and c.kind == "score"


def label(concept_id: str) -> str | None:
    """The plain-language name of a measurement, score or serology test; None for an unknown id."""
    c: Concept | SerologyTest | None = MEASUREMENTS.get(concept_id) or SEROLOGY.get(concept_id)
    return c.label if c else None


def question(concept_id: str) -> str | None:
    c = MEASUREMENTS.get(concept_id)
    return c.question if c else None
