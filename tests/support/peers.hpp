#pragma once
/// \file
/// Real peers for integration tests, each on 127.0.0.1 at a random port in its own temp dir:
/// Debian's `prometheus`, `prometheus-alertmanager`, `victoria-metrics` and `etcd`, and a tiny
/// exporter whose values the test sets.

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "support/http_test_server.hpp"
#include "support/process.hpp"

namespace promwatch::test {

/// Serves `/metrics` in the Prometheus text format from values the test changes at will.
class TinyExporter {
 public:
  TinyExporter();
  /// Sets a sample; `series` is the full text before the value, e.g. `test_value{case="a"}`.
  void set(const std::string& series, double value);
  void remove(const std::string& series);
  /// While failing, scrapes get HTTP 500 (Prometheus then records up == 0).
  void set_failing(bool failing);
  /// `127.0.0.1:PORT`, for a scrape config.
  std::string address() const;

 private:
  std::string render() const;
  mutable std::mutex mutex_;
  std::map<std::string, double> samples_;
  bool failing_ = false;
  std::unique_ptr<TestHttpServer> server_;
};

/// A real Prometheus with the given rule file (YAML) and scrape targets, evaluating and
/// scraping every `interval_seconds`; `extra_args` are added to its command line.
class PrometheusProcess {
 public:
  PrometheusProcess(const std::string& rules_yaml, const std::vector<std::string>& targets,
                    int interval_seconds = 1, const std::vector<std::string>& extra_args = {});
  /// `http://127.0.0.1:PORT`
  std::string url() const { return url_; }
  /// Waits until `/-/ready` answers 200; false on timeout or exit.
  bool wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  ChildProcess& process() { return *process_; }
  void stop() { process_->stop(); }
  /// Starts it again on the same port with the same data (after stop()).
  void restart();

 private:
  TempDir dir_;
  std::string url_;
  std::vector<std::string> argv_;
  std::unique_ptr<ChildProcess> process_;
};

/// A real VictoriaMetrics single-node (Debian's `victoria-metrics`) in its own data directory:
/// remote write at `{url}/api/v1/write`, the Prometheus query API at `{url}/api/v1/query`.
/// Queries see samples up to now (`-search.latencyOffset=0s`, no cache) once they are flushed;
/// `extra_args` are added to its command line.
class VictoriaMetricsProcess {
 public:
  explicit VictoriaMetricsProcess(const std::vector<std::string>& extra_args = {});
  /// `http://127.0.0.1:PORT`
  std::string url() const { return url_; }
  /// Waits until `/health` answers 200; false on timeout or exit.
  bool wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  /// Makes what was written so far searchable now (`/internal/force_flush`); by itself
  /// VictoriaMetrics 1.79 takes up to ~8 s. True when it answered 200.
  bool flush();
  ChildProcess& process() { return *process_; }

 private:
  TempDir dir_;
  std::string url_;
  std::unique_ptr<ChildProcess> process_;
};

/// A real Alertmanager (clustering off) with the given config (YAML).
class AlertmanagerProcess {
 public:
  explicit AlertmanagerProcess(const std::string& config_yaml);
  std::string url() const { return url_; }
  bool wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  ChildProcess& process() { return *process_; }

 private:
  TempDir dir_;
  std::string url_;
  std::unique_ptr<ChildProcess> process_;
};

/// Real etcd (Debian's etcd-server 3.4): `members` members on 127.0.0.1, random client and peer
/// ports, each with its own data directory, forming one cluster. Members can be killed and
/// started again with their data, as a real outage would.
class EtcdCluster {
 public:
  explicit EtcdCluster(int members = 1);
  /// Every member's client URL, `http://127.0.0.1:PORT`.
  std::vector<std::string> client_urls() const;
  /// Waits until every running member answers /health with "true"; false on timeout.
  bool wait_healthy(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  void kill(int member);
  /// Starts a killed member again with its data directory.
  void start(int member);
  ChildProcess& process(int member) { return *members_[static_cast<std::size_t>(member)].process; }
  /// The members' logs, for failure messages.
  std::string logs() const;

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    std::unique_ptr<ChildProcess> process;
  };
  TempDir dir_;
  std::vector<Member> members_;
  std::string initial_cluster_;
};

/// The promwatch binary of this build, running the config given (written to its temp dir as
/// promwatch.toml, next to any extra files). `{{DIR}}` in the config is replaced by that dir.
class PromwatchProcess {
 public:
  PromwatchProcess(const std::string& config_toml, const std::map<std::string, std::string>& files = {},
                   std::map<std::string, std::string> env = {});
  /// `http://127.0.0.1:PORT` of its own server (the config must listen on `{{LISTEN}}`).
  std::string url() const { return url_; }
  const TempDir& dir() const { return dir_; }
  std::filesystem::path config_path() const { return dir_.path() / "promwatch.toml"; }
  /// Waits until /healthz answers; false on timeout or exit.
  bool wait_healthy(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  ChildProcess& process() { return *process_; }
  /// Restarts the binary with the same config and state dir (after a stop or kill).
  void restart();

 private:
  TempDir dir_;
  std::string url_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace promwatch::test
