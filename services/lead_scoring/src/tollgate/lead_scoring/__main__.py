"""`python -m tollgate.lead_scoring`: run the lead scoring service.

`python -m tollgate.lead_scoring train --csv leads.csv --out model.json` fits the conversion
model; `python -m tollgate.lead_scoring synthesize --out leads.csv` writes the synthetic data set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tollgate.common.server import GrpcService, run
from tollgate.lead_scoring.service import build_service
from tollgate.lead_scoring.settings import Settings
from tollgate.lead_scoring.synthetic import write_synthetic_csv
from tollgate.lead_scoring.training import TrainingError, TrainingReport, TrainingSettings, train


async def _build() -> tuple[GrpcService, Settings]:
    settings = Settings()
    return await build_service(settings), settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tollgate.lead_scoring")
    commands = parser.add_subparsers(dest="command")
    fit = commands.add_parser("train", help="fit the conversion model on a CSV of raw events")
    fit.add_argument("--csv", required=True, type=Path, help="one row per lead and snapshot")
    fit.add_argument("--out", required=True, type=Path, help="where to write the model JSON")
    fit.add_argument("--l2", type=float, default=1.0, help="L2 penalty on the coefficients")
    fit.add_argument("--holdout", type=float, default=0.25, help="share of rows held out")
    fit.add_argument("--seed", type=int, default=7, help="seed of the holdout split")
    fit.add_argument(
        "--synthetic-data", action="store_true", help="mark the model as fitted on synthetic data"
    )
    make = commands.add_parser("synthesize", help="write the seeded synthetic training data")
    make.add_argument("--out", required=True, type=Path)
    make.add_argument("--rows", type=int, default=4000)
    make.add_argument("--seed", type=int, default=7)
    return parser


def describe(out: Path, report: TrainingReport) -> str:
    """The fit in a few lines: holdout figures and the calibration table."""
    t = report.figures
    lines = [
        f"wrote {out}: {report.model.version}, {t['rows']} rows ({t['converted']} converted)",
        f"holdout ({t['holdout_rows']} rows, not used to fit): AUC {t['holdout_auc']:.3f}, "
        f"log loss {t['holdout_log_loss']:.3f} (base rate {t['holdout_base_rate']:.3f}); "
        f"fitting part AUC {t['fit_auc']:.3f}",
        "calibration on the holdout:",
        "  leads  predicted  observed",
    ]
    lines.extend(
        f"  {row['leads']:5d}  {row['predicted']:9.3f}  {row['observed']:8.3f}"
        for row in t["calibration"]
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.command == "train":
        settings = TrainingSettings(
            l2=args.l2,
            holdout_share=args.holdout,
            seed=args.seed,
            synthetic_data=args.synthetic_data,
        )
        try:
            report = train(args.csv, args.out, settings)
        except (TrainingError, OSError) as exc:
            print(f"train: {exc}", file=sys.stderr)
            return 2
        print(describe(args.out, report))
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        return 0
    if args.command == "synthesize":
        if args.rows < 1:
            print("synthesize: --rows must be at least 1", file=sys.stderr)
            return 2
        write_synthetic_csv(args.out, rows=args.rows, seed=args.seed)
        print(f"wrote {args.rows} synthetic leads to {args.out}")
        return 0
    run(_build)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
