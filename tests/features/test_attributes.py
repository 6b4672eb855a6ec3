"""Job title parsing and free-mail detection on tables of real-world forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.attributes import DEPARTMENTS, SENIORITY_LEVELS, job_roles, parse_job_title
from features.email_domains import free_mail_flags, is_free_mail, normalise_email_domain

TITLES = [
    # (title, seniority, department)
    ("VP of Marketing", "vp", "marketing"),
    ("Vice-President, Sales", "vp", "sales"),
    ("SVP Engineering", "vp", "engineering"),
    ("V.P. Finance", "vp", "finance"),
    ("Head of Sales Ops", "head", "sales"),
    ("Head of IT", "head", "it"),
    ("director, it", "director", "it"),
    ("Sr. Director of Human Resources", "director", "hr"),
    ("Executive Director", "director", "executive"),
    ("CEO", "c_level", "executive"),
    ("Co-Founder & CEO", "c_level", "executive"),
    ("founder", "c_level", "executive"),
    ("Owner", "c_level", "executive"),
    ("President", "c_level", "executive"),
    ("Managing Director", "c_level", "executive"),
    ("CFO", "c_level", "finance"),
    ("CTO", "c_level", "engineering"),
    ("Chief Marketing Officer", "c_level", "marketing"),
    ("Chief Information Officer", "c_level", "it"),
    ("COO", "c_level", "operations"),
    ("Marketing Intern", "intern", "marketing"),
    ("Software Engineering Intern", "intern", "engineering"),
    ("student", "student", "education"),
    ("MBA Student", "student", "education"),
    ("Marketing student", "student", "marketing"),
    ("Recent Graduate", "student", "education"),
    ("Head of RevOps", "head", "sales"),
    ("Teacher", "individual", "education"),
    ("Assistant Professor of Finance", "individual", "education"),
    ("Account Executive", "individual", "sales"),
    ("SDR", "individual", "sales"),
    ("Business Development Representative", "individual", "sales"),
    ("Sales Engineer", "individual", "sales"),
    ("Software Engineer", "individual", "engineering"),
    ("Sr. Data Scientist", "individual", "engineering"),
    ("Product Owner", "individual", "engineering"),
    ("Product Marketing Manager", "manager", "marketing"),
    ("Engineering Manager, Marketing Platform", "manager", "engineering"),
    ("Sr. Mgr - Sales Ops", "manager", "sales"),
    ("Team Lead, Customer Success", "manager", "sales"),
    ("HR Business Partner", "individual", "hr"),
    ("Recruiter", "individual", "hr"),
    ("Accountant", "individual", "finance"),
    ("Financial Controller", "individual", "finance"),
    ("Operations Manager", "manager", "operations"),
    ("Supply Chain Analyst", "individual", "operations"),
    ("System Administrator", "individual", "it"),
    ("Executive Assistant to the CEO", "individual", "executive"),
    ("Looking for opportunities", "not_employed", "other"),
    ("Job Seeker", "not_employed", "other"),
    ("Retired", "not_employed", "other"),
    ("Consultant", "individual", "other"),
    ("  MARKETING   DIRECTOR ", "director", "marketing"),
    ("n/a", "unknown", "unknown"),
    ("-", "unknown", "unknown"),
    ("", "unknown", "unknown"),
    (None, "unknown", "unknown"),
    (float("nan"), "unknown", "unknown"),
]


@pytest.mark.parametrize(("title", "seniority", "department"), TITLES)
def test_job_title_parsing(title: object, seniority: str, department: str) -> None:
    role = parse_job_title(title)
    assert (role.seniority, role.department) == (seniority, department)


def test_job_roles_vectorised_match_single_parsing() -> None:
    titles = pd.Series([t for t, _, _ in TITLES] * 3, dtype=object)
    seniority, department = job_roles(titles)
    expected = [parse_job_title(t) for t in titles]
    assert [SENIORITY_LEVELS[i] for i in seniority] == [r.seniority for r in expected]
    assert [DEPARTMENTS[i] for i in department] == [r.department for r in expected]


def test_job_roles_large_input_matches_small_input() -> None:
    # Over 256 rows the distinct-value helper switches to pandas; results must not change.
    titles = pd.Series([t for t, _, _ in TITLES] * 10, dtype="str")
    seniority, department = job_roles(titles)
    small_s, small_d = job_roles(titles.iloc[: len(TITLES)])
    assert np.array_equal(seniority, np.tile(small_s, 10))
    assert np.array_equal(department, np.tile(small_d, 10))


FREE_MAIL = [
    ("gmail.com", True),
    ("Gmail.COM", True),
    (" jane.doe@hotmail.co.uk ", True),
    ("@yahoo.com", True),
    ("yahoo.com.ar", True),
    ("outlook.es", True),
    ("protonmail.com", True),
    ("web.de", True),
    ("qq.com", True),
    ("icloud.com", True),
    ("acme.com", False),
    ("mail.acme.com", False),
    ("gmail-consulting.com", False),
    ("stanford.edu", False),
    ("bigcorp.co.uk", False),
]


@pytest.mark.parametrize(("domain", "free"), FREE_MAIL)
def test_free_mail(domain: str, free: bool) -> None:
    assert is_free_mail(domain) is free


@pytest.mark.parametrize("missing", [None, float("nan"), "", "   ", "@"])
def test_free_mail_missing_is_none(missing: object) -> None:
    assert is_free_mail(missing) is None


def test_free_mail_flags_keep_missing_as_nan() -> None:
    flags = free_mail_flags(pd.Series(["gmail.com", "acme.com", None, "GMAIL.com"]))
    assert flags[0] == 1.0 and flags[1] == 0.0 and np.isnan(flags[2]) and flags[3] == 1.0


def test_normalise_email_domain() -> None:
    assert normalise_email_domain("John.Smith@Acme.COM.") == "acme.com"
    assert normalise_email_domain(None) is None


@pytest.mark.parametrize(
    ("title", "department"),
    [("Chief Operating Officer", "operations"), ("Chief Revenue Officer", "sales")],
)
def test_functional_chief_titles(title: str, department: str) -> None:
    assert parse_job_title(title) == parse_job_title(title.upper())
    assert parse_job_title(title).department == department
