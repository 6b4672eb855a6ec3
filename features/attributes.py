"""Lead attributes from job titles: seniority and department (free-mail domains: `email_domains`).

CRM job titles are typed by people ("VP of Marketing", "director, it", "Sr. Mgr - Sales Ops",
"CEO & Co-Founder", "Marketing Intern", "student"), so parsing is rule based on normalised
words: seniority takes the first matching rule in a priority order; department takes the
functional keyword that appears earliest in the title (so "Head of Sales Ops" is sales,
"Engineering Manager, Marketing Platform" is engineering), with general executive titles
(CEO, founder, owner, president) going to ``executive``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from features.values import distinct_values

UNKNOWN = "unknown"

SENIORITY_LEVELS = (
    "c_level",
    "vp",
    "director",
    "head",
    "manager",
    "individual",
    "intern",
    "student",
    "not_employed",
    UNKNOWN,
)
DEPARTMENTS = (
    "marketing",
    "sales",
    "engineering",
    "it",
    "finance",
    "hr",
    "operations",
    "executive",
    "education",
    "other",
    UNKNOWN,
)

# Titles that carry no information about the person's role.
_JUNK_TITLES = frozenset(
    {"na", "n a", "none", "null", "nil", "unknown", "test", "other", "x", "xx", "xxx", "tbd"}
)

# Seniority rules, first match wins, so the order encodes priority.
_SENIORITY_RULES: tuple[tuple[str, str], ...] = (
    (
        "not_employed",
        r"\bunemployed\b|\bjob seek(?:er|ing)\b|\bseeking\b|\blooking for\b|\bopen to work\b"
        r"|\bbetween jobs\b|\bretired\b|\bcareer break\b|\bnot employed\b",
    ),
    # Assistants to an executive are not executives.
    (
        "individual",
        r"\bassistant to\b|\bexecutive assistant\b|\bpersonal assistant\b|\b[ep]a to\b"
        r"|\bsecretary to\b|\bchief of staff\b",
    ),
    (
        "intern",
        r"\bintern\b|\binterns\b|\binternship\b|\btrainee\b|\bapprentice\b|\bworking student\b"
        r"|\bpraktikant(?:in)?\b|\bstagiaire\b",
    ),
    (
        "student",
        r"\bstudent\b(?! (?:services|affairs|success|advis[eo]r|recruit\w*|enrol+ment|admissions"
        r"|counsel\w*|support|life|experience|engagement))|\bundergrad(?:uate)?\b|\bphd candidate\b"
        r"|\bmba candidate\b|\bgraduate student\b|\bpupil\b|\bestudiante\b|\bstudent at\b"
        r"|\brecent grad(?:uate)?\b|\bnew grad(?:uate)?\b",
    ),
    (
        "c_level",
        r"\bc[etfomi]o\b|\bc[dhrpsa]o\b|\bciso\b|\bchro\b|\bcxo\b|\bchief\b|\b(?:co ?)?founder\b"
        r"|\bcofounder\b|\bmanaging director\b|\bmanaging partner\b|\bgeneral partner\b"
        r"|\bchair(?:man|woman|person)?\b|\bproprietor\b|\bgeschaftsfuhrer\b|\bgeschäftsführer\b"
        r"|(?<!product )(?<!process )(?<!business process )\bowner\b"
        r"|(?<!vice )(?<!vp )\bpresident\b",
    ),
    ("vp", r"\b[saeg]?vp\b|\bvice ?president\b|\bvicepresident\b|\bvp of\b"),
    ("head", r"\bhead\b|\bleiter(?:in)?\b"),
    ("director", r"\bdirector\b|\bdir\b|\bdirectora?\b|\bdirecteur\b|\bdirectrice\b"),
    (
        "manager",
        r"\bmanager\b|\bmgr\b|\bmanaging\b|\bsupervisor\b|\bteam lead(?:er)?\b|\bforeman\b"
        r"|\bgerente\b|\bresponsable\b",
    ),
)

# General executive titles: the whole company, not one function.
_EXECUTIVE = (
    r"\bceo\b|\bchief executive\b|\b(?:co ?)?founder\b|\bcofounder\b|\bmanaging director\b"
    r"|\bmanaging partner\b|\bgeneral partner\b|\bgeneral manager\b|\bchair(?:man|woman|person)?\b"
    r"|\bproprietor\b|\bentrepreneur\b|\bgeschaftsfuhrer\b|\bgeschäftsführer\b"
    r"|\bexecutive director\b|\bboard member\b|\bcxo\b"
    r"|(?<!product )(?<!process )(?<!business process )\bowner\b|(?<!vice )(?<!vp )\bpresident\b"
)

# Functional keywords per department; within one department longer phrases come first so a
# phrase wins over its prefix at the same position ("product marketing" before "product").
_DEPARTMENT_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("marketing", r"product marketing|marketing|mktg|demand gen\w*|growth|brand\w*|seo|sem|ppc"),
    ("marketing", r"content|communications?|comms|public relations|pr|social media|advertising"),
    ("marketing", r"digital|campaigns?|cmo|events?|lead gen\w*|copywriter|copywriting"),
    ("sales", r"sales|account executive|account manager|account director|key accounts?|ae|sdr"),
    ("sales", r"bdr|bdm|business development|biz ?dev|revenue|partnerships?|channel|commercial"),
    ("sales", r"customer success|cro|inside sales|pre ?sales|rev ?ops|vertrieb|ventas|ventes"),
    ("hr", r"hr|hrbp|human resources|people|talent|recruit\w*|chro|hiring|l and d|learning and"),
    ("finance", r"finance|financial|cfo|accounting|accountant|controller|comptroller|treasur\w*"),
    ("finance", r"audit\w*|tax|bookkeep\w*|fp and a|payroll|billing|credit|investment|banking"),
    (
        "it",
        r"it|information technology|information|cio|ciso|sysadmin|system administrator|systems?",
    ),
    ("it", r"network\w*|help ?desk|infrastructure|security|dba|database administrator"),
    ("it", r"tech support|technical support|service desk|cyber\w*"),
    ("engineering", r"engineer\w*|developer|software|programmer|dev ?ops|sre|cto|r and d|qa"),
    ("engineering", r"data scien\w*|machine learning|ml|ai|architect|technical|technology|tech"),
    ("engineering", r"product|firmware|hardware|web|mobile|frontend|backend|full ?stack"),
    ("operations", r"operations|operating|ops|coo|logistics|supply chain|procurement|purchasing"),
    ("operations", r"facilities|office manager|office|admin\w*|project|program|process"),
    ("education", r"teacher|professor|lecturer|instructor|tutor|dean|principal|faculty"),
    ("education", r"academic|student|phd|university|school|education|teaching|pupil"),
)


def _compile_departments() -> tuple[re.Pattern[str], tuple[str, ...]]:
    alternatives: list[str] = []
    groups: list[str] = []
    for department, keywords in _DEPARTMENT_KEYWORDS:
        for keyword in keywords.split("|"):
            alternatives.append(rf"\b({keyword})\b")
            groups.append(department)
    # Leftmost match wins; at the same position the longest phrase wins.
    order = sorted(range(len(alternatives)), key=lambda i: -len(alternatives[i]))
    pattern = re.compile("|".join(alternatives[i] for i in order))
    return pattern, tuple(groups[i] for i in order)


_SENIORITY_PATTERNS = tuple((level, re.compile(rule)) for level, rule in _SENIORITY_RULES)
_EXECUTIVE_PATTERN = re.compile(_EXECUTIVE)
_DEPARTMENT_PATTERN, _DEPARTMENT_GROUPS = _compile_departments()
_SEPARATORS = re.compile(r"[\s,;:/|\\()\[\]{}+\-_*#~\"'`]+")


@dataclass(frozen=True)
class JobRole:
    """What a job title says about a lead: how senior and in which department."""

    seniority: str
    department: str


def normalise_title(title: object) -> str:
    """Lower-case words of a title without punctuation ("Sr. V.P., Sales" -> "sr vp sales")."""
    if not isinstance(title, str):
        return ""
    text = title.lower().replace("&", " and ").replace(".", "")
    return _SEPARATORS.sub(" ", text).strip()


@lru_cache(maxsize=65536)
def _parse_normalised(text: str) -> JobRole:
    if not text or text in _JUNK_TITLES or not any(ch.isalpha() for ch in text):
        return JobRole(UNKNOWN, UNKNOWN)
    seniority = next(
        (level for level, pattern in _SENIORITY_PATTERNS if pattern.search(text)), "individual"
    )
    if _EXECUTIVE_PATTERN.search(text):
        department = "executive"
    else:
        match = _DEPARTMENT_PATTERN.search(text)
        if match is not None and match.lastindex is not None:
            department = _DEPARTMENT_GROUPS[match.lastindex - 1]
        elif seniority == "c_level":
            department = "executive"
        elif seniority == "student":
            department = "education"
        else:
            department = "other"
    return JobRole(seniority, department)


def parse_job_title(title: object) -> JobRole:
    """Seniority and department of a free-text job title; missing or junk titles are unknown."""
    return _parse_normalised(normalise_title(title))


def job_roles(titles: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seniority and department codes (indices into SENIORITY_LEVELS / DEPARTMENTS) of titles."""
    uniques, inverse = distinct_values(titles)
    roles = [parse_job_title(v) for v in uniques]
    seniority_index = {level: i for i, level in enumerate(SENIORITY_LEVELS)}
    department_index = {dep: i for i, dep in enumerate(DEPARTMENTS)}
    seniority = np.array([seniority_index[r.seniority] for r in roles], dtype=np.int16)
    department = np.array([department_index[r.department] for r in roles], dtype=np.int16)
    return seniority[inverse], department[inverse]
