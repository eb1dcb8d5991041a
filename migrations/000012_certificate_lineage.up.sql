-- Renewal goes from a terminal's current certificate only (issue 15): each certificate names the
-- one it was renewed from, so that a renewal retried after a lost response (from the predecessor,
-- with the successor's key) is told from an old certificate renewing again to fork the identity.
ALTER TABLE certificates ADD COLUMN renewed_from text REFERENCES certificates (serial);
CREATE INDEX certificates_terminal_issue ON certificates (terminal_id, issue_time DESC);
