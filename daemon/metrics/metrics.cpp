#include "promwatch/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <dirent.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <vector>

namespace promwatch {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// Rule evaluations are single queries: milliseconds to tens of seconds (timeout).
const Histogram::BucketBoundaries kEvaluationBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                     1,     2.5,  5,     10,   30,  60};
// Chat webhooks answer in tens of milliseconds to seconds; timeouts are ~10 s.
const Histogram::BucketBoundaries kNotificationBuckets{0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                       1,    2.5,   5,    10,  30};

/// Series of one family keyed by the values of its labels (joined with '\xff', which cannot
/// appear in UTF-8), so that the hot path does not rebuild and hash a Labels map.
template <typename T>
struct Series {
  Family<T>* family = nullptr;
  std::vector<std::string> label_names;
  std::map<std::string, T*, std::less<>> by_key;

  template <typename... Args>
  T& get(std::initializer_list<std::string_view> values, Args&&... args) {
    std::string key;
    for (auto v : values) {
      key.append(v);
      key.push_back('\xff');
    }
    auto it = by_key.find(key);
    if (it != by_key.end()) return *it->second;
    prometheus::Labels labels;
    std::size_t i = 0;
    for (auto v : values) labels.emplace(label_names.at(i++), std::string(v));
    T& metric = family->Add(labels, std::forward<Args>(args)...);
    by_key.emplace(std::move(key), &metric);
    return metric;
  }

  /// Removes every series whose label at `index` equals `value`.
  void remove_where(std::size_t index, std::string_view value) {
    for (auto it = by_key.begin(); it != by_key.end();) {
      // Split the key to find the label value at `index`.
      std::size_t start = 0;
      for (std::size_t i = 0; i < index; ++i) start = it->first.find('\xff', start) + 1;
      std::size_t end = it->first.find('\xff', start);
      if (std::string_view(it->first).substr(start, end - start) == value) {
        family->Remove(it->second);
        it = by_key.erase(it);
      } else {
        ++it;
      }
    }
  }

  /// Label values at `index` of every series.
  std::set<std::string, std::less<>> values_at(std::size_t index) const {
    std::set<std::string, std::less<>> out;
    for (const auto& [key, metric] : by_key) {
      std::size_t start = 0;
      for (std::size_t i = 0; i < index; ++i) start = key.find('\xff', start) + 1;
      out.insert(key.substr(start, key.find('\xff', start) - start));
    }
    return out;
  }
};

template <typename T>
Series<T> make_series(Family<T>& family, std::vector<std::string> label_names) {
  Series<T> s;
  s.family = &family;
  s.label_names = std::move(label_names);
  return s;
}

// --- /proc parsing --------------------------------------------------------------------------

std::string read_file(const char* path) {
  std::FILE* f = std::fopen(path, "re");
  if (!f) return {};
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

/// Shortest text that reads back as `v`, as Go's strconv 'g' -1 would choose it closely enough
/// for any Prometheus parser.
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return "0";
  return std::string(buf, end);
}

void write_process_metric(std::ostringstream& out, const char* name, const char* help,
                          const char* type, double value) {
  if (value < 0) return;
  out << "# HELP " << name << ' ' << help << '\n'
      << "# TYPE " << name << ' ' << type << '\n'
      << name << ' ' << format_value(value) << '\n';
}

}  // namespace

ProcessStats read_process_stats() {
  ProcessStats s;
  const long ticks = ::sysconf(_SC_CLK_TCK);
  const long page = ::sysconf(_SC_PAGESIZE);

  // /proc/self/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so
  // fields are counted after the last ')'. Field 3 (state) is the first after it.
  std::string stat = read_file("/proc/self/stat");
  auto close = stat.rfind(')');
  if (close != std::string::npos && ticks > 0) {
    std::istringstream in(stat.substr(close + 1));
    std::vector<std::string> f;  // f[0] = field 3
    std::string tok;
    while (in >> tok) f.push_back(tok);
    auto field = [&](int n) -> double {  // 1-based field number as in proc(5)
      std::size_t i = static_cast<std::size_t>(n - 3);
      if (i >= f.size()) return -1;
      try {
        return std::stod(f[i]);
      } catch (...) {
        return -1;
      }
    };
    double utime = field(14), stime = field(15), starttime = field(22);
    double vsize = field(23), rss = field(24);
    if (utime >= 0 && stime >= 0) s.cpu_seconds = (utime + stime) / static_cast<double>(ticks);
    if (vsize >= 0) s.virtual_memory_bytes = vsize;
    if (rss >= 0 && page > 0) s.resident_memory_bytes = rss * static_cast<double>(page);
    if (starttime >= 0) {
      std::string sys = read_file("/proc/stat");
      auto pos = sys.find("\nbtime ");
      if (pos != std::string::npos) {
        double btime = std::strtod(sys.c_str() + pos + 7, nullptr);
        if (btime > 0) s.start_time_seconds = btime + starttime / static_cast<double>(ticks);
      }
    }
  }

  // /proc/self/limits: "Max open files            1024                 524288               files"
  std::string limits = read_file("/proc/self/limits");
  auto pos = limits.find("Max open files");
  if (pos != std::string::npos) {
    std::istringstream in(limits.substr(pos + 14));
    std::string soft;
    in >> soft;
    if (soft == "unlimited") {
      s.max_fds = -1;
    } else {
      char* end = nullptr;
      double v = std::strtod(soft.c_str(), &end);
      if (end && *end == '\0' && !soft.empty()) s.max_fds = v;
    }
  }

  if (DIR* dir = ::opendir("/proc/self/fd")) {
    long n = 0;
    while (struct dirent* e = ::readdir(dir)) {
      if (e->d_name[0] != '.') ++n;
    }
    ::closedir(dir);
    s.open_fds = static_cast<double>(n > 0 ? n - 1 : 0);  // minus the directory's own fd
  }
  return s;
}

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  mutable std::mutex mu;

  Family<Gauge>& build_info_family;
  Gauge* build_info = nullptr;

  Series<Counter> evaluations;
  Series<Counter> evaluation_failures;
  Series<Histogram> evaluation_duration;
  Series<Counter> iterations_missed;
  Series<Counter> iterations;
  Series<Gauge> last_evaluation;
  Series<Gauge> last_duration;
  Series<Gauge> group_rules;

  Series<Gauge> alerts;
  Gauge& alerts_flapping;

  Series<Counter> datasource_requests;
  Histogram& datasource_duration;
  Gauge& datasource_up;

  Series<Counter> notifications;
  Series<Histogram> notification_latency;
  Gauge& notification_queue;

  Series<Gauge> heartbeat_members;

  Gauge& reload_successful;
  Gauge& reload_success_timestamp;
  Histogram& start_delay;
  Counter& clock_steps;
  Series<Counter> reloads;

  template <typename T>
  static auto builder() {
    if constexpr (std::is_same_v<T, Counter>) return prometheus::BuildCounter();
    else if constexpr (std::is_same_v<T, Gauge>) return prometheus::BuildGauge();
    else return prometheus::BuildHistogram();
  }
  template <typename T>
  Family<T>& family(const char* name, const char* help) {
    return builder<T>().Name(name).Help(help).Register(*registry);
  }

  Impl()
      : build_info_family(family<Gauge>(
            "promwatch_build_info",
            "A metric with a constant '1' value labeled by version and revision from which "
            "promwatch was built.")),
        evaluations(make_series(
            family<Counter>("promwatch_rule_evaluations_total",
                            "The total number of rule evaluations."),
            {"group"})),
        evaluation_failures(make_series(
            family<Counter>("promwatch_rule_evaluation_failures_total",
                            "The total number of rule evaluation failures."),
            {"group"})),
        evaluation_duration(make_series(
            family<Histogram>("promwatch_rule_evaluation_duration_seconds",
                              "The duration of rule evaluations, query included."),
            {"group"})),
        iterations_missed(make_series(
            family<Counter>("promwatch_group_iterations_missed_total",
                            "The total number of rule group evaluations missed due to slow "
                            "rule group evaluation."),
            {"group"})),
        iterations(make_series(
            family<Counter>("promwatch_group_iterations_total",
                            "The total number of scheduled rule group evaluations, whether "
                            "executed or missed."),
            {"group"})),
        last_evaluation(make_series(
            family<Gauge>("promwatch_group_last_evaluation_timestamp_seconds",
                          "The timestamp of the last rule group evaluation in seconds."),
            {"group"})),
        last_duration(make_series(
            family<Gauge>("promwatch_group_last_duration_seconds",
                          "The duration of the last rule group evaluation."),
            {"group"})),
        group_rules(make_series(
            family<Gauge>("promwatch_group_rules", "The number of rules in the group."),
            {"group"})),
        alerts(make_series(family<Gauge>("promwatch_alerts",
                                         "The number of active alerts, by state."),
                           {"state"})),
        alerts_flapping(family<Gauge>("promwatch_alerts_flapping",
                                      "The number of alerts flap detection marks flapping now, in any state.")
                            .Add({})),
        datasource_requests(make_series(
            family<Counter>("promwatch_datasource_requests_total",
                            "The total number of queries sent to the datasource, by HTTP "
                            "status code (\"error\" for transport failures)."),
            {"code"})),
        datasource_duration(
            family<Histogram>("promwatch_datasource_request_duration_seconds",
                              "The duration of datasource queries.")
                .Add({}, kEvaluationBuckets)),
        datasource_up(family<Gauge>("promwatch_datasource_up",
                                    "Whether the last round of queries reached the datasource "
                                    "(1) or every query failed (0).")
                          .Add({})),
        notifications(make_series(
            family<Counter>("promwatch_notifications_total",
                            "The total number of notification delivery attempts, by receiver "
                            "and result."),
            {"receiver", "result"})),
        notification_latency(make_series(
            family<Histogram>("promwatch_notification_latency_seconds",
                              "The latency of notification delivery attempts."),
            {"receiver"})),
        notification_queue(family<Gauge>("promwatch_notification_queue_length",
                                         "The number of notifications waiting to be delivered.")
                               .Add({})),
        heartbeat_members(make_series(
            family<Gauge>("promwatch_heartbeat_members",
                          "The number of heartbeat members, by state."),
            {"state"})),
        reload_successful(family<Gauge>("promwatch_config_last_reload_successful",
                                        "Whether the last configuration reload attempt was "
                                        "successful.")
                              .Add({})),
        reload_success_timestamp(
            family<Gauge>("promwatch_config_last_reload_success_timestamp_seconds",
                          "Timestamp of the last successful configuration reload.")
                .Add({})),
        start_delay(family<Histogram>("promwatch_group_evaluation_start_delay_seconds",
                                      "How late group evaluations started after their slot.")
                        .Add({}, Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                             0.1, 0.25, 0.5, 1, 2.5, 5, 10})),
        clock_steps(family<Counter>("promwatch_clock_steps_total",
                                    "Steps of the system wall clock noticed (alert times moved with them).")
                        .Add({})),
        reloads(make_series(family<Counter>("promwatch_config_reloads_total",
                                            "The total number of configuration reloads, by "
                                            "result."),
                            {"result"})) {
    alerts.get({"pending"});
    alerts.get({"firing"});
    datasource_up.Set(1);
    // The configuration loaded at start-up counts as the first successful load.
    reload_successful.Set(1);
    reloads.get({"success"});
    reloads.get({"failure"});
  }
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {
  set_build_info(PROMWATCH_VERSION);
  impl_->reload_success_timestamp.Set(
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
}

Metrics::~Metrics() = default;

void Metrics::set_build_info(std::string_view version, std::string_view revision,
                             std::string_view compiler) {
  std::lock_guard lock(impl_->mu);
  if (impl_->build_info) impl_->build_info_family.Remove(impl_->build_info);
  std::string comp(compiler);
  if (comp.empty()) {
#if defined(__clang__)
    comp = "clang " __clang_version__;
#elif defined(__GNUC__)
    comp = "gcc " __VERSION__;
#endif
  }
  impl_->build_info = &impl_->build_info_family.Add({{"version", std::string(version)},
                                                     {"revision", std::string(revision)},
                                                     {"compiler", comp}});
  impl_->build_info->Set(1);
}

void Metrics::rule_evaluation(std::string_view group) {
  std::lock_guard lock(impl_->mu);
  impl_->evaluations.get({group}).Increment();
  impl_->evaluation_failures.get({group});  // exported as 0 from the first evaluation
}

void Metrics::rule_evaluation_failure(std::string_view group) {
  std::lock_guard lock(impl_->mu);
  impl_->evaluation_failures.get({group}).Increment();
}

void Metrics::observe_rule_evaluation_duration(std::string_view group, double seconds) {
  std::lock_guard lock(impl_->mu);
  impl_->evaluation_duration.get({group}, kEvaluationBuckets).Observe(seconds);
}

void Metrics::group_iterations_missed(std::string_view group, std::uint64_t n) {
  std::lock_guard lock(impl_->mu);
  impl_->iterations_missed.get({group}).Increment(static_cast<double>(n));
}

void Metrics::group_iteration(std::string_view group) {
  std::lock_guard lock(impl_->mu);
  impl_->iterations.get({group}).Increment();
  impl_->iterations_missed.get({group});
}

void Metrics::set_group_last_evaluation(std::string_view group, double unix_seconds) {
  std::lock_guard lock(impl_->mu);
  impl_->last_evaluation.get({group}).Set(unix_seconds);
}

void Metrics::set_group_last_duration(std::string_view group, double seconds) {
  std::lock_guard lock(impl_->mu);
  impl_->last_duration.get({group}).Set(seconds);
}

void Metrics::set_group_rules(std::string_view group, std::uint64_t n) {
  std::lock_guard lock(impl_->mu);
  impl_->group_rules.get({group}).Set(static_cast<double>(n));
}

void Metrics::remove_group(std::string_view group) {
  std::lock_guard lock(impl_->mu);
  auto& m = *impl_;
  m.evaluations.remove_where(0, group);
  m.evaluation_failures.remove_where(0, group);
  m.evaluation_duration.remove_where(0, group);
  m.iterations_missed.remove_where(0, group);
  m.iterations.remove_where(0, group);
  m.last_evaluation.remove_where(0, group);
  m.last_duration.remove_where(0, group);
  m.group_rules.remove_where(0, group);
}

void Metrics::retain_groups(const std::set<std::string, std::less<>>& groups) {
  std::set<std::string, std::less<>> known;
  {
    std::lock_guard lock(impl_->mu);
    auto& m = *impl_;
    for (auto* values : {&m.evaluations.by_key, &m.evaluation_failures.by_key,
                         &m.iterations_missed.by_key, &m.iterations.by_key})
      for (const auto& [key, metric] : *values) known.insert(key.substr(0, key.find('\xff')));
    for (const auto& key : m.evaluation_duration.values_at(0)) known.insert(key);
    for (auto* s : {&m.last_evaluation, &m.last_duration, &m.group_rules})
      for (const auto& key : s->values_at(0)) known.insert(key);
  }
  for (const auto& g : known)
    if (!groups.count(g)) remove_group(g);
}

void Metrics::set_alerts(std::string_view state, std::uint64_t n) {
  std::lock_guard lock(impl_->mu);
  impl_->alerts.get({state}).Set(static_cast<double>(n));
}

void Metrics::set_alerts_flapping(std::uint64_t n) {
  std::lock_guard lock(impl_->mu);
  impl_->alerts_flapping.Set(static_cast<double>(n));
}

void Metrics::datasource_request(std::string_view code, double seconds) {
  std::lock_guard lock(impl_->mu);
  impl_->datasource_requests.get({code}).Increment();
  impl_->datasource_duration.Observe(seconds);
}

void Metrics::set_datasource_up(bool up) {
  impl_->datasource_up.Set(up ? 1 : 0);
}

void Metrics::notification(std::string_view receiver, std::string_view result) {
  std::lock_guard lock(impl_->mu);
  impl_->notifications.get({receiver, result}).Increment();
}

void Metrics::observe_notification_latency(std::string_view receiver, double seconds) {
  std::lock_guard lock(impl_->mu);
  impl_->notification_latency.get({receiver}, kNotificationBuckets).Observe(seconds);
}

void Metrics::set_notification_queue_length(std::uint64_t n) {
  impl_->notification_queue.Set(static_cast<double>(n));
}

void Metrics::remove_receiver(std::string_view receiver) {
  std::lock_guard lock(impl_->mu);
  impl_->notifications.remove_where(0, receiver);
  impl_->notification_latency.remove_where(0, receiver);
}

void Metrics::set_heartbeat_members(std::string_view state, std::uint64_t n) {
  std::lock_guard lock(impl_->mu);
  impl_->heartbeat_members.get({state}).Set(static_cast<double>(n));
}

void Metrics::observe_evaluation_start_delay(double seconds) {
  std::lock_guard lock(impl_->mu);
  impl_->start_delay.Observe(seconds);
}

void Metrics::clock_step() {
  std::lock_guard lock(impl_->mu);
  impl_->clock_steps.Increment();
}

void Metrics::config_reload(bool success, double unix_seconds) {
  std::lock_guard lock(impl_->mu);
  impl_->reload_successful.Set(success ? 1 : 0);
  if (success) impl_->reload_success_timestamp.Set(unix_seconds);
  impl_->reloads.get({success ? "success" : "failure"}).Increment();
}

std::string Metrics::serialize() const {
  std::ostringstream out;
  {
    std::lock_guard lock(impl_->mu);
    prometheus::TextSerializer().Serialize(out, impl_->registry->Collect());
  }
  ProcessStats p = read_process_stats();
  write_process_metric(out, "process_cpu_seconds_total",
                       "Total user and system CPU time spent in seconds.", "counter",
                       p.cpu_seconds);
  write_process_metric(out, "process_max_fds", "Maximum number of open file descriptors.",
                       "gauge", p.max_fds);
  write_process_metric(out, "process_open_fds", "Number of open file descriptors.", "gauge",
                       p.open_fds);
  write_process_metric(out, "process_resident_memory_bytes", "Resident memory size in bytes.",
                       "gauge", p.resident_memory_bytes);
  write_process_metric(out, "process_start_time_seconds",
                       "Start time of the process since unix epoch in seconds.", "gauge",
                       p.start_time_seconds);
  write_process_metric(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
                       "gauge", p.virtual_memory_bytes);
  return out.str();
}

prometheus::Registry& Metrics::registry() { return *impl_->registry; }

}  // namespace promwatch
