// Delivery: the cap on deliveries in flight (issue #7). The rest of Delivery's behaviour is
// tested in notify_test.cpp.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "promwatch/delivery.hpp"
#include "support/http_test_server.hpp"

using namespace std::chrono_literals;

namespace promwatch {
namespace {

// 100 aggregation groups flushing at once (as after a start-up) hold at most 32 transfers;
// the others wait for a place and are all delivered.
TEST(DeliveryCap, AtMost32DeliveriesInFlight) {
  std::atomic<int> serving{0};
  std::atomic<int> most_serving{0};
  test::TestHttpServer server([&](const test::TestRequest&) {
    int now = ++serving;
    int seen = most_serving.load();
    while (now > seen && !most_serving.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(50ms);  // long enough for every place to be taken
    --serving;
    return test::TestResponse{200, {}, "ok"};
  });

  boost::asio::io_context io;
  HttpClient http(io);
  int delivered = 0;
  int other = 0;
  Delivery delivery(io, http, DeliveryOptions{}, [&](const DeliveryReport& r) {
    if (r.result == "success") ++delivered;
    else ++other;
  });
  ReceiverConfig rc;
  rc.name = "hook";
  rc.url = server.url() + "/alerts";
  NotifyConfig notify;
  std::string error;
  auto receiver = make_receiver(rc, notify, &error);
  ASSERT_TRUE(receiver) << error;
  delivery.set_receivers({receiver});

  constexpr int kGroups = 100;
  for (int i = 0; i < kGroups; ++i) {
    Notification n;
    n.receiver = "hook";
    n.group_key = "{}:{group=\"" + std::to_string(i) + "\"}";
    n.group_interval = 5min;
    ASSERT_TRUE(delivery.submit(std::move(n)));
  }
  std::size_t most_in_flight = 0;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (delivered + other < kGroups && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_one_for(50ms);
    most_in_flight = std::max(most_in_flight, http.in_flight());
  }
  EXPECT_EQ(delivered, kGroups);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(most_in_flight, 32u);  // every place is used, and no more
  EXPECT_LE(most_serving.load(), 32);
  EXPECT_EQ(server.request_count(), static_cast<std::size_t>(kGroups));
  EXPECT_EQ(delivery.queue_length(), 0u);
  EXPECT_EQ(http.in_flight(), 0u);
}

// A message waiting for a place is replaced by a newer one for its group, which keeps the
// place in the queue: only the newer one is sent.
TEST(DeliveryCap, NewerMessageTakesTheQueuedPlace) {
  test::TestHttpServer server([](const test::TestRequest&) {
    std::this_thread::sleep_for(300ms);  // no place frees up while the test replaces the message
    return test::TestResponse{200, {}, "ok"};
  });
  boost::asio::io_context io;
  HttpClient http(io);
  std::vector<DeliveryReport> reports;
  Delivery delivery(io, http, DeliveryOptions{}, [&](const DeliveryReport& r) { reports.push_back(r); });
  ReceiverConfig rc;
  rc.name = "hook";
  rc.url = server.url() + "/alerts";
  NotifyConfig notify;
  std::string error;
  delivery.set_receivers({make_receiver(rc, notify, &error)});

  auto message = [](int group, TimePoint created) {
    Notification n;
    n.receiver = "hook";
    n.group_key = "g" + std::to_string(group);
    n.group_interval = 5min;
    n.created_at = created;
    return n;
  };
  const TimePoint first = TimePoint{} + 1000s;
  const TimePoint second = TimePoint{} + 2000s;
  for (int i = 0; i < 33; ++i) ASSERT_TRUE(delivery.submit(message(i, first)));
  // Let all 33 become ready: 32 go out, the 33rd waits for a place.
  auto until = [&](auto done) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io.restart();
      io.run_one_for(10ms);
    }
    return done();
  };
  ASSERT_TRUE(until([&] { return http.in_flight() == 32; }));
  io.restart();
  io.poll();  // the 33rd slot's timer has fired by now: it is queued for a place
  EXPECT_EQ(http.in_flight(), 32u);
  ASSERT_TRUE(delivery.submit(message(32, second)));
  ASSERT_TRUE(until([&] {
    return std::count_if(reports.begin(), reports.end(), [](const auto& r) { return r.result == "success"; }) == 33;
  }));
  EXPECT_EQ(server.request_count(), 33u);
  int dropped = 0;
  for (const auto& r : reports) {
    if (r.group_key != "g32") continue;
    if (r.result == "dropped") {
      ++dropped;
      EXPECT_EQ(r.notification->created_at, first);
    } else {
      EXPECT_EQ(r.result, "success");
      EXPECT_EQ(r.notification->created_at, second);
    }
  }
  EXPECT_EQ(dropped, 1);
}

}  // namespace
}  // namespace promwatch
