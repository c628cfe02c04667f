"""A test SMTP submission server that delivers into the test Dovecot over LMTP.

Started by tests/support/servers.rs with Debian's /usr/bin/python3 (package python3-aiosmtpd):

    /usr/bin/python3 -I smtp_lmtp.py --port P --lmtp-port L --cert C --key K \
        --users USERS --control CONTROL --stats STATS

* Listens on 127.0.0.1:P only (and with --tls-port T, implicit TLS on 127.0.0.1:T). STARTTLS
  with cert C/key K; AUTH PLAIN and LOGIN, also over
  plaintext (loopback only), checked against USERS (Dovecot passwd-file lines `user:{PLAIN}pw`).
  AUTH is required before MAIL.
* A recipient's local part names the Dovecot user (`support@lumencloud.example` -> support);
  unknown users are refused at RCPT with 550. Accepted mail is handed to Dovecot's LMTP on
  127.0.0.1:L; if that fails the DATA reply is 451.
* Failure injection: CONTROL holds lines `<code> <count>` (e.g. `451 2`). While the first line
  with a count above zero exists, each DATA is answered with that code and the count drops.
* STATS is rewritten (atomically) as `connections N` / `logins N` lines whenever they change.
  It is first written once the server listens: its existence means "ready".
"""

import argparse
import asyncio
import logging
import os
import signal
import smtplib
import ssl
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

REPLIES = {
    421: "421 4.3.0 Service shutting down (injected)",
    450: "450 4.2.0 Mailbox busy (injected)",
    451: "451 4.3.0 Try again later (injected)",
    452: "452 4.3.1 Insufficient storage (injected)",
    550: "550 5.7.1 Message rejected (injected)",
    552: "552 5.3.4 Message too big (injected)",
    554: "554 5.6.0 Transaction failed (injected)",
}


def parse_args():
    p = argparse.ArgumentParser()
    for name in ("--port", "--lmtp-port"):
        p.add_argument(name, type=int, required=True)
    p.add_argument("--tls-port", type=int, default=0)
    for name in ("--cert", "--key", "--users", "--control", "--stats"):
        p.add_argument(name, required=True)
    return p.parse_args()


def read_users(path):
    users = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            name, _, rest = line.rstrip("\n").partition(":")
            password = rest.split(":", 1)[0]
            if password.startswith("{PLAIN}"):
                password = password[len("{PLAIN}"):]
            if name:
                users[name] = password
    return users


def write_atomically(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


class Stats:
    def __init__(self, path):
        self.path = path
        self.connections = 0
        self.logins = 0

    def save(self):
        write_atomically(self.path, f"connections {self.connections}\nlogins {self.logins}\n")


def take_injected_failure(control):
    """The reply code to inject for this DATA, if any, consuming one from the control file."""
    try:
        with open(control, encoding="utf-8") as f:
            lines = [line.split() for line in f if line.strip()]
    except FileNotFoundError:
        return None
    for fields in lines:
        if len(fields) >= 2 and int(fields[1]) > 0:
            fields[1] = str(int(fields[1]) - 1)
            write_atomically(control, "".join(" ".join(f) + "\n" for f in lines))
            return int(fields[0])
    return None


class Handler:
    def __init__(self, args, users):
        self.args = args
        self.users = users

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.rsplit("@", 1)[0].lower() not in self.users:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        code = take_injected_failure(self.args.control)
        if code is not None:
            return REPLIES.get(code, f"{code} Injected failure")
        options = [o for o in envelope.mail_options if o.upper().startswith(("BODY=", "SMTPUTF8"))]
        try:
            with smtplib.LMTP("127.0.0.1", self.args.lmtp_port, local_hostname="localhost", timeout=30) as lmtp:
                refused = lmtp.sendmail(
                    envelope.mail_from, envelope.rcpt_tos, envelope.original_content, options
                )
        except (OSError, smtplib.SMTPException) as e:
            return f"451 4.4.1 LMTP delivery failed: {e}"
        if refused:
            return f"451 4.4.1 LMTP refused some recipients: {refused}"
        return "250 2.0.0 OK delivered"


class CountingSMTP(SMTP):
    stats = None

    def connection_made(self, transport):
        # STARTTLS calls this again on the same object: count each TCP connection once.
        if not getattr(self, "_counted", False):
            self._counted = True
            self.stats.connections += 1
            self.stats.save()
        super().connection_made(transport)


def main():
    args = parse_args()
    # Loopback AUTH without TLS is deliberate here; keep the log for real errors.
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    users = read_users(args.users)
    stats = Stats(args.stats)
    CountingSMTP.stats = stats

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(args.cert, args.key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        if (
            isinstance(auth_data, LoginPassword)
            and users.get(auth_data.login.decode("utf-8", "replace")) == auth_data.password.decode("utf-8", "replace")
        ):
            stats.logins += 1
            stats.save()
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    handler = Handler(args, users)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def factory(starttls=True):
        return CountingSMTP(
            handler,
            hostname="localhost",
            tls_context=tls if starttls else None,
            require_starttls=False,
            auth_required=True,
            auth_require_tls=False,
            authenticator=authenticator,
            enable_SMTPUTF8=True,
            data_size_limit=64 * 1024 * 1024,
            timeout=60,
            loop=loop,
        )

    server = loop.run_until_complete(loop.create_server(factory, host="127.0.0.1", port=args.port))
    servers = [server]
    if args.tls_port:
        # Implicit TLS ("SMTPS", port 465 style): TLS from the first byte, no STARTTLS.
        servers.append(
            loop.run_until_complete(
                loop.create_server(lambda: factory(starttls=False), host="127.0.0.1", port=args.tls_port, ssl=tls)
            )
        )
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    stats.save()  # ready
    try:
        loop.run_forever()
    finally:
        for s in servers:
            s.close()


if __name__ == "__main__":
    main()
