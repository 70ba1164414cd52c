-- What the live tasks on each instance hold, by (instance, group, status, ports). On
-- SQLite this is a table kept by triggers, which placement reads. Here it is a view,
-- for the same relation on both backends: triggers keeping a table cost 1.45 ms per
-- task write here (EXPLAIN ANALYZE of 2,000 updates: 2,905 ms in the trigger), with
-- row locks shared by many tasks' writers, and halved the task throughput at 1,000
-- instances. The store sums from the covering index tasks_load_by_instance (0007)
-- with the instances chosen first, which this view's aggregate would not let the
-- planner do.
CREATE VIEW task_load AS
    SELECT container_instance_id, task_group, last_status, COALESCE(host_ports, '') AS host_ports,
           COUNT(*) AS tasks, CAST(COALESCE(SUM(reserved_cpu), 0) AS BIGINT) AS cpu,
           CAST(COALESCE(SUM(reserved_memory), 0) AS BIGINT) AS memory
    FROM tasks WHERE container_instance_id IS NOT NULL AND last_status <> 'STOPPED'
    GROUP BY container_instance_id, task_group, last_status, COALESCE(host_ports, '');
