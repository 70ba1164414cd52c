-- What the live tasks on each instance hold, kept by a trigger on `tasks` in the same
-- transaction as every task write: placement reads one row per (instance, group,
-- status, ports) instead of summing every live task of the pool, which grew with the
-- tasks the cluster runs. A task counts while it is on an instance and not STOPPED.
-- Transactions writing tasks take the store's "task load" lock first (the store does),
-- so concurrent writers never lock these rows in opposite orders.
CREATE TABLE task_load (
    container_instance_id TEXT   NOT NULL,
    task_group            TEXT   NOT NULL,
    last_status           TEXT   NOT NULL,
    host_ports            TEXT   NOT NULL,   -- as tasks.host_ports; '' when none
    tasks                 BIGINT NOT NULL,
    cpu                   BIGINT NOT NULL,
    memory                BIGINT NOT NULL,
    PRIMARY KEY (container_instance_id, task_group, last_status, host_ports)
);

INSERT INTO task_load
    SELECT container_instance_id, task_group, last_status, COALESCE(host_ports, ''),
           COUNT(*), COALESCE(SUM(reserved_cpu), 0), COALESCE(SUM(reserved_memory), 0)
    FROM tasks WHERE container_instance_id IS NOT NULL AND last_status <> 'STOPPED'
    GROUP BY container_instance_id, task_group, last_status, COALESCE(host_ports, '');

CREATE FUNCTION task_load_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.container_instance_id IS NOT DISTINCT FROM NEW.container_instance_id
            AND OLD.last_status = NEW.last_status AND OLD.task_group = NEW.task_group
            AND OLD.host_ports IS NOT DISTINCT FROM NEW.host_ports
            AND OLD.reserved_cpu IS NOT DISTINCT FROM NEW.reserved_cpu
            AND OLD.reserved_memory IS NOT DISTINCT FROM NEW.reserved_memory THEN
            RETURN NULL;
        END IF;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF OLD.container_instance_id IS NOT NULL AND OLD.last_status <> 'STOPPED' THEN
            UPDATE task_load SET tasks = tasks - 1, cpu = cpu - COALESCE(OLD.reserved_cpu, 0),
                memory = memory - COALESCE(OLD.reserved_memory, 0)
            WHERE container_instance_id = OLD.container_instance_id AND task_group = OLD.task_group
                AND last_status = OLD.last_status AND host_ports = COALESCE(OLD.host_ports, '');
            DELETE FROM task_load
            WHERE container_instance_id = OLD.container_instance_id AND task_group = OLD.task_group
                AND last_status = OLD.last_status AND host_ports = COALESCE(OLD.host_ports, '')
                AND tasks <= 0;
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        IF NEW.container_instance_id IS NOT NULL AND NEW.last_status <> 'STOPPED' THEN
            INSERT INTO task_load VALUES (NEW.container_instance_id, NEW.task_group, NEW.last_status,
                COALESCE(NEW.host_ports, ''), 1, COALESCE(NEW.reserved_cpu, 0),
                COALESCE(NEW.reserved_memory, 0))
            ON CONFLICT (container_instance_id, task_group, last_status, host_ports)
            DO UPDATE SET tasks = task_load.tasks + 1, cpu = task_load.cpu + excluded.cpu,
                memory = task_load.memory + excluded.memory;
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER task_load_follow AFTER INSERT OR UPDATE OR DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION task_load_follow();

-- Placement no longer sums tasks from an index: the narrow index finds an instance's
-- tasks, and each task write updates fewer index bytes.
CREATE INDEX tasks_by_instance ON tasks (container_instance_id, last_status);
DROP INDEX tasks_load_by_instance;
