-- Which launch types a node serves (EC2, EC2_AND_FARGATE, FARGATE): Fargate
-- placement reads the nodes that serve Fargate, and FARGATE-only nodes are hidden
-- from the cluster's instance lists.
ALTER TABLE container_instances ADD COLUMN capacity TEXT NOT NULL DEFAULT 'EC2';
CREATE INDEX container_instances_by_capacity ON container_instances (capacity, status);
