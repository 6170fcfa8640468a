//! The release-binaries test binary: the real `issue-link` and `resume-session` release builds
//! (`cargo build --release -p issue-link -p resume-session`) driven through the Lambda Runtime API with API Gateway
//! events, the Persona key read from moto's Secrets Manager (`bash ci/setup-python.sh`), and every Persona call
//! going through Stoplight Prism (`npm ci`) validating against Persona's OpenAPI file, with the fake's own answers
//! validated against the same file. The rig is started once per API version and shared, one test at a time
//! (`integration_tests::rig::Rig::binaries`). Without the tools, outside CI, every test here is skipped with a
//! message naming what to install.

mod arm64;
mod e2e;
mod faults;
mod guard;
mod hostile;
mod moto;
mod predial;
mod prism;
mod scenarios;
