"""The public lead tables single-table training is checked on (tests and bench/): where they
are, and what their READMEs say must be left out (columns that leak the outcome, row ids).

The data stay in the datasets folder (`LEADSCORE_DATASETS`, else `shared/datasets` beside the
checkout); nothing is copied into the project.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from models.settings import Settings, load_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class PublicTable:
    path: str  # relative to the datasets folder
    label_column: str
    leaks: tuple[str, ...]  # filled in after the outcome was known
    ids: tuple[str, ...] = ()  # row identifiers: never a feature
    missing_values: tuple[str, ...] = ()  # placeholders that mean "not answered"

    def location(self, settings: Settings | None = None) -> Path:
        return datasets_folder(settings) / self.path


X_EDUCATION = PublicTable(
    path="x_education_leads/Leads.csv",
    label_column="Converted",
    leaks=(
        "Tags",
        "Lead Quality",
        "Lead Profile",
        "Asymmetrique Activity Index",
        "Asymmetrique Profile Index",
        "Asymmetrique Activity Score",
        "Asymmetrique Profile Score",
        "Last Activity",
        "Last Notable Activity",
    ),
    ids=("Prospect ID", "Lead Number"),
    missing_values=("Select",),
)

BANK_MARKETING = PublicTable(
    path="bank_marketing/bank-additional-full.csv",
    label_column="y",
    # The call's duration is known only after the call, whose outcome is the label.
    leaks=("duration",),
)


def datasets_folder(settings: Settings | None = None) -> Path:
    """LEADSCORE_DATASETS, else the first `shared/datasets` beside the checkout or beside its
    parent folder (a git worktree); the first candidate when none exists."""
    configured = (settings or load_settings()).datasets
    if configured is not None:
        return configured
    near = [
        folder / "shared" / "datasets" for folder in (PROJECT_ROOT.parent, PROJECT_ROOT.parents[1])
    ]
    return next((p for p in near if p.is_dir()), near[0])
