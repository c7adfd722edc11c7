//! The integration tests: one binary, every test against real processes on
//! ephemeral ports. See `support` for the builders.

mod admin;
mod admin_dashboard;
mod admin_host;
mod admin_limits;
mod admin_security;
mod admin_timeline;
mod config;
mod connect;
mod connections;
mod cooldown;
mod deploy;
mod herd;
mod hostile;
mod hot_swap;
mod kubernetes;
mod limits;
mod listen;
mod logging;
mod malformed;
mod paas;
mod persistence;
mod policy;
mod port_owner;
mod processes;
mod render;
mod replicas;
mod routing;
mod shutdown;
mod simulate;
mod sleep;
mod streaming;
mod support;
mod tick;
mod tls;
mod uploads;
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
        return paastis::main();
    }
    // Every gateway the suite starts, however it is started, shares one
    // compile cache (compiling the built-in policy at each of hundreds of
    // starts costs minutes of CPU), kept under target/, never in the
    // user's ~/.cache. Children inherit it; a test may still set its own.
    // SAFETY: set before any thread of this process exists (libtest's
    // threads start below), so nothing reads the environment meanwhile.
    unsafe { std::env::set_var("XDG_CACHE_HOME", concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg-cache")) };
    let args = libtest_mimic::Arguments::from_args();
    let tests = trials![
        hot_swap::a_swap_under_load_fails_no_request,
        hot_swap::a_bad_file_is_refused_and_the_previous_version_keeps_serving,
        hot_swap::a_half_written_file_is_never_loaded,
        hot_swap::deleting_a_file_falls_back_to_the_default_and_marks_the_app_degraded,
        hot_swap::sighup_rereads_the_directory,
        hot_swap::a_policy_that_keeps_failing_is_reverted,
        wake::wakes_a_sleeping_app_on_request,
        wake::concurrent_requests_share_one_wake,
        wake::wake_timeout_answers_503_with_retry_after,
        wake::an_app_that_cannot_start_gets_503_and_the_gateway_goes_on,
        wake::an_app_that_dies_early_fails_fast,
        cooldown::a_burst_at_a_failing_app_spawns_a_handful_of_processes,
        cooldown::the_cool_down_shows_in_the_api_and_an_admin_wake_ends_it,
        cooldown::a_successful_wake_resets_the_backoff,
        cooldown::a_browser_gets_a_failure_page_that_retries_after_the_cool_down,
        cooldown::an_open_tab_does_not_respawn_a_crashing_app_at_its_pace,
        herd::two_hundred_requests_to_a_sleeping_python_server_all_get_through_quickly,
        herd::requests_above_the_cap_queue_and_the_queue_is_bounded,
        listen::the_gateway_serves_on_every_address_of_a_listen_list,
        listen::the_demo_listens_on_both_loopbacks,
        sleep::an_idle_app_is_put_to_sleep,
        sleep::a_request_during_stop_waits_and_wakes_the_app_again,
        sleep::an_app_with_a_request_in_flight_is_not_stopped,
        sleep::an_app_that_ignores_sigterm_is_killed_after_the_grace_period,
        routing::an_unknown_host_gets_404_without_contacting_an_upstream,
        malformed::the_host_is_never_ambiguous,
        malformed::an_h2_host_unlike_its_authority_gets_400,
        malformed::a_malformed_chunked_body_gets_400,
        connect::connect_gets_405,
        connect::connect_tunnels_when_the_app_answers_2xx,
        connect::an_h2_connect_tunnels_when_the_app_answers_2xx,
        uploads::a_slow_upload_outlasts_the_response_timeout,
        uploads::a_client_that_stalls_mid_body_gets_408,
        uploads::a_stalled_body_is_cut_even_after_the_app_answered,
        uploads::an_app_that_takes_no_body_gets_504,
        connections::at_the_limit_new_connections_wait_and_the_admin_api_answers,
        connections::a_tunnel_keeps_its_connection_counted,
        routing::method_path_query_and_headers_pass_through,
        routing::a_large_body_streams_both_ways,
        persistence::a_restart_keeps_activity_and_state,
        persistence::kill_9_loses_at_most_one_flush_interval,
        persistence::a_damaged_store_is_moved_aside_and_the_gateway_serves,
        persistence::a_restart_reads_compiled_policies_from_the_cache,
        deploy::serve_reads_its_config_from_the_environment_and_listens_on_port,
        deploy::the_scalingo_manifest_deploys_a_config_that_checks,
        deploy::the_systemd_unit_passes_systemd_analyze_verify,
        deploy::the_kubernetes_manifests_carry_a_config_the_gateway_accepts,
        replicas::forty_requests_over_two_replicas_make_one_scale_up,
        replicas::traffic_on_one_replica_keeps_the_app_awake_for_the_leader_then_one_scale_down,
        replicas::kill_9_of_the_leader_hands_the_tick_to_the_survivor_within_the_lease,
        replicas::replicas_restarted_without_their_data_restore_the_saved_formation,
        replicas::kill_9_of_the_leader_during_a_sleep_leaves_the_app_to_be_woken,
        replicas::redis_killed_and_restarted_while_traffic_flows_degrades_then_recovers,
        replicas::two_leaders_at_once_never_double_scale_an_app,
        policy::forward_without_counting_leaves_activity_untouched,
        policy::a_monitor_gets_the_policys_answer_while_the_app_sleeps,
        policy::a_policy_answers_requests_itself_asleep_or_awake,
        policy::a_policy_built_before_answers_keeps_loading,
        policy::a_policy_built_before_requesting_keeps_answering,
        policy::a_policy_built_before_requesting_text_keeps_answering_through_requesting,
        policy::the_sdk_packages_with_its_contract_license_and_readme,
        policy::policy_check_describes_good_files_and_refuses_bad_ones,
        config::a_config_error_names_the_file_the_key_and_the_line,
        config::the_issue_example_config_is_accepted,
        config::a_param_the_policy_refuses_is_a_config_error_with_its_line,
        config::a_backend_without_its_token_is_refused_by_check_and_serve,
        config::check_refuses_what_serve_refuses,
        config::a_zero_tick_points_at_its_line,
        config::a_per_app_policy_missing_or_refusing_its_params_is_a_config_error,
        render::a_sleep_and_wake_round_trip_restores_three_instances,
        render::a_service_suspended_for_billing_gets_a_clear_503,
        render::discovery_pages_through_150_services,
        render::a_429_storm_is_waited_out_without_hammering,
        kubernetes::a_sleep_and_wake_round_trip_restores_three_replicas,
        kubernetes::linked_workloads_wake_together,
        kubernetes::changes_made_outside_are_followed,
        kubernetes::conflicts_and_server_errors_are_retried,
        kubernetes::a_revoked_token_gives_a_clear_503,
        hostile::an_infinite_loop_is_cut_off_and_the_gateway_goes_on,
        hostile::a_memory_bomb_is_cut_off_and_the_gateway_goes_on,
        hostile::a_panic_is_reported_with_its_message_and_the_gateway_goes_on,
        hostile::a_refusing_policy_answers_without_waking_the_app,
        hostile::a_broken_default_policy_is_refused_at_startup,
        hostile::policy_check_refuses_hostile_policies,
        admin::apps_show_state_activity_policy_wakes_and_savings,
        admin::wake_and_sleep_an_app_on_request,
        admin::a_failed_wake_answers_503_with_the_reason,
        admin::events_are_recorded_kept_across_restarts_and_trimmed,
        admin::events_shown_survive_kill_9,
        admin::policies_are_listed_and_uploaded_like_dropped_files,
        admin::a_reupload_repairs_a_broken_file_and_a_restart_serves_the_same_version,
        admin::an_upload_without_a_policy_dir_is_refused,
        admin::healthz_answers_ok,
        admin_timeline::timelines_and_daily_savings_come_from_the_history,
        admin::a_failed_start_says_why_once_and_records_nothing,
        admin::metrics_parse_as_prometheus_text,
        admin_security::a_remote_listener_without_a_token_refuses_to_start,
        admin_security::every_endpoint_refuses_without_the_required_token,
        admin_security::loopback_without_a_configured_token_needs_none,
        admin_security::a_configured_token_is_required_on_loopback_too,
        admin_limits::the_admin_api_answers_over_http2_as_over_http1,
        admin_limits::idle_and_slow_admin_connections_are_closed,
        admin_limits::uploads_are_one_at_a_time_and_bounded_in_size,
        admin_limits::twelve_parallel_oversized_uploads_leave_memory_flat,
        admin_security::admin_paths_and_token_never_cross_the_proxy_port,
        admin_host::the_admin_api_answers_on_the_proxy_port_under_its_host_with_the_token,
        admin_host::the_admin_host_alone_serves_over_https_h2_and_plain_http,
        admin_host::the_admin_host_is_never_routed_to_an_app_of_that_name,
        admin_host::an_admin_host_without_a_token_or_over_an_app_refuses_to_start,
        paas::a_wake_restores_the_exact_formation_even_after_a_crash,
        paas::a_hundred_concurrent_requests_make_one_scale_call,
        paas::an_expired_token_is_exchanged_again,
        paas::rate_limits_server_errors_and_timeouts_are_retried,
        paas::a_failing_platform_answers_503_and_the_state_is_read_back,
        paas::linked_apps_wake_together,
        paas::discovery_adopts_running_apps_and_honours_the_ignore_list,
        paas::scalingo_heroku_and_clever_cloud_behind_one_gateway,
        paas::a_refused_token_gives_a_clear_503_and_never_reaches_the_log,
        paas::hooks_run_around_start_and_stop_and_failures_are_not_fatal,
        paas::a_gateway_shutdown_leaves_paas_apps_running,
        paas::a_formation_lost_with_a_damaged_store_wakes_one_web_with_a_warning,
        simulate::a_combined_log_replays_as_worked_out_by_hand,
        simulate::a_gateway_json_log_replays_like_the_same_traffic_in_combined,
        simulate::a_vhost_log_names_apps_by_host_and_reports_the_line_it_skips,
        simulate::two_policies_are_compared_side_by_side,
        simulate::a_wake_time_makes_requests_during_the_wake_cold,
        simulate::a_config_gives_apps_params_and_rates,
        simulate::bad_input_exits_2_with_a_clear_message,
        simulate::office_hours_sees_the_exact_simulated_time,
        simulate::the_report_lists_per_user_agent_the_requests_answered_without_the_app,
        simulate::a_real_gateway_and_its_replay_agree_on_sleeps_and_cold_starts,
        tls::h1_and_h2_are_served_over_tls_through_alpn,
        tls::sni_picks_the_certificate_wildcards_included,
        tls::a_changed_certificate_is_reloaded_without_dropping_connections,
        tls::plain_http_can_redirect_to_https,
        tls::the_demo_serves_https_with_a_generated_certificate,
        tls::the_demo_keeps_its_state_in_the_users_state_dir,
        tls::a_missing_certificate_is_refused_at_startup,
        tls::a_wildcard_over_localhost_is_warned_about_at_startup,
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
        shutdown::sigterm_drains_the_h2_streams_in_flight_then_exits_0,
        processes::kill_9_of_the_gateway_leaves_nothing_of_a_wrapper_app,
        processes::when_the_wrapper_dies_the_next_wake_leaves_exactly_one_copy,
        processes::supervisors_wait_ahead_of_wakes_and_a_dead_one_is_left_behind,
        processes::a_forking_server_its_workers_and_its_daemon_are_stopped_whole,
        processes::a_failed_wake_shows_the_last_lines_of_the_apps_output_in_its_event,
        processes::a_restart_sweeps_an_app_whose_supervisor_died_with_the_gateway,
        processes::the_sweep_never_signals_a_process_that_is_not_the_one_recorded,
        port_owner::an_impostor_on_the_port_gets_no_traffic_and_the_client_a_clear_503,
        tick::a_failing_tick_is_an_alert_until_it_works_again,
        logging::text_logs_in_a_pipe_carry_no_colour_codes,
    ];
    let mut tests = tests;
    // Builds a crate with cargo: allowed more than the default deadline on a cold cache.
    tests.push(support::trial_with_deadline(
        "policy::policy_new_scaffolds_a_crate_that_builds",
        std::time::Duration::from_secs(300),
        policy::policy_new_scaffolds_a_crate_that_builds,
    ));
    // Starts Chromium, which takes a while on a loaded machine.
    tests.push(support::trial_with_deadline(
        "admin_dashboard::the_dashboard_shows_apps_savings_events_and_wakes_an_app",
        std::time::Duration::from_secs(120),
        admin_dashboard::the_dashboard_shows_apps_savings_events_and_wakes_an_app,
    ));
    tests.push(support::trial_with_deadline(
        "admin_dashboard::the_dashboard_under_the_admin_host_asks_for_the_token_then_works",
        std::time::Duration::from_secs(120),
        admin_dashboard::the_dashboard_under_the_admin_host_asks_for_the_token_then_works,
    ));
    tests.push(support::trial_with_deadline(
        "admin_dashboard::the_timeline_draws_the_bands_of_a_known_history",
        std::time::Duration::from_secs(120),
        admin_dashboard::the_timeline_draws_the_bands_of_a_known_history,
    ));
    tests.push(support::trial_with_deadline(
        "admin_dashboard::two_hundred_apps_are_sorted_filtered_and_paged",
        std::time::Duration::from_secs(120),
        admin_dashboard::two_hundred_apps_are_sorted_filtered_and_paged,
    ));
    libtest_mimic::run(&args, tests).exit_code()
}
