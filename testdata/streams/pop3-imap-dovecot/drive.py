import poplib, imaplib, time
p = poplib.POP3("127.0.0.1", 110)
p.user("analyst"); p.pass_("N3tcap-demo")
p.stat()
p.top(1, 0)          # headers only
p.top(2, 3)          # headers and the first 3 body lines
p.top(3, 0)
p.top(3, 50)         # more lines than the body has: the whole message
p.retr(2)            # the whole message, for comparison
p.quit()
time.sleep(0.5)
i = imaplib.IMAP4("127.0.0.1", 143)
i.login("analyst", "N3tcap-demo")
i.select("INBOX")
i.fetch("1", "(BODY[HEADER])")
i.fetch("2", "(FLAGS BODY.PEEK[HEADER])")
i.fetch("3", "(RFC822.HEADER)")
i.fetch("1:3", "(UID BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID)])")
i.fetch("1", "(BODY.PEEK[TEXT])")
i.fetch("1", "(BODY.PEEK[1] BODY.PEEK[2])")
i.fetch("2:3", "(BODY.PEEK[])")
i.logout()
