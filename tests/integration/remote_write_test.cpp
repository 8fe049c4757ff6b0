// Remote write against real receivers: Debian's Prometheus 2.42 (started with
// --web.enable-remote-write-receiver) and VictoriaMetrics 1.79. A small driver runs
// RemoteWriter on its own io_context; the stores' query APIs say what arrived.
//
// What each store does with a stale marker, as checked here: both end the series at the
// marker, so an instant query just after it returns nothing (without the marker the last
// sample would be returned for the lookback delta, 5 minutes). Prometheus refuses an
// out-of-order sample with 400 (counted as rejected, not retried); VictoriaMetrics stores it.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "promwatch/http_client.hpp"
#include "promwatch/remote_write.hpp"
#include "support/peers.hpp"
#include "support/process.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;

namespace promwatch {
namespace {

using test::http_get;
using test::wait_until;

std::string url_escape(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// Writes `samples` through a RemoteWriter of its own and stops it once all are sent (or 10 s).
RemoteWriteStatus write(const std::string& url, std::vector<WriteSample> samples, int batch = 1000) {
  boost::asio::io_context io;
  HttpClient http(io);
  RemoteWriteConfig config;
  config.url = url;
  config.max_samples_per_send = batch;
  config.http.timeout = 5s;
  RemoteWriter writer(io, http, config, nullptr);
  writer.enqueue(std::move(samples));
  bool done = false;
  writer.stop(10s, [&] { done = true; });
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_one_for(20ms);
  }
  EXPECT_TRUE(done);
  return writer.status();
}

struct Point {
  std::int64_t t_ms = 0;
  double value = 0;
  bool operator==(const Point&) const = default;
};

void PrintTo(const Point& p, std::ostream* os) { *os << p.t_ms << "=" << p.value; }

// The `data.result` of an instant query at `t_ms` (nullopt when the query failed).
std::optional<json> instant(const std::string& base, const std::string& query, std::int64_t t_ms) {
  char time[32];
  std::snprintf(time, sizeof time, "%.3f", static_cast<double>(t_ms) / 1000);
  auto r = http_get(base + "/api/v1/query?query=" + url_escape(query) + "&time=" + time, 5s);
  if (r.status != 200) return std::nullopt;
  json body = json::parse(r.body, nullptr, false);
  if (!body.is_object() || body.value("status", "") != "success") return std::nullopt;
  return body["data"]["result"];
}

// The raw samples of `selector` in (t_ms - 10m, t_ms], from an instant query of `selector[10m]`.
std::vector<Point> raw_points(const std::string& base, const std::string& selector, std::int64_t t_ms) {
  std::vector<Point> out;
  auto result = instant(base, selector + "[10m]", t_ms);
  if (!result || !result->is_array() || result->empty()) return out;
  for (const auto& v : (*result)[0]["values"]) {
    out.push_back(Point{std::llround(v[0].get<double>() * 1000), std::strtod(v[1].get<std::string>().c_str(), nullptr)});
  }
  return out;
}

std::int64_t now_ms() { return std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch()).count(); }

struct Store {
  std::string name;
  std::string query_url;
  std::string write_url;
  std::function<void()> written;  // after a write: make it searchable
  /// How close a stored value is to what was written: VictoriaMetrics keeps about 12
  /// significant decimal digits (its values are decimal mantissa and exponent), Prometheus the
  /// float64 itself.
  double relative_precision = 0;
};

bool same_points(const std::vector<Point>& got, const std::vector<Point>& expected, double precision) {
  if (got.size() != expected.size()) return false;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i].t_ms != expected[i].t_ms) return false;
    const double a = got[i].value, b = expected[i].value;
    if (a != b && std::fabs(a - b) > precision * std::max(std::fabs(a), std::fabs(b))) return false;
  }
  return true;
}

class RemoteWriteTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    prometheus_ = new test::PrometheusProcess("", {}, 1, {"--web.enable-remote-write-receiver"});
    victoria_ = new test::VictoriaMetricsProcess();
    ASSERT_TRUE(prometheus_->wait_ready()) << prometheus_->process().log();
    ASSERT_TRUE(victoria_->wait_ready()) << victoria_->process().log();
  }
  static void TearDownTestSuite() {
    delete prometheus_;
    delete victoria_;
    prometheus_ = nullptr;
    victoria_ = nullptr;
  }

  Store store() const {
    if (GetParam() == "prometheus") return {"prometheus", prometheus_->url(), prometheus_->url() + "/api/v1/write", [] {}};
    return {"victoriametrics", victoria_->url(), victoria_->url() + "/api/v1/write",
            [] { ASSERT_TRUE(victoria_->flush()); }, 1e-12};
  }

  static test::PrometheusProcess* prometheus_;
  static test::VictoriaMetricsProcess* victoria_;
};

test::PrometheusProcess* RemoteWriteTest::prometheus_ = nullptr;
test::VictoriaMetricsProcess* RemoteWriteTest::victoria_ = nullptr;

TEST_P(RemoteWriteTest, ValuesAndTimestampsArriveAsWritten) {
  const Store s = store();
  // Three series, ten samples each, 5 s apart and ending 30 s ago, interleaved as rounds write
  // them, sent in batches of 7 (so series cross requests).
  const std::int64_t end = now_ms() / 1000 * 1000 - 30000 + 123;
  const double values[] = {0, 1.5, -2.25, 1e6, 0.1, 123456.789, 1e-7, -0.5, 42, 3.141592653589793};
  std::vector<WriteSample> samples;
  for (int i = 0; i < 10; ++i) {
    for (const char* instance : {"a:9100", "b:9100", "c:9100"}) {
      Labels labels{{"__name__", "pw_rw_values"}, {"instance", instance}, {"job", "node"}, {"rule", "job:x"}};
      samples.push_back(WriteSample{labels, end - (9 - i) * 5000, values[i] + (instance[0] - 'a')});
    }
  }
  RemoteWriteStatus st = write(s.write_url, samples, 7);
  EXPECT_EQ(st.sent, 30u) << st.last_error;
  EXPECT_TRUE(st.healthy) << st.last_error;
  s.written();

  for (const char* instance : {"a:9100", "b:9100", "c:9100"}) {
    std::vector<Point> expected;
    for (int i = 0; i < 10; ++i) expected.push_back(Point{end - (9 - i) * 5000, values[i] + (instance[0] - 'a')});
    const std::string selector = std::string("pw_rw_values{instance=\"") + instance + "\",job=\"node\",rule=\"job:x\"}";
    std::vector<Point> got;
    wait_until([&] { return (got = raw_points(s.query_url, selector, end + 1000)).size() >= expected.size(); }, 10s);
    EXPECT_TRUE(same_points(got, expected, s.relative_precision))
        << s.name << " " << instance << ": got " << ::testing::PrintToString(got);
  }
}

TEST_P(RemoteWriteTest, StaleMarkerEndsTheSeriesAtOnce) {
  const Store s = store();
  const std::int64_t t1 = now_ms() / 1000 * 1000 - 20000;
  const std::int64_t t2 = t1 + 10000;
  std::vector<WriteSample> samples = {
      {Labels{{"__name__", "pw_rw_stale"}, {"case", "marked"}}, t1, 7},
      {Labels{{"__name__", "pw_rw_stale"}, {"case", "unmarked"}}, t1, 7},
      {Labels{{"__name__", "pw_rw_stale"}, {"case", "marked"}}, t2, stale_marker()},
  };
  RemoteWriteStatus st = write(s.write_url, samples);
  EXPECT_EQ(st.sent, 3u) << st.last_error;
  s.written();

  auto count_at = [&](const std::string& q, std::int64_t t) -> int {
    auto r = instant(s.query_url, q, t);
    return r && r->is_array() ? static_cast<int>(r->size()) : -1;
  };
  // Before the marker the series is there; just after it, only the unmarked one is (its last
  // sample lives on for the lookback delta).
  ASSERT_TRUE(wait_until([&] { return count_at("pw_rw_stale", t1 + 1000) == 2; }, 10s)) << s.name;
  EXPECT_EQ(count_at("pw_rw_stale{case=\"unmarked\"}", t2 + 1000), 1) << s.name;
  EXPECT_EQ(count_at("pw_rw_stale{case=\"marked\"}", t2 + 1000), 0) << s.name;
  EXPECT_EQ(count_at("pw_rw_stale{case=\"marked\"}", t2 + 60000), 0) << s.name;
}

// A sample older than the series' newest: Prometheus refuses it with 400, and the sender counts
// it as rejected without retrying (the stored series is unchanged); VictoriaMetrics stores it.
TEST_P(RemoteWriteTest, OutOfOrderSample) {
  const Store s = store();
  const std::int64_t t = now_ms() / 1000 * 1000 - 10000;
  const Labels labels{{"__name__", "pw_rw_order"}, {"case", "late"}};
  RemoteWriteStatus first = write(s.write_url, {{labels, t, 1}});
  EXPECT_EQ(first.sent, 1u) << first.last_error;
  s.written();
  ASSERT_TRUE(wait_until([&] { return raw_points(s.query_url, "pw_rw_order", t + 1000).size() == 1; }, 10s));
  RemoteWriteStatus late = write(s.write_url, {{labels, t - 5000, 2}});
  EXPECT_EQ(late.failed, 0u);
  if (s.name == "prometheus") {
    EXPECT_EQ(late.sent, 0u);
    EXPECT_EQ(late.rejected, 1u);
    EXPECT_FALSE(late.healthy);
    EXPECT_NE(late.last_error.find("HTTP status 400"), std::string::npos) << late.last_error;
    EXPECT_EQ(raw_points(s.query_url, "pw_rw_order", t + 1000), (std::vector<Point>{{t, 1}}));
  } else {
    EXPECT_EQ(late.sent, 1u) << late.last_error;
    s.written();
    EXPECT_TRUE(wait_until([&] { return raw_points(s.query_url, "pw_rw_order", t + 1000).size() == 2; }, 10s));
  }
}

// A real receiver down, then back: the queue holds the samples while Prometheus is stopped and
// drains, each once and in order, when it is started again on the same port with its data.
TEST(RemoteWriteOutage, PrometheusDownThenUp) {
  test::PrometheusProcess prometheus("", {}, 1, {"--web.enable-remote-write-receiver"});
  ASSERT_TRUE(prometheus.wait_ready()) << prometheus.process().log();
  prometheus.stop();

  boost::asio::io_context io;
  HttpClient http(io);
  RemoteWriteConfig config;
  config.url = prometheus.url() + "/api/v1/write";
  config.max_samples_per_send = 4;
  config.http.timeout = 5s;
  RemoteWriterOptions options;
  options.max_backoff = 1s;
  RemoteWriter writer(io, http, config, nullptr, options);
  auto run = [&](auto done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io.restart();
      io.run_one_for(20ms);
    }
    return done();
  };
  const std::int64_t t0 = now_ms() / 1000 * 1000 - 30000;
  std::vector<WriteSample> samples;
  for (int i = 0; i < 10; ++i) samples.push_back({Labels{{"__name__", "pw_rw_outage"}}, t0 + i * 1000, double(i)});
  writer.enqueue(samples);
  run([] { return false; }, 1500ms);
  RemoteWriteStatus down = writer.status();
  EXPECT_FALSE(down.healthy);
  EXPECT_EQ(down.queue_length, 10u);
  EXPECT_NE(down.last_error.find("refused"), std::string::npos) << down.last_error;

  prometheus.restart();
  ASSERT_TRUE(prometheus.wait_ready()) << prometheus.process().log();
  ASSERT_TRUE(run([&] { return writer.status().sent == 10; }, 10s)) << writer.status().last_error;
  EXPECT_TRUE(writer.status().healthy);
  std::vector<Point> expected;
  for (int i = 0; i < 10; ++i) expected.push_back(Point{t0 + i * 1000, double(i)});
  EXPECT_EQ(raw_points(prometheus.url(), "pw_rw_outage", t0 + 10000), expected);
}

// The daemon's side: with [remote_write] the status page has the remote-write card and line and
// /metrics the remote-write families, the endpoint redacted (its token appears nowhere); a reload
// that removes the table removes the line.
TEST(RemoteWriteDaemon, StatusPageMetricsAndReload) {
  const std::string config = R"([global]
state_dir = "{{DIR}}/state"
[datasource]
url = "http://127.0.0.1:9"
[server]
listen = "{{LISTEN}}"
enable_lifecycle = true
[remote_write]
url = "http://127.0.0.1:9/api/v1/write?token=tok-7f3a9c"
)";
  test::PromwatchProcess pw(config);
  ASSERT_TRUE(pw.wait_healthy()) << pw.process().log();
  const std::string page = http_get(pw.url() + "/").body;
  EXPECT_NE(page.find("remote write</span>"), std::string::npos);
  EXPECT_NE(page.find("remote write to <code>http://127.0.0.1:9/…</code> · healthy · 0 samples queued"), std::string::npos)
      << page;
  const std::string metrics = http_get(pw.url() + "/metrics").body;
  for (const char* line : {"promwatch_remote_write_samples_total{result=\"sent\"} 0",
                           "promwatch_remote_write_samples_total{result=\"dropped\"} 0",
                           "promwatch_remote_write_queue_length 0"}) {
    EXPECT_NE(metrics.find(line), std::string::npos) << line;
  }
  for (const std::string& text : {page, metrics, pw.process().log()}) EXPECT_EQ(text.find("tok-7f3a9c"), std::string::npos);

  // The same config without [remote_write], placeholders filled in as PromwatchProcess does.
  std::string without = config.substr(0, config.find("[remote_write]"));
  without.replace(without.find("{{DIR}}"), 7, pw.dir().path().string());
  without.replace(without.find("{{LISTEN}}"), 10, pw.url().substr(std::string("http://").size()));
  pw.dir().write("promwatch.toml", without);
  auto r = test::http_request("POST", pw.url() + "/-/reload", "", {});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(http_get(pw.url() + "/").body.find("remote write"), std::string::npos);
  EXPECT_EQ(pw.process().stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Stores, RemoteWriteTest, ::testing::Values("prometheus", "victoriametrics"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace promwatch
