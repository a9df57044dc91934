-- The person a snapshot user's stable-ID attribute names, parsed once when the user is staged
-- (Sources/Reconciliation/ReconciliationRun.swift): classification joined `users` on a
-- case-insensitive regular expression and a cast evaluated for every user of every pool, the
-- largest single cost of a run of a million users per pool. NULL when the attribute is absent or
-- is no UUID; `stable_id_attr` keeps the text as read, for the evidence.
ALTER TABLE reconcile_snapshot ADD COLUMN stable_id_user uuid;
