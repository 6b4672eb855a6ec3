"""Lead attributes from free text: seniority and department from job titles, free-mail domains.

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

from features.values import factorize

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
    uniques, inverse = _unique_objects(titles)
    roles = [parse_job_title(v) for v in uniques]
    seniority_index = {level: i for i, level in enumerate(SENIORITY_LEVELS)}
    department_index = {dep: i for i, dep in enumerate(DEPARTMENTS)}
    seniority = np.array([seniority_index[r.seniority] for r in roles], dtype=np.int16)
    department = np.array([department_index[r.department] for r in roles], dtype=np.int16)
    return seniority[inverse], department[inverse]


# Consumer mailbox providers: a lead writing from one of these gives no company.
FREE_MAIL_DOMAINS = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "ymail.com",
        "rocketmail.com",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "msn.com",
        "passport.com",
        "aol.com",
        "aim.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "protonmail.com",
        "protonmail.ch",
        "proton.me",
        "pm.me",
        "tutanota.com",
        "tutanota.de",
        "tuta.io",
        "tutamail.com",
        "fastmail.com",
        "fastmail.fm",
        "hushmail.com",
        "hey.com",
        "duck.com",
        "mail.com",
        "email.com",
        "usa.com",
        "post.com",
        "myself.com",
        "consultant.com",
        "inbox.com",
        "zoho.com",
        "zohomail.com",
        "yandex.com",
        "yandex.ru",
        "ya.ru",
        "mail.ru",
        "inbox.ru",
        "list.ru",
        "bk.ru",
        "rambler.ru",
        "gmx.com",
        "gmx.net",
        "gmx.de",
        "gmx.at",
        "gmx.ch",
        "gmx.fr",
        "gmx.us",
        "web.de",
        "t-online.de",
        "freenet.de",
        "arcor.de",
        "posteo.de",
        "mailbox.org",
        "orange.fr",
        "wanadoo.fr",
        "free.fr",
        "laposte.net",
        "sfr.fr",
        "neuf.fr",
        "libero.it",
        "virgilio.it",
        "tiscali.it",
        "alice.it",
        "tin.it",
        "seznam.cz",
        "centrum.cz",
        "wp.pl",
        "o2.pl",
        "onet.pl",
        "interia.pl",
        "op.pl",
        "btinternet.com",
        "sky.com",
        "virginmedia.com",
        "ntlworld.com",
        "talktalk.net",
        "blueyonder.co.uk",
        "comcast.net",
        "verizon.net",
        "att.net",
        "sbcglobal.net",
        "bellsouth.net",
        "cox.net",
        "charter.net",
        "earthlink.net",
        "optonline.net",
        "juno.com",
        "netzero.net",
        "shaw.ca",
        "rogers.com",
        "sympatico.ca",
        "telus.net",
        "videotron.ca",
        "bigpond.com",
        "bigpond.net.au",
        "optusnet.com.au",
        "iinet.net.au",
        "xtra.co.nz",
        "uol.com.br",
        "bol.com.br",
        "terra.com.br",
        "ig.com.br",
        "globo.com",
        "qq.com",
        "163.com",
        "126.com",
        "yeah.net",
        "sina.com",
        "sina.cn",
        "sohu.com",
        "aliyun.com",
        "foxmail.com",
        "naver.com",
        "hanmail.net",
        "daum.net",
        "nate.com",
        "rediffmail.com",
        "yahoo.co.in",
        "yahoo.co.uk",
        "yahoo.co.jp",
        "yahoo.fr",
        "yahoo.de",
        "yahoo.es",
        "yahoo.it",
        "yahoo.com.br",
        "yahoo.com.mx",
        "yahoo.com.ar",
        "yahoo.ca",
        "yahoo.com.au",
        "hotmail.co.uk",
        "hotmail.fr",
        "hotmail.de",
        "hotmail.it",
        "hotmail.es",
        "hotmail.com.br",
        "outlook.fr",
        "outlook.de",
        "outlook.es",
        "live.co.uk",
        "live.fr",
        "live.de",
        "live.nl",
        "mailinator.com",
        "guerrillamail.com",
        "10minutemail.com",
        "temp-mail.org",
    ]
)
# Provider names that are free mail under any country suffix (yahoo.com.ar, hotmail.be, ...).
FREE_MAIL_PROVIDERS = frozenset(
    [
        "gmail",
        "googlemail",
        "yahoo",
        "ymail",
        "hotmail",
        "outlook",
        "aol",
        "gmx",
        "yandex",
        "protonmail",
        "rediffmail",
    ]
)


def normalise_email_domain(value: object) -> str | None:
    """The domain part of an email address or domain ("Jane@Gmail.com " -> "gmail.com")."""
    if not isinstance(value, str):
        return None
    domain = value.strip().lower().rsplit("@", 1)[-1].strip(". ")
    return domain or None


def is_free_mail(domain: object) -> bool | None:
    """Whether an email domain is a consumer mailbox provider; None when the domain is missing."""
    normalised = normalise_email_domain(domain)
    if normalised is None:
        return None
    return normalised in FREE_MAIL_DOMAINS or normalised.split(".", 1)[0] in FREE_MAIL_PROVIDERS


def free_mail_flags(domains: pd.Series | np.ndarray) -> np.ndarray:
    """1.0 for free-mail domains, 0.0 for business domains, NaN when missing."""
    uniques, inverse = _unique_objects(domains)
    flags = np.array(
        [np.nan if (f := is_free_mail(v)) is None else float(f) for v in uniques], dtype=np.float64
    )
    return flags[inverse]


def _unique_objects(values: pd.Series | np.ndarray) -> tuple[list[object], np.ndarray]:
    """Distinct values (missing as None) and the inverse index, so parsing runs once per value."""
    codes, uniques = factorize(values)
    labels: list[object] = [*uniques, None]
    # Missing values have code -1, which indexes the trailing None.
    return labels, codes
