"""Does an evidence item's population cover this patient? direct | extrapolated | not_applicable, with why.

- direct: the patient's disease equals or descends from the evidence's (a DLBCL patient, LBCL evidence),
  the therapy class is the same and the product is the same or unspecified on one side, and the
  timepoint phases agree (pre, post, or either side `any`).
- extrapolated: the same therapy class and phase, but another population: another B-cell malignancy
  (or a subtype narrower than the patient's disease), or another product of the same class.
- not_applicable: another therapy class (blinatumomab evidence for a CAR-T patient), a timepoint phase
  the record cannot have (a post-infusion marker such as Cmax in a pre-treatment record, or the
  reverse), or a disease outside the patient's disease family.

An item whose text names no disease or no therapy is at best extrapolated: nothing says it was learned
from patients like this one.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import duckdb

from kb.query.vocab import Vocabulary

DIRECT, EXTRAPOLATED, NOT_APPLICABLE = "direct", "extrapolated", "not_applicable"
LEVELS = (DIRECT, EXTRAPOLATED, NOT_APPLICABLE)


@dataclass(frozen=True)
class Population:
    disease: str | None  # None: the evidence's text names no disease
    therapy: str | None
    therapy_class: str | None
    timepoint: str
    phase: str

    def as_json(self) -> dict:
        return asdict(self)


class Populations:
    """The disease, therapy and timepoint vocabularies, for resolving a record and judging evidence."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.diseases = Vocabulary(con, "disease")
        self.therapies = Vocabulary(con, "therapy")
        self.timepoints = Vocabulary(con, "timepoint")
        self.classes = {t["therapy_class"] for t in self.therapies.terms.values()}

    def patient(self, disease: str, therapy: str, timepoint: str) -> Population:
        """The record's population from any spelling; InputError names the field (disease, therapy, timepoint)."""
        d = self.diseases.resolve(disease, "disease")["name"]
        t = self.therapies.lookup(therapy)
        if t is None and therapy in self.classes:  # a class name that is no therapy's alias
            t = next(x for x in self.therapies.terms.values() if x["therapy_class"] == therapy and self._generic(x["name"]))
        if t is None:
            t = self.therapies.resolve(therapy, "therapy")
        tp = self.timepoints.resolve(timepoint, "timepoint")
        return Population(d, t["name"], t["therapy_class"], tp["name"], tp["phase"])

    def evidence(self, item: dict) -> Population:
        tp = self.timepoints.terms.get(item["timepoint"]) or {"phase": "any"}
        return Population(item["disease"], item["therapy"], item["therapy_class"], item["timepoint"], tp["phase"])

    def _generic(self, therapy: str) -> bool:
        """A class-level therapy term ('CD19 CAR-T unspecified', or a class with one product)."""
        term = self.therapies.terms.get(therapy) or {}
        return "unspecified" in therapy or therapy == term.get("therapy_class")

    def judge(self, patient: Population, item: dict | Population) -> dict:
        """{"level": direct | extrapolated | not_applicable, "reason": one sentence}."""
        ev = item if isinstance(item, Population) else self.evidence(item)
        blocking, widening, matching = [], [], []

        # disease
        patient_line = self.diseases.ancestors(patient.disease)
        evidence_line = self.diseases.ancestors(ev.disease) if ev.disease else []
        if ev.disease is None:
            widening.append("the evidence names no disease")
        elif ev.disease in patient_line:
            matching.append(f"disease {patient.disease}" + ("" if ev.disease == patient.disease else f" within {ev.disease}"))
        elif patient.disease in evidence_line:
            widening.append(f"evidence in {ev.disease}, a subtype of the patient's {patient.disease}")
        elif set(patient_line) & set(evidence_line):
            family = next(d for d in patient_line if d in evidence_line)
            widening.append(f"evidence in {ev.disease}, another {family} than the patient's {patient.disease}")
        else:
            blocking.append(f"evidence in {ev.disease}, unrelated to the patient's {patient.disease}")

        # therapy
        if ev.therapy is None:
            widening.append("the evidence names no therapy")
        elif ev.therapy_class != patient.therapy_class:
            blocking.append(f"evidence for {ev.therapy} (class {ev.therapy_class}), the patient receives "
                            f"{patient.therapy} (class {patient.therapy_class})")
        elif ev.therapy == patient.therapy or self._generic(ev.therapy) or self._generic(patient.therapy):
            matching.append(f"therapy {ev.therapy}" if ev.therapy == patient.therapy
                            else f"therapy class {ev.therapy_class} ({ev.therapy} evidence, patient {patient.therapy})")
        else:
            widening.append(f"evidence for {ev.therapy}, another {ev.therapy_class} product than the patient's {patient.therapy}")

        # timepoint phase
        if ev.phase == "any" or patient.phase == "any" or ev.phase == patient.phase:
            matching.append(f"timepoint phase {ev.phase if ev.phase != 'any' else patient.phase} (evidence {ev.timepoint}, "
                            f"record {patient.timepoint})")
        elif ev.phase == "post":
            blocking.append(f"a marker measured after infusion (evidence timepoint {ev.timepoint}) cannot be judged in a "
                            f"pre-treatment record ({patient.timepoint})")
        else:
            blocking.append(f"a marker measured before treatment (evidence timepoint {ev.timepoint}) cannot be judged in a "
                            f"record after infusion ({patient.timepoint})")

        if blocking:
            return {"level": NOT_APPLICABLE, "reason": "; ".join(blocking)}
        if widening:
            return {"level": EXTRAPOLATED, "reason": "; ".join(widening) + "; same marker"}
        return {"level": DIRECT, "reason": "same population: " + ", ".join(matching)}
