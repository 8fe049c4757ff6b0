// parse_query_response / parse_range_response over every response shape a datasource sends.

#include "promwatch/query.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace promwatch {
namespace {

using namespace std::chrono_literals;

TEST(ParseQuery, Vector) {
  auto out = parse_query_response(R"({"status":"success","data":{"resultType":"vector","result":[
    {"metric":{"job":"node","__name__":"up","instance":"a:9100"},"value":[1700000000.123,"1"]},
    {"metric":{"instance":"b:9100","job":"node","__name__":"up"},"value":[1700000000.123,"0.5"]}]}})",
                                  200);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.http_status, 200);
  ASSERT_EQ(out.result.samples.size(), 2u);
  const Sample& a = out.result.samples[0];
  EXPECT_EQ(a.labels, (Labels{{"__name__", "up"}, {"instance", "a:9100"}, {"job", "node"}}));
  EXPECT_EQ(a.labels.items().front().name, "__name__");  // sorted
  EXPECT_EQ(a.value, 1.0);
  EXPECT_EQ(out.result.samples[1].labels.get("instance"), "b:9100");
  EXPECT_EQ(out.result.samples[1].value, 0.5);
  EXPECT_TRUE(out.result.warnings.empty());
}

TEST(ParseQuery, EmptyVector) {
  auto out = parse_query_response(R"({"status":"success","data":{"resultType":"vector","result":[]}})", 200);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_TRUE(out.result.samples.empty());
}

TEST(ParseQuery, FieldOrderDoesNotMatter) {
  auto out = parse_query_response(
      R"({"data":{"result":[{"value":[1,"2"],"metric":{"b":"2","a":"1"}}],"resultType":"vector"},"status":"success"})", 200);
  ASSERT_TRUE(out.ok) << out.error;
  ASSERT_EQ(out.result.samples.size(), 1u);
  EXPECT_EQ(out.result.samples[0].labels, (Labels{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(out.result.samples[0].value, 2.0);
}

TEST(ParseQuery, EscapedLabelsAndUnicode) {
  auto out = parse_query_response(
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"path":"C:\\dir \"q\"\n","city":"\u676d\u5dde"},"value":[1,"3"]}]}})",
      200);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.result.samples[0].labels.get("path"), "C:\\dir \"q\"\n");
  EXPECT_EQ(out.result.samples[0].labels.get("city"), "杭州");
}

TEST(ParseQuery, Scalar) {
  auto out = parse_query_response(R"({"status":"success","data":{"resultType":"scalar","result":[1700000000,"42.5"]}})", 200);
  ASSERT_TRUE(out.ok) << out.error;
  ASSERT_EQ(out.result.samples.size(), 1u);
  EXPECT_TRUE(out.result.samples[0].labels.empty());
  EXPECT_EQ(out.result.samples[0].value, 42.5);
}

TEST(ParseQuery, ScalarBeforeResultType) {
  auto out = parse_query_response(R"({"status":"success","data":{"result":[1700000000,"-1e3"],"resultType":"scalar"}})", 200);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.result.samples.at(0).value, -1000.0);
}

TEST(ParseQuery, SpecialValues) {
  auto out = parse_query_response(R"({"status":"success","data":{"resultType":"vector","result":[
    {"metric":{"i":"1"},"value":[1,"NaN"]},
    {"metric":{"i":"2"},"value":[1,"+Inf"]},
    {"metric":{"i":"3"},"value":[1,"-Inf"]},
    {"metric":{"i":"4"},"value":[1,"1e+06"]},
    {"metric":{"i":"5"},"value":[1,"-0.000001"]}]}})",
                                  200);
  ASSERT_TRUE(out.ok) << out.error;
  ASSERT_EQ(out.result.samples.size(), 5u);
  EXPECT_TRUE(std::isnan(out.result.samples[0].value));
  EXPECT_EQ(out.result.samples[1].value, INFINITY);
  EXPECT_EQ(out.result.samples[2].value, -INFINITY);
  EXPECT_EQ(out.result.samples[3].value, 1e6);
  EXPECT_EQ(out.result.samples[4].value, -0.000001);
}

TEST(ParseQuery, ValueThatIsNotANumber) {
  for (std::string v : {"\"abc\"", "\"\"", "\"1.5x\"", "\"++1\"", "null", "true", "{}"}) {
    auto out = parse_query_response(
        R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,)" + v + "]}]}}", 200);
    EXPECT_FALSE(out.ok) << v;
    EXPECT_NE(out.error.find("not a number"), std::string::npos) << v << ": " << out.error;
  }
}

TEST(ParseQuery, LabelValueThatIsNotAString) {
  auto out = parse_query_response(
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":1},"value":[1,"1"]}]}})", 200);
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.error.find("label a"), std::string::npos) << out.error;
}

TEST(ParseQuery, MatrixIsUnsupported) {
  auto out = parse_query_response(
      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[[1,"1"],[2,"2"]]}]}})", 200);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.error, "unsupported result type matrix");
  // Even when result precedes resultType.
  out = parse_query_response(
      R"({"status":"success","data":{"result":[{"metric":{"a":"b"},"values":[[1,"1"]]}],"resultType":"matrix"}})", 200);
  EXPECT_EQ(out.error, "unsupported result type matrix");
}

TEST(ParseQuery, StringIsUnsupported) {
  auto out = parse_query_response(R"({"status":"success","data":{"resultType":"string","result":[1,"hello"]}})", 200);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.error, "unsupported result type string");
  out = parse_query_response(R"({"status":"success","data":{"result":[1,"hello"],"resultType":"string"}})", 200);
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.error.find("string"), std::string::npos) << out.error;
}

TEST(ParseQuery, NativeHistogramsAreSkippedAndCounted) {
  auto out = parse_query_response(R"({"status":"success","data":{"resultType":"vector","result":[
    {"metric":{"__name__":"h"},"histogram":[1,{"count":"10","sum":"3.5","buckets":[[0,"0.5","1","10"]]}]},
    {"metric":{"__name__":"f"},"value":[1,"7"]},
    {"metric":{"__name__":"h2"},"histogram":[1,{"count":"1","sum":"1"}]}]}})",
                                  200);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.result.skipped_histograms, 2);
  ASSERT_EQ(out.result.samples.size(), 1u);
  EXPECT_EQ(out.result.samples[0].labels.get("__name__"), "f");
}

TEST(ParseQuery, ErrorEnvelope) {
  auto out = parse_query_response(
      R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unexpected <EOF>"})", 400);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.http_status, 400);
  EXPECT_EQ(out.error, "bad_data: invalid parameter \"query\": 1:5: parse error: unexpected <EOF>");
  out = parse_query_response(R"({"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"})", 503);
  EXPECT_EQ(out.error, "timeout: query timed out in expression evaluation");
  out = parse_query_response(R"({"status":"error","errorType":"execution","error":"many-to-many matching not allowed","data":{"resultType":"","result":null}})", 422);
  EXPECT_EQ(out.error, "execution: many-to-many matching not allowed");
  // Even with HTTP 200, an error envelope is an error.
  out = parse_query_response(R"({"status":"error","error":"boom"})", 200);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.error, "boom");
}

TEST(ParseQuery, WarningsAndInfos) {
  auto out = parse_query_response(
      R"({"status":"success","warnings":["w1"],"infos":["i1"],"data":{"resultType":"vector","result":[]}})", 200);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.result.warnings, (std::vector<std::string>{"w1", "i1"}));
  out = parse_query_response(
      R"({"status":"success","data":{"resultType":"vector","result":[]},"warnings":["after data"]})", 200);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.result.warnings, (std::vector<std::string>{"after data"}));
}

TEST(ParseQuery, NotJson) {
  auto out = parse_query_response("hello world", 200);
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.error.find("invalid JSON"), std::string::npos) << out.error;
  EXPECT_NE(out.error.find("hello world"), std::string::npos) << out.error;
  out = parse_query_response("", 200);
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.error.find("empty body"), std::string::npos) << out.error;
  out = parse_query_response("[1,2]", 200);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.error, "response is not a JSON object");
}

TEST(ParseQuery, TruncatedJson) {
  std::string full =
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1,"1"]},{"metric":{"a":"c"},"value":[1,"2"]}]}})";
  for (std::size_t cut = 0; cut < full.size(); ++cut) {
    auto out = parse_query_response(std::string_view(full).substr(0, cut), 200);
    EXPECT_FALSE(out.ok) << "cut at " << cut;
    EXPECT_FALSE(out.error.empty()) << "cut at " << cut;
    EXPECT_TRUE(out.result.samples.empty());
  }
  EXPECT_TRUE(parse_query_response(full, 200).ok);
}

TEST(ParseQuery, TrailingGarbage) {
  auto out = parse_query_response(R"({"status":"success","data":{"resultType":"vector","result":[]}} xyz)", 200);
  EXPECT_FALSE(out.ok);
}

TEST(ParseQuery, HtmlErrorPage) {
  std::string page =
      "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
      "<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";
  auto out = parse_query_response(page, 502);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.http_status, 502);
  EXPECT_TRUE(out.error.starts_with("server returned HTTP status 502 Bad Gateway")) << out.error;
  EXPECT_NE(out.error.find("nginx/1.22.1"), std::string::npos) << out.error;
  EXPECT_EQ(out.error.find('<'), std::string::npos) << out.error;
  EXPECT_LT(out.error.size(), 220u);
}

TEST(ParseQuery, StatusWithoutBody) {
  auto out = parse_query_response("", 401);
  EXPECT_EQ(out.error, "server returned HTTP status 401 Unauthorized");
  out = parse_query_response("Unauthorized\n", 401);
  EXPECT_EQ(out.error, "server returned HTTP status 401 Unauthorized: Unauthorized");
  out = parse_query_response(std::string(5000, 'x'), 503);
  EXPECT_TRUE(out.error.starts_with("server returned HTTP status 503 Service Unavailable: xxx"));
  EXPECT_LT(out.error.size(), 200u);
  out = parse_query_response(R"({"message":"rate limited"})", 429);
  EXPECT_EQ(out.error, R"(server returned HTTP status 429 Too Many Requests: {"message":"rate limited"})");
  out = parse_query_response("", 599);
  EXPECT_EQ(out.error, "server returned HTTP status 599");
}

TEST(ParseQuery, SuccessEnvelopeWithErrorStatusIsAnError) {
  auto out = parse_query_response(R"({"status":"success","data":{"resultType":"vector","result":[]}})", 500);
  EXPECT_FALSE(out.ok);
  EXPECT_TRUE(out.error.starts_with("server returned HTTP status 500 Internal Server Error")) << out.error;
}

TEST(ParseQuery, WrongShapes) {
  const char* bodies[] = {
      R"({"status":"success"})",
      R"({"data":{"resultType":"vector","result":[]}})",
      R"({"status":"success","data":{"result":[]}})",
      R"({"status":"success","data":{"resultType":"vector"}})",
      R"({"status":"success","data":"x"})",
      R"({"status":"success","data":{"resultType":"vector","result":{}}})",
      R"({"status":"success","data":{"resultType":"vector","result":[1,"2"]}})",
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}})",
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1]}]}})",
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"2",3]}]}})",
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":[],"value":[1,"2"]}]}})",
      R"({"status":"success","data":{"resultType":"scalar","result":[]}})",
      R"({"status":"success","data":{"resultType":"weird","result":[]}})",
      R"({"status":"maybe","data":{"resultType":"vector","result":[]}})",
      R"({"status":7,"data":{"resultType":"vector","result":[]}})",
  };
  for (const char* body : bodies) {
    auto out = parse_query_response(body, 200);
    EXPECT_FALSE(out.ok) << body;
    EXPECT_FALSE(out.error.empty()) << body;
  }
}

TEST(ParseQuery, NullResultIsEmpty) {
  auto out = parse_query_response(R"({"status":"success","data":{"resultType":"vector","result":null}})", 200);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_TRUE(out.result.samples.empty());
}

TEST(ParseQuery, EmptyLabelValuesAreDropped) {
  auto out = parse_query_response(
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"","b":"x"},"value":[1,"1"]}]}})", 200);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.result.samples[0].labels, (Labels{{"b", "x"}}));
}

TEST(ParseQuery, LargeVector) {
  std::string body = R"({"status":"success","data":{"resultType":"vector","result":[)";
  constexpr int kSeries = 10000;
  for (int i = 0; i < kSeries; ++i) {
    if (i) body += ',';
    body += R"({"metric":{"__name__":"up","instance":"host)" + std::to_string(i) +
            R"(:9100","job":"node"},"value":[1700000000.5,")" + std::to_string(i) + R"("]})";
  }
  body += "]}}";
  auto out = parse_query_response(body, 200);
  ASSERT_TRUE(out.ok) << out.error;
  ASSERT_EQ(out.result.samples.size(), static_cast<std::size_t>(kSeries));
  EXPECT_EQ(out.result.samples[9999].value, 9999.0);
  EXPECT_EQ(out.result.samples[9999].labels.get("instance"), "host9999:9100");
}

TEST(ParseRange, Matrix) {
  auto out = parse_range_response(R"({"status":"success","data":{"resultType":"matrix","result":[
    {"metric":{"__name__":"up","job":"a"},"values":[[1700000000,"1"],[1700000060.5,"NaN"]]},
    {"metric":{"job":"b"},"values":[[1700000000,"0"]]}]}})",
                                  200);
  ASSERT_TRUE(out.ok) << out.error;
  ASSERT_EQ(out.series.size(), 2u);
  EXPECT_EQ(out.series[0].labels, (Labels{{"__name__", "up"}, {"job", "a"}}));
  ASSERT_EQ(out.series[0].points.size(), 2u);
  EXPECT_EQ(out.series[0].points[0].first.time_since_epoch(), 1700000000000ms);
  EXPECT_EQ(out.series[0].points[0].second, 1.0);
  EXPECT_EQ(out.series[0].points[1].first.time_since_epoch(), 1700000060500ms);
  EXPECT_TRUE(std::isnan(out.series[0].points[1].second));
  EXPECT_EQ(out.series[1].points.size(), 1u);
}

TEST(ParseRange, HistogramsSkipped) {
  auto out = parse_range_response(R"({"status":"success","data":{"resultType":"matrix","result":[
    {"metric":{"a":"h"},"histograms":[[1,{"count":"1"}],[2,{"count":"2"}]]},
    {"metric":{"a":"mixed"},"values":[[1,"1"]],"histograms":[[2,{"count":"2"}]]}]}})",
                                  200);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.skipped_histograms, 3);
  ASSERT_EQ(out.series.size(), 1u);
  EXPECT_EQ(out.series[0].labels.get("a"), "mixed");
}

TEST(ParseRange, OtherTypesAreErrors) {
  auto out = parse_range_response(R"({"status":"success","data":{"resultType":"vector","result":[]}})", 200);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.error, "unsupported result type vector (expected matrix)");
  out = parse_range_response(R"({"status":"error","errorType":"bad_data","error":"x"})", 400);
  EXPECT_EQ(out.error, "bad_data: x");
  out = parse_range_response("<html>oops</html>", 502);
  EXPECT_EQ(out.error, "server returned HTTP status 502 Bad Gateway: oops");
}

TEST(HttpStatusError, Text) {
  EXPECT_EQ(http_status_error(401), "server returned HTTP status 401 Unauthorized");
  EXPECT_EQ(http_status_error(429), "server returned HTTP status 429 Too Many Requests");
  EXPECT_EQ(http_status_error(299), "server returned HTTP status 299");
}

}  // namespace
}  // namespace promwatch
