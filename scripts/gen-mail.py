#!/usr/bin/env python3
"""Generates a Maildir of realistic support mail for benchmarks, deterministically from a seed.

Usage: scripts/gen-mail.py OUTDIR [--count N] [--seed S]

Writes OUTDIR/{cur,new,tmp}; the messages go to OUTDIR/new as "<unix>.<n>.bench:2,", where
<unix> is the message's Date and <n> its index. The same count and seed give the same bytes.

The mix, per message: about 3% auto-replies (Auto-Submitted: auto-replied), 2% list mail
(List-Id), and otherwise about 60% new conversations and 40% replies to an earlier generated
message (In-Reply-To and References of the parent, "Re: " subject, the parent quoted with
"> " after an "On <date>, <name> wrote:" line). Independently: about 5% multipart/alternative
with HTML, 3% with a small base64 attachment (1-20 KB), some ISO-8859-1 quoted-printable
bodies, about 1% without a Message-ID, "-- " signatures and "Sent from my iPhone". Senders
come from a pool of about 2000 customers at .example domains; everything is addressed to
support@lumencloud.example; Dates increase through 2026.

Stdlib only. As a module (the file name has a hyphen, so load it with importlib):

    spec = importlib.util.spec_from_file_location("gen_mail", "scripts/gen-mail.py")
    gen_mail = importlib.util.module_from_spec(spec); spec.loader.exec_module(gen_mail)
    stats = gen_mail.generate("/tmp/maildir", count=1000, seed=42)
    for m in gen_mail.messages(10, seed=1): print(m.filename, len(m.data), m.kind)
"""


import argparse
import base64
import datetime as dt
import html
import os
import quopri
import random
import sys
import textwrap
from dataclasses import dataclass, field
from email.header import Header
from email.utils import format_datetime
from typing import Optional

SUPPORT = "support@lumencloud.example"
SUPPORT_NAME = "LumenCloud Support"
YEAR_START = dt.datetime(2026, 1, 2, 7, 0, tzinfo=dt.timezone.utc)
YEAR_END = dt.datetime(2026, 12, 30, 22, 0, tzinfo=dt.timezone.utc)

# ---------------------------------------------------------------------------------------------
# Word and phrase lists
# ---------------------------------------------------------------------------------------------

FIRST = (
    "James Mary John Patricia Robert Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony "
    "Betty Mark Sandra Steven Ashley Paul Emily Andrew Donna Joshua Michelle Kenneth Carol Kevin "
    "Amanda Brian Melissa George Deborah Tim Stephanie Priya Rahul Wei Mei Hiroshi Yuki Ahmed "
    "Fatima Lars Ingrid Sven Anja Pieter Sanne Olga Dmitri Ana Diego Lucia Marco Giulia Tom Eva"
).split()
FIRST_ACCENTED = (
    "René Zoë Jürgen Björn Søren François Hélène Agnès Sébastien Mónica José Inés Günter "
    "Jörg Åsa Chloé Noémie Ramón Raúl Dörte Mathéo Léa Renée"
).split()
LAST = (
    "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Martin "
    "Jackson Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott "
    "Green Baker Adams Nelson Hill Campbell Mitchell Roberts Carter Phillips Evans Turner Parker "
    "Collins Edwards Stewart Morris Murphy Cook Rogers Patel Shah Chen Wang Tanaka Sato Khan "
    "Hansen Larsen Jansen de-Vries Novak Rossi Bianchi Garcia Lopez Fischer Weber Schmidt Kowalski"
).split()
LAST_ACCENTED = (
    "Müller Schäfer Jørgensen Lefèvre Gaël Núñez Ibáñez Größer Østergaard Sánchez Dubé "
    "Bergström Öztürk Hernández Ångström Löwe Bélanger"
).split()
COMPANY_WORDS = (
    "acme northwind globex initech umbrella hooli vandelay stark wayne tyrell cyberdyne "
    "soylent wonka oceanic massive pied-piper aperture blackmesa contoso fabrikam tailspin "
    "adventure-works litware proseware wingtip fourth-coffee alpine lucerne woodgrove "
    "margie-travel trey-research coho-winery datum graphic-design humongous-ins"
).split()
COMPANY_SUFFIX = ("", "", "", "-corp", "-labs", "-inc", "-gmbh", "-sa", "-ltd", "-group")
FREEMAIL = ("mail.example", "post.example", "inbox.example", "webmail.example")
TZ_OFFSETS = (0, 0, 1, 1, 2, -5, -5, -6, -8, 5.5, 9, 10, -3)

PLANS = ("Starter", "Team", "Business", "Enterprise")
REGIONS = ("eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-southeast-1")
BROWSERS = ("Chrome 131", "Firefox 134", "Safari 18.2", "Edge 131")
OSES = ("Windows 11", "macOS 15.2", "Ubuntu 24.04", "iOS 18.2", "Android 15")
FEATURES = (
    "dashboard", "billing page", "user management screen", "API", "backup scheduler",
    "file sync client", "reporting module", "audit log", "SSO settings", "mobile app",
    "webhooks page", "data export", "team workspace", "custom domain settings",
)
ERRORS = (
    "Error 500: Internal Server Error", "ERR_CONNECTION_RESET", "403 Forbidden",
    "429 Too Many Requests", "SAML response signature invalid", "invalid_grant",
    "Request timed out after 30000ms", "TLS handshake failed", "Quota exceeded (code Q-114)",
    "Something went wrong. Please try again later. (ref 7f3a-91c2)",
    "Payment declined: card_expired", "sync conflict: remote version is newer",
    "DNS_PROBE_FINISHED_NXDOMAIN", "upstream connect error or disconnect/reset before headers",
)

GREETINGS = (
    "Hi,", "Hello,", "Hi there,", "Hello support team,", "Dear LumenCloud Support,",
    "Hi LumenCloud team,", "Good morning,", "Good afternoon,", "Hey,", "Dear Sir or Madam,",
    "Hi support,", "To whom it may concern,",
)
OPENERS = (
    "I hope you are well.", "I hope this is the right address for this.",
    "We have been using LumenCloud for about {n} months now and mostly love it.",
    "I'm writing on behalf of {company}.", "Our account number is {account}.",
    "Sorry to bother you again.", "A colleague suggested I contact you directly.",
    "I could not find an answer in the help center, so I'm writing here.",
    "We are on the {plan} plan, account {account}.",
)
CLOSINGS = (
    "Thanks,", "Thanks in advance,", "Best regards,", "Kind regards,", "Cheers,", "Regards,",
    "Many thanks,", "Best,", "Thank you,", "Looking forward to hearing from you,",
    "All the best,", "Thanks for your help,",
)
QUESTIONS = (
    "Could you please look into this?", "Is this a known issue?",
    "Is there a workaround we can use in the meantime?", "Can you tell me what is going on?",
    "What do you need from me to investigate?", "How long will this take to fix?",
    "Could you escalate this, please? It is blocking our whole team.",
    "Is there any way to speed this up?", "Can someone call me back about this?",
    "Please let me know if you need more information.",
    "Do you have an ETA for a fix?", "Am I doing something wrong here?",
)
URGENCY = (
    "This is quite urgent for us as we have a release on {day}.",
    "It is not urgent, but it is annoying.", "We have a customer demo tomorrow morning.",
    "This affects about {n} of our users.", "Our whole team is blocked by this.",
    "No rush, whenever you get a chance.", "Our CFO is asking about this, so a quick answer would help.",
)
DETAILS = (
    "I am using {browser} on {os}.", "I already tried clearing the cache and logging in again.",
    "It worked fine until {day} last week.", "The problem started right after your maintenance window.",
    "It happens on every attempt, not just sometimes.", "It only happens for some of our users.",
    "We are in the {region} region.", "I tried two different networks with the same result.",
    "Restarting the client did not help.", "The error message says: \"{error}\".",
    "I have attached a screenshot in case it helps.", "Our admin has checked the permissions and they look right to us.",
    "The request ID shown on the page was {reqid}.", "It takes about {n} seconds before it fails.",
    "This is the first time we have seen this.", "Nothing changed on our side as far as I know.",
    "We updated to version {ver} of the desktop client yesterday.",
    "Incognito mode behaves exactly the same way.",
)
STEPS_INTRO = ("Steps to reproduce:", "Here is what I did:", "What I tried so far:", "To reproduce:")
STEPS = (
    "Log in as an admin user", "Open the {feature}", "Click on \"Save\"", "Wait a few seconds",
    "Select all items and click \"Export\"", "Go to Settings > Integrations",
    "Enter the new card details", "Upload a file larger than {n} MB", "Refresh the page",
    "Invite a new member from the team page", "Switch to the {region} region",
    "Run the sync from the tray icon", "Call GET /v2/projects with our API key",
)
LOG_LINES = (
    "{time} ERROR sync.worker: upload failed status=503 retry={n}",
    "{time} WARN  api.client: rate limited, backing off {n}s",
    "{time} ERROR auth: {error}", "{time} INFO  backup: job {reqid} started",
    "{time} ERROR backup: job {reqid} failed: snapshot not found",
    "HTTP/1.1 {status}", "x-request-id: {reqid}",
)

TOPICS = {
    "billing": {
        "subjects": (
            "Question about invoice {invoice}", "Charged twice this month",
            "Wrong VAT on invoice {invoice}", "Billing question", "Refund request for {invoice}",
            "Update payment method", "Invoice address change", "Unexpected charge on our card",
            "Problème avec la facture {invoice}", "Frage zur Rechnung {invoice}",
        ),
        "problems": (
            "We were charged twice for the {plan} plan this month.",
            "Invoice {invoice} shows {n} seats but we only have {m} active users.",
            "The VAT number on invoice {invoice} is missing, and our accounting needs it.",
            "Our card was declined although it is valid until 2028.",
            "We downgraded to the {plan} plan last month but were still billed the old price.",
            "I need the invoices for Q{q} as PDF for our auditors.",
            "Could you change the billing address to our new office?",
            "I don't understand the line \"usage overage\" on the last invoice.",
        ),
    },
    "login": {
        "subjects": (
            "Can't log in", "Login problem", "Locked out of my account", "SSO login failing",
            "Password reset email never arrives", "2FA codes not accepted", "Lost my 2FA device",
            "URGENT: nobody on our team can log in", "Login loop after update",
        ),
        "problems": (
            "Since this morning I cannot log in to the {feature}.",
            "The password reset email never arrives, I checked spam as well.",
            "Our SSO login fails with \"{error}\".",
            "My authenticator app codes are rejected every time.",
            "I lost my phone and with it my 2FA device, and now I am locked out.",
            "After logging in I am sent straight back to the login page.",
            "Several of our users get logged out every few minutes.",
        ),
    },
    "api": {
        "subjects": (
            "API returning 500 errors", "Rate limit too low?", "Webhook deliveries failing",
            "API key stopped working", "Question about the v2 API", "Pagination bug in /v2/projects",
            "Webhooks delayed by hours",
        ),
        "problems": (
            "Our integration started getting \"{error}\" from the API.",
            "Calls to /v2/projects return the same page twice when we paginate.",
            "We hit the rate limit at about {n} requests per minute, lower than documented.",
            "Webhook deliveries to our endpoint have been failing since {day}.",
            "Our API key suddenly returns 401 although nobody rotated it.",
            "The API docs say the field \"updated_at\" is ISO 8601, but we get a unix timestamp.",
        ),
    },
    "performance": {
        "subjects": (
            "Dashboard very slow", "Performance issues in {region}", "Sync takes forever",
            "Slow uploads since last week", "Timeouts when exporting reports",
        ),
        "problems": (
            "The {feature} takes more than {n} seconds to load.",
            "Uploads have become very slow, about {n} KB/s on a gigabit line.",
            "Exporting the monthly report times out every time.",
            "Since the last update the desktop client uses a lot of CPU.",
            "Everything in the {region} region feels sluggish today.",
        ),
    },
    "backup": {
        "subjects": (
            "Backup failed", "Restore not working", "Need to restore deleted files",
            "Backup job stuck", "Where are my snapshots?",
        ),
        "problems": (
            "Last night's backup job failed with \"{error}\".",
            "I accidentally deleted a folder with about {n} files, can it be restored?",
            "The restore has been stuck at {p}% for hours.",
            "The snapshots from before {day} are gone from the list.",
            "The backup scheduler shows the wrong time zone.",
        ),
    },
    "domains": {
        "subjects": (
            "Custom domain not verifying", "SSL certificate expired on our domain",
            "DNS settings for custom domain", "Domain verification stuck",
        ),
        "problems": (
            "Our custom domain has been \"pending verification\" for {n} days.",
            "The certificate on files.{domain} expired and browsers show a warning.",
            "Which CNAME record do we need for the custom domain?",
            "We moved our DNS to a new provider and now the custom domain is broken.",
        ),
    },
    "account": {
        "subjects": (
            "Cancel my subscription", "Transfer account ownership", "Delete my data (GDPR)",
            "Add more seats", "Change account email", "Merge two accounts", "Upgrade to Enterprise",
        ),
        "problems": (
            "Please cancel our subscription at the end of the current billing period.",
            "Our account owner left the company; how do we transfer ownership?",
            "Under GDPR I would like all my personal data to be deleted.",
            "We need {n} more seats for new hires starting next month.",
            "I want to change the email address of my account to my new work address.",
            "We accidentally created two accounts and want to merge them.",
            "We are interested in the Enterprise plan. Can someone contact us about pricing?",
        ),
    },
    "feature": {
        "subjects": (
            "Feature request: dark mode", "Feature request: export to CSV", "Suggestion",
            "Is there an API for audit logs?", "Feature request: SCIM provisioning",
            "Any plans for a Linux client?",
        ),
        "problems": (
            "It would be great if the {feature} had a dark mode.",
            "We would love to export the audit log as CSV.",
            "Is SCIM provisioning on the roadmap? We manage {n} users in Okta.",
            "Do you have plans for a native Linux desktop client?",
            "Could you add a way to bulk-edit permissions?",
        ),
    },
    "bug": {
        "subjects": (
            "Bug in the {feature}", "Mobile app crashes on startup", "Files not syncing",
            "Something is broken", "Error when saving settings", "Data missing after update",
            "Sync conflict every day",
        ),
        "problems": (
            "The mobile app crashes right after the splash screen.",
            "Files are not syncing between my laptop and the web app.",
            "Saving settings in the {feature} fails with \"{error}\".",
            "After the update some of our projects show no data.",
            "Every morning I get a sync conflict for the same spreadsheet.",
            "The {feature} shows a blank page in {browser}.",
        ),
    },
}
TOPIC_NAMES = tuple(TOPICS)

FOLLOWUPS = (
    "Thanks for the quick reply.", "Thank you for getting back to me.",
    "I tried what you suggested, but unfortunately the problem is still there.",
    "That fixed it, thank you so much!", "Any update on this? It has been {n} days.",
    "Just following up on my message below.", "Here is the information you asked for.",
    "I have attached the log file you requested.", "The issue came back this morning.",
    "Sorry, I forgot to mention something.", "My colleague is seeing the same thing now.",
    "Please keep this ticket open, we are still testing.",
    "Your workaround helps for now, but we need a proper fix.",
    "You can close this ticket, everything works again.",
    "I'm not sure I understand your answer, could you explain it differently?",
    "We still see the error, now with a different message: \"{error}\".",
)
LATIN1_PHRASES = (
    "Merci beaucoup pour votre aide.", "Vielen Dank für Ihre Hilfe.", "C'est très urgent.",
    "Mit freundlichen Grüßen aus München.", "Désolé pour mon anglais.",
    "Je reste à votre disposition.", "Schöne Grüße.", "Muchas gracias por la ayuda rápida.",
)
AUTO_SUBJECTS = ("Automatic reply: {s}", "Out of Office: {s}", "Auto: {s}",
                 "Abwesenheitsnotiz: {s}", "Réponse automatique : {s}")
AUTO_BODIES = (
    "I am out of the office until {day} with limited access to email.",
    "Thank you for your message. I am currently on leave and will return on {day}.",
    "I'm away until {day}. For urgent matters please contact {colleague}.",
    "This mailbox is not monitored. Please contact your account manager instead.",
    "Thank you for your email. We have received it and will respond within {n} business days.",
)
LIST_SOURCES = (
    ("Status Updates", "status", "statuspage-vendor.example", "[Status]"),
    ("DevOps Weekly", "weekly", "devops-news.example", "[DevOps Weekly]"),
    ("Cloud Security Advisories", "advisories", "cloudsec.example", "[SEC]"),
    ("Partner Newsletter", "partners", "lumencloud-partners.example", "[Partners]"),
)
LIST_SUBJECTS = (
    "Scheduled maintenance on {day}", "Issue {n}: what's new this week", "Incident resolved: elevated API errors",
    "Advisory {reqid}: update your TLS configuration", "Monthly digest", "New features in release {ver}",
)
LIST_LINES = (
    "You are receiving this because you subscribed to {list}.",
    "We will perform scheduled maintenance on {day} between 02:00 and 04:00 UTC.",
    "During this window the {feature} may be unavailable for a few minutes.",
    "This week: {n} new articles on incident response, observability and cost control.",
    "The incident affecting the {region} region has been resolved.",
    "All systems are operational again. A full post-mortem will follow.",
    "Customers are advised to rotate credentials created before {day}.",
    "Read the full story on our blog.",
)
JOB_TITLES = ("IT Manager", "Operations Lead", "Office Manager", "CTO", "Finance", "Developer",
              "Head of Customer Success", "Systems Administrator", "Founder", "Project Manager")
AGENTS = (
    "Mozilla Thunderbird 128.6.0", "Microsoft Outlook 16.0", "Apple Mail (2.3776)",
    "iPhone Mail (22C152)", "Evolution 3.52.4", "Roundcube Webmail/1.6.9", None, None, None,
)
ATTACHMENTS = (
    ("screenshot.png", "image/png"), ("Screenshot 2026-{mm}-{dd} at 10.{mi}.png", "image/png"),
    ("error.log", "text/plain"), ("invoice-{invoice}.pdf", "application/pdf"),
    ("export.csv", "text/csv"), ("har-capture.zip", "application/zip"),
    ("IMG_{n4}.jpg", "image/jpeg"),
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


# ---------------------------------------------------------------------------------------------
# Customers
# ---------------------------------------------------------------------------------------------


@dataclass
class Customer:
    name: str
    addr: str
    company: str
    domain: str
    account: str
    tz: dt.timezone
    accented: bool
    iphone: bool  # often writes from a phone
    signature: bool  # uses a "-- " signature
    html: bool  # client sends multipart/alternative
    title: str
    phone: str


def make_customers(seed: int, n: int = 2000) -> list[Customer]:
    rng = random.Random(f"{seed}-customers")
    domains = []
    for word in COMPANY_WORDS:
        domains.append(word + rng.choice(COMPANY_SUFFIX) + ".example")
    # A few companies with several contacts, many with one or two.
    customers, seen = [], set()
    while len(customers) < n:
        accented = rng.random() < 0.12
        first = rng.choice(FIRST_ACCENTED if accented and rng.random() < 0.6 else FIRST)
        last = rng.choice(LAST_ACCENTED if accented else LAST).replace("-", " ")
        if rng.random() < 0.2:
            domain = rng.choice(FREEMAIL)
            company = ""
        elif rng.random() < 0.5:
            domain = rng.choice(domains)
            company = domain.split(".")[0].replace("-", " ").title()
        else:
            w = rng.choice(COMPANY_WORDS) + rng.choice(COMPANY_WORDS)[:4]
            domain = w + rng.choice(COMPANY_SUFFIX) + ".example"
            company = domain.split(".")[0].replace("-", " ").title()
        local_first = ascii_fold(first).lower()
        local_last = ascii_fold(last).lower().replace(" ", "")
        style = rng.randrange(5)
        local = (
            f"{local_first}.{local_last}", f"{local_first[0]}{local_last}", local_first,
            f"{local_first}_{local_last}", f"{local_last}{rng.randrange(10, 99)}",
        )[style]
        addr = f"{local}@{domain}"
        if addr in seen:
            continue
        seen.add(addr)
        off = rng.choice(TZ_OFFSETS)
        customers.append(Customer(
            name=f"{first} {last}",
            addr=addr,
            company=company,
            domain=domain,
            account=f"LC-{rng.randrange(100000, 999999)}",
            tz=dt.timezone(dt.timedelta(hours=off)),
            accented=first in FIRST_ACCENTED or last in LAST_ACCENTED,
            iphone=rng.random() < 0.1,
            signature=rng.random() < 0.35,
            html=rng.random() < 0.1,
            title=rng.choice(JOB_TITLES),
            phone=f"+{rng.choice((1, 44, 49, 33, 31, 46))} {rng.randrange(100, 999)} "
                  f"{rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
        ))
    return customers


def ascii_fold(s: str) -> str:
    table = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ø": "o", "å": "a", "æ": "ae",
             "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "Ø": "O", "Å": "A"}
    import unicodedata
    s = "".join(table.get(c, c) for c in s)
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()


# ---------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------


@dataclass
class Generated:
    """One generated message: its Maildir file name, bytes and what the generator made."""

    filename: str
    data: bytes
    kind: str  # "new", "reply", "auto-reply", "list"
    message_id: Optional[str]
    in_reply_to: Optional[str]
    references: list[str]
    features: list[str] = field(default_factory=list)  # "html", "attachment", "latin1-qp", ...


@dataclass
class _Sent:
    msgid: Optional[str]
    refs: list[str]
    subject: str  # without "Re: "
    name: str
    addr: str
    date: dt.datetime
    text: str  # the full plain text as shown (own text + quote)
    customer: Customer
    topic: str


class _Gen:
    def __init__(self, count: int, seed: int):
        self.rng = random.Random(f"{seed}-messages")
        self.count = count
        self.customers = make_customers(seed)
        self.history: list[_Sent] = []  # messages that have a Message-ID, for replies
        self.times = self._times(random.Random(f"{seed}-dates"))
        self.now = YEAR_START
        self.used: set[str] = set()

    def _times(self, rng: random.Random) -> list[dt.datetime]:
        gaps = [rng.expovariate(1.0) for _ in range(self.count)]
        total = sum(gaps) or 1.0
        span = (YEAR_END - YEAR_START).total_seconds()
        out, t = [], 0.0
        for g in gaps:
            t += g / total * span
            out.append(YEAR_START + dt.timedelta(seconds=int(t)))
        return out

    # -- filling in phrases --------------------------------------------------------------------

    def fill(self, template: str, c: Optional[Customer] = None) -> str:
        r = self.rng
        if "{" not in template:
            return template
        return template.format(
            n=r.choice((2, 3, 5, 8, 10, 12, 15, 20, 30, 45, 50, 120)),
            m=r.choice((3, 4, 6, 7, 9, 11)),
            p=r.randrange(5, 99),
            q=r.randrange(1, 5),
            plan=r.choice(PLANS),
            account=c.account if c else f"LC-{r.randrange(100000, 999999)}",
            company=(c.company or "our company") if c else "our company",
            domain=c.domain if c else "example.example",
            invoice=f"INV-2026-{r.randrange(1000, 99999):05d}",
            region=r.choice(REGIONS),
            browser=r.choice(BROWSERS),
            os=r.choice(OSES),
            feature=r.choice(FEATURES),
            error=r.choice(ERRORS),
            day=r.choice(WEEKDAYS),
            reqid=f"{r.getrandbits(32):08x}-{r.getrandbits(16):04x}",
            ver=f"{r.randrange(3, 6)}.{r.randrange(0, 20)}.{r.randrange(0, 9)}",
            time=(self.now - dt.timedelta(seconds=r.randrange(60, 3 * 86400)))
                 .strftime("%Y-%m-%dT%H:%M:%SZ"),
            status=r.choice(("500 Internal Server Error", "502 Bad Gateway", "401 Unauthorized",
                             "503 Service Unavailable", "429 Too Many Requests")),
            colleague=f"{r.choice(FIRST)} ({r.choice(FIRST).lower()}@{c.domain if c else 'example.example'})",
            list="this list",
            mm=f"{r.randrange(1, 13):02d}", dd=f"{r.randrange(1, 29):02d}",
            mi=f"{r.randrange(60):02d}", n4=r.randrange(1000, 9999),
        )

    def paragraph(self, sentences: list[str]) -> list[str]:
        return textwrap.wrap(" ".join(sentences), width=self.rng.choice((72, 72, 76, 78)),
                             break_on_hyphens=False, break_long_words=False)

    def pick(self, options: tuple[str, ...], c: Optional[Customer] = None) -> str:
        """A filled-in phrase not used yet in this message (when there is one left)."""
        for _ in range(6):
            t = self.rng.choice(options)
            if t not in self.used:
                break
        self.used.add(t)
        return self.fill(t, c)

    # -- bodies ----------------------------------------------------------------------------------

    def own_text(self, c: Customer, topic: str, reply: bool, latin1: bool) -> list[str]:
        r = self.rng
        target = int(r.triangular(5, 40, 9))
        lines: list[str] = []
        if r.random() < 0.85:
            g = r.choice(GREETINGS)
            if reply and r.random() < 0.4:
                g = f"Hi {r.choice(('Anna', 'Tom', 'Marc', 'Sofia', 'team', 'again'))},"
            lines += [g, ""]
        first: list[str] = []
        if reply:
            first.append(self.pick(FOLLOWUPS, c))
        elif r.random() < 0.4:
            first.append(self.pick(OPENERS, c))
        first.append(self.pick(TOPICS[topic]["problems"], c))
        lines += self.paragraph(first)
        body_budget = min(target - 4, 30)
        guard = 0
        while len(lines) < body_budget and guard < 12:
            guard += 1
            lines.append("")
            roll = r.random()
            if roll < 0.12 and not reply:
                lines.append(r.choice(STEPS_INTRO))
                for i in range(r.randrange(2, 6)):
                    lines.append(f"{i + 1}. {self.pick(STEPS, c)}")
            elif roll < 0.22:
                for _ in range(r.randrange(2, 6)):
                    lines.append("    " + self.fill(r.choice(LOG_LINES), c))
            else:
                pool = [self.pick(DETAILS, c) for _ in range(r.randrange(1, 4))]
                if r.random() < 0.4:
                    pool.append(self.pick(TOPICS[topic]["problems"], c))
                if r.random() < 0.3:
                    pool.append(self.pick(URGENCY, c))
                lines += self.paragraph(pool)
        lines.append("")
        tail = [r.choice(QUESTIONS)] if r.random() < 0.7 else []
        if latin1:
            tail.append(r.choice(LATIN1_PHRASES))
        if tail:
            lines += self.paragraph(tail) + [""]
        lines += [r.choice(CLOSINGS), c.name.split()[0] if r.random() < 0.5 else c.name]
        return lines

    def signature(self, c: Customer) -> list[str]:
        lines = ["-- ", c.name, f"{c.title}{', ' + c.company if c.company else ''}", c.phone]
        if c.company:
            lines.append(f"https://www.{c.domain}")
        return lines

    @staticmethod
    def quote(text: str, limit: int = 60) -> list[str]:
        out = []
        for line in text.split("\n")[:limit]:
            out.append(">" + line if line.startswith(">") else ("> " + line if line else ">"))
        return out

    def attribution(self, parent: _Sent, c: Customer) -> str:
        d = parent.date.astimezone(c.tz)
        style = self.rng.randrange(3)
        if style == 0:  # Gmail
            when = f"{d.strftime('%a')}, {d.day} {MONTHS[d.month - 1]} {d.year} at {d:%H:%M}"
            return f"On {when}, {parent.name} <{parent.addr}> wrote:"
        if style == 1:  # Thunderbird
            return f"On {d:%d/%m/%Y %H:%M}, {parent.name} wrote:"
        # Apple
        hour = d.hour % 12 or 12
        ampm = "AM" if d.hour < 12 else "PM"
        return (f"On {MONTHS[d.month - 1]} {d.day}, {d.year}, at {hour}:{d:%M} {ampm}, "
                f"{parent.name} <{parent.addr}> wrote:")

    # -- one message -----------------------------------------------------------------------------

    def message(self, index: int) -> Generated:
        r = self.rng
        date = self.times[index]
        self.now = date
        self.used: set[str] = set()
        roll = r.random()
        has_parents = bool(self.history)
        if roll < 0.03:
            kind = "auto-reply"
        elif roll < 0.05:
            kind = "list"
        elif has_parents and r.random() < 0.42:
            kind = "reply"
        else:
            kind = "new"

        parent: Optional[_Sent] = None
        if kind in ("reply", "auto-reply") and has_parents:
            back = min(int(r.expovariate(1 / 40)), len(self.history) - 1)
            parent = self.history[-1 - back]
        if kind == "auto-reply" and r.random() < 0.3:
            parent = None  # an auto-reply to a mail of ours that the Maildir doesn't have

        features: list[str] = []
        extra_headers: list[tuple[str, str]] = []
        if kind == "list":
            c = None
            lname, llocal, ldomain, tag = r.choice(LIST_SOURCES)
            from_name, from_addr = lname, f"{llocal}@{ldomain}"
            subject = f"{tag} {self.fill(r.choice(LIST_SUBJECTS))}"
            extra_headers += [
                ("List-Id", f"{lname} <{llocal}.{ldomain}>"),
                ("List-Unsubscribe", f"<mailto:unsubscribe-{llocal}@{ldomain}>, "
                                     f"<https://{ldomain}/unsubscribe?u={r.getrandbits(40):x}>"),
                ("Precedence", r.choice(("list", "bulk"))),
            ]
            body = [f"{lname}", "=" * len(lname), ""]
            for _ in range(r.randrange(2, 5)):
                body += self.paragraph([self.pick(LIST_LINES).replace("this list", lname)
                                        for _ in range(r.randrange(1, 4))]) + [""]
            body += ["--", f"Unsubscribe: https://{ldomain}/unsubscribe", f"{lname}, {ldomain}"]
            topic = "list"
            latin1 = False
            text = "\n".join(body)
            quoted: list[str] = []
        else:
            if parent is not None:
                c = parent.customer
                if kind == "reply" and r.random() < 0.1:  # a colleague at the same company
                    mates = [x for x in self.customers if x.domain == c.domain and x is not c]
                    if mates and c.company:
                        c = r.choice(mates)
            else:
                c = r.choice(self.customers)
            from_name, from_addr = c.name, c.addr
            topic = parent.topic if parent else r.choice(TOPIC_NAMES)
            latin1 = c.accented and r.random() < 0.35 or r.random() < 0.01
            if kind == "auto-reply":
                base = parent.subject if parent else self.fill(r.choice(TOPICS[topic]["subjects"]), c)
                subject = r.choice(AUTO_SUBJECTS).format(s=f"Re: {base}" if parent else base)
                extra_headers.append(("Auto-Submitted", "auto-replied"))
                if r.random() < 0.5:
                    extra_headers.append(("X-Auto-Response-Suppress", "All"))
                if r.random() < 0.3:
                    extra_headers.append(("X-Autoreply", "yes"))
                body = [r.choice(("Hello,", "Hi,", "Dear sender,")), ""]
                body += self.paragraph([self.pick(AUTO_BODIES, c)
                                        for _ in range(r.randrange(1, 3))])
                body += ["", r.choice(CLOSINGS), c.name]
                text = "\n".join(body)
                quoted = []
            else:
                if parent is not None:
                    subject = f"Re: {parent.subject}"
                else:
                    subject = self.fill(r.choice(TOPICS[topic]["subjects"]), c)
                own = self.own_text(c, topic, kind == "reply", latin1)
                iphone = c.iphone and r.random() < 0.6 or r.random() < 0.03
                if iphone:
                    own = own[: max(5, len(own) // 2)] if kind == "reply" else own
                    own += ["", "Sent from my iPhone"]
                    features.append("iphone")
                elif c.signature and r.random() < 0.85:
                    own += [""] + self.signature(c)
                    features.append("signature")
                quoted = []
                if parent is not None:
                    quoted = [self.attribution(parent, c), ""] + self.quote(parent.text)
                    if r.random() < 0.15 and not iphone:  # bottom-posting: quote first
                        text = "\n".join(quoted + [""] + own)
                    else:
                        text = "\n".join(own + [""] + quoted)
                else:
                    text = "\n".join(own)

        if parent is not None and parent.msgid:
            in_reply_to = parent.msgid
            references = (parent.refs + [parent.msgid])[-10:]
        else:
            in_reply_to, references = None, []

        msgid = None
        if r.random() >= 0.01:
            dom = c.domain if c and r.random() < 0.7 else r.choice(
                ("mail.gmail.example", "eurprd03.prod.outlook.example", "mx.list.example"))
            if kind == "list":
                dom = ldomain
            msgid = f"<{r.getrandbits(64):016x}.{index}.{r.getrandbits(24):06x}@{dom}>"
        else:
            features.append("no-message-id")

        # -- MIME structure ------------------------------------------------------------------
        want_html = kind in ("new", "reply") and (
            (c is not None and c.html and r.random() < 0.35) or r.random() < 0.015)
        want_attach = kind in ("new", "reply") and r.random() < 0.03
        charset, cte, payload = self.encode_text(text, latin1, r)
        if latin1 and charset == "iso-8859-1":
            features.append("latin1-qp")
        text_part = (f"Content-Type: text/plain; charset={charset}\n"
                     f"Content-Transfer-Encoding: {cte}\n\n{payload}")
        if want_html:
            features.append("html")
            boundary = f"----=_Part_{index}_{r.getrandbits(48):012x}"
            html_src = self.to_html(text)
            hcs, hcte, hpay = self.encode_text(html_src, False, r, prefer_qp=True)
            body_part = (f"Content-Type: multipart/alternative;\n boundary=\"{boundary}\"\n\n"
                         f"--{boundary}\n{text_part}\n--{boundary}\n"
                         f"Content-Type: text/html; charset={hcs}\n"
                         f"Content-Transfer-Encoding: {hcte}\n\n{hpay}\n--{boundary}--\n")
        else:
            body_part = text_part
        if want_attach:
            features.append("attachment")
            boundary = f"----=_Mixed_{index}_{r.getrandbits(48):012x}"
            fname, ctype = r.choice(ATTACHMENTS)
            fname = self.fill(fname, c)
            blob = self.attachment_bytes(ctype, r.randrange(1024, 20 * 1024 + 1))
            b64 = base64.encodebytes(blob).decode("ascii")
            body_part = (f"Content-Type: multipart/mixed;\n boundary=\"{boundary}\"\n\n"
                         f"This is a multi-part message in MIME format.\n"
                         f"--{boundary}\n{body_part}\n--{boundary}\n"
                         f"Content-Type: {ctype}; name=\"{fname}\"\n"
                         f"Content-Disposition: attachment; filename=\"{fname}\"\n"
                         f"Content-Transfer-Encoding: base64\n\n{b64}--{boundary}--\n")

        # -- headers ---------------------------------------------------------------------------
        tz = c.tz if c else dt.timezone.utc
        local = date.astimezone(tz)
        date_hdr = format_datetime(local)
        relay = f"{r.randrange(1, 5)}"
        ip = f"198.51.100.{r.randrange(1, 255)}"
        sender_dom = from_addr.split("@")[1]
        h: list[tuple[str, str]] = [
            ("Return-Path", f"<{from_addr}>"),
            ("Delivered-To", SUPPORT),
            ("Received", f"from mx{relay}.lumencloud.example (mx{relay}.lumencloud.example "
                         f"[192.0.2.{r.randrange(2, 250)}])\n\tby mail.lumencloud.example (Postfix) "
                         f"with ESMTPS id {r.getrandbits(40):010X}\n\tfor <{SUPPORT}>; "
                         f"{format_datetime(date + dt.timedelta(seconds=r.randrange(1, 9)))}"),
            ("Received", f"from smtp.{sender_dom} (smtp.{sender_dom} [{ip}])\n\tby "
                         f"mx{relay}.lumencloud.example (Postfix) with ESMTPS id "
                         f"{r.getrandbits(40):010X};\n\t{format_datetime(date)}"),
            ("Authentication-Results", f"mail.lumencloud.example; spf=pass smtp.mailfrom={sender_dom}; "
                                       f"dkim=pass header.d={sender_dom}"),
        ]
        if msgid:
            h.append(("Message-ID", msgid))
        h.append(("Date", date_hdr))
        h.append(("From", self.addr_header(from_name, from_addr)))
        to = SUPPORT if r.random() < 0.6 else f"{SUPPORT_NAME} <{SUPPORT}>"
        h.append(("To", to))
        if c and kind != "list" and r.random() < 0.08:
            mate = r.choice(self.customers)
            h.append(("Cc", self.addr_header(mate.name, mate.addr)))
        h.append(("Subject", self.encode_header(subject)))
        if in_reply_to:
            h.append(("In-Reply-To", in_reply_to))
            h.append(("References", "\n ".join(references)))
        h += extra_headers
        agent = r.choice(AGENTS)
        if "iphone" in features:
            agent = "iPhone Mail (22C152)"
        if agent and kind != "list":
            h.append(("User-Agent" if "Thunderbird" in agent or "Evolution" in agent else "X-Mailer", agent))
        h.append(("MIME-Version", "1.0"))
        head = "".join(f"{k}: {v}\n" for k, v in h)
        data = (head + body_part).encode("ascii")
        if not data.endswith(b"\n"):
            data += b"\n"

        if msgid and kind in ("new", "reply"):
            self.history.append(_Sent(
                msgid=msgid, refs=references,
                subject=parent.subject if parent else subject,
                name=from_name, addr=from_addr, date=date, text=text, customer=c, topic=topic,
            ))
        unix = int(date.timestamp())
        return Generated(
            filename=f"{unix}.{index}.bench:2,", data=data, kind=kind, message_id=msgid,
            in_reply_to=in_reply_to, references=references, features=features,
        )

    # -- encodings -------------------------------------------------------------------------------

    @staticmethod
    def encode_text(text: str, latin1: bool, r: random.Random, prefer_qp: bool = False):
        if latin1:
            raw = text.encode("iso-8859-1", "replace")
            return "iso-8859-1", "quoted-printable", quopri.encodestring(raw).decode("ascii")
        if text.isascii() and not prefer_qp:
            return r.choice(("us-ascii", "utf-8", "UTF-8")), "7bit", text
        raw = text.encode("utf-8")
        if prefer_qp or r.random() < 0.5:
            return "utf-8", "quoted-printable", quopri.encodestring(raw).decode("ascii")
        # 8bit utf-8 is common, but keep the file ASCII-clean by sending it as base64 instead.
        return "utf-8", "base64", base64.encodebytes(raw).decode("ascii")

    @staticmethod
    def encode_header(value: str) -> str:
        if value.isascii():
            return value
        try:
            value.encode("iso-8859-1")
            return Header(value, "iso-8859-1").encode()
        except UnicodeEncodeError:
            return Header(value, "utf-8").encode()

    def addr_header(self, name: str, addr: str) -> str:
        if name.isascii():
            return f"\"{name}\" <{addr}>" if self.rng.random() < 0.3 else f"{name} <{addr}>"
        return f"{self.encode_header(name)} <{addr}>"

    @staticmethod
    def to_html(text: str) -> str:
        out = ["<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">",
               "</head><body>"]
        para: list[str] = []
        in_quote = False
        for line in text.split("\n") + [""]:
            quoted = line.startswith(">")
            if quoted != in_quote:
                if para:
                    out.append("<p>" + "<br>\n".join(para) + "</p>")
                    para = []
                out.append("<blockquote type=\"cite\">" if quoted else "</blockquote>")
                in_quote = quoted
            content = line.lstrip("> ") if quoted else line
            if content.strip():
                para.append(html.escape(content))
            elif para:
                out.append("<p>" + "<br>\n".join(para) + "</p>")
                para = []
        if in_quote:
            out.append("</blockquote>")
        out.append("</body></html>")
        return "\n".join(out)

    def attachment_bytes(self, ctype: str, size: int) -> bytes:
        r = self.rng
        if ctype.startswith("text/"):
            lines, n = [], 0
            while n < size:
                line = self.fill(r.choice(LOG_LINES)) if ctype == "text/plain" else \
                    f"{r.randrange(10**5)},{r.choice(FIRST)},{r.choice(PLANS)},{r.randrange(1, 500)}.{r.randrange(100):02d}"
                lines.append(line)
                n += len(line) + 1
            return ("\n".join(lines) + "\n").encode()[:size]
        head = {"image/png": b"\x89PNG\r\n\x1a\n", "application/pdf": b"%PDF-1.4\n",
                "application/zip": b"PK\x03\x04", "image/jpeg": b"\xff\xd8\xff\xe0"}.get(ctype, b"")
        return head + r.randbytes(max(0, size - len(head)))


# ---------------------------------------------------------------------------------------------
# API and CLI
# ---------------------------------------------------------------------------------------------


def messages(count: int, seed: int = 42):
    """Yields `count` Generated messages, deterministically from `seed`."""
    g = _Gen(count, seed)
    for i in range(count):
        yield g.message(i)


def generate(outdir: str, count: int, seed: int = 42) -> dict:
    """Writes the Maildir; returns counts by kind and feature, and the total bytes."""
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(outdir, sub), exist_ok=True)
    stats: dict = {"messages": 0, "bytes": 0, "kinds": {}, "features": {}}
    new = os.path.join(outdir, "new")
    for m in messages(count, seed):
        path = os.path.join(new, m.filename)
        with open(path, "wb") as f:
            f.write(m.data)
        unix = int(m.filename.split(".", 1)[0])
        os.utime(path, (unix, unix))
        stats["messages"] += 1
        stats["bytes"] += len(m.data)
        stats["kinds"][m.kind] = stats["kinds"].get(m.kind, 0) + 1
        for f in m.features:
            stats["features"][f] = stats["features"].get(f, 0) + 1
    return stats


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Generate a Maildir of realistic support mail.")
    p.add_argument("outdir", help="Maildir to create (cur/, new/, tmp/)")
    p.add_argument("--count", type=int, default=1000, help="number of messages [1000]")
    p.add_argument("--seed", type=int, default=42, help="random seed [42]")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    a = p.parse_args(argv)
    if a.count < 0:
        p.error("--count must be >= 0")
    s = generate(a.outdir, a.count, a.seed)
    if not a.quiet:
        avg = s["bytes"] / s["messages"] if s["messages"] else 0
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(s["kinds"].items()))
        feats = ", ".join(f"{k} {v}" for k, v in sorted(s["features"].items()))
        print(f"wrote {s['messages']} messages, {s['bytes']} bytes (avg {avg:.0f}) to "
              f"{os.path.join(a.outdir, 'new')}")
        print(f"  kinds: {kinds}")
        print(f"  features: {feats}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
