"""The books of one ``verify`` run: what was found, repaired and deleted, and the summary
lines it ends with."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..models import FindingKind
from .plan import (
    CORRUPT,
    JSON_DOC,
    META_CORRUPT,
    META_MISSING,
    MISSING,
    NO_SOURCE,
    PAGE,
    PROV_MISSING,
    ROOT,
    Finding,
    ProjectOutcome,
)


@dataclass
class VerifyReport:
    """The books of one ``verify`` run, kept by the main thread."""

    dry_run: bool = False
    delete: bool = False
    projects: int = 0
    resumed: int = 0
    """Projects an interrupted verify had already finished (not checked again)."""
    checked: int = 0
    found: Counter[FindingKind] = field(default_factory=Counter)
    repair_bytes: int = 0
    repaired: int = 0
    unrepaired: int = 0
    downloaded: int = 0
    orphans: int = 0
    orphan_bytes: int = 0
    orphans_deleted: int = 0
    unknown_projects: int = 0
    seconds: float = 0.0

    def add(self, outcome: ProjectOutcome) -> None:
        self.projects += 1
        self.checked += outcome.checked
        self.downloaded += outcome.downloaded
        self.unknown_projects += not outcome.known
        for finding in outcome.findings:
            self.found[finding.kind] += 1
            self.repair_bytes += finding.size or 0
        unrepaired = len(outcome.findings) if self.dry_run else len(outcome.failed)
        self.unrepaired += unrepaired
        self.repaired += len(outcome.findings) - unrepaired

    def note(self, finding: Finding, repaired: bool) -> None:
        """Count a finding outside any project (the root index)."""
        self.found[finding.kind] += 1
        self.repaired += repaired
        self.unrepaired += not repaired

    @property
    def damage_remains(self) -> bool:
        orphans_left = self.delete and self.orphans_deleted < self.orphans
        return self.unrepaired > 0 or orphans_left

    def lines(self) -> list[str]:
        f = self.found
        pages = f[PAGE] + f[ROOT]
        lines = [
            f"verify: {self.projects} projects"
            + (f" (and {self.resumed} verified before an interruption)" if self.resumed else "")
            + f", {self.checked} files checked: "
            f"{f[MISSING] + f[META_MISSING]} missing, {f[CORRUPT] + f[META_CORRUPT]} corrupt "
            f"(of which {f[META_MISSING] + f[META_CORRUPT]} .metadata), "
            + (f"{f[PROV_MISSING]} .provenance missing, " if f[PROV_MISSING] else "")
            + f"{pages} pages wrong, "
            f"{f[JSON_DOC] + f[NO_SOURCE]} without usable metadata, "
            f"{self.orphans} orphaned ({self.orphan_bytes} bytes), {self.seconds:.1f} seconds"
        ]
        if self.dry_run:
            lines.append(
                f"dry run, nothing changed: would repair {sum(f.values())} "
                f"(downloading about {self.repair_bytes} bytes) and "
                + (
                    f"delete {self.orphans} orphans ({self.orphan_bytes} bytes)"
                    if self.delete
                    else "keep the orphans (--delete removes them)"
                )
            )
            return lines
        kept = self.orphans - self.orphans_deleted
        lines.append(
            f"repaired {self.repaired} ({self.downloaded} bytes downloaded), "
            f"{self.unrepaired} not repaired; deleted {self.orphans_deleted} orphans, kept {kept}"
            + ("" if self.delete or not kept else " (--delete removes them)")
        )
        return lines
