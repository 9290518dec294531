import os, email.utils
from email.message import EmailMessage
d = "/tmp/misc12-dc/mail/analyst"
for sub in ("new", "cur", "tmp"):
    os.makedirs(f"{d}/{sub}", exist_ok=True)
msgs = []
m = EmailMessage()
m["From"] = "Alice Example <alice@example.org>"
m["To"] = "Analyst <analyst@example.net>"
m["Cc"] = "soc@example.net"
m["Subject"] = "Quarterly report with the figures for the board meeting next week, please read before Monday"
m["Date"] = "Mon, 07 Dec 2026 09:15:00 +0000"
m["Message-ID"] = "<report-1@example.org>"
m["X-Mailer"] = "Netcap test mailer 1.0"
m.set_content("Hello,\n\nthe report is attached.\n\n-- \nAlice\n")
m.add_attachment(bytes(range(256)) * 8, maintype="application", subtype="octet-stream", filename="figures.bin")
msgs.append(m)
m = EmailMessage()
m["From"] = "Bob <bob@example.com>"
m["To"] = "analyst@example.net"
m["Subject"] = "Lunch"
m["Date"] = "Mon, 07 Dec 2026 11:02:00 +0000"
m["Message-ID"] = "<lunch-2@example.com>"
m["In-Reply-To"] = "<report-1@example.org>"
m["User-Agent"] = "Mutt/2.2.9"
m.set_content("".join(f"line {i} of a plain text body\n" for i in range(1, 11)) + ".a line starting with a dot\n")
msgs.append(m)
m = EmailMessage()
m["Return-Path"] = "<carol@example.net>"
m["From"] = "=?utf-8?q?Carol_M=C3=BCller?= <carol@example.net>"
m["To"] = "analyst@example.net"
m["Subject"] = "=?utf-8?q?Gr=C3=BC=C3=9Fe?="
m["Date"] = "Tue, 08 Dec 2026 08:00:00 +0100"
m["Message-ID"] = "<gruesse-3@example.net>"
m.set_content("Viele Grüße aus Köln.\n", charset="utf-8", cte="quoted-printable")
msgs.append(m)
for i, m in enumerate(msgs, 1):
    with open(f"{d}/new/17650000{i:02d}.M{i}P1.netcap,S={len(bytes(m))}", "wb") as f:
        f.write(bytes(m))
