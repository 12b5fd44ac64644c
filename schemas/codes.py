"""Clinical code systems at the edges: the formats of LOINC, HGNC, DOID, NCIt, ICD-10, RxNorm and SNOMED CT
codes, the LOINC and SNOMED CT check digits, and reading a code a user or a record writes (`LOINC:2532-0`, `2532-0`, `C83.3`).

Only the format is checked here; whether a code means what the seeds say it means is a fact of the code
system, which the seeds record only where it was confirmed (see docs/evaluate.md, "Codes").
"""
from __future__ import annotations

import re
from typing import Optional

LOINC_SYSTEM = "http://loinc.org"
ICD10_SYSTEMS = ("http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm")
SNOMED_SYSTEM = "http://snomed.info/sct"
RXNORM_SYSTEM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM_SYSTEM = "http://unitsofmeasure.org"
HGNC_SYSTEM = "http://www.genenames.org/geneId"

PATTERNS = {
    "LOINC": re.compile(r"^\d{1,7}-\d$"),
    "HGNC": re.compile(r"^HGNC:[1-9]\d*$"),
    "DOID": re.compile(r"^DOID:\d{1,8}$"),
    "NCIT": re.compile(r"^NCIT:C\d{1,7}$"),
    "ICD10": re.compile(r"^[A-TV-Z]\d\d(?:\.[0-9A-Z]{1,4})?$"),
    "RXNORM": re.compile(r"^\d{1,8}$"),
    # an SCTID: 6-18 digits, no leading zero; the last is a Verhoeff check digit (checked below)
    "SNOMED": re.compile(r"^[1-9]\d{5,17}$"),
}
_PREFIXED = re.compile(r"^(LOINC|HGNC|DOID|NCIT|NCI|ICD10|ICD-10|ICD10CM|ICD-10-CM|RXNORM|SNOMED|SNOMEDCT|SCTID)\s*:\s*(\S+)$", re.I)


def loinc_check_digit(body: str) -> int:
    """The mod-10 check digit of a LOINC code's body ('2532' -> 0): Luhn over the digits."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # rightmost digit of the body, and every second one leftwards, is doubled
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return (10 - total % 10) % 10


# Verhoeff's dihedral-group tables (the check digit of SNOMED CT identifiers)
_D = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
      [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
      [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
      [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
_P = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
      [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
      [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]


def valid_verhoeff(digits: str) -> bool:
    """True when the last digit is the Verhoeff check digit of the others (SNOMED CT identifiers)."""
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _D[c][_P[i % 8][int(ch)]]
    return c == 0


def valid_loinc(code: str) -> bool:
    if not PATTERNS["LOINC"].match(code or ""):
        return False
    body, check = code.split("-")
    return loinc_check_digit(body) == int(check)


def check_format(system: str, code: str) -> Optional[str]:
    """None when `code` is well formed in `system`, else what is wrong (one phrase)."""
    pattern = PATTERNS[system]
    if not pattern.match(code or ""):
        return f"{code!r} is not a {system} code (expected {pattern.pattern})"
    if system == "LOINC" and not valid_loinc(code):
        body = code.split("-")[0]
        return f"{code!r} fails the LOINC mod-10 check (the check digit of {body} is {loinc_check_digit(body)})"
    if system == "SNOMED" and not valid_verhoeff(code):
        return f"{code!r} fails the SNOMED CT Verhoeff check digit"
    return None


def parse_code(text: str) -> Optional[tuple[str, str]]:
    """(system, code) when `text` is written as a code, else None.

    `LOINC:2532-0` and `2532-0` are LOINC; `HGNC:11998`; `DOID:0050745`; `NCIT:C8851` (or `NCI:C8851`);
    `C83.3` and `ICD10:C83.3` are ICD-10. A bare number is not taken as a code (it may be a name part)."""
    text = (text or "").strip()
    m = _PREFIXED.match(text)
    if m:
        prefix, body = m.group(1).upper().replace("-", ""), m.group(2)
        if prefix in ("NCI", "NCIT"):
            return "NCIT", "NCIT:" + body.upper()
        if prefix.startswith("ICD10"):
            return "ICD10", body.upper()
        if prefix in ("HGNC", "DOID"):
            return prefix, f"{prefix}:{body}"
        if prefix in ("SNOMED", "SNOMEDCT", "SCTID"):
            return "SNOMED", body
        return prefix, body
    if PATTERNS["LOINC"].match(text):
        return "LOINC", text
    if PATTERNS["ICD10"].match(text.upper()) and re.match(r"^[A-Za-z]\d\d", text):
        return "ICD10", text.upper()
    return None


def icd10_ancestors(code: str) -> list[str]:
    """An ICD-10(-CM) code and the codes above it: 'C83.30' -> ['C83.30', 'C83.3', 'C83']."""
    code = code.upper()
    out = [code]
    head, _, tail = code.partition(".")
    while tail:
        tail = tail[:-1]
        out.append(f"{head}.{tail}" if tail else head)
    return out
