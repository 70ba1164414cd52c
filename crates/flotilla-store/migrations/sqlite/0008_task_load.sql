-- What the live tasks on each instance hold, kept by triggers on `tasks` in the same
-- transaction as every task write: placement reads one row per (instance, group,
-- status, ports) instead of summing every live task of the pool, which grew with the
-- tasks the cluster runs. A task counts while it is on an instance and not STOPPED.
CREATE TABLE task_load (
    container_instance_id TEXT    NOT NULL,
    task_group            TEXT    NOT NULL,
    last_status           TEXT    NOT NULL,
    host_ports            TEXT    NOT NULL,   -- as tasks.host_ports; '' when none
    tasks                 INTEGER NOT NULL,
    cpu                   INTEGER NOT NULL,
    memory                INTEGER NOT NULL,
    PRIMARY KEY (container_instance_id, task_group, last_status, host_ports)
) WITHOUT ROWID;

INSERT INTO task_load
    SELECT container_instance_id, task_group, last_status, COALESCE(host_ports, ''),
           COUNT(*), COALESCE(SUM(reserved_cpu), 0), COALESCE(SUM(reserved_memory), 0)
    FROM tasks WHERE container_instance_id IS NOT NULL AND last_status <> 'STOPPED'
    GROUP BY container_instance_id, task_group, last_status, COALESCE(host_ports, '');

CREATE TRIGGER task_load_insert AFTER INSERT ON tasks
WHEN NEW.container_instance_id IS NOT NULL AND NEW.last_status <> 'STOPPED'
BEGIN
    INSERT INTO task_load VALUES (NEW.container_instance_id, NEW.task_group, NEW.last_status,
        COALESCE(NEW.host_ports, ''), 1, COALESCE(NEW.reserved_cpu, 0), COALESCE(NEW.reserved_memory, 0))
    ON CONFLICT (container_instance_id, task_group, last_status, host_ports)
    DO UPDATE SET tasks = tasks + 1, cpu = cpu + excluded.cpu, memory = memory + excluded.memory;
END;

-- An update that changes what a task holds takes its old share out and puts the new in.
CREATE TRIGGER task_load_update_out AFTER UPDATE ON tasks
WHEN OLD.container_instance_id IS NOT NULL AND OLD.last_status <> 'STOPPED' AND (
    OLD.container_instance_id IS NOT NEW.container_instance_id OR OLD.last_status IS NOT NEW.last_status
    OR OLD.task_group IS NOT NEW.task_group OR OLD.host_ports IS NOT NEW.host_ports
    OR OLD.reserved_cpu IS NOT NEW.reserved_cpu OR OLD.reserved_memory IS NOT NEW.reserved_memory)
BEGIN
    UPDATE task_load SET tasks = tasks - 1, cpu = cpu - COALESCE(OLD.reserved_cpu, 0),
        memory = memory - COALESCE(OLD.reserved_memory, 0)
    WHERE container_instance_id = OLD.container_instance_id AND task_group = OLD.task_group
        AND last_status = OLD.last_status AND host_ports = COALESCE(OLD.host_ports, '');
    DELETE FROM task_load
    WHERE container_instance_id = OLD.container_instance_id AND task_group = OLD.task_group
        AND last_status = OLD.last_status AND host_ports = COALESCE(OLD.host_ports, '') AND tasks <= 0;
END;

CREATE TRIGGER task_load_update_in AFTER UPDATE ON tasks
WHEN NEW.container_instance_id IS NOT NULL AND NEW.last_status <> 'STOPPED' AND (
    OLD.container_instance_id IS NOT NEW.container_instance_id OR OLD.last_status IS NOT NEW.last_status
    OR OLD.task_group IS NOT NEW.task_group OR OLD.host_ports IS NOT NEW.host_ports
    OR OLD.reserved_cpu IS NOT NEW.reserved_cpu OR OLD.reserved_memory IS NOT NEW.reserved_memory)
BEGIN
    INSERT INTO task_load VALUES (NEW.container_instance_id, NEW.task_group, NEW.last_status,
        COALESCE(NEW.host_ports, ''), 1, COALESCE(NEW.reserved_cpu, 0), COALESCE(NEW.reserved_memory, 0))
    ON CONFLICT (container_instance_id, task_group, last_status, host_ports)
    DO UPDATE SET tasks = tasks + 1, cpu = cpu + excluded.cpu, memory = memory + excluded.memory;
END;

CREATE TRIGGER task_load_delete AFTER DELETE ON tasks
WHEN OLD.container_instance_id IS NOT NULL AND OLD.last_status <> 'STOPPED'
BEGIN
    UPDATE task_load SET tasks = tasks - 1, cpu = cpu - COALESCE(OLD.reserved_cpu, 0),
        memory = memory - COALESCE(OLD.reserved_memory, 0)
    WHERE container_instance_id = OLD.container_instance_id AND task_group = OLD.task_group
        AND last_status = OLD.last_status AND host_ports = COALESCE(OLD.host_ports, '');
    DELETE FROM task_load
    WHERE container_instance_id = OLD.container_instance_id AND task_group = OLD.task_group
        AND last_status = OLD.last_status AND host_ports = COALESCE(OLD.host_ports, '') AND tasks <= 0;
END;

-- Placement no longer sums tasks from an index: the narrow index finds an instance's
-- tasks, and each task write updates fewer index bytes.
CREATE INDEX tasks_by_instance ON tasks (container_instance_id, last_status);
DROP INDEX tasks_load_by_instance;
