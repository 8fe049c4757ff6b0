#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "promwatch/labels.hpp"
#include "promwatch/shared_text.hpp"
#include "promwatch/time.hpp"

using namespace promwatch;
using namespace std::chrono_literals;

TEST(Labels, SortedUniqueAndEmptyValuesDropped) {
  Labels l{{"b", "2"}, {"a", "1"}, {"c", ""}, {"b", "3"}};
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l.items()[0].name, "a");
  EXPECT_EQ(l.get("b"), "3");  // the later duplicate wins
  EXPECT_FALSE(l.has("c"));
  l.set("a", "");
  EXPECT_FALSE(l.has("a"));
  l.set("0", "zero");
  EXPECT_EQ(l.items()[0].name, "0");
}

TEST(Labels, AddMissingKeepsOwnValues) {
  Labels l{{"cluster", "local"}, {"job", "x"}};
  l.add_missing(Labels{{"cluster", "prod"}, {"region", "hz"}});
  EXPECT_EQ(l.get("cluster"), "local");
  EXPECT_EQ(l.get("region"), "hz");
}

TEST(Labels, CopiesShareUntilOneChanges) {
  const Labels a{{"alertname", "X"}, {"instance", "a:1"}, {"job", "node"}};
  Labels b = a;
  EXPECT_EQ(b.items().data(), a.items().data());  // one vector
  // Mutations that change nothing keep sharing.
  b.set("job", "node");
  b.erase("absent");
  b.add_missing(Labels{{"job", "other"}});
  b.merge(a);
  b.merge(b);
  b.add_missing(b);
  EXPECT_EQ(b.items().data(), a.items().data());
  // A change copies first: the original is untouched.
  b.set("job", "api");
  EXPECT_NE(b.items().data(), a.items().data());
  EXPECT_EQ(a.get("job"), "node");
  EXPECT_EQ(b.get("job"), "api");
  EXPECT_NE(a, b);
  Labels c = a;
  c.add_missing(Labels{{"cluster", "prod"}});
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(c.size(), 4u);
  EXPECT_EQ(c.items().capacity(), 4u);  // grown to exactly what it holds
  c.erase("cluster");
  EXPECT_EQ(c, a);
  // Assignment, self-assignment and moves.
  Labels d;
  d = a;
  const Labels& same = d;
  d = same;
  EXPECT_EQ(d.items().data(), a.items().data());
  Labels e = std::move(d);
  EXPECT_EQ(e, a);
  EXPECT_TRUE(d.empty());  // moved-from is empty
  d.set("x", "1");
  EXPECT_EQ(d.size(), 1u);
  e = Labels{};
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(e, Labels{});
  EXPECT_EQ((Labels{{"a", ""}}), Labels{});
}

TEST(Labels, CopiesMayBeReadAndDroppedOnOtherThreads) {
  Labels original{{"alertname", "X"}, {"instance", "a:1"}};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([copy = original] {
      for (int i = 0; i < 1000; ++i) {
        Labels again = copy;
        if (again.get("alertname") != "X") std::abort();
      }
    });
  }
  for (auto& t : threads) t.join();
  original.set("instance", "a:2");  // ours alone again: changed in place
  EXPECT_EQ(original.get("instance"), "a:2");
}

TEST(SharedText, CopiesShareOneAllocation) {
  SharedText empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty, "");
  EXPECT_EQ(SharedText(""), empty);
  const std::string url = "http://promwatch:9097/#rule-g%2Fr";
  SharedText a = url;
  SharedText b = a;
  EXPECT_TRUE(b.shares_with(a));
  EXPECT_EQ(b, url);
  EXPECT_EQ(b.size(), url.size());
  EXPECT_EQ(std::string_view(b), url);
  EXPECT_EQ(b.str(), url);
  EXPECT_NE(b, "http://other");
  SharedText c = SharedText(url);  // same text, another allocation: still equal
  EXPECT_FALSE(c.shares_with(a));
  EXPECT_EQ(c, a);
  b = "x";
  EXPECT_EQ(a, url);
  EXPECT_EQ(b, "x");
  b = std::move(a);
  EXPECT_EQ(b, url);
  EXPECT_TRUE(a.empty());  // moved-from is empty
  b.clear();
  EXPECT_TRUE(b.empty());
  std::string assigned;
  assigned = c;  // std::string takes it as a string_view
  EXPECT_EQ(assigned, url);
}

TEST(Labels, FingerprintMatchesAlertmanager) {
  // FNV-1a offset basis for the empty set, as model.LabelSet{}.Fingerprint().
  EXPECT_EQ(Labels{}.fingerprint(), 14695981039346656037ull);
  // Order of construction does not matter.
  Labels a{{"alertname", "X"}, {"instance", "a:1"}};
  Labels b{{"instance", "a:1"}, {"alertname", "X"}};
  EXPECT_EQ(a.fingerprint(), b.fingerprint());
  EXPECT_NE(a.fingerprint(), (Labels{{"alertname", "X"}, {"instance", "a:2"}}).fingerprint());
  // The separator keeps {a="bc"} and {ab="c"} apart.
  EXPECT_NE((Labels{{"a", "bc"}}).fingerprint(), (Labels{{"ab", "c"}}).fingerprint());
  EXPECT_EQ(fingerprint_hex(0x1234), "0000000000001234");
}

TEST(Labels, ToStringQuotesLikeGo) {
  Labels l{{"a", "x\"y\n"}, {"b", "é"}};
  EXPECT_EQ(l.to_string(), "{a=\"x\\\"y\\n\", b=\"é\"}");
  EXPECT_EQ(go_quote(std::string("\xff", 1)), "\"\\xff\"");
}

TEST(Labels, ValidNames) {
  EXPECT_TRUE(is_valid_label_name("_a1"));
  EXPECT_FALSE(is_valid_label_name("1a"));
  EXPECT_FALSE(is_valid_label_name("a-b"));
  EXPECT_FALSE(is_valid_label_name(""));
}

TEST(Durations, ParsePrometheusSyntax) {
  EXPECT_EQ(parse_duration("1h30m"), Duration(90min));
  EXPECT_EQ(parse_duration("90s"), Duration(90s));
  EXPECT_EQ(parse_duration("500ms"), Duration(500ms));
  EXPECT_EQ(parse_duration("2d"), Duration(48h));
  EXPECT_EQ(parse_duration("1w"), Duration(168h));
  EXPECT_EQ(parse_duration("1y"), Duration(365 * 24h));
  EXPECT_EQ(parse_duration("0"), Duration(0));
  EXPECT_EQ(parse_duration("0s"), Duration(0));
  EXPECT_EQ(parse_duration("1m1s500ms"), Duration(61500ms));
  for (const char* bad : {"", "1", "m", "1.5h", "30m1h", "1h1h", "-1m", "1 m", "5x", "1mss"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
}

TEST(Durations, FormatLikePrometheus) {
  EXPECT_EQ(format_duration(0ms), "0s");
  EXPECT_EQ(format_duration(90min), "1h30m");
  EXPECT_EQ(format_duration(500ms), "500ms");
  EXPECT_EQ(format_duration(Duration(90 * 24h)), "90d");  // not 12w6d
  EXPECT_EQ(format_duration(Duration(14 * 24h)), "2w");
  EXPECT_EQ(format_duration(61500ms), "1m1s500ms");
}

TEST(Sizes, Parse) {
  EXPECT_EQ(parse_size("64MiB"), 64ull << 20);
  EXPECT_EQ(parse_size("64KiB"), 64ull << 10);
  EXPECT_EQ(parse_size("1000"), 1000u);
  EXPECT_EQ(parse_size("2KB"), 2000u);
  EXPECT_FALSE(parse_size("64XB"));
  EXPECT_FALSE(parse_size("MiB"));
  EXPECT_FALSE(parse_size("99999999999999999999"));
}

TEST(Times, Rfc3339RoundTrip) {
  TimePoint t{1435065584128ms};
  EXPECT_EQ(format_rfc3339(t), "2015-06-23T13:19:44.128Z");
  EXPECT_EQ(format_rfc3339(TimePoint{1435065584100ms}), "2015-06-23T13:19:44.1Z");
  EXPECT_EQ(format_rfc3339(TimePoint{1435065584000ms}), "2015-06-23T13:19:44Z");
  EXPECT_EQ(parse_time("2015-06-23T13:19:44.128Z"), t);
  EXPECT_EQ(parse_time("2015-06-23T21:19:44.128+08:00"), t);
  EXPECT_EQ(parse_time("1435065584.128"), t);
  EXPECT_EQ(parse_time("1435065584"), TimePoint{1435065584000ms});
  EXPECT_FALSE(parse_time("2015-13-01T00:00:00Z"));
  EXPECT_FALSE(parse_time("yesterday"));
  EXPECT_EQ(format_unix_seconds(t), "1435065584.128");
}

TEST(GoFloat, PercentV) {
  EXPECT_EQ(format_go_value(1234.5678), "1234.5678");
  EXPECT_EQ(format_go_value(1e6), "1e+06");
  EXPECT_EQ(format_go_value(123456), "123456");
  EXPECT_EQ(format_go_value(1234567), "1.234567e+06");
  EXPECT_EQ(format_go_value(0.0001), "0.0001");
  EXPECT_EQ(format_go_value(0.00001), "1e-05");
  EXPECT_EQ(format_go_value(0), "0");
  EXPECT_EQ(format_go_value(-2.5), "-2.5");
  EXPECT_EQ(format_go_value(1), "1");
  EXPECT_EQ(format_go_value(0.1), "0.1");
  EXPECT_EQ(format_go_value(std::nan("")), "NaN");
  EXPECT_EQ(format_go_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_go_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_go_value(1e21), "1e+21");
}

TEST(GoFloat, EAndF) {
  EXPECT_EQ(format_go_float(1, 'e'), "1e+00");
  EXPECT_EQ(format_go_float(1234.5, 'e'), "1.2345e+03");
  EXPECT_EQ(format_go_float(1e21, 'f'), "1000000000000000000000");
  EXPECT_EQ(format_go_float(0.000123, 'f'), "0.000123");
  EXPECT_EQ(format_go_float(12.5, 'f'), "12.5");
}

TEST(WallClockWatch, SeesStepsNotTheClocksRunningTogether) {
  using std::chrono::seconds;
  WallClockWatch watch(seconds(1));
  TimePoint wall = TimePoint(seconds(1'700'000'000));
  Duration boot = seconds(500);
  EXPECT_EQ(watch.observe(wall, boot), Duration::zero());  // anchors only
  // Both clocks advance 15 s: no step, however long the gap.
  EXPECT_EQ(watch.observe(wall + seconds(15), boot + seconds(15)), Duration::zero());
  // Reading jitter below the tolerance is not a step.
  EXPECT_EQ(watch.observe(wall + Duration(30'400), boot + seconds(30)), Duration::zero());
  // The wall clock jumps an hour forward while 1 s passes (measured from the last reading,
  // where the watch re-anchored: the 0.4 s of jitter is not counted twice).
  EXPECT_EQ(watch.observe(wall + Duration(3'631'400), boot + seconds(31)), seconds(3600));
  // ... and back by the same hour 1 s later: the watch re-anchored on the forward step.
  EXPECT_EQ(watch.observe(wall + Duration(32'400), boot + seconds(32)), -seconds(3600));
  // Suspend: the boot clock counts it, so the wall clock's advance is no step.
  EXPECT_EQ(watch.observe(wall + Duration(632'400), boot + seconds(632)), Duration::zero());
}

TEST(WallClockWatch, BootClockMovesWithTheWallClock) {
  Duration boot_before = boot_clock();
  TimePoint wall_before = now();
  EXPECT_GT(boot_before, Duration::zero());
  WallClockWatch watch;
  watch.observe(wall_before, boot_before);
  EXPECT_EQ(watch.observe(now(), boot_clock()), Duration::zero());
}
