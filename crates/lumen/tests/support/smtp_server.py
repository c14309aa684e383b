"""Real SMTP servers for Lumen's mail tests (aiosmtpd, from PyPI), on 127.0.0.1.

Usage: python3 smtp_server.py DIR

Makes a test CA and a certificate for 127.0.0.1 and localhost signed by it
(DIR/ca.pem is what Lumen is told to trust), then runs three servers:
  "starttls":      STARTTLS required, no AUTH
  "starttls-auth": STARTTLS required, AUTH (PLAIN or LOGIN) required
  "tls-auth":      implicit TLS, AUTH required
The only account is USER / PASSWORD below. Each message received is kept as
DIR/<server>-<n>.eml, and read by Python's own MIME parser into
DIR/<server>-<n>.json (envelope, decoded headers, bodies, attachments in
base64). Prints the
ports as one JSON line, then serves until its standard input closes.
"""

import base64
import email
import email.policy
import json
import logging
import os
import socket
import ssl
import subprocess
import sys
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER = b"lumen-mailer"
PASSWORD = b"p@ss w0rd"


def certificates(root):
    path = lambda name: os.path.join(root, name)
    run = lambda *args: subprocess.run(args, check=True, capture_output=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("openssl", "req", "-x509", *ec, "-keyout", path("ca.key"), "-out", path("ca.pem"),
        "-subj", "/CN=Lumen test CA", "-days", "2")
    run("openssl", "req", *ec, "-keyout", path("server.key"), "-out", path("server.csr"),
        "-subj", "/CN=localhost")
    with open(path("server.ext"), "w") as ext:
        ext.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                  "basicConstraints=critical,CA:FALSE\n"
                  "extendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"),
        "-CAkey", path("ca.key"), "-CAcreateserial", "-out", path("server.pem"),
        "-days", "2", "-extfile", path("server.ext"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(path("server.pem"), path("server.key"))
    return context


class Keep:
    def __init__(self, root, name):
        self.root, self.name, self.count = root, name, 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.root, f"{self.name}-{self.count}")
        with open(base + ".eml", "wb") as eml:
            eml.write(envelope.original_content)
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        parts = {"text/plain": None, "text/html": None}
        attachments = []
        for part in message.walk():
            if part.is_attachment():
                attachments.append({"filename": part.get_filename(),
                                    "contentType": part.get_content_type(),
                                    "base64": base64.b64encode(part.get_payload(decode=True)).decode()})
            elif part.get_content_type() in parts:
                parts[part.get_content_type()] = part.get_content()
        with open(base + ".json", "w") as meta:
            json.dump({"mailFrom": envelope.mail_from, "rcptTo": envelope.rcpt_tos,
                       "authenticated": bool(session.authenticated),
                       "tls": server.transport.get_extra_info("ssl_object") is not None,
                       "subject": str(message["subject"]), "from": str(message["from"]),
                       "toName": message["to"].addresses[0].display_name,
                       "toAddress": message["to"].addresses[0].addr_spec,
                       "text": parts["text/plain"], "html": parts["text/html"],
                       "attachments": attachments}, meta)
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER \
        and auth_data.password == PASSWORD
    return AuthResult(success=ok, handled=False)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    # Quiet: the tests make failing sessions on purpose (untrusted certificate, wrong password).
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    warnings.simplefilter("ignore")
    root = sys.argv[1]
    context = certificates(root)
    common = dict(hostname="127.0.0.1", server_hostname="localhost", authenticator=authenticator)
    servers = {
        "starttls": dict(tls_context=context, require_starttls=True, auth_required=False),
        "starttls-auth": dict(tls_context=context, require_starttls=True, auth_required=True),
        # aiosmtpd's auth_require_tls only knows STARTTLS; this connection is TLS from the start.
        "tls-auth": dict(ssl_context=context, auth_required=True, auth_require_tls=False),
    }
    controllers, ports = [], {}
    for name, options in servers.items():
        port = free_port()
        controller = Controller(Keep(root, name), port=port, **common, **options)
        controller.start()
        controllers.append(controller)
        ports[name] = port
    print(json.dumps(ports), flush=True)
    sys.stdin.read()
    for controller in controllers:
        controller.stop()


if __name__ == "__main__":
    main()
