-- What a live task holds on its instance, beside its document, so placement sums
-- an instance's load in SQL instead of reading every live task's JSON (which made
-- each RunTask cost as much as the cluster's live tasks). Rows written before this
-- migration are filled in by the store when it opens (NULL until then).
ALTER TABLE tasks ADD COLUMN reserved_cpu BIGINT;
ALTER TABLE tasks ADD COLUMN reserved_memory BIGINT;
-- Host ports the task holds, "T80 U53" (TCP 80, UDP 53); NULL when none.
ALTER TABLE tasks ADD COLUMN host_ports TEXT;
