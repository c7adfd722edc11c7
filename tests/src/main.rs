//! The integration tests: one binary, every test against real processes on
//! ephemeral ports. See `support` for the builders.

mod config;
mod hostile;
mod hot_swap;
mod limits;
mod persistence;
mod policy;
mod routing;
mod shutdown;
mod sleep;
mod streaming;
mod support;
mod tls;
mod waiting_page;
mod wake;
mod websocket;

use std::process::ExitCode;
use support::trial;

/// Registers each test under its path, such as `wake::concurrent_requests_share_one_wake`.
macro_rules! trials {
    ($($test:path),* $(,)?) => {
        vec![$(trial(stringify!($test), $test)),*]
    };
}

fn main() -> ExitCode {
    if std::env::var_os(support::EXEC_AS_PAASTIS).is_some() {
        return paastis::cli::main();
    }
    let args = libtest_mimic::Arguments::from_args();
    let tests = trials![
        hot_swap::a_swap_under_load_fails_no_request,
        hot_swap::a_bad_file_is_refused_and_the_previous_version_keeps_serving,
        hot_swap::a_half_written_file_is_never_loaded,
        hot_swap::deleting_a_file_falls_back_to_the_default,
        hot_swap::sighup_rereads_the_directory,
        hot_swap::a_policy_that_keeps_failing_is_reverted,
        wake::wakes_a_sleeping_app_on_request,
        wake::concurrent_requests_share_one_wake,
        wake::wake_timeout_answers_503_with_retry_after,
        wake::an_app_that_cannot_start_gets_503_and_the_gateway_goes_on,
        wake::an_app_that_dies_early_fails_fast,
        sleep::an_idle_app_is_put_to_sleep,
        sleep::a_request_during_stop_waits_and_wakes_the_app_again,
        sleep::an_app_with_a_request_in_flight_is_not_stopped,
        sleep::an_app_that_ignores_sigterm_is_killed_after_the_grace_period,
        routing::an_unknown_host_gets_404_without_contacting_an_upstream,
        routing::method_path_query_and_headers_pass_through,
        routing::a_large_body_streams_both_ways,
        persistence::a_restart_keeps_activity_and_state,
        persistence::kill_9_loses_at_most_one_flush_interval,
        policy::forward_without_counting_leaves_activity_untouched,
        policy::policy_check_describes_good_files_and_refuses_bad_ones,
        config::a_config_error_names_the_file_the_key_and_the_line,
        config::the_issue_example_config_is_accepted,
        config::a_param_the_policy_refuses_is_a_config_error_with_its_line,
        hostile::an_infinite_loop_is_cut_off_and_the_gateway_goes_on,
        hostile::a_memory_bomb_is_cut_off_and_the_gateway_goes_on,
        hostile::a_panic_is_reported_with_its_message_and_the_gateway_goes_on,
        hostile::a_refusing_policy_answers_without_waking_the_app,
        hostile::a_broken_default_policy_is_refused_at_startup,
        hostile::policy_check_refuses_hostile_policies,
        tls::h1_and_h2_are_served_over_tls_through_alpn,
        tls::sni_picks_the_certificate_wildcards_included,
        tls::a_changed_certificate_is_reloaded_without_dropping_connections,
        tls::plain_http_can_redirect_to_https,
        tls::the_demo_serves_https_with_a_generated_certificate,
        tls::a_missing_certificate_is_refused_at_startup,
        websocket::a_websocket_echoes_through_an_app_woken_by_the_upgrade,
        websocket::a_live_websocket_keeps_its_app_awake,
        streaming::server_sent_events_pass_through_unbuffered,
        waiting_page::browsers_get_the_waiting_page_and_other_clients_wait,
        waiting_page::an_app_can_turn_the_waiting_page_off,
        waiting_page::the_waiting_page_can_be_a_template_file,
        limits::a_slowloris_connection_is_closed_by_the_header_timeout,
        limits::an_idle_keep_alive_connection_is_closed,
        limits::a_refused_upstream_gets_502,
        limits::a_slow_upstream_gets_504,
        limits::requests_over_the_waiting_cap_get_503,
        limits::an_oversized_request_head_is_refused,
        limits::a_keep_alive_connection_outlives_the_header_timeout,
        shutdown::sigterm_drains_a_slow_request_then_exits_0,
    ];
    let mut tests = tests;
    // Builds a crate with cargo: allowed more than the default deadline on a cold cache.
    tests.push(support::trial_with_deadline(
        "policy::policy_new_scaffolds_a_crate_that_builds",
        std::time::Duration::from_secs(300),
        policy::policy_new_scaffolds_a_crate_that_builds,
    ));
    libtest_mimic::run(&args, tests).exit_code()
}
