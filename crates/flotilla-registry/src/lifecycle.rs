//! ECR lifecycle policies: parsing and evaluating rules against a repository's images.
