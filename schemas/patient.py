"""Patient records for `kb evaluate`: the pydantic models and their exported JSON Schema.

A record names the patient's population (disease, therapy, timepoint), what was measured
(`observations`: marker, value, unit, upper limit of normal) and, optionally, bone-marrow gene
expression for the PAM signature. Vocabulary terms, markers and units are checked against the
knowledge base by `kb.evaluate`, which reports each problem as `file: field: expected ...`.

The committed schema file is regenerated with `python -m schemas.patient`; a test asserts that
`schemas/patient.schema.json` equals `Patient.model_json_schema()`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.numbers import FiniteFloat, finite, finite_float, number_in_text

SCHEMA_PATH = Path(__file__).with_name("patient.schema.json")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


class Observation(_Strict):
    """One measured marker: a number with its unit, or a category (TP53 'altered', CRLF2 'rearranged')."""

    marker: str = Field(min_length=1, description="Marker name or any spelling of it (resolved like `kb query --marker`).")
    value: Union[float, str] = Field(description="A number, or a category string such as 'altered' or 'wild-type'.")
    unit: Optional[str] = Field(default=None, description="Unit of a numeric value (UCUM or a common spelling: U/L, ukat/L, x10^9/L, cells/uL, %).")
    upper_limit_normal: Optional[finite_float(gt=0)] = Field(
        default=None, description="The laboratory's upper limit of normal, in the value's unit (needed by rules relative to the ULN).")
    comparator: Optional[Literal["<", "<=", ">", ">="]] = Field(
        default=None, description="The value is a bound (a result reported as '<5' or '>1000'): a verdict is given only when the bound decides the rule.")

    @field_validator("value", mode="before")
    @classmethod
    def _value(cls, value):
        if isinstance(value, bool):  # YAML reads `yes` / `no` as booleans
            return "yes" if value else "no"
        if isinstance(value, (int, float)):
            return finite(value)
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("expected a number or a category string, got an empty string")
            number_in_text(value)  # "NaN", "inf" and "1e400" are refused here, not read as numbers later
            return value
        raise ValueError(f"expected a number or a category string, got {type(value).__name__} {value!r}")


class Expression(_Strict):
    """Gene expression of one sample: log2 values, or raw counts that are transformed as log2(x + 1)."""

    scale: Literal["log2", "counts"] = Field(default="log2", description="log2 (default) or counts (transformed as log2(x + 1)).")
    genes: dict[str, FiniteFloat] = Field(min_length=1, description="Gene symbol -> expression value.")

    @field_validator("genes")
    @classmethod
    def _genes_finite(cls, genes: dict[str, float]) -> dict[str, float]:
        if any(not symbol.strip() for symbol in genes):
            raise ValueError("expected gene symbols, got an empty symbol")
        return genes


class Patient(_Strict):
    """A patient record: population, observations and optional expression."""

    id: str = Field(min_length=1, description="Patient identifier (also names the output file with --out).")
    disease: str = Field(min_length=1, description="Disease (vocabulary name or alias: LBCL, DLBCL, B-ALL, ...).")
    therapy: str = Field(min_length=1, description="Therapy (axi-cel, tisa-cel, blinatumomab, ...) or its class (CD19 CAR-T).")
    timepoint: str = Field(min_length=1, description="When the observations were made (baseline, at conditioning, day 28, ...).")
    observations: list[Observation] = Field(default_factory=list)
    expression: Optional[Expression] = None
    model: Optional[str] = Field(default=None, description="PAM model: a model id in the knowledge base or a model file written by `kb pam train` (default: --model, else the published 14-gene model).")

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value):
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def json_schema() -> dict:
    return Patient.model_json_schema()


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    path.write_text(json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_schema())
