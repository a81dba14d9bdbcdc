"""SMTP front: accept before the real mail server, keep listed senders, relay the rest."""
