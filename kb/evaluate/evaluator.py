"""Patient risk summaries: a patient record evaluated against every evidence item of its observed markers.

`evaluate_path(PATH)` reads one record (JSON or YAML), a JSONL file or a directory of records
(`kb.evaluate.records`) and returns one summary per patient in the JSON shape of docs/design.md. Each finding says whether the evidence's
population covers the patient (`kb.evaluate.applicability`) and what its rule says for the observed value
(`kb.evaluate.verdict`), with the quotes it rests on. Bone-marrow expression is scored with the PAM model
from the knowledge base (`kb.pam`).

Bad input raises InputError with one line: `file: field: what was expected`.
"""
from __future__ import annotations

import os
from collections.abc import Callable

import duckdb

from kb.core import store
from kb.core import units
from kb.evaluate.applicability import LEVELS as APPLICABILITY, Population, Populations
from kb.core.errors import InputError, RecordProblems
from kb.query.resolve import MarkerIndex
from kb.query.database import connect
from kb.evaluate.records import Record, load_records, parse_record
from kb.evaluate.verdict import VERDICTS, Observed, judge

DISCLAIMER = ("For research use only. Not for clinical decision-making. This summary restates what published "
              "evidence reports for markers like this patient's; it is not a validated prediction for this "
              "patient and must not guide treatment.")
SIGNED_KINDS = ("transcriptomic", "signature")  # log-scale or score values may be negative
ULN_KINDS = ("lab", "cytokine")  # values that may be given as a multiple of the ULN
LEVEL_RANK = {lvl: i for i, lvl in enumerate("ABCDE")}
CONTEXT_RANK = {"clinical": 0, "preclinical": 1, "background": 2}
# why an item that was not learned from patients gives no patient verdict
NO_VERDICT = {
    "preclinical": "preclinical evidence (animal models, cell lines or in vitro work) gives no verdict for a patient",
    "background": "a background statement (general knowledge the paper states or cites, not an observation in a "
                  "studied population) gives no verdict for a patient",
}
# the published model's population when its marker has no evidence item: B-ALL bone marrow before lymphodepletion
PAM_POPULATION = Population("B-ALL", "CD19 CAR-T unspecified", "CD19 CAR-T", "before lymphodepletion", "pre")


class Evaluator:
    """Everything a summary needs from the knowledge base, loaded once for a batch of records."""

    def __init__(self, con: duckdb.DuckDBPyConnection, model: str | None = None, model_files: bool = True):
        from kb.core.items import fetch_evidence
        from kb.query.filters import evidence_filters

        self.con = con
        self.kb_version = store.kb_version(con)
        self.populations = Populations(con)
        self.index = MarkerIndex(con)
        self.markers = store.marker_info(con)
        self.evidence: dict[str, list[dict]] = {}
        for item in fetch_evidence(con, *evidence_filters(con, status="accepted")):
            self.evidence.setdefault(item["marker_id"], []).append(item)
        self.model_spec = model
        self.model_files = model_files  # False over HTTP: a record names knowledge-base models, never server files
        self._pam_models: dict = {}

    def binder(self):
        from kb.evaluate.readers.standard import Binder

        if getattr(self, "_binder", None) is None:
            self._binder = Binder(self.index, self.populations, self.index.aliases)
        return self._binder

    def evaluate(self, patient, label: str, priors: str = "published", facts: dict | None = None) -> dict:
        if priors not in ("published", "equal"):
            raise InputError(f"--priors: expected published or equal, got {priors!r}")
        try:
            population = self.populations.patient(patient.disease, patient.therapy, patient.timepoint)
        except InputError as exc:
            raise InputError(f"{label}: {exc}") from None
        observed, resolved = self._observations(patient, label)

        findings = []
        for mid, obs in observed.items():
            for item in self.evidence.get(mid, []):
                findings.append(self._finding(item, obs, population))
        findings.sort(key=lambda f: (CONTEXT_RANK[f["context"]], APPLICABILITY.index(f["applicability"]["level"]),
                                     LEVEL_RANK.get(f["level"], 9), -(f["n_patients"] or 0), f["evidence_id"]))

        pam = self._pam(patient, population, label, priors)
        seen = set(observed) | ({pam["model"]["marker_id"]} if pam else set())
        unseen = [m for m, items in self.evidence.items() if m not in seen and any(
            i["context"] == "clinical" and self.populations.judge(population, i)["level"] != "not_applicable"
            for i in items)]
        not_observed = sorted({self.markers[m]["name"] for m in unseen}, key=str.casefold)
        by_kind: dict[str, list[str]] = {}
        for m in sorted(unseen, key=lambda m: self.markers[m]["name"].casefold()):
            by_kind.setdefault(self.markers[m]["kind"], []).append(self.markers[m]["name"])
        return {
            "kb_version": self.kb_version,
            "patient": {"id": patient.id, "source": label, **population.as_json(),
                        "observations": resolved},
            "findings": findings,
            "pam": pam,
            "summary": _summary(findings, [self.markers[m]["name"] for m in observed],
                                [self.markers[m]["name"] for m in observed if not self.evidence.get(m)], not_observed,
                                dict(sorted(by_kind.items(), key=lambda kv: (-len(kv[1]), kv[0])))),
            "input": facts or {"format": "native"},
            "disclaimer": DISCLAIMER,
        }

    def _observations(self, patient, label: str) -> tuple[dict[str, Observed], list[dict]]:
        """marker id -> the observation, checked and its unit parsed; and how each marker name resolved."""
        from kb.query.resolve import AmbiguousMarker, UnknownMarker

        out: dict[str, Observed] = {}
        where: dict[str, int] = {}
        resolutions = []
        for i, o in enumerate(patient.observations):
            at = f"{label}: observations[{i}]"
            try:
                resolved = self.index.resolve(o.marker)
            except (AmbiguousMarker, UnknownMarker) as exc:
                raise InputError(f"{at}.marker: {exc}") from None
            mid = resolved.id
            if mid in out:
                raise InputError(f"{at}.marker: {resolved.name} is already observed in observations[{where[mid]}]; "
                                 "expected one observation per marker")
            info = self.markers[mid]
            out[mid], where[mid] = self._observed(o, info, self.evidence.get(mid, []), at), i
            resolutions.append({"marker": o.marker, "resolved": resolved.as_json()})
        return out, resolutions

    def _observed(self, o, info: dict, items: list[dict], at: str) -> Observed:
        value, name = o.value, info["name"]
        categorical = any(i["rule"] and i["rule"]["operator"] == "category" for i in items)
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                if o.unit is not None or (info["unit"] and not categorical):
                    unit = o.unit or info["unit"]
                    raise InputError(f"{at}.value: expected a number for {name} (in {unit}), got {value!r}") from None
                return Observed(name, value.strip(), None, None, None)
        if value < 0 and info["kind"] not in SIGNED_KINDS:
            raise InputError(f"{at}.value: expected a number >= 0 ({name} cannot be negative), got {value:g}")
        if o.unit is None:
            if info["unit"]:
                raise InputError(f"{at}.unit: expected the unit of the {name} value (e.g. {info['unit']}), got none")
            return Observed(name, value, None, None, o.upper_limit_normal, o.comparator)
        dimension, expected = self._dimension(info, items)
        try:
            unit = units.parse(o.unit)
        except units.UnitError as exc:
            hint = f"unknown unit {o.unit!r} for {name}; expected one of {', '.join(expected)}" if expected else str(exc)
            raise InputError(f"{at}.unit: {hint}") from None
        if unit.code == units.ULN:
            if info["kind"] not in ULN_KINDS and not any(i["rule"] and i["rule"]["reference"] == "ULN" for i in items):
                raise InputError(f"{at}.unit: {o.unit!r} (a multiple of the ULN) does not fit {name}; expected one of "
                                 f"{', '.join(expected) or 'no unit'}")
        elif dimension is not None and unit.dimension != dimension:
            raise InputError(f"{at}.unit: {o.unit!r} ({unit.dimension}) does not fit {name} ({dimension}); "
                             f"expected one of {', '.join(expected)}")
        return Observed(name, value, o.unit, unit.code, o.upper_limit_normal, o.comparator)

    @staticmethod
    def _dimension(info: dict, items: list[dict]) -> tuple[str | None, list[str]]:
        """The marker's dimension (from its dictionary unit, else its rules' units) and the units of it."""
        candidates = [info["unit"]] + [i["rule"]["unit"] for i in items
                                       if i["rule"] and i["rule"]["reference"] == "absolute" and i["rule"]["unit"]]
        for code in candidates:
            try:
                dim = units.parse(code).dimension if code else None
            except units.UnitError:
                continue
            if dim:
                return dim, units.known_units(dim)
        if info["unit"] is None and any(i["rule"] and i["rule"]["reference"] == "absolute" for i in items):
            return "fraction", ["1"]  # unitless rules (ECOG <= 1): a unit, if any, must be '1'
        return None, []

    def _finding(self, item: dict, obs: Observed, population: Population) -> dict:
        j = judge(item, obs, self.markers[item["marker_id"]]["unit"])
        verdict, reason, explanation = j.verdict, j.reason, j.explanation
        if item["context"] in NO_VERDICT:  # the rule is still read, for the reader; the verdict is withheld
            verdict, reason = "indeterminate", NO_VERDICT[item["context"]]
            explanation = f"{explanation} ({item['context']} evidence: no patient verdict)"
        return {
            "marker": item["marker"], "marker_id": item["marker_id"], "evidence_id": item["id"],
            "evidence_type": item["evidence_type"], "direction": item["direction"], "context": item["context"],
            "outcome": item["outcome"],
            "population": {k: item[k] for k in ("disease", "therapy", "therapy_class", "timepoint")},
            "applicability": self.populations.judge(population, item),
            "observed": {"value": _plain(obs.value), "comparator": obs.comparator, "unit": obs.unit, "ucum": obs.ucum, "upper_limit_normal": _plain(obs.uln),
                         "converted_value": _plain(j.converted_value), "converted_unit": j.converted_unit},
            "rule": item["rule"], "rule_met": j.met, "verdict": verdict, "verdict_reason": reason,
            "explanation": explanation, "effect": item["effect"], "level": item["level"],
            "n_patients": item["n_patients"], "cited_works": [w["citation"] for w in item.get("cited_works") or []],
            "note": item.get("note"), "source": item["source"],
            "links": [{k: link[k] for k in ("document", "sha256", "start", "end", "quote")} for link in item["links"]],
        }

    # ---- PAM -------------------------------------------------------------------------------------

    def _model(self, spec: str | None, label: str):
        """The PAM model a record asks for (its `model`, else --model, else the knowledge base's default)."""
        from kb.core.errors import NotFound
        from kb.pam.open import open_model

        spec = spec or self.model_spec
        if spec not in self._pam_models:
            try:
                self._pam_models[spec] = open_model(spec, con=self.con, files=self.model_files)[0]
            except NotFound as exc:
                if spec is None:
                    self._pam_models[spec] = None  # a knowledge base without models: no PAM block
                else:
                    raise InputError(f"{label}: model: {exc}") from None
        return self._pam_models[spec]

    def _pam(self, patient, population: Population, label: str, priors: str) -> dict | None:
        """The PAM signature of the record's expression: δ, posteriors and call under both priors, per-gene shares."""
        from kb.pam.summary import summarize

        if patient.expression is None:
            return None
        model = self._model(patient.model, label)
        if model is None:
            return None
        items = self.evidence.get(model.marker_id) or []
        model_population = self.populations.evidence(items[0]) if items else PAM_POPULATION
        return summarize(model, patient.expression.genes, patient.expression.scale, priors,
                         self.populations.judge(population, model_population), [i["id"] for i in items], label)


def _plain(value):
    """Numbers as a reader wrote them: 410 not 410.0, 30 not 30.000000000000004 (12 significant digits)."""
    if not isinstance(value, float):
        return value
    value = float(f"{value:.12g}")
    return int(value) if value.is_integer() and abs(value) < 1e15 else value


def _summary(findings: list[dict], observed: list[str], without_evidence: list[str], not_observed: list[str],
             not_observed_by_kind: dict[str, list[str]]) -> dict:
    by_verdict = {v: 0 for v in VERDICTS}
    by_app = {a: 0 for a in APPLICABILITY}
    by_context = {c: 0 for c in CONTEXT_RANK}
    cross = {a: {v: 0 for v in VERDICTS} for a in APPLICABILITY}
    for f in findings:
        by_verdict[f["verdict"]] += 1
        by_app[f["applicability"]["level"]] += 1
        by_context[f["context"]] += 1
        cross[f["applicability"]["level"]][f["verdict"]] += 1
    return {"n_findings": len(findings), "by_verdict": by_verdict, "by_applicability": by_app,
            "by_context": by_context, "verdict_by_applicability": cross, "markers_observed": observed,
            "observed_without_evidence": without_evidence, "not_observed": not_observed,
            "not_observed_by_kind": not_observed_by_kind}


def evaluate_records(records: list[Record], *, con: duckdb.DuckDBPyConnection, priors: str = "published",
                     model: str | None = None, model_files: bool = True, at: str | None = None,
                     evaluator: Evaluator | None = None,
                     progress: Callable[[str, int, int], None] | None = None) -> list[dict]:
    """One summary per record, or RecordProblems naming every bad record (all or nothing: no summary
    is returned when any record is bad).

    `model` (a model file or a knowledge-base model id) scores expression for records that name none.
    `at` (a date or dateTime) is the evaluation time of standard-form records (FHIR, Phenopacket): the latest
    observation of each marker at or before it is used (default: the start of the CD19-directed therapy).
    `evaluator`: one already loaded (a server keeps one per database: loading is most of the cost of a
    small request); it replaces con, model and model_files.
    `progress(stage, done, total)` is called before each record is evaluated and once when all are."""
    from kb.evaluate.readers.standard import parse_when

    if priors not in ("published", "equal"):
        raise InputError(f"--priors: expected published or equal, got {priors!r}")
    try:
        when = parse_when(at, end_of_day=True)
    except InputError as exc:
        raise InputError(f"--at: {exc}") from None
    evaluator = evaluator or Evaluator(con, model, model_files)
    problems: list[tuple[int, str, str]] = []  # (position, record, message): every bad record, then fail
    patients = []
    for k, r in enumerate(records):
        try:
            patients.append((k, *bind_record(r, evaluator, when, at)))
        except InputError as exc:
            problems.append((k, r.label, str(exc)))
    summaries = []
    for done, (k, p, label, facts) in enumerate(patients):
        if progress is not None:
            progress("evaluating records", done, len(patients))
        try:
            summaries.append(evaluator.evaluate(p, label, priors, facts))
        except InputError as exc:
            problems.append((k, label, str(exc)))
    if progress is not None:
        progress("evaluating records", len(patients), len(patients))
    if problems:
        if len(records) == 1:
            raise InputError(problems[0][2])
        raise RecordProblems([(label, message) for _, label, message in sorted(problems, key=lambda p: p[0])], len(records))
    return summaries


def bind_record(r: Record, evaluator: Evaluator, when=None, at: str | None = None) -> tuple:
    """(validated Patient, label, input facts) of one record: a standard-form record (FHIR, Phenopacket) is
    first mapped against the knowledge base, and its facts say what was used and what was not (`input` of
    a summary). `when` is `at` parsed (`parse_when(at, end_of_day=True)`). A bad record is an InputError."""
    if r.problem is not None:
        raise InputError(r.problem)
    if r.pending is None:
        return parse_record(r), r.label, {"format": "native", "evaluated_at": at}
    data, facts = evaluator.binder().bind(r.pending, r.label, when)
    label = f"{r.label} (Patient {r.pending.patient_id})"
    return parse_record(Record(label, data)), label, facts


def bind_records(records: list[Record], evaluator: Evaluator, when=None, at: str | None = None) -> list[tuple]:
    """`bind_record` of each record; the first bad one raises (the patient page binds one upload)."""
    return [bind_record(r, evaluator, when, at) for r in records]


def _with_connection(run, con: duckdb.DuckDBPyConnection | None, db: str | os.PathLike | None):
    if con is not None:
        return run(con)
    own = connect(db)
    try:
        return run(own)
    finally:
        own.close()


def evaluate_path(path: str | os.PathLike, *, priors: str = "published", model: str | None = None, at: str | None = None,
                  con: duckdb.DuckDBPyConnection | None = None, db: str | os.PathLike | None = None,
                  progress: Callable[[str, int, int], None] | None = None) -> tuple[list[dict], str]:
    """Summaries of the records at `path` (file, JSONL or directory) and how they came (see load_records).
    `progress(stage, done, total)`: see evaluate_records."""
    from kb.evaluate.readers import load

    records, kind = load(path)
    return _with_connection(lambda c: evaluate_records(records, con=c, priors=priors, model=model, at=at,
                                                       progress=progress), con, db), kind


def evaluate(record: dict, *, priors: str = "published", model: str | None = None,
             con: duckdb.DuckDBPyConnection | None = None, db: str | os.PathLike | None = None,
             label: str = "record") -> dict:
    """The summary of one record given as a dict."""
    return _with_connection(lambda c: evaluate_records([Record(label, record)], con=c, priors=priors, model=model)[0],
                            con, db)


def evaluate_text(text: str, fmt: str, *, con: duckdb.DuckDBPyConnection, priors: str = "published",
                  model: str | None = None, label: str = "body", max_records: int | None = None,
                  model_files: bool = False, evaluator: Evaluator | None = None,
                  at: str | None = None) -> tuple[list[dict], str]:
    """Summaries of the records in `text`, declared as `fmt` (see `kb.evaluate.records.TEXT_FORMATS`), and
    how they came ('single', 'many' or 'jsonl'): the HTTP API's `POST /v1/evaluate`. Model files are not
    read unless `model_files` (a request names knowledge-base models only)."""
    from kb.evaluate.readers import from_text

    records, kind = from_text(text, fmt, label, max_records=max_records)
    return evaluate_records(records, con=con, priors=priors, model=model, model_files=model_files,
                            evaluator=evaluator, at=at), kind
