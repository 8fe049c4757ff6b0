#include "support/peers.hpp"

#include <cstdio>
#include <sstream>

namespace promwatch::test {

TinyExporter::TinyExporter() {
  server_ = std::make_unique<TestHttpServer>([this](const TestRequest&) {
    TestResponse r;
    {
      std::lock_guard lock(mutex_);
      if (failing_) {
        r.status = 500;
        r.body = "exporter failing on purpose";
        return r;
      }
    }
    r.headers.push_back({"Content-Type", "text/plain; version=0.0.4"});
    r.body = render();
    return r;
  });
}

void TinyExporter::set(const std::string& series, double value) {
  std::lock_guard lock(mutex_);
  samples_[series] = value;
}

void TinyExporter::set_failing(bool failing) {
  std::lock_guard lock(mutex_);
  failing_ = failing;
}

void TinyExporter::remove(const std::string& series) {
  std::lock_guard lock(mutex_);
  samples_.erase(series);
}

std::string TinyExporter::address() const { return "127.0.0.1:" + std::to_string(server_->port()); }

std::string TinyExporter::render() const {
  std::lock_guard lock(mutex_);
  std::ostringstream out;
  for (const auto& [series, value] : samples_) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", value);
    out << series << ' ' << buf << '\n';
  }
  return out.str();
}

PrometheusProcess::PrometheusProcess(const std::string& rules_yaml, const std::vector<std::string>& targets,
                                     int interval_seconds, const std::vector<std::string>& extra_args) {
  int port = free_port();
  url_ = "http://127.0.0.1:" + std::to_string(port);
  std::ostringstream cfg;
  cfg << "global:\n  scrape_interval: " << interval_seconds << "s\n  evaluation_interval: " << interval_seconds
      << "s\nrule_files: [rules.yml]\nscrape_configs:\n- job_name: test\n  static_configs:\n  - targets: [";
  for (std::size_t i = 0; i < targets.size(); ++i) cfg << (i ? ", " : "") << '"' << targets[i] << '"';
  cfg << "]\n";
  dir_.write("prometheus.yml", cfg.str());
  dir_.write("rules.yml", rules_yaml.empty() ? "groups: []\n" : rules_yaml);
  argv_ = {"/usr/bin/prometheus", "--config.file=" + (dir_.path() / "prometheus.yml").string(),
           "--storage.tsdb.path=" + (dir_.path() / "data").string(),
           "--web.listen-address=127.0.0.1:" + std::to_string(port), "--web.enable-lifecycle", "--log.level=warn"};
  argv_.insert(argv_.end(), extra_args.begin(), extra_args.end());
  restart();
}

void PrometheusProcess::restart() {
  process_.reset();
  process_ = std::make_unique<ChildProcess>(argv_, dir_.path() / "prometheus.log");
}

bool PrometheusProcess::wait_ready(std::chrono::milliseconds timeout) {
  return wait_until([this] { return process_->running() && http_get(url_ + "/-/ready", std::chrono::seconds(2)).status == 200; },
                    timeout);
}

VictoriaMetricsProcess::VictoriaMetricsProcess(const std::vector<std::string>& extra_args) {
  int port = free_port();
  url_ = "http://127.0.0.1:" + std::to_string(port);
  std::vector<std::string> argv = {"/usr/bin/victoria-metrics",
                                   "-httpListenAddr=127.0.0.1:" + std::to_string(port),
                                   "-storageDataPath=" + (dir_.path() / "data").string(),
                                   "-search.latencyOffset=0s",
                                   "-search.disableCache",
                                   "-loggerLevel=WARN"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<ChildProcess>(argv, dir_.path() / "victoria-metrics.log");
}

bool VictoriaMetricsProcess::wait_ready(std::chrono::milliseconds timeout) {
  return wait_until([this] { return process_->running() && http_get(url_ + "/health", std::chrono::seconds(2)).status == 200; },
                    timeout);
}

bool VictoriaMetricsProcess::flush() {
  return http_get(url_ + "/internal/force_flush", std::chrono::seconds(10)).status == 200;
}

AlertmanagerProcess::AlertmanagerProcess(const std::string& config_yaml) {
  int port = free_port();
  url_ = "http://127.0.0.1:" + std::to_string(port);
  dir_.write("alertmanager.yml", config_yaml);
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/prometheus-alertmanager",
                               "--config.file=" + (dir_.path() / "alertmanager.yml").string(),
                               "--storage.path=" + (dir_.path() / "data").string(),
                               "--web.listen-address=127.0.0.1:" + std::to_string(port),
                               "--cluster.listen-address=", "--log.level=warn"},
      dir_.path() / "alertmanager.log");
}

bool AlertmanagerProcess::wait_ready(std::chrono::milliseconds timeout) {
  return wait_until([this] { return process_->running() && http_get(url_ + "/-/ready", std::chrono::seconds(2)).status == 200; },
                    timeout);
}

namespace {

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (std::size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
}

}  // namespace

EtcdCluster::EtcdCluster(int members) {
  for (int i = 0; i < members; ++i) {
    Member m;
    m.name = "etcd" + std::to_string(i);
    m.client_port = free_port();
    m.peer_port = free_port();
    initial_cluster_ += (i ? "," : "") + m.name + "=http://127.0.0.1:" + std::to_string(m.peer_port);
    members_.push_back(std::move(m));
  }
  for (int i = 0; i < members; ++i) start(i);
}

std::vector<std::string> EtcdCluster::client_urls() const {
  std::vector<std::string> out;
  for (const auto& m : members_) out.push_back("http://127.0.0.1:" + std::to_string(m.client_port));
  return out;
}

void EtcdCluster::start(int member) {
  Member& m = members_[static_cast<std::size_t>(member)];
  const std::string client = "http://127.0.0.1:" + std::to_string(m.client_port);
  const std::string peer = "http://127.0.0.1:" + std::to_string(m.peer_port);
  m.process.reset();
  // Short heartbeats so that a cluster elects its own leader quickly after a member dies; the
  // minimum lease TTL follows (3/2 of the election timeout).
  m.process = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/etcd", "--name", m.name, "--data-dir", (dir_.path() / m.name).string(),
                               "--listen-client-urls", client, "--advertise-client-urls", client,
                               "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                               "--initial-cluster", initial_cluster_, "--initial-cluster-state", "new",
                               "--initial-cluster-token", "promwatch-test", "--heartbeat-interval", "100",
                               "--election-timeout", "1000", "--log-level", "warn"},
      dir_.path() / (m.name + ".log"));
}

void EtcdCluster::kill(int member) { members_[static_cast<std::size_t>(member)].process->kill_now(); }

bool EtcdCluster::wait_healthy(std::chrono::milliseconds timeout) {
  return wait_until([this] {
    for (auto& m : members_) {
      if (!m.process || !m.process->running()) continue;
      auto r = http_get("http://127.0.0.1:" + std::to_string(m.client_port) + "/health", std::chrono::seconds(2));
      if (r.status != 200 || r.body.find("\"true\"") == std::string::npos) return false;
    }
    return true;
  }, timeout, std::chrono::milliseconds(200));
}

std::string EtcdCluster::logs() const {
  std::string out;
  for (const auto& m : members_) {
    if (m.process) out += "--- " + m.name + "\n" + m.process->log();
  }
  return out;
}

PromwatchProcess::PromwatchProcess(const std::string& config_toml, const std::map<std::string, std::string>& files,
                                   std::map<std::string, std::string> env)
    : env_(std::move(env)) {
  int port = free_port();
  url_ = "http://127.0.0.1:" + std::to_string(port);
  auto expand = [&](std::string text) {
    replace_all(text, "{{DIR}}", dir_.path().string());
    replace_all(text, "{{LISTEN}}", "127.0.0.1:" + std::to_string(port));
    return text;
  };
  dir_.write("promwatch.toml", expand(config_toml));
  for (const auto& [name, content] : files) dir_.write(name, expand(content));
  restart();
}

void PromwatchProcess::restart() {
  process_.reset();
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{promwatch_binary(), "--config", config_path().string(), "--log-level", "debug"},
      dir_.path() / "promwatch.log", env_);
}

bool PromwatchProcess::wait_healthy(std::chrono::milliseconds timeout) {
  return wait_until([this] { return process_->running() && http_get(url_ + "/healthz", std::chrono::seconds(2)).status == 200; },
                    timeout);
}

}  // namespace promwatch::test
