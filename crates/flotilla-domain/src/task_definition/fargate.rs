//! Task-level CPU and memory values and the sizes Fargate offers.

/// Parses a task-level `cpu` value: CPU units (`"1024"`) or vCPUs (`"1 vCPU"`, `"0.5 vcpu"`).
pub fn parse_task_cpu(value: &str) -> Option<i64> {
    let v = value.trim();
    if let Ok(units) = v.parse::<i64>() {
        return (units > 0).then_some(units);
    }
    let lower = v.to_ascii_lowercase();
    let number = lower.strip_suffix("vcpu")?.trim();
    let vcpus = number.parse::<f64>().ok().filter(|n| *n > 0.0 && n.is_finite())?;
    let units = vcpus * 1024.0;
    (units.fract() == 0.0).then_some(units as i64)
}

/// Parses a task-level `memory` value: MiB (`"2048"`) or GB (`"2 GB"`, `"0.5gb"`).
pub fn parse_task_memory(value: &str) -> Option<i64> {
    let v = value.trim();
    if let Ok(mib) = v.parse::<i64>() {
        return (mib > 0).then_some(mib);
    }
    let lower = v.to_ascii_lowercase();
    let number = lower.strip_suffix("gb")?.trim();
    let gb = number.parse::<f64>().ok().filter(|n| *n > 0.0 && n.is_finite())?;
    let mib = gb * 1024.0;
    (mib.fract() == 0.0).then_some(mib as i64)
}

/// Whether Fargate offers a task of this many CPU units and MiB of memory
/// (the table in the ECS developer guide, "Task CPU and memory").
pub fn is_valid_fargate_size(cpu: i64, memory: i64) -> bool {
    const GIB: i64 = 1024;
    match cpu {
        256 => matches!(memory, 512 | 1024 | 2048),
        512 => (GIB..=4 * GIB).contains(&memory) && memory % GIB == 0,
        1024 => (2 * GIB..=8 * GIB).contains(&memory) && memory % GIB == 0,
        2048 => (4 * GIB..=16 * GIB).contains(&memory) && memory % GIB == 0,
        4096 => (8 * GIB..=30 * GIB).contains(&memory) && memory % GIB == 0,
        8192 => (16 * GIB..=60 * GIB).contains(&memory) && memory % (4 * GIB) == 0,
        16384 => (32 * GIB..=120 * GIB).contains(&memory) && memory % (8 * GIB) == 0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_words() {
        assert_eq!(parse_task_cpu("256"), Some(256));
        assert_eq!(parse_task_cpu("1 vCPU"), Some(1024));
        assert_eq!(parse_task_cpu("0.25 vcpu"), Some(256));
        assert_eq!(parse_task_cpu("0"), None);
        assert_eq!(parse_task_cpu("lots"), None);
        assert_eq!(parse_task_memory("512"), Some(512));
        assert_eq!(parse_task_memory("2 GB"), Some(2048));
        assert_eq!(parse_task_memory("0.5GB"), Some(512));
        assert_eq!(parse_task_memory("-1"), None);
    }

    #[test]
    fn fargate_table() {
        for (cpu, mem, ok) in [
            (256, 512, true),
            (256, 4096, false),
            (512, 3072, true),
            (512, 512, false),
            (1024, 8192, true),
            (2048, 16384, true),
            (4096, 30720, true),
            (4096, 31744, false),
            (8192, 20480, true),
            (8192, 18432, false),
            (16384, 122880, true),
            (16384, 36864, false),
            (128, 512, false),
        ] {
            assert_eq!(is_valid_fargate_size(cpu, mem), ok, "{cpu}/{mem}");
        }
    }
}
