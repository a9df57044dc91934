-- Point-in-time answers (`?at=T`, Sources/AuditTrail/PointInTime.swift) follow a user through the
-- merges it was merged by. A `user_merged` event is filed under its survivor (`user_id`); the user
-- that was merged is only in `details.from`, which no index reached, so "the merges of user U"
-- meant reading every merge ever made. This index makes it a probe.
--
-- Only merge events are indexed, so it stays small. Building it reads `events` once, and writes
-- (every write appends an event) wait for that while the migration runs: see docs/OPERATIONS.md.
-- Queries must spell `kind = 'user_merged'` as a literal (not a bind) for the planner to use it.
CREATE INDEX events_merged_from ON events ((details->>'from'), id) WHERE kind = 'user_merged';
