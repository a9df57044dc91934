-- Erasure reaches reconciliation (Sources/AuditTrail/Erasure.swift). A shared-account duplicate is
-- keyed by a subject that names a person's account (`email:<sha-256 of the address>`,
-- `federated:<provider>:<user id>`); finding events keep such a subject in their personal data, not
-- their details. Erasure looks both up by the subjects it computes from the person's identities,
-- inside a request bound by the service's statement timeout: these indexes keep that a probe
-- instead of a scan of every finding and every event's personal data.

-- Only duplicates have such subjects.
CREATE INDEX findings_duplicate_subject ON findings (subject) WHERE kind = 'duplicate';

-- Only finding events put a `subject` into personal data (identity events use `username`/`email`).
CREATE INDEX event_personal_data_subject ON event_personal_data ((data->>'subject')) WHERE data ? 'subject';
