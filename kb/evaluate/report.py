"""A patient risk summary as text: an aligned table for a terminal, or a Markdown report to share.

Both render the summary dict of `kb.evaluate.evaluator` (the JSON of `kb evaluate`); the CLI prints them
and the web pages offer the Markdown report as a download.
"""
from __future__ import annotations

from kb.core.table import cell, table
from kb.core.text import fmt as _fmt, rule_text

VERDICT_MARK = {"unfavorable": "▲", "favorable": "▼", "neutral": "·", "indeterminate": "?"}


def _num(value) -> str:
    return "" if value is None else _fmt(value) if isinstance(value, (int, float)) else str(value)


def _observed(o: dict) -> str:
    if isinstance(o["value"], str):
        return o["value"]
    text = f"{_num(o['value'])} {o['unit'] or ''}".strip()
    if o.get("upper_limit_normal") is not None:
        text += f" (ULN {_num(o['upper_limit_normal'])})"
    return text


def _rule(rule: dict | None) -> str:
    return rule_text(rule) if rule else "no threshold"


def _quote(finding: dict, limit: int = 60) -> str:
    """The first quote, cleaned for reading and shortened at a word (the table says so)."""
    from kb.core.table import cell, cleaned

    return f"“{cell(cleaned(finding['links'][0]['quote']), limit)}”" if finding["links"] else ""


def _groups(findings: list[dict]) -> list[tuple[str, list[dict]]]:
    """Findings grouped by marker, groups in order of their strongest finding."""
    groups: dict[str, list[dict]] = {}
    for f in findings:
        groups.setdefault(f["marker"], []).append(f)
    return list(groups.items())


def _population(p: dict) -> str:
    return f"{p['disease']} · {p['therapy']} ({p['therapy_class']}) · {p['timepoint']} (phase {p['phase']})"


def _counts(summary: dict) -> str:
    """Verdicts of the findings that apply to the patient; not-applicable findings counted apart, never as
    favourable or unfavourable."""
    a, cross = summary["by_applicability"], summary["verdict_by_applicability"]
    applying = [level for level in a if level != "not_applicable"]
    verdicts = {v: sum(cross[level][v] for level in applying) for v in summary["by_verdict"]}
    text = (f"{summary['n_findings']} findings; the {sum(a[level] for level in applying)} that apply ("
            + ", ".join(f"{level} {a[level]}" for level in applying) + "): "
            + ", ".join(f"{v} {n}" for v, n in verdicts.items()))
    text += f"; not applicable {a['not_applicable']} (not counted)" if a.get("not_applicable") else ""
    return text + "; by context: " + ", ".join(f"{k} {n}" for k, n in summary["by_context"].items())


NON_CLINICAL = "Preclinical and background evidence (not learned from patients: no patient verdict)"


def _split(findings: list[dict]) -> tuple[list[dict], list[dict]]:
    """(clinical findings, preclinical and background findings): reports show them under separate headings."""
    return ([f for f in findings if f["context"] == "clinical"], [f for f in findings if f["context"] != "clinical"])


def _finding_rows(findings: list[dict]) -> list[list]:
    rows = []
    for marker, group in _groups(findings):
        for i, f in enumerate(group):
            rows.append([marker if i == 0 else "", _observed(f["observed"]) if i == 0 else "",
                         f"{VERDICT_MARK[f['verdict']]} {f['verdict']}", f["applicability"]["level"], f["context"],
                         f["level"], f["n_patients"], _rule(f["rule"]), f["evidence_id"]])
    return rows


FINDING_COLUMNS = ["marker", "observed", "verdict", "applicability", "context", "level", "n", "rule", "evidence"]


NOT_OBSERVED_KINDS, NOT_OBSERVED_NAMES = 4, 4


def _not_observed(summary: dict) -> list[str]:
    """The markers with applicable evidence the record lacks, by kind, capped (JSON lists them all)."""
    by_kind = summary.get("not_observed_by_kind") or {"": summary["not_observed"]}
    total = sum(len(names) for names in by_kind.values())
    lines = [f"Not observed, with evidence that applies to this patient: {total} markers"
             + (" (--format json lists them all)" if total > NOT_OBSERVED_NAMES else "")]
    kinds = list(by_kind.items())
    for kind, names in kinds[:NOT_OBSERVED_KINDS]:
        rest = len(names) - NOT_OBSERVED_NAMES
        lines += _wrapped(f"{kind.replace('_', ' ') + ' ' if kind else ''}({len(names)}): " + ", ".join(names[:NOT_OBSERVED_NAMES])
                          + (f" and {rest} more" if rest > 0 else ""), "  ", "    ")
    if len(kinds) > NOT_OBSERVED_KINDS:
        others = kinds[NOT_OBSERVED_KINDS:]
        lines += _wrapped(f"and {sum(len(n) for _, n in others)} more of {len(others)} other kinds ("
                          + ", ".join(k.replace("_", " ") for k, _ in others) + ")", "  ", "    ")
    return lines


def _pam_lines(pam: dict) -> list[str]:
    model = pam["model"]
    head = (f"PAM {model['name']} ({model['id']}): {pam['applicability']['level']} — {pam['applicability']['reason']}")
    lines = [head, f"  {model['validation_statement']}", f"  genes used {len(pam['genes_used'])}/{model['n_genes']}"
             + (f"; missing: {', '.join(pam['genes_missing'])}" if pam["genes_missing"] else "")
             + (f"; not in the model: {len(pam['genes_ignored'])}" if pam["genes_ignored"] else "")]
    if pam["call"] is None:
        lines.append(f"  no call (indeterminate): {pam['reason']}")
        return lines
    lines.append(f"  call {pam['call']} with {pam['priors']} priors" + (" — PARTIAL: " + pam["reason"] if pam["partial"] else ""))
    rows = []
    for c in model["classes"]:
        pub, eq = pam["by_priors"]["published"], pam["by_priors"]["equal"]
        rows.append([c, f"{pub['priors'][c]:.4f}", f"{pub['delta'][c]:.4f}", f"{pub['posterior'][c]:.4f}",
                     f"{eq['delta'][c]:.4f}", f"{eq['posterior'][c]:.4f}"])
    lines += ["  " + line for line in table(["class", "prior", "δ", "posterior", "δ (equal priors)", "posterior (equal)"], rows, "table").splitlines()]
    pub, eq = pam["by_priors"]["published"]["call"], pam["by_priors"]["equal"]["call"]
    lines.append(f"  call with published priors {pub}, with equal priors {eq}")
    c = pam["contributions"]
    top = ", ".join(f"{g} {v:+.3f}" for g, v in list(c["genes"].items())[:5])
    lines.append(f"  largest terms of {c['of']} (positive favours {c['positive_favours']}): {top}; prior term {c['prior_term']:+.3f}")
    return lines


def _wrapped(text: str, first: str, rest: str) -> list[str]:
    import textwrap

    from kb.core.table import terminal_width

    return textwrap.wrap(text, terminal_width(), initial_indent=first, subsequent_indent=rest, break_on_hyphens=False) or [first]


def render_table(s: dict) -> str:
    from kb.core.table import terminal_width

    width = terminal_width()
    p, summary = s["patient"], s["summary"]
    lines = [*_wrapped(f"Patient {p['id']} — {_population(p)}   [{p['source']}]", "", "  "),
             f"kb_version schema {s['kb_version']['schema']}, content {s['kb_version']['content']}", ""]
    clinical, other = _split(s["findings"])
    if clinical:
        lines.append(table(FINDING_COLUMNS, _finding_rows(clinical), "table"))
        said = [f for f in clinical if f["applicability"]["level"] != "not_applicable" and f["verdict"] != "indeterminate"]
        if said:
            lines += [""] + _wrapped("What the applicable evidence says (quotes cleaned for reading and shortened;"
                                     " JSON and md keep them verbatim):", "", "")
            for f in said:
                lines += _wrapped(f"[{f['evidence_id']}] {f['explanation']}", "  ", "    ")
                if f["links"]:
                    lines.append("    " + _quote(f, max(20, width - 6)))
    elif not other:
        lines.append("No evidence items for the observed markers.")
    else:
        lines.append("No clinical evidence items for the observed markers.")
    if other:
        lines += ["", NON_CLINICAL + ":", table(FINDING_COLUMNS, _finding_rows(other), "table")]
    if s["pam"]:
        lines += [""] + _pam_lines(s["pam"])
    lines += [""] + _wrapped("Summary: " + _counts(summary), "", "  ")
    if summary["observed_without_evidence"]:
        lines.append("Observed, no evidence: " + ", ".join(summary["observed_without_evidence"]))
    if summary["not_observed"]:
        lines += _not_observed(summary)
    lines += _input_lines(s.get("input") or {})
    lines += ["", s["disclaimer"]]  # one line, verbatim: it is searched for
    return "\n".join(lines)


def _input_lines(facts: dict) -> list[str]:
    """What a standard-form input (FHIR, Phenopacket) held that the summary did not use, and why."""
    if facts.get("format") in (None, "native"):
        return []
    out = ["", f"Input: {facts['format']}, evaluated at {facts.get('evaluated_at') or 'the latest observations'}"
           + (f" (therapy start {facts['therapy_start']})" if facts.get("therapy_start") else "")]
    out += [f"  conflict: {c['where']}: {c['why']}" for c in facts.get("conflicts", [])]
    out += [f"  not used: {u['where']}: {u['what']}: {u['why']}" for u in facts.get("unused", [])]
    out += [f"  superseded: {x['where']}: {x['marker']} {x['value']} of {x['date']}: {x['why']}" for x in facts.get("superseded", [])]
    return out


def _md(text) -> str:
    return cell(text, None).replace("|", "\\|")


def _md_findings(findings: list[dict]) -> list[str]:
    out = []
    for marker, group in _groups(findings):
        out += [f"### {marker}: {_md(_observed(group[0]['observed']))}", "",
                "| verdict | applicability | context | level | n | rule | evidence |", "|---|---|---|---|---:|---|---|"]
        out += [f"| **{f['verdict']}** | {f['applicability']['level']} | {f['context']} | {f['level']} | "
                f"{_num(f['n_patients'])} | {_md(_rule(f['rule']))} | `{f['evidence_id']}` |" for f in group]
        out.append("")
        for f in group:
            cited = f"; cites {'; '.join(f['cited_works'])}" if f["cited_works"] else ""
            out += [f"- `{f['evidence_id']}` ({f['applicability']['level']}: {f['applicability']['reason']}{cited}): "
                    f"{f['explanation']}"]
            if f["note"]:
                out.append(f"  *Note:* {f['note']}")
            out += [f"  > {' '.join(link['quote'].split())}  \n  > — {link['document']} [{link['start']}, {link['end']})"
                    for link in f["links"]]
        out.append("")
    return out


def render_md(s: dict) -> str:
    p, summary, kv = s["patient"], s["summary"], s["kb_version"]
    out = [f"# Risk summary: {p['id']}", "", f"> **{s['disclaimer']}**", "",
           "| | |", "|---|---|", f"| Patient | {_md(p['id'])} |", f"| Disease | {_md(p['disease'])} |",
           f"| Therapy | {_md(p['therapy'])} ({_md(p['therapy_class'])}) |",
           f"| Timepoint | {_md(p['timepoint'])} (phase {p['phase']}) |", f"| Record | `{_md(p['source'])}` |",
           f"| Knowledge base | schema {kv['schema']}, content `{kv['content']}` |", "", "## Summary", "",
           "| verdict | " + " | ".join(a.replace("_", " ") for a in summary["by_applicability"]) + " | total |",
           "|---|" + "---:|" * (len(summary["by_applicability"]) + 1)]
    for v, total in summary["by_verdict"].items():
        out.append(f"| {v} | " + " | ".join(str(summary["verdict_by_applicability"][a][v]) for a in summary["by_applicability"])
                   + f" | {total} |")
    clinical, other = _split(s["findings"])
    out += ["", "## Findings", ""]
    if not clinical:
        out += ["No clinical evidence items for the observed markers." if other else
                "No evidence items for the observed markers.", ""]
    out += _md_findings(clinical)
    if other:
        out += [f"## {NON_CLINICAL}", "",
                "These items come from animal models, cell lines or in vitro work, or state general knowledge; "
                "they are shown for context and give no verdict for this patient.", ""]
        out += _md_findings(other)
    if s["pam"]:
        pam = s["pam"]
        out += ["## PAM signature", ""] + ["    " + line for line in _pam_lines(pam)] + [""]
    out += ["## Markers", "",
            "- Observed: " + (", ".join(summary["markers_observed"]) or "none"),
            "- Observed, no evidence in the knowledge base: " + (", ".join(summary["observed_without_evidence"]) or "none"),
            "- Not observed, with evidence that applies to this patient: " + (", ".join(summary["not_observed"]) or "none")]
    facts = _input_lines(s.get("input") or {})
    if facts:
        out += ["", "## Input", ""] + [f"- {_md(line.strip())}" for line in facts[1:]]
    out += ["", "---", "", f"*{s['disclaimer']}*"]
    return "\n".join(out)
