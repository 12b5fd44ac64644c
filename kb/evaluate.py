"""Patient risk summaries: a patient record evaluated against every evidence item of its observed markers.

`evaluate_path(PATH)` reads one record (JSON or YAML), a JSONL file or a directory of records and returns
one summary per patient in the JSON shape of DESIGN §5. Each finding says whether the evidence's
population covers the patient (`kb.applicability`) and what its rule says for the observed value
(`kb.verdict`), with the quotes it rests on. Bone-marrow expression is scored with the PAM model
from the knowledge base (`kb.pam`).

Bad input raises InputError with one line: `file: field: what was expected`.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from kb import store, units
from kb.applicability import LEVELS as APPLICABILITY, Population, Populations
from kb.errors import InputError
from kb.resolve import MarkerIndex
from kb.verdict import VERDICTS, Observed, judge

DISCLAIMER = ("For research use only. Not for clinical decision-making. This summary restates what published "
              "evidence reports for markers like this patient's; it is not a validated prediction for this "
              "patient and must not guide treatment.")
RECORD_SUFFIXES = (".json", ".yaml", ".yml", ".jsonl")
SIGNED_KINDS = ("transcriptomic", "signature")  # log-scale or score values may be negative
ULN_KINDS = ("lab", "cytokine")  # values that may be given as a multiple of the ULN
LEVEL_RANK = {lvl: i for i, lvl in enumerate("ABCDE")}
MIN_PAM_GENES = 10  # fewer genes present: no call
RAW_COUNT_LOG2 = 25  # a log2 value above this is a raw count
# the published model's population when its marker has no evidence item: B-ALL bone marrow before lymphodepletion
PAM_POPULATION = Population("B-ALL", "CD19 CAR-T unspecified", "CD19 CAR-T", "before lymphodepletion", "pre")


@dataclass(frozen=True)
class Record:
    label: str  # file, file:line (JSONL) or file[i] (a list): names the record in errors
    data: object


# ---- reading records ----------------------------------------------------------------------------

def load_records(path: str | os.PathLike) -> tuple[list[Record], str]:
    """The records at `path` and how they came: 'single' (one record), 'many' (directory, list) or 'jsonl'."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in RECORD_SUFFIXES)
        if not files:
            raise InputError(f"{p}: no patient records (*.json, *.yaml, *.yml, *.jsonl) in this directory")
        return [r for f in files for r in _load_file(f)[0]], "many"
    if not p.exists():
        raise InputError(f"{p}: no such file or directory; expected a patient record (JSON or YAML), a JSONL file or a directory")
    return _load_file(p)


def _load_file(p: Path) -> tuple[list[Record], str]:
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{p}: expected a JSON or YAML patient record (UTF-8 text), got binary data") from None
    if p.suffix.lower() == ".jsonl":
        records = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.append(Record(f"{p}:{n}", json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise InputError(f"{p}:{n}: expected one JSON object per line (JSONL); {exc.msg} at column {exc.colno}") from None
        if not records:
            raise InputError(f"{p}: expected one JSON patient record per line, got an empty file")
        return records, "jsonl"
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}: expected a JSON patient record; not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or "invalid syntax"
            raise InputError(f"{p}: expected a JSON or YAML patient record; not valid YAML: {problem}{where}") from None
    if isinstance(data, list):
        if not data:
            raise InputError(f"{p}: expected patient records, got an empty list")
        return [Record(f"{p}[{i}]", d) for i, d in enumerate(data)], "many"
    return [Record(str(p), data)], "single"


_FIELDS = {
    (): "id, disease, therapy, timepoint, observations, expression, model",
    ("observations",): "marker, value, unit, upper_limit_normal",
    ("expression",): "scale, genes",
}


def _field(loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "record"


def parse_record(record: Record):
    """The record as a validated `schemas.patient.Patient`; InputError `file: field: expected ...`."""
    from pydantic import ValidationError

    from schemas.patient import Patient

    if not isinstance(record.data, dict):
        got = "nothing" if record.data is None else f"a {type(record.data).__name__}"
        raise InputError(f"{record.label}: record: expected a patient record (an object with id, disease, therapy, "
                         f"timepoint, observations), got {got}")
    try:
        return Patient.model_validate(record.data)
    except ValidationError as exc:
        problem = _problem(exc.errors()[0])
    # raised outside the except block: a ValidationError kept as __context__ (pydantic-core objects are not
    # traversed by the garbage collector) would keep the frames, and an open connection, alive until exit
    raise InputError(f"{record.label}: {problem}")


def _problem(err: dict) -> str:
    """`field: what was expected` for one pydantic error."""
    loc = tuple(err["loc"])
    if "value" in loc:  # drop pydantic's union-member tags after observations[i].value
        loc = loc[: loc.index("value") + 1]
    kind, got = err["type"], err.get("input")
    if kind == "missing":
        msg = "required field is missing"
    elif kind == "extra_forbidden":
        parent = tuple(p for p in loc[:-1] if not isinstance(p, int))
        msg = "unknown field" + (f"; expected one of {_FIELDS[parent]}" if parent in _FIELDS else "")
    elif kind == "greater_than":
        msg = f"expected a number greater than {err['ctx']['gt']:g}, got {got!r}"
    elif kind in ("float_parsing", "float_type", "finite_number"):
        msg = f"expected a finite number, got {got!r}"
    else:
        msg = err["msg"].removeprefix("Value error, ")
        if kind != "value_error":
            msg = f"{msg[0].lower()}{msg[1:]}, got {json.dumps(got, default=str)[:60]}"
    return f"{_field(loc)}: {msg}"


# ---- evaluation ---------------------------------------------------------------------------------

class Evaluator:
    """Everything a summary needs from the knowledge base, loaded once for a batch of records."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        from kb.query import evidence_filters, fetch_evidence

        self.con = con
        self.kb_version = store.kb_version(con)
        self.populations = Populations(con)
        self.index = MarkerIndex(con)
        self.markers = store.marker_info(con)
        self.evidence: dict[str, list[dict]] = {}
        for item in fetch_evidence(con, *evidence_filters(con, status="accepted")):
            self.evidence.setdefault(item["marker_id"], []).append(item)
        self._pam_models = None

    def evaluate(self, patient, label: str, priors: str = "published") -> dict:
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
        findings.sort(key=lambda f: (APPLICABILITY.index(f["applicability"]["level"]), LEVEL_RANK.get(f["level"], 9),
                                     -(f["n_patients"] or 0), f["evidence_id"]))

        pam = self._pam(patient, population, label, priors)
        seen = set(observed) | ({pam["model"]["marker_id"]} if pam else set())
        not_observed = sorted({self.markers[m]["name"] for m, items in self.evidence.items() if m not in seen and any(
            self.populations.judge(population, i)["level"] != "not_applicable" for i in items)}, key=str.casefold)
        return {
            "kb_version": self.kb_version,
            "patient": {"id": patient.id, "source": label, **population.as_json(),
                        "observations": resolved},
            "findings": findings,
            "pam": pam,
            "summary": _summary(findings, [self.markers[m]["name"] for m in observed],
                                [self.markers[m]["name"] for m in observed if not self.evidence.get(m)], not_observed),
            "disclaimer": DISCLAIMER,
        }

    def _observations(self, patient, label: str) -> tuple[dict[str, Observed], list[dict]]:
        """marker id -> the observation, checked and its unit parsed; and how each marker name resolved."""
        from kb.resolve import AmbiguousMarker, UnknownMarker

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
            return Observed(name, value, None, None, o.upper_limit_normal)
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
        return Observed(name, value, o.unit, unit.code, o.upper_limit_normal)

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
        return {
            "marker": item["marker"], "marker_id": item["marker_id"], "evidence_id": item["id"],
            "evidence_type": item["evidence_type"], "direction": item["direction"], "outcome": item["outcome"],
            "population": {k: item[k] for k in ("disease", "therapy", "therapy_class", "timepoint")},
            "applicability": self.populations.judge(population, item),
            "observed": {"value": _plain(obs.value), "unit": obs.unit, "ucum": obs.ucum, "upper_limit_normal": _plain(obs.uln),
                         "converted_value": _plain(j.converted_value), "converted_unit": j.converted_unit},
            "rule": item["rule"], "rule_met": j.met, "verdict": j.verdict, "verdict_reason": j.reason,
            "explanation": j.explanation, "effect": item["effect"], "level": item["level"],
            "n_patients": item["n_patients"], "source": item["source"],
            "links": [{k: link[k] for k in ("document", "sha256", "start", "end", "quote")} for link in item["links"]],
        }

    # ---- PAM -------------------------------------------------------------------------------------

    def _pam_model(self, model_id: str | None, label: str) -> tuple[dict, list] | None:
        if self._pam_models is None:
            self._pam_models = {m["id"]: m for m in store.pam_models(self.con)}
        if model_id is None:
            if not self._pam_models:
                return None
            model_id = next(iter(self._pam_models))
        elif model_id not in self._pam_models:
            raise InputError(f"{label}: model: unknown PAM model {model_id!r}; expected one of "
                             f"{', '.join(self._pam_models) or '(none in this knowledge base)'}")
        return self._pam_models[model_id], store.pam_genes(self.con, model_id)

    def _pam(self, patient, population: Population, label: str, priors: str) -> dict | None:
        """The PAM signature of the record's expression: δ, posteriors and call under both priors, per-gene shares."""
        if patient.expression is None:
            return None
        found = self._pam_model(patient.model, label)
        if found is None:
            return None
        row, genes = found
        classes = json.loads(row["classes"])
        published, n_per_class = json.loads(row["priors"]), json.loads(row["n_per_class"])
        expr = patient.expression
        values: dict[str, float] = {}
        for symbol, value in expr.genes.items():
            at = f"{label}: expression.genes.{symbol}"
            if expr.scale == "counts":
                if value < 0:
                    raise InputError(f"{at}: expected a count >= 0 (scale: counts), got {value:g}")
                value = math.log2(value + 1)
            elif value > RAW_COUNT_LOG2:
                raise InputError(f"{at}: {value:g} looks like a raw count, not a log2 value (log2 expression above "
                                 f"{RAW_COUNT_LOG2} is implausible); expected log2 values, or \"scale\": \"counts\" "
                                 "for raw counts (transformed as log2(x + 1))")
            values[symbol.upper()] = value
        used = [g for g in genes if g[0].upper() in values]
        model_symbols = {g[0].upper() for g in genes}
        items = self.evidence.get(row["marker_id"]) or []
        model_population = self.populations.evidence(items[0]) if items else PAM_POPULATION
        out = {
            "model": {"id": row["id"], "name": row["name"], "source_id": row["source_id"], "marker_id": row["marker_id"],
                      "classes": classes, "n_per_class": n_per_class, "n_genes": len(genes), "scale": row["scale"],
                      "validation": row["validation"], "evidence": [i["id"] for i in items]},
            "applicability": self.populations.judge(population, model_population),
            "scale": expr.scale, "priors": priors, "status": None, "call": None, "partial": False, "reason": None,
            "priors_used": None, "delta": None, "posterior": None, "by_priors": None,
            "genes_used": [g[0] for g in used], "genes_missing": [g[0] for g in genes if g[0].upper() not in values],
            "genes_ignored": sorted((s for s in expr.genes if s.upper() not in model_symbols), key=str.casefold),
            "contributions": None,
        }
        if len(used) < min(MIN_PAM_GENES, len(genes)):
            out.update(status="indeterminate", reason=f"only {len(used)} of the model's {len(genes)} genes are in the "
                                                      f"record; a call needs at least {MIN_PAM_GENES}")
            return out
        import numpy as np

        from kb.pam import NearestShrunkenCentroid

        model = NearestShrunkenCentroid.from_parameters(
            [g[0] for g in used], classes, [[json.loads(g[1])[c] for g in used] for c in classes], [g[2] for g in used],
            priors={c: published[c] for c in classes}, n_per_class=[n_per_class[c] for c in classes])
        x = np.array([[values[g[0].upper()] for g in used]])
        by_priors = {}
        for name, arg in (("published", None), ("equal", "equal")):
            delta, post = model.decision_function(x, priors=arg)[0], model.predict_proba(x, priors=arg)[0]
            pri = {c: published[c] for c in classes} if arg is None else {c: 1 / len(classes) for c in classes}
            by_priors[name] = {"priors": pri, "delta": dict(zip(classes, map(float, delta))),
                               "posterior": dict(zip(classes, map(float, post))), "call": classes[int(np.argmin(delta))]}
        chosen = by_priors[priors]
        ranked = sorted(classes, key=lambda c: chosen["delta"][c])
        a, b = (classes[0], classes[1]) if len(classes) == 2 else (ranked[0], ranked[1])
        shares = model.contributions(x[0], pair=(a, b))
        prior_term = 2 * math.log(chosen["priors"][a]) - 2 * math.log(chosen["priors"][b])
        partial = len(used) < len(genes)
        out.update(
            status="partial" if partial else "called", call=chosen["call"], partial=partial,
            reason=(f"{len(used)} of {len(genes)} genes present: scored over the present genes only" if partial else None),
            priors_used=chosen["priors"], delta=chosen["delta"], posterior=chosen["posterior"], by_priors=by_priors,
            contributions={"of": f"delta_{b} - delta_{a}", "positive_favours": a,
                           "genes": dict(sorted(((g[0], float(v)) for g, v in zip(used, shares)), key=lambda kv: -abs(kv[1]))),
                           "prior_term": prior_term, "total": chosen["delta"][b] - chosen["delta"][a]})
        return out


def _plain(value):
    """Numbers as a reader wrote them: 410 not 410.0, 30 not 30.000000000000004 (12 significant digits)."""
    if not isinstance(value, float):
        return value
    value = float(f"{value:.12g}")
    return int(value) if value.is_integer() and abs(value) < 1e15 else value


def _summary(findings: list[dict], observed: list[str], without_evidence: list[str], not_observed: list[str]) -> dict:
    by_verdict = {v: 0 for v in VERDICTS}
    by_app = {a: 0 for a in APPLICABILITY}
    cross = {a: {v: 0 for v in VERDICTS} for a in APPLICABILITY}
    for f in findings:
        by_verdict[f["verdict"]] += 1
        by_app[f["applicability"]["level"]] += 1
        cross[f["applicability"]["level"]][f["verdict"]] += 1
    return {"n_findings": len(findings), "by_verdict": by_verdict, "by_applicability": by_app,
            "verdict_by_applicability": cross, "markers_observed": observed,
            "observed_without_evidence": without_evidence, "not_observed": not_observed}


def evaluate_records(records: list[Record], *, con: duckdb.DuckDBPyConnection, priors: str = "published") -> list[dict]:
    """One summary per record; every record is validated before any is evaluated (all or nothing)."""
    patients = [(parse_record(r), r.label) for r in records]
    evaluator = Evaluator(con)
    return [evaluator.evaluate(p, label, priors) for p, label in patients]


def evaluate_path(path: str | os.PathLike, *, priors: str = "published", con: duckdb.DuckDBPyConnection | None = None,
                  db: str | os.PathLike | None = None) -> tuple[list[dict], str]:
    """Summaries of the records at `path` (file, JSONL or directory) and how they came (see load_records)."""
    records, kind = load_records(path)
    if con is not None:
        return evaluate_records(records, con=con, priors=priors), kind
    own = store.connect(db)
    try:
        return evaluate_records(records, con=own, priors=priors), kind
    finally:
        own.close()


def evaluate(record: dict, *, priors: str = "published", con: duckdb.DuckDBPyConnection | None = None,
             db: str | os.PathLike | None = None, label: str = "record") -> dict:
    """The summary of one record given as a dict."""
    if con is not None:
        return evaluate_records([Record(label, record)], con=con, priors=priors)[0]
    own = store.connect(db)
    try:
        return evaluate_records([Record(label, record)], con=own, priors=priors)[0]
    finally:
        own.close()


__all__ = ["DISCLAIMER", "Evaluator", "Record", "evaluate", "evaluate_path", "evaluate_records", "load_records",
           "parse_record"]
