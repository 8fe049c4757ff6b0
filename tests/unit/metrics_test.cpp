#include "promwatch/metrics.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <string>

namespace promwatch {
namespace {

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

/// The value of the sample line that starts with `series` followed by a space; NaN if absent.
double sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::strtod(line.c_str() + series.size() + 1, nullptr);
  }
  return std::nan("");
}

TEST(Metrics, EveryFamilyHasHelpAndType) {
  Metrics m;
  // Label-carrying families appear once they have a series.
  m.rule_evaluation("node");
  m.observe_rule_evaluation_duration("node", 0.02);
  m.group_iterations_missed("node", 0);
  m.set_group_last_evaluation("node", 1700000000);
  m.datasource_request("200", 0.01);
  m.notification("ops", "success");
  m.observe_notification_latency("ops", 0.3);
  m.set_heartbeat_members("up", 3);
  const std::string text = m.serialize();

  const std::pair<const char*, const char*> families[] = {
      {"promwatch_build_info", "gauge"},
      {"promwatch_rule_evaluations_total", "counter"},
      {"promwatch_rule_evaluation_failures_total", "counter"},
      {"promwatch_rule_evaluation_duration_seconds", "histogram"},
      {"promwatch_group_iterations_missed_total", "counter"},
      {"promwatch_group_last_evaluation_timestamp_seconds", "gauge"},
      {"promwatch_alerts", "gauge"},
      {"promwatch_datasource_requests_total", "counter"},
      {"promwatch_datasource_request_duration_seconds", "histogram"},
      {"promwatch_datasource_up", "gauge"},
      {"promwatch_notifications_total", "counter"},
      {"promwatch_notification_latency_seconds", "histogram"},
      {"promwatch_notification_queue_length", "gauge"},
      {"promwatch_heartbeat_members", "gauge"},
      {"promwatch_config_last_reload_successful", "gauge"},
      {"promwatch_config_last_reload_success_timestamp_seconds", "gauge"},
      {"process_cpu_seconds_total", "counter"},
      {"process_resident_memory_bytes", "gauge"},
      {"process_virtual_memory_bytes", "gauge"},
      {"process_start_time_seconds", "gauge"},
      {"process_open_fds", "gauge"},
      {"process_max_fds", "gauge"},
  };
  for (const auto& [name, type] : families) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(contains(text, std::string("# HELP ") + name + " "));
    EXPECT_TRUE(contains(text, std::string("# TYPE ") + name + " " + type + "\n"));
  }
}

TEST(Metrics, CountersMoveWithLabels) {
  Metrics m;
  m.rule_evaluation("node");
  m.rule_evaluation("node");
  m.rule_evaluation("db");
  m.rule_evaluation_failure("db");
  m.group_iterations_missed("node", 3);
  m.datasource_request("200", 0.1);
  m.datasource_request("200", 0.2);
  m.datasource_request("error", 10);
  m.notification("ops", "success");
  m.notification("ops", "failure");
  m.notification("ops", "failure");
  std::string t = m.serialize();
  EXPECT_EQ(sample(t, "promwatch_rule_evaluations_total{group=\"node\"}"), 2);
  EXPECT_EQ(sample(t, "promwatch_rule_evaluations_total{group=\"db\"}"), 1);
  EXPECT_EQ(sample(t, "promwatch_rule_evaluation_failures_total{group=\"db\"}"), 1);
  EXPECT_EQ(sample(t, "promwatch_rule_evaluation_failures_total{group=\"node\"}"), 0);
  EXPECT_EQ(sample(t, "promwatch_group_iterations_missed_total{group=\"node\"}"), 3);
  EXPECT_EQ(sample(t, "promwatch_datasource_requests_total{code=\"200\"}"), 2);
  EXPECT_EQ(sample(t, "promwatch_datasource_requests_total{code=\"error\"}"), 1);
  EXPECT_EQ(sample(t, "promwatch_datasource_request_duration_seconds_count"), 3);
  EXPECT_NEAR(sample(t, "promwatch_datasource_request_duration_seconds_sum"), 10.3, 1e-9);
  EXPECT_EQ(sample(t, "promwatch_notifications_total{receiver=\"ops\",result=\"failure\"}"), 2);
  EXPECT_EQ(sample(t, "promwatch_notifications_total{receiver=\"ops\",result=\"success\"}"), 1);

  m.rule_evaluation("node");
  t = m.serialize();
  EXPECT_EQ(sample(t, "promwatch_rule_evaluations_total{group=\"node\"}"), 3);
}

TEST(Metrics, GaugesAndHistograms) {
  Metrics m;
  std::string t = m.serialize();
  // Both alert states exist from the start, at 0.
  EXPECT_EQ(sample(t, "promwatch_alerts{state=\"pending\"}"), 0);
  EXPECT_EQ(sample(t, "promwatch_alerts{state=\"firing\"}"), 0);
  EXPECT_EQ(sample(t, "promwatch_datasource_up"), 1);
  EXPECT_EQ(sample(t, "promwatch_config_last_reload_successful"), 1);

  m.set_alerts("firing", 4);
  m.set_alerts("pending", 2);
  m.set_datasource_up(false);
  m.set_notification_queue_length(7);
  m.set_heartbeat_members("missing", 1);
  m.set_group_last_evaluation("node", 1700000000.5);
  m.observe_rule_evaluation_duration("node", 0.02);
  m.observe_rule_evaluation_duration("node", 3);
  m.observe_notification_latency("ops", 0.3);
  t = m.serialize();
  EXPECT_EQ(sample(t, "promwatch_alerts{state=\"firing\"}"), 4);
  EXPECT_EQ(sample(t, "promwatch_alerts{state=\"pending\"}"), 2);
  EXPECT_EQ(sample(t, "promwatch_datasource_up"), 0);
  EXPECT_EQ(sample(t, "promwatch_notification_queue_length"), 7);
  EXPECT_EQ(sample(t, "promwatch_heartbeat_members{state=\"missing\"}"), 1);
  EXPECT_EQ(sample(t, "promwatch_group_last_evaluation_timestamp_seconds{group=\"node\"}"),
            1700000000.5);
  EXPECT_EQ(sample(t, "promwatch_rule_evaluation_duration_seconds_count{group=\"node\"}"), 2);
  EXPECT_EQ(sample(t, "promwatch_rule_evaluation_duration_seconds_bucket{group=\"node\",le=\"0.025\"}"), 1);
  EXPECT_EQ(sample(t, "promwatch_rule_evaluation_duration_seconds_bucket{group=\"node\",le=\"5\"}"), 2);
  EXPECT_EQ(sample(t, "promwatch_rule_evaluation_duration_seconds_bucket{group=\"node\",le=\"+Inf\"}"), 2);
  EXPECT_EQ(sample(t, "promwatch_notification_latency_seconds_count{receiver=\"ops\"}"), 1);
}

TEST(Metrics, ConfigReload) {
  Metrics m;
  m.config_reload(false, 100);
  std::string t = m.serialize();
  EXPECT_EQ(sample(t, "promwatch_config_last_reload_successful"), 0);
  EXPECT_GT(sample(t, "promwatch_config_last_reload_success_timestamp_seconds"), 1e9);
  EXPECT_EQ(sample(t, "promwatch_config_reloads_total{result=\"failure\"}"), 1);
  m.config_reload(true, 1800000000);
  t = m.serialize();
  EXPECT_EQ(sample(t, "promwatch_config_last_reload_successful"), 1);
  EXPECT_EQ(sample(t, "promwatch_config_last_reload_success_timestamp_seconds"), 1800000000);
  EXPECT_EQ(sample(t, "promwatch_config_reloads_total{result=\"success\"}"), 1);
}

TEST(Metrics, BuildInfo) {
  Metrics m;
  m.set_build_info("1.2.3", "abc123", "gcc");
  std::string t = m.serialize();
  EXPECT_EQ(sample(t, "promwatch_build_info{compiler=\"gcc\",revision=\"abc123\",version=\"1.2.3\"}"), 1);
  // Replaced, not added.
  EXPECT_EQ(t.find("promwatch_build_info{", t.find("promwatch_build_info{") + 1), std::string::npos);
}

TEST(Metrics, RemovedGroupsAndReceiversDisappear) {
  Metrics m;
  for (const char* g : {"a", "b", "c"}) {
    m.rule_evaluation(g);
    m.observe_rule_evaluation_duration(g, 0.1);
    m.set_group_last_evaluation(g, 1);
    m.group_iterations_missed(g, 1);
  }
  m.notification("gone", "success");
  m.observe_notification_latency("gone", 1);
  m.notification("kept", "success");
  m.remove_group("a");
  m.retain_groups({"c"});
  m.remove_receiver("gone");
  std::string t = m.serialize();
  EXPECT_FALSE(contains(t, "group=\"a\""));
  EXPECT_FALSE(contains(t, "group=\"b\""));
  EXPECT_TRUE(contains(t, "promwatch_rule_evaluations_total{group=\"c\"} 1"));
  EXPECT_TRUE(contains(t, "promwatch_rule_evaluation_duration_seconds_count{group=\"c\"} 1"));
  EXPECT_FALSE(contains(t, "receiver=\"gone\""));
  EXPECT_TRUE(contains(t, "receiver=\"kept\""));
  // A group that comes back starts from zero.
  m.rule_evaluation("a");
  t = m.serialize();
  EXPECT_EQ(sample(t, "promwatch_rule_evaluations_total{group=\"a\"}"), 1);
}

TEST(Metrics, LabelValuesAreEscaped) {
  Metrics m;
  m.rule_evaluation("we\"ird\\group\n");
  std::string t = m.serialize();
  EXPECT_TRUE(contains(t, "promwatch_rule_evaluations_total{group=\"we\\\"ird\\\\group\\n\"} 1"));
}

TEST(Metrics, ProcessMetricsArePlausible) {
  Metrics m;
  std::string t = m.serialize();
  const double now = std::chrono::duration<double>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  double start = sample(t, "process_start_time_seconds");
  EXPECT_GT(start, now - 3600 * 24 * 365);
  EXPECT_LE(start, now + 5);
  EXPECT_GE(sample(t, "process_cpu_seconds_total"), 0);
  EXPECT_GT(sample(t, "process_resident_memory_bytes"), 1024 * 1024);
  EXPECT_GT(sample(t, "process_virtual_memory_bytes"), sample(t, "process_resident_memory_bytes"));
  double open = sample(t, "process_open_fds");
  EXPECT_GE(open, 3);
  EXPECT_LT(open, 1000);
  EXPECT_GE(sample(t, "process_max_fds"), open);

  ProcessStats p = read_process_stats();
  EXPECT_GT(p.start_time_seconds, 0);
  EXPECT_GT(p.resident_memory_bytes, 0);
}

}  // namespace
}  // namespace promwatch
