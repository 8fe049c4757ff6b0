// Remote write: the WriteRequest encoding, decoded again with the generated protobuf classes
// and snappy, and the sender's queue against a loopback server that plays the receiver (5xx,
// 429 with Retry-After, 400, down then up, a full queue).

#include "promwatch/remote_write.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <snappy.h>

#include "promwatch/http_client.hpp"
#include "promwatch/metrics.hpp"
#include "remote_write.pb.h"
#include "support/http_test_server.hpp"
#include "support/process.hpp"

using namespace std::chrono_literals;

namespace promwatch {
namespace {

using SteadyClock = std::chrono::steady_clock;

WriteSample sample(const std::string& name, const std::string& instance, std::int64_t t, double v) {
  return WriteSample{Labels{{"instance", instance}, {"__name__", name}, {"job", "node"}}, t, v};
}

// Samples numbered by value (0, 1, 2, ...), one series, one millisecond apart.
std::vector<WriteSample> numbered(int from, int to) {
  std::vector<WriteSample> out;
  for (int i = from; i < to; ++i) out.push_back(sample("job:up:sum", "a", 1000 + i, i));
  return out;
}

std::uint64_t bits(double v) {
  std::uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

prompb::WriteRequest decode(const std::string& compressed) {
  std::string raw;
  EXPECT_TRUE(snappy::Uncompress(compressed.data(), compressed.size(), &raw)) << "not snappy block format";
  prompb::WriteRequest request;
  EXPECT_TRUE(request.ParseFromString(raw));
  return request;
}

// Every sample value a request carried, in wire order.
std::vector<double> values_of(const test::TestRequest& r) {
  std::vector<double> out;
  prompb::WriteRequest request = decode(r.body);
  for (const auto& ts : request.timeseries())
    for (const auto& s : ts.samples()) out.push_back(s.value());
  return out;
}

std::vector<double> all_values(const std::vector<test::TestRequest>& requests) {
  std::vector<double> out;
  for (const auto& r : requests) {
    auto v = values_of(r);
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

std::vector<double> range(int from, int to) {
  std::vector<double> out;
  for (int i = from; i < to; ++i) out.push_back(i);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Encoding

TEST(RemoteWriteEncoding, SeriesGroupedInOrderLabelsSortedStaleBitsKept) {
  std::vector<WriteSample> samples = {
      sample("job:up:sum", "b", 1000, 1),
      sample("job:up:sum", "a", 1000, 2.5),
      sample("job:up:sum", "b", 2000, stale_marker()),
      sample("job:up:sum", "a", 2000, -0.0),
      WriteSample{Labels{{"__name__", "scalar_rule"}}, 3000, 42},
  };
  prompb::WriteRequest request;
  ASSERT_TRUE(request.ParseFromString(encode_write_request(samples)));
  ASSERT_EQ(request.timeseries_size(), 3);

  // First appearance decides the order: b, then a, then the scalar.
  const auto& b = request.timeseries(0);
  ASSERT_EQ(b.labels_size(), 3);
  EXPECT_EQ(b.labels(0).name(), "__name__");  // '_' sorts before lower-case letters, as in Prometheus
  EXPECT_EQ(b.labels(0).value(), "job:up:sum");
  EXPECT_EQ(b.labels(1).name(), "instance");
  EXPECT_EQ(b.labels(1).value(), "b");
  EXPECT_EQ(b.labels(2).name(), "job");
  ASSERT_EQ(b.samples_size(), 2);
  EXPECT_EQ(b.samples(0).timestamp(), 1000);
  EXPECT_EQ(b.samples(0).value(), 1);
  EXPECT_EQ(b.samples(1).timestamp(), 2000);
  EXPECT_EQ(bits(b.samples(1).value()), kStaleNaNBits);
  EXPECT_TRUE(is_stale_marker(b.samples(1).value()));

  const auto& a = request.timeseries(1);
  EXPECT_EQ(a.labels(1).value(), "a");
  ASSERT_EQ(a.samples_size(), 2);
  EXPECT_EQ(a.samples(0).value(), 2.5);
  EXPECT_EQ(bits(a.samples(1).value()), bits(-0.0));  // sign of zero kept too

  const auto& scalar = request.timeseries(2);
  ASSERT_EQ(scalar.labels_size(), 1);
  EXPECT_EQ(scalar.samples(0).value(), 42);
  EXPECT_EQ(scalar.samples(0).timestamp(), 3000);

  // An ordinary NaN is not a stale marker.
  EXPECT_FALSE(is_stale_marker(std::numeric_limits<double>::quiet_NaN()));
  EXPECT_TRUE(std::isnan(stale_marker()));
}

TEST(RemoteWriteEncoding, SnappyBlockFormatRoundTrips) {
  std::vector<WriteSample> samples;
  for (int i = 0; i < 10000; ++i) samples.push_back(sample("job:x:rate5m", "host-" + std::to_string(i % 500), i, i * 0.5));
  const std::string raw = encode_write_request(samples);
  const std::string compressed = snappy_compress(raw);
  EXPECT_TRUE(snappy::IsValidCompressedBuffer(compressed.data(), compressed.size()));
  EXPECT_LT(compressed.size(), raw.size() / 2);  // repeated label names compress well
  std::string back;
  ASSERT_TRUE(snappy::Uncompress(compressed.data(), compressed.size(), &back));
  EXPECT_EQ(back, raw);
  prompb::WriteRequest request;
  ASSERT_TRUE(request.ParseFromString(back));
  EXPECT_EQ(request.timeseries_size(), 500);
  EXPECT_EQ(request.timeseries(7).samples_size(), 20);
  EXPECT_EQ(encode_write_request({}), "");
}

// ---------------------------------------------------------------------------------------------
// The sender

class RemoteWriterTest : public ::testing::Test {
 protected:
  RemoteWriteConfig config(const std::string& url, int batch = 1000, std::size_t capacity = 100000) {
    RemoteWriteConfig c;
    c.url = url + "/api/v1/write";
    c.max_samples_per_send = batch;
    c.queue_capacity = capacity;
    c.http.timeout = 5s;
    return c;
  }
  RemoteWriterOptions fast() {
    RemoteWriterOptions o;
    o.initial_backoff = 20ms;
    o.max_backoff = 200ms;
    return o;
  }

  template <typename Pred>
  bool run_until(Pred done, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = SteadyClock::now() + timeout;
    while (!done() && SteadyClock::now() < deadline) {
      io.restart();
      io.run_one_for(10ms);
    }
    return done();
  }
  void run_for(std::chrono::milliseconds d) {
    run_until([] { return false; }, d);
  }

  std::string metric(const std::string& line_start) {
    const std::string text = metrics.serialize();
    auto pos = text.find("\n" + line_start + " ");
    if (pos == std::string::npos) return "absent";
    pos += line_start.size() + 2;
    return text.substr(pos, text.find('\n', pos) - pos);
  }

  boost::asio::io_context io;
  HttpClient http{io};
  Metrics metrics;
};

TEST_F(RemoteWriterTest, BatchesInOrderWithTheRemoteWriteHeaders) {
  test::TestHttpServer server([](const test::TestRequest&) { return test::TestResponse{204, {}, ""}; });
  RemoteWriteConfig c = config(server.url(), 3);
  c.http.authorization = Authorization{"Bearer", "tok-123456"};
  c.http.headers = {{"X-Scope-OrgID", "team-a"}};
  RemoteWriter writer(io, http, c, &metrics);
  EXPECT_EQ(metric("promwatch_remote_write_samples_total{result=\"dropped\"}"), "0");  // exported from the start

  writer.enqueue(numbered(0, 4));
  writer.enqueue(numbered(4, 10));  // the same loop turn: shares batches with the first
  ASSERT_TRUE(run_until([&] { return writer.status().sent == 10; }));

  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 4u);
  std::vector<std::size_t> sizes;
  for (const auto& r : requests) sizes.push_back(values_of(r).size());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 3, 3, 1}));
  EXPECT_EQ(all_values(requests), range(0, 10));
  const auto& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/api/v1/write");
  EXPECT_EQ(r.headers.at("content-encoding"), "snappy");
  EXPECT_EQ(r.headers.at("content-type"), "application/x-protobuf");
  EXPECT_EQ(r.headers.at("x-prometheus-remote-write-version"), "0.1.0");
  EXPECT_EQ(r.headers.at("authorization"), "Bearer tok-123456");
  EXPECT_EQ(r.headers.at("x-scope-orgid"), "team-a");
  EXPECT_EQ(r.headers.at("user-agent").rfind("promwatch/", 0), 0u);

  RemoteWriteStatus s = writer.status();
  EXPECT_TRUE(s.healthy);
  EXPECT_EQ(s.queue_length, 0u);
  EXPECT_NE(s.last_success, TimePoint{});
  EXPECT_EQ(s.endpoint, "http://127.0.0.1:" + std::to_string(server.port()) + "/…");
  EXPECT_EQ(metric("promwatch_remote_write_samples_total{result=\"sent\"}"), "10");
  EXPECT_EQ(metric("promwatch_remote_write_queue_length"), "0");
  EXPECT_EQ(metric("promwatch_remote_write_request_duration_seconds_count"), "4");
}

TEST_F(RemoteWriterTest, ServerErrorIsRetriedAndDeliveredOnceInOrder) {
  std::atomic<int> seen{0};
  test::TestHttpServer server([&](const test::TestRequest&) {
    return ++seen == 1 ? test::TestResponse{503, {}, "overloaded"} : test::TestResponse{200, {}, ""};
  });
  RemoteWriter writer(io, http, config(server.url(), 5), &metrics, fast());
  writer.enqueue(numbered(0, 10));
  ASSERT_TRUE(run_until([&] { return writer.status().sent == 10; }));
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].body, requests[1].body);  // the same batch again, then the next one
  EXPECT_EQ(values_of(requests[1]), range(0, 5));
  EXPECT_EQ(values_of(requests[2]), range(5, 10));
  RemoteWriteStatus s = writer.status();
  EXPECT_TRUE(s.healthy);  // the success after the failure
  EXPECT_EQ(s.last_error, "server returned HTTP status 503 Service Unavailable: overloaded");
  EXPECT_EQ(s.failed + s.dropped + s.rejected, 0u);
}

TEST_F(RemoteWriterTest, TooManyRequestsWaitsForRetryAfter) {
  std::atomic<int> seen{0};
  test::TestHttpServer server([&](const test::TestRequest&) {
    return ++seen == 1 ? test::TestResponse{429, {{"Retry-After", "1"}}, "slow down"} : test::TestResponse{200, {}, ""};
  });
  RemoteWriter writer(io, http, config(server.url()), &metrics, fast());
  writer.enqueue(numbered(0, 3));
  const auto started = SteadyClock::now();
  ASSERT_TRUE(run_until([&] { return writer.status().sent == 3; }));
  const auto waited = SteadyClock::now() - started;
  // The 20 ms backoff would have retried at once; Retry-After: 1 holds it for a second.
  EXPECT_GE(waited, 950ms);
  EXPECT_LT(waited, 3s);
  EXPECT_EQ(server.request_count(), 2u);
  EXPECT_EQ(all_values({server.requests()[1]}), range(0, 3));
}

TEST_F(RemoteWriterTest, BadRequestIsNotRetriedAndCountedRejected) {
  test::TestHttpServer server([](const test::TestRequest& r) {
    // The first batch is refused (echoing the credentials, as some proxies do); later ones pass.
    if (values_of(r).front() == 0) {
      return test::TestResponse{400, {}, "out of order sample; request had Authorization: Bearer tok-secret-1"};
    }
    return test::TestResponse{200, {}, ""};
  });
  RemoteWriteConfig c = config(server.url(), 4);
  c.http.authorization = Authorization{"Bearer", "tok-secret-1"};
  RemoteWriter writer(io, http, c, &metrics, fast());
  writer.enqueue(numbered(0, 8));
  ASSERT_TRUE(run_until([&] { return writer.status().sent == 4; }));
  run_for(300ms);  // a retry would have come by now
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(values_of(requests[1]), range(4, 8));
  RemoteWriteStatus s = writer.status();
  EXPECT_EQ(s.rejected, 4u);
  EXPECT_EQ(s.sent, 4u);
  // Healthy again after the next batch went through; the error stays for the page.
  EXPECT_TRUE(s.healthy);
  EXPECT_NE(s.last_error.find("HTTP status 400 Bad Request: out of order sample"), std::string::npos) << s.last_error;
  EXPECT_EQ(s.last_error.find("tok-secret-1"), std::string::npos) << s.last_error;
  EXPECT_EQ(metric("promwatch_remote_write_samples_total{result=\"rejected\"}"), "4");
}

// A redirect is not followed (the credentials would go along) and not retried either.
TEST_F(RemoteWriterTest, RedirectIsRejectedNotFollowed) {
  test::TestHttpServer target([](const test::TestRequest&) { return test::TestResponse{200, {}, ""}; });
  test::TestHttpServer server([&](const test::TestRequest&) {
    return test::TestResponse{307, {{"Location", target.url() + "/api/v1/write"}}, ""};
  });
  RemoteWriter writer(io, http, config(server.url()), &metrics, fast());
  writer.enqueue(numbered(0, 3));
  ASSERT_TRUE(run_until([&] { return writer.status().rejected == 3; }));
  run_for(200ms);
  EXPECT_EQ(server.request_count(), 1u);
  EXPECT_EQ(target.request_count(), 0u);
  EXPECT_NE(writer.status().last_error.find("HTTP status 307"), std::string::npos) << writer.status().last_error;
}

TEST_F(RemoteWriterTest, EndpointDownThenUpQueueHoldsAndDrains) {
  const auto port = static_cast<std::uint16_t>(test::free_port());
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  RemoteWriter writer(io, http, config(url, 4), &metrics, fast());
  writer.enqueue(numbered(0, 6));
  run_for(400ms);
  writer.enqueue(numbered(6, 10));  // evaluation goes on while the endpoint is down
  run_for(200ms);
  RemoteWriteStatus down = writer.status();
  EXPECT_FALSE(down.healthy);
  EXPECT_EQ(down.queue_length, 10u);
  EXPECT_EQ(down.sent, 0u);
  EXPECT_FALSE(down.last_error.empty());
  EXPECT_EQ(metric("promwatch_remote_write_queue_length"), "10");

  test::TestHttpServer server([](const test::TestRequest&) { return test::TestResponse{200, {}, ""}; }, port);
  ASSERT_TRUE(run_until([&] { return writer.status().sent == 10; }));
  EXPECT_EQ(all_values(server.requests()), range(0, 10));  // each once, in order
  EXPECT_TRUE(writer.status().healthy);
  EXPECT_EQ(writer.status().queue_length, 0u);
  EXPECT_EQ(metric("promwatch_remote_write_queue_length"), "0");
}

TEST_F(RemoteWriterTest, FullQueueDropsTheOldest) {
  const auto port = static_cast<std::uint16_t>(test::free_port());
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  RemoteWriter writer(io, http, config(url, 3, 5), &metrics, fast());
  writer.enqueue(numbered(0, 3));  // becomes the batch being retried
  run_for(100ms);
  writer.enqueue(numbered(3, 11));  // 8 more for 5 places: 3, 4, 5 go
  EXPECT_EQ(writer.status().dropped, 3u);
  EXPECT_EQ(writer.status().queue_length, 8u);  // 5 waiting + the batch of 3
  EXPECT_EQ(metric("promwatch_remote_write_samples_total{result=\"dropped\"}"), "3");

  test::TestHttpServer server([](const test::TestRequest&) { return test::TestResponse{200, {}, ""}; }, port);
  ASSERT_TRUE(run_until([&] { return writer.status().sent == 8; }));
  std::vector<double> expected = range(0, 3);
  for (double v : range(6, 11)) expected.push_back(v);
  EXPECT_EQ(all_values(server.requests()), expected);
  RemoteWriteStatus s = writer.status();
  EXPECT_EQ(s.sent + s.dropped, 11u);  // everything is accounted for
}

TEST_F(RemoteWriterTest, StopGivesUpAfterGraceAndCountsFailed) {
  const std::string url = "http://127.0.0.1:" + std::to_string(test::free_port());
  RemoteWriter writer(io, http, config(url, 2), &metrics, fast());
  writer.enqueue(numbered(0, 5));
  run_for(50ms);
  bool done = false;
  const auto started = SteadyClock::now();
  writer.stop(300ms, [&] { done = true; });
  ASSERT_TRUE(run_until([&] { return done; }));
  const auto took = SteadyClock::now() - started;
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 2s);
  RemoteWriteStatus s = writer.status();
  EXPECT_EQ(s.failed, 5u);
  EXPECT_EQ(s.queue_length, 0u);
  writer.enqueue(numbered(5, 7));  // after stop: nothing is sent, it is counted
  EXPECT_EQ(writer.status().failed, 7u);
  EXPECT_EQ(metric("promwatch_remote_write_samples_total{result=\"failed\"}"), "7");
  bool again = false;
  writer.stop(1s, [&] { again = true; });
  ASSERT_TRUE(run_until([&] { return again; }, 1s));
}

TEST_F(RemoteWriterTest, StopSendsWhatIsQueuedWithinGrace) {
  test::TestHttpServer server([](const test::TestRequest&) { return test::TestResponse{200, {}, ""}; });
  RemoteWriter writer(io, http, config(server.url(), 2), &metrics, fast());
  writer.enqueue(numbered(0, 7));
  bool done = false;
  writer.stop(5s, [&] { done = true; });
  ASSERT_TRUE(run_until([&] { return done; }));
  EXPECT_EQ(writer.status().sent, 7u);
  EXPECT_EQ(writer.status().failed, 0u);
  EXPECT_EQ(all_values(server.requests()), range(0, 7));
}

TEST_F(RemoteWriterTest, ReconfigureMovesTheWaitingBatchToTheNewEndpoint) {
  test::TestHttpServer old_endpoint([](const test::TestRequest&) { return test::TestResponse{503, {}, "down"}; });
  test::TestHttpServer new_endpoint([](const test::TestRequest&) { return test::TestResponse{200, {}, ""}; });
  RemoteWriterOptions slow;
  slow.initial_backoff = 10s;  // the old endpoint's backoff would hold the batch this long
  RemoteWriter writer(io, http, config(old_endpoint.url(), 10, 20), &metrics, slow);
  writer.enqueue(numbered(0, 15));
  ASSERT_TRUE(run_until([&] { return old_endpoint.request_count() == 1 && !writer.status().healthy; }));
  writer.reconfigure(config(new_endpoint.url(), 2, 3));  // smaller queue: 5 waiting, 3 kept
  EXPECT_EQ(writer.status().dropped, 2u);
  EXPECT_EQ(writer.status().endpoint, "http://127.0.0.1:" + std::to_string(new_endpoint.port()) + "/…");
  ASSERT_TRUE(run_until([&] { return writer.status().sent == 13; }, 3s));
  std::vector<double> expected = range(0, 10);  // the batch of 10 as it was built
  for (double v : range(12, 15)) expected.push_back(v);
  EXPECT_EQ(all_values(new_endpoint.requests()), expected);
  EXPECT_EQ(old_endpoint.request_count(), 1u);
}

TEST_F(RemoteWriterTest, DestroyedWithARequestInFlight) {
  test::TestHttpServer server([](const test::TestRequest&) { return test::TestResponse{200, {}, "", 300ms}; });
  {
    RemoteWriter writer(io, http, config(server.url()), &metrics, fast());
    writer.enqueue(numbered(0, 3));
    ASSERT_TRUE(run_until([&] { return http.in_flight() == 1; }));
  }
  ASSERT_TRUE(run_until([&] { return http.in_flight() == 0; }));  // the late answer is ignored
  EXPECT_EQ(server.request_count(), 1u);
}

}  // namespace
}  // namespace promwatch
