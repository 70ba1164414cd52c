-- Placement sums an instance's live tasks from this index alone (no table row is
-- read); it also serves every query tasks_by_instance served, which it replaces.
CREATE INDEX tasks_load_by_instance
    ON tasks (container_instance_id, last_status, task_group, host_ports, reserved_cpu, reserved_memory);
DROP INDEX tasks_by_instance;
