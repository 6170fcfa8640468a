//! Every scenario of `integration_tests::scenarios` on the release binaries through Prism, once per Persona API
//! version: 2025-12-08 all of them, 2023-01-05 those within Persona's contract (the fault scenarios exercise the
//! same code whatever the version, and CI time is kept in check). The guard's scenarios run on 2025-12-08 only:
//! they exercise the guard, which is the same whatever the version.

macro_rules! on_binaries {
    ($version:ident, $name:ident, $upstream:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            integration_tests::scenarios::run_on_binaries(
                integration_tests::rig::ApiVersion::$version,
                concat!(stringify!($version), "::", stringify!($name)),
                integration_tests::rig::Upstream::$upstream,
                |rig| Box::pin(integration_tests::scenarios::$name(rig)),
            )
            .await;
        }
    };
}

mod v2025_12_08 {
    macro_rules! every_scenario {
        ($name:ident, $upstream:ident) => {
            on_binaries!(V2025_12_08, $name, $upstream);
        };
    }
    integration_tests::for_each_scenario!(every_scenario);

    /// Issue 19's scenarios (`cargo test -p integration-tests --test binaries right_inquiry`).
    mod right_inquiry {
        integration_tests::for_each_right_inquiry_scenario!(every_scenario);
        // 2026-09-29 has no Prism bundle: the scenario deploys the functions straight to the fake.
        every_scenario!(explicit_deploy_on_api_2026_09_29, Contract);
    }

    mod guard {
        integration_tests::for_each_guard_scenario!(every_scenario);
        // Two processes on one guard table, a missing or unreachable table: the process rig only.
        integration_tests::for_each_process_guard_scenario!(every_scenario);
    }
}

mod v2023_01_05 {
    macro_rules! within_the_contract {
        ($name:ident, InjectsFaults) => {};
        ($name:ident, Contract) => {
            on_binaries!(V2023_01_05, $name, Contract);
        };
    }
    integration_tests::for_each_scenario!(within_the_contract);

    mod right_inquiry {
        integration_tests::for_each_right_inquiry_scenario!(within_the_contract);
    }
}
