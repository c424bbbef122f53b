"""Each experiment's summary as a markdown table (NAME.md beside NAME.json): the checkpoints a reader
wants at a glance, every cell the mean across seeds with its 95% interval.

A view is one short declaration: which summary rows it keeps, what makes a table row and a column,
and how a column is headed. docs/RESULTS.md embeds views between markers,

    <!-- record:smollm2-arc-1024/negatives at=1,16,64,256,1024 -->
    ...the table...
    <!-- /record -->

(paths under docs/results/; `at=` the example counts, `view=` another view than the experiment's
default), and `python -m likra.experiments.markdown docs/RESULTS.md` renders every block again from
the committed records, so no figure there is copied by hand (a docs test checks they agree). Claims
blocks (`<!-- claims:NAME -->`) are refreshed the same way. Stdlib only: no model, no torch.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from likra.experiments.records import load_record

RULE_LABELS = {"base": "base", "sft": "SFT", "likra": "Likra", "base-likra": "Base-Likra", "neg": "negative head"}
HEAD_LABELS = {"pos": "positive", "neg": "negative"}


@dataclass(frozen=True)
class View:
    columns: tuple[str, ...]
    """Summary keys whose values name a column (e.g. ("rule",)); their order of first appearance is kept."""
    label: Callable[[dict], str]
    """A column's header from one of its summary rows."""
    keep: Callable[[dict], bool] = lambda r: True
    """Which summary rows the table shows."""
    rows: tuple[str, ...] = ("examples",)
    """Summary keys that make a table row; the first is the example count `at=` selects."""
    row_headers: tuple[str, ...] = ("examples per head",)
    """Headers of those leading columns."""
    signed: bool = False
    """Cells are changes: print their sign (+0.063)."""
    row_label: Callable[[str, object], str] = field(default=lambda key, value: str(value))
    """A row key's cell from its value."""
    last: tuple = ()
    """Columns (their key values) moved to the right end: references such as SFT."""


VIEWS: dict[tuple[str, str], View] = {
    ("curve", "default"): View(("rule",), lambda r: RULE_LABELS[r["rule"]]),
    ("negatives", "default"): View(
        ("kind",), lambda r: "SFT" if r["kind"] == "sft" else f"Likra, {r['kind']}",
        keep=lambda r: r["rule"] in ("likra", "sft"), last=(("sft",),)),
    ("negatives", "base-likra"): View(
        ("kind",), lambda r: f"Base-Likra, {r['kind']}", keep=lambda r: r["rule"] == "base-likra"),
    ("objectives", "default"): View(("method",), lambda r: r["method"]),
    ("mass", "default"): View(
        ("answer",), lambda r: r["answer"], rows=("examples", "head"), row_headers=("examples per head", "head"),
        signed=True, row_label=lambda key, value: HEAD_LABELS.get(value, value) if key == "head" else str(value)),
    ("likelihoods", "default"): View(
        ("head", "answer"), lambda r: f"{HEAD_LABELS[r['head']]} head, {r['answer']}",
        row_label=lambda key, value: "0 (base model)" if value == 0 else str(value)),
}


def number(x: float, signed: bool) -> str:
    return f"{x:+.3f}" if signed else f"{x:.3f}"


def cell(r: dict, signed: bool = False) -> str:
    """The mean, then its 95% interval across seeds: '0.427 [0.402, 0.452]'; one seed has none: the mean
    alone. (Every seed's base model is the same: its interval has no width, and shows it.)"""
    mean, low, high = r["mean"], r["low"], r["high"]
    if low is None or math.isnan(low):
        return number(mean, signed)
    return f"{number(mean, signed)} [{number(low, signed)}, {number(high, signed)}]"


def default_at(counts: list[int]) -> list[int]:
    """Powers of 4 (1, 4, 16, ...) and the last count."""
    counts = sorted(set(counts))
    keep = [n for n in counts if n > 0 and (n & (n - 1)) == 0 and n.bit_length() % 2 == 1]
    return sorted(set(keep + counts[-1:] + [n for n in counts if n == 0]))


def table(record: dict, at: list[int] | None = None, view: str = "default") -> str:
    """A markdown table of `record`'s summary at example counts `at` (default: default_at)."""
    from likra.errors import ConfigError

    name = record["experiment"]
    if (name, view) in WHOLE:
        return WHOLE[(name, view)](record)
    if (name, view) not in VIEWS:
        known = ", ".join(f"{n}/{v}" for n, v in [*VIEWS, *WHOLE])
        raise ConfigError(f"no markdown view {view!r} for experiment {name!r}; views: {known}")
    v = VIEWS[(name, view)]
    shown = [r for r in record["summary"] if v.keep(r)]
    at = at or default_at([r[v.rows[0]] for r in shown])
    columns = list(dict.fromkeys(tuple(r[k] for k in v.columns) for r in shown))
    columns.sort(key=lambda c: c in v.last)  # stable: the rest keep the record's order
    headers = {tuple(r[k] for k in v.columns): v.label(r) for r in shown}
    seeds = {c: max(r.get("seeds", 0) for r in shown if tuple(r[k] for k in v.columns) == c) for c in columns}
    if len(set(seeds.values())) > 1:  # a record read mid-way (--finished-only): say how many seeds each has
        headers = {c: f"{h} ({seeds[c]} seed{'s' if seeds[c] > 1 else ''})" for c, h in headers.items()}
    cells = {(tuple(r[k] for k in v.rows), tuple(r[k] for k in v.columns)): cell(r, v.signed) for r in shown}
    row_keys = [k for k in dict.fromkeys(tuple(r[k] for k in v.rows) for r in shown) if k[0] in at]
    row_keys.sort(key=lambda k: k[0])  # stable: rows of one count keep the record's order (e.g. pos, then neg)
    lines = ["| " + " | ".join([*v.row_headers, *(headers[c] for c in columns)]) + " |",
             "|" + "---|" * (len(v.rows) + len(columns))]
    for rk in row_keys:
        lead = [v.row_label(k, value) for k, value in zip(v.rows, rk)]
        lines.append("| " + " | ".join(lead + [cells.get((rk, c), "-") for c in columns]) + " |")
    return "\n".join(lines) + "\n"


def scientific(r: dict) -> str:
    """A per-example gain: '+4.5e-04 [+1.8e-04, +7.2e-04]'."""
    mean, low, high = r["mean"], r["low"], r["high"]
    if low is None or math.isnan(low):
        return f"{mean:+.1e}"
    return f"{mean:+.1e} [{low:+.1e}, {high:+.1e}]"


def steps_table(record: dict) -> str:
    """objectives: per method, the doubling with the largest mean rise and the rise over 64 -> 256; the
    gain beyond SFT per example also with its interval over questions (where the record keeps outcomes)."""
    from likra.experiments.curve import WINDOW
    from likra.experiments.objectives import beyond_sft_over_questions

    lines = ["| method | largest rise (doubling) | its rise | rise 64 -> 256 | beyond SFT per example, 64 -> 256 |",
             "|---|---|---|---|---|"]
    seeds = len({e["seed"] for e in (record.get("questions") or {}).get("correct", [])})
    for st in record.get("steps") or []:
        a, b = st["largest_jump"]
        critical = cell(st["critical"], True) if "critical" in st else "-"
        beyond = st.get("per_example_beyond_sft")
        per = "-" if beyond is None else scientific(beyond)
        both = None if beyond is None else beyond_sft_over_questions(record, st["method"], WINDOW)
        if both is not None:
            where = "one seed; over questions only" if seeds == 1 else "with questions"
            per += f" ({where} [{both[1]:+.1e}, {both[2]:+.1e}])"
        lines.append(f"| {st['method']} | {a} -> {b} | {cell(st['jump'], True)} | {critical} | {per} |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Compare:
    """A view of each series at the last checkpoint against references, paired by seed (and by question
    where the record keeps outcomes: claims.difference)."""
    header: str
    """The first column's header."""
    select: Callable[[dict], dict | None]
    """A summary row -> the keys that select its series' rows (None: not shown)."""
    label: Callable[[dict], str]
    """A series' name from its summary row."""
    refs: tuple[tuple[str, dict], ...]
    """(header, the keys that select it) of each reference."""


def compare_table(record: dict, spec: Compare) -> str:
    from likra.experiments.claims import difference

    last: dict[tuple, dict] = {}  # each series at its own last count: a mined head that saw fewer examples ends earlier
    for r in record["summary"]:
        sel = spec.select(r)
        key = tuple(sorted(sel.items())) if sel else None
        if sel and r["examples"] >= last.get(key, {"examples": -1})["examples"]:
            last[key] = r
    lines = ["| " + " | ".join([spec.header, "examples", "accuracy", *(f"minus {h}" for h, _ in spec.refs)]) + " |",
             "|" + "---|" * (3 + len(spec.refs))]
    for key, r in last.items():
        sel, n = dict(key), r["examples"]
        vs = [difference(record, n, sel, ref)[2] if ref != sel and has(record, n, ref) else "-" for _, ref in spec.refs]
        lines.append(f"| {spec.label(r)} | {n} | {cell(r)} | " + " | ".join(vs) + " |")
    return "\n".join(lines) + "\n"


def has(record: dict, examples: int, sel: dict) -> bool:
    from likra.experiments.outcomes import selects

    return any(r["examples"] == examples and selects(r, sel) for r in record["summary"])


COMPARE = {
    "curve": Compare("rule", lambda r: {"rule": r["rule"]}, lambda r: RULE_LABELS[r["rule"]],
                     (("base", {"rule": "base"}), ("SFT", {"rule": "sft"}))),
    "objectives": Compare("method", lambda r: {"method": r["method"]}, lambda r: r["method"],
                          (("SFT", {"method": "SFT"}), ("Likra", {"method": "Likra"}))),
    "negatives": Compare("negatives", lambda r: {"kind": r["kind"], "rule": r["rule"]} if r["rule"] in ("likra", "sft")
                         else None, lambda r: "SFT" if r["kind"] == "sft" else f"Likra, {r['kind']}",
                         (("SFT", {"kind": "sft", "rule": "sft"}),
                          ("near-miss", {"kind": "near-miss", "rule": "likra"}))),
}
WHOLE: dict[tuple[str, str], Callable[[dict], str]] = {
    ("objectives", "steps"): steps_table,
    **{(name, "compare"): (lambda record, spec=spec: compare_table(record, spec)) for name, spec in COMPARE.items()}}
"""Views of a whole record rather than of its summary at chosen counts."""


def write(out: Path, record: dict) -> Path | None:
    """OUT/NAME.md for an experiment with a view (atomically); None for one without."""
    from likra.io_utils import atomic_write_text

    name = record["experiment"]
    if (name, "default") not in VIEWS:
        return None
    text = "\n".join(table(record, view=v) for n, v in [*VIEWS, *WHOLE] if n == name)
    path = out / f"{name}.md"
    atomic_write_text(path, text)
    return path


# ---- docs: blocks between markers ----------------------------------------------------------------
BLOCK = re.compile(r"(<!-- record:(?P<path>[^ ]+?)(?P<args>(?: [a-z]+=[^ ]+)*) -->\n)(?P<body>.*?)(<!-- /record -->)",
                   re.DOTALL)
CLAIMS = re.compile(r"(<!-- claims:(?P<name>[^ ]+?) -->\n)(?P<body>.*?)(<!-- /claims -->)", re.DOTALL)


def render_block(root: Path, path: str, args: str) -> str:
    opts = dict(a.split("=", 1) for a in args.split())
    record = load_record(root / f"{path}.json")
    at = [int(x) for x in opts["at"].split(",")] if "at" in opts else None
    return table(record, at, opts.get("view", "default"))


def refresh(text: str, root: Path) -> str:
    """`text` with every record and claims block rendered again from the records under `root`."""
    from likra.experiments.claims import judge_all, markdown

    text = BLOCK.sub(lambda m: m.group(1) + render_block(root, m["path"], m["args"]) + m.group(5), text)
    return CLAIMS.sub(lambda m: m.group(1) + markdown(judge_all(root / m["name"])) + m.group(4), text)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m likra.experiments.markdown docs/RESULTS.md   (records under docs/results/)",
              file=sys.stderr)
        return 2
    from likra.io_utils import atomic_write_text

    doc = Path(argv[0])
    old = doc.read_text(encoding="utf-8")
    new = refresh(old, doc.parent / "results")
    if new != old:
        atomic_write_text(doc, new)
    print(f"{doc}: {len(BLOCK.findall(old))} record and {len(CLAIMS.findall(old))} claims block(s); "
          f"{'updated' if new != old else 'unchanged'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
