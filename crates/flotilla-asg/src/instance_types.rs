//! The instance types a launch configuration may name, with the vCPUs and memory of
//! AWS's instance of that type. An instance's agent offers them to ECS as its
//! registered resources: 1024 CPU units per vCPU, and the memory in MiB (all of it:
//! unlike an EC2 host, nothing runs beside the agent that needs reserving).

/// vCPUs and memory of one instance type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceType {
    pub name: &'static str,
    pub vcpus: i64,
    pub memory_mib: i64,
}

impl InstanceType {
    /// ECS CPU units: 1024 per vCPU.
    pub fn cpu_units(&self) -> i64 {
        self.vcpus * 1024
    }
}

const fn t(name: &'static str, vcpus: i64, memory_mib: i64) -> InstanceType {
    InstanceType { name, vcpus, memory_mib }
}

const GIB: i64 = 1024;

/// AWS's common general purpose, compute and memory optimized families.
static TYPES: &[InstanceType] = &[
    t("t2.nano", 1, GIB / 2),
    t("t2.micro", 1, GIB),
    t("t2.small", 1, 2 * GIB),
    t("t2.medium", 2, 4 * GIB),
    t("t2.large", 2, 8 * GIB),
    t("t2.xlarge", 4, 16 * GIB),
    t("t2.2xlarge", 8, 32 * GIB),
    t("t3.nano", 2, GIB / 2),
    t("t3.micro", 2, GIB),
    t("t3.small", 2, 2 * GIB),
    t("t3.medium", 2, 4 * GIB),
    t("t3.large", 2, 8 * GIB),
    t("t3.xlarge", 4, 16 * GIB),
    t("t3.2xlarge", 8, 32 * GIB),
    t("t3a.nano", 2, GIB / 2),
    t("t3a.micro", 2, GIB),
    t("t3a.small", 2, 2 * GIB),
    t("t3a.medium", 2, 4 * GIB),
    t("t3a.large", 2, 8 * GIB),
    t("t3a.xlarge", 4, 16 * GIB),
    t("t3a.2xlarge", 8, 32 * GIB),
    t("t4g.micro", 2, GIB),
    t("t4g.small", 2, 2 * GIB),
    t("t4g.medium", 2, 4 * GIB),
    t("t4g.large", 2, 8 * GIB),
    t("m5.large", 2, 8 * GIB),
    t("m5.xlarge", 4, 16 * GIB),
    t("m5.2xlarge", 8, 32 * GIB),
    t("m5.4xlarge", 16, 64 * GIB),
    t("m5.8xlarge", 32, 128 * GIB),
    t("m5.12xlarge", 48, 192 * GIB),
    t("m6i.large", 2, 8 * GIB),
    t("m6i.xlarge", 4, 16 * GIB),
    t("m6i.2xlarge", 8, 32 * GIB),
    t("m6i.4xlarge", 16, 64 * GIB),
    t("m6g.large", 2, 8 * GIB),
    t("m6g.xlarge", 4, 16 * GIB),
    t("m7i.large", 2, 8 * GIB),
    t("m7i.xlarge", 4, 16 * GIB),
    t("c5.large", 2, 4 * GIB),
    t("c5.xlarge", 4, 8 * GIB),
    t("c5.2xlarge", 8, 16 * GIB),
    t("c5.4xlarge", 16, 32 * GIB),
    t("c5.9xlarge", 36, 72 * GIB),
    t("c6i.large", 2, 4 * GIB),
    t("c6i.xlarge", 4, 8 * GIB),
    t("c6i.2xlarge", 8, 16 * GIB),
    t("c6g.large", 2, 4 * GIB),
    t("c6g.xlarge", 4, 8 * GIB),
    t("c7i.large", 2, 4 * GIB),
    t("r5.large", 2, 16 * GIB),
    t("r5.xlarge", 4, 32 * GIB),
    t("r5.2xlarge", 8, 64 * GIB),
    t("r5.4xlarge", 16, 128 * GIB),
    t("r6i.large", 2, 16 * GIB),
    t("r6i.xlarge", 4, 32 * GIB),
    t("r6g.large", 2, 16 * GIB),
];

/// The instance type called `name`, if Flotilla knows it.
pub fn instance_type(name: &str) -> Option<InstanceType> {
    TYPES.iter().find(|t| t.name == name).copied()
}

/// Every known type's name, for messages.
pub fn known_names() -> impl Iterator<Item = &'static str> {
    TYPES.iter().map(|t| t.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_types_have_awss_sizes() {
        let cases = [
            ("t3.micro", 2048, 1024),
            ("t3.small", 2048, 2048),
            ("t3.medium", 2048, 4096),
            ("t3.large", 2048, 8192),
            ("m5.large", 2048, 8192),
            ("m5.xlarge", 4096, 16384),
            ("m5.2xlarge", 8192, 32768),
            ("c5.large", 2048, 4096),
            ("c5.xlarge", 4096, 8192),
            ("r5.large", 2048, 16384),
            ("t2.micro", 1024, 1024),
        ];
        for (name, cpu, memory) in cases {
            let t = instance_type(name).unwrap_or_else(|| panic!("{name} is known"));
            assert_eq!((t.cpu_units(), t.memory_mib), (cpu, memory), "{name}");
        }
        assert_eq!(instance_type("x9.mega"), None);
        assert_eq!(instance_type("T3.MICRO"), None, "names are exact, as AWS's are");
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = known_names().collect();
        let all = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all);
    }
}
