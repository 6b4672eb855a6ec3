"""Free-mail domains: whether a lead writes from a consumer mailbox (no company) or a business one.

A lead's email domain is read loosely ("Jane@Gmail.com ", "gmail.com", "yahoo.com.ar"): a known
consumer domain, or a known provider name under any country suffix, is free mail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.values import distinct_values

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
    uniques, inverse = distinct_values(domains)
    flags = np.array(
        [np.nan if (f := is_free_mail(v)) is None else float(f) for v in uniques], dtype=np.float64
    )
    return flags[inverse]
