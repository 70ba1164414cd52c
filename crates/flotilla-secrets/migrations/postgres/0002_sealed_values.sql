-- Secret values sealed at rest (flotilla-seal): a sealed version keeps its sealed value
-- in `secret_binary` (SecretString or SecretBinary, told apart inside the seal) and no
-- `secret_string`. Rows written before this migration are plain (`sealed = 0`); the
-- store seals them when it opens and reads both forms meanwhile.
ALTER TABLE secret_versions ADD COLUMN sealed BIGINT NOT NULL DEFAULT 0;

-- The KMS key CreateSecret/UpdateSecret named (recorded and shown; values are sealed
-- with the data directory's key). NULL: the default key.
ALTER TABLE secrets ADD COLUMN kms_key_id TEXT COLLATE "C";
