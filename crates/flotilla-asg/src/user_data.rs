//! User data: base64 as the API carries it, and the ECS cluster an instance joins,
//! read from it as the ECS agent reads `/etc/ecs/ecs.config`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// AWS's limit on a launch configuration's (base64) user data.
pub const MAX_USER_DATA_CHARS: usize = 21_847;

/// The cluster an instance joins when its user data names none.
pub const DEFAULT_CLUSTER: &str = "default";

/// The bytes of base64 user data; `None` when it is not base64.
pub fn decode(base64_text: &str) -> Option<Vec<u8>> {
    // Line breaks are allowed in base64 user data (e.g. `base64` wraps at 76 columns).
    let compact: String = base64_text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact.as_bytes()).ok()
}

/// The cluster `ECS_CLUSTER=NAME` names in user data, the way ECS-optimized AMIs are
/// told theirs: a line of `/etc/ecs/ecs.config`, usually written by the user data
/// script (`echo ECS_CLUSTER=prod >> /etc/ecs/ecs.config`, a heredoc, cloud-config
/// `write_files` content). The last assignment wins, as in the config file; a name
/// is letters, digits, `-` and `_` (ECS's cluster names); [`DEFAULT_CLUSTER`] when
/// there is none.
pub fn ecs_cluster(user_data: &[u8]) -> String {
    let text = String::from_utf8_lossy(user_data);
    let mut cluster = None;
    for line in text.lines() {
        let mut rest = line;
        while let Some(at) = rest.find("ECS_CLUSTER=") {
            // `MY_ECS_CLUSTER=` is another variable.
            let before = rest[..at].chars().last();
            let after = &rest[at + "ECS_CLUSTER=".len()..];
            if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                let value = after.trim_start_matches(['"', '\'']);
                let name: String =
                    value.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
                if !name.is_empty() && name.len() <= 255 {
                    cluster = Some(name);
                }
            }
            rest = after;
        }
    }
    cluster.unwrap_or_else(|| DEFAULT_CLUSTER.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_is_read_as_the_ecs_agent_would() {
        let cases: &[(&str, &str)] = &[
            ("#!/bin/bash\necho ECS_CLUSTER=prod >> /etc/ecs/ecs.config\n", "prod"),
            ("#!/bin/bash\necho \"ECS_CLUSTER=my-cluster_2\" >> /etc/ecs/ecs.config", "my-cluster_2"),
            ("echo 'ECS_CLUSTER=quoted' > /etc/ecs/ecs.config", "quoted"),
            ("ECS_CLUSTER=plain", "plain"),
            (
                "#!/bin/bash\ncat <<'EOF' >> /etc/ecs/ecs.config\nECS_ENABLE_TASK_IAM_ROLE=true\nECS_CLUSTER=heredoc\nEOF\n",
                "heredoc",
            ),
            ("ECS_CLUSTER=first\nECS_CLUSTER=second\n", "second"),
            (
                "#cloud-config\nwrite_files:\n  - path: /etc/ecs/ecs.config\n    content: |\n      ECS_CLUSTER=cloudy\n",
                "cloudy",
            ),
            ("MY_ECS_CLUSTER=nope\n", "default"),
            ("echo ECS_CLUSTER= >> /etc/ecs/ecs.config", "default"),
            ("#!/bin/bash\nyum update -y\n", "default"),
            ("", "default"),
            ("echo ECS_CLUSTER=a;echo ECS_CLUSTER=b", "b"),
        ];
        for (user_data, want) in cases {
            assert_eq!(ecs_cluster(user_data.as_bytes()), *want, "{user_data:?}");
        }
        assert_eq!(ecs_cluster(&[0xff, 0xfe, b'\n']), "default", "not UTF-8: nothing named");
    }

    #[test]
    fn base64_is_decoded_with_line_breaks_and_refused_otherwise() {
        assert_eq!(decode("RUNTX0NMVVNURVI9cHJvZA==").unwrap(), b"ECS_CLUSTER=prod");
        assert_eq!(decode("RUNTX0NM\nVVNURVI9\ncHJvZA==").unwrap(), b"ECS_CLUSTER=prod");
        assert_eq!(decode("not base64!"), None);
    }
}
