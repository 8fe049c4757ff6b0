// The etcd v3 JSON gateway's wire format as promwatch writes and reads it. The answers below
// are shaped as Debian's etcd 3.4.23 sends them (checked by hand against a running etcd):
// int64s as strings, keys and values in base64, default values left out.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "promwatch/base64.hpp"
#include "promwatch/cluster.hpp"

namespace promwatch {
namespace {

using json = nlohmann::json;

TEST(Base64, RoundTripsEveryLengthAndRejectsGarbage) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("promwatch/694d7b5a1c2f0a11"), "cHJvbXdhdGNoLzY5NGQ3YjVhMWMyZjBhMTE=");
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes);
  EXPECT_EQ(base64_decode("Zm8"), "fo");  // padding is optional
  EXPECT_FALSE(base64_decode("Zm9v!").has_value());
  EXPECT_FALSE(base64_decode("Z").has_value());
}

TEST(EtcdGateway, LeaseGrantReadsInt64Strings) {
  std::string error;
  auto lease = parse_etcd_lease_grant(
      R"({"header":{"cluster_id":"14841639068965178418","member_id":"10276657743932975437","revision":"1","raft_term":"2"},"ID":"7587873413478412292","TTL":"10"})",
      &error);
  ASSERT_TRUE(lease) << error;
  EXPECT_EQ(lease->id, 7587873413478412292);
  EXPECT_EQ(lease->ttl_seconds, 10);
  // A number where a string is expected is accepted too; garbage is not.
  lease = parse_etcd_lease_grant(R"({"ID":12,"TTL":3})", &error);
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->id, 12);
  EXPECT_FALSE(parse_etcd_lease_grant(R"({"ID":"12x","TTL":"3"})", &error));
  EXPECT_FALSE(parse_etcd_lease_grant(R"({"TTL":"3"})", &error));
  EXPECT_EQ(error, "etcd granted no lease ID");
  EXPECT_FALSE(parse_etcd_lease_grant("not json", &error));
  EXPECT_FALSE(parse_etcd_lease_grant("", &error));
  EXPECT_EQ(error, "empty answer from etcd");
}

TEST(EtcdGateway, ErrorAnswersCarryEtcdsMessage) {
  std::string error;
  EXPECT_FALSE(parse_etcd_lease_grant(
      R"({"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5})",
      &error));
  EXPECT_EQ(error, "etcdserver: requested lease not found");
  // Streams wrap their errors in an object.
  EXPECT_FALSE(parse_etcd_keepalive(
      R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}})",
      &error));
  EXPECT_EQ(error, "etcdserver: no leader");
  EXPECT_FALSE(parse_etcd_ack(R"({"error":""})", &error));
  EXPECT_EQ(error, "etcd reported an error");
}

TEST(EtcdGateway, KeepaliveIsWrappedAndTtlZeroMeansTheLeaseIsGone) {
  std::string error;
  auto alive = parse_etcd_keepalive(
      R"({"result":{"header":{"cluster_id":"1","member_id":"2","revision":"5","raft_term":"2"},"ID":"7587873413478412292","TTL":"10"}})",
      &error);
  ASSERT_TRUE(alive) << error;
  EXPECT_EQ(alive->ttl_seconds, 10);
  // etcd answers an expired lease with its ID and no TTL (proto3 leaves the zero out).
  auto gone = parse_etcd_keepalive(R"({"result":{"header":{"revision":"9"},"ID":"7587873413478412292"}})", &error);
  ASSERT_TRUE(gone) << error;
  EXPECT_EQ(gone->id, 7587873413478412292);
  EXPECT_EQ(gone->ttl_seconds, 0);
  // One request message, one answer line; a trailing newline is fine.
  EXPECT_TRUE(parse_etcd_keepalive("{\"result\":{\"ID\":\"1\",\"TTL\":\"4\"}}\n", &error));
  EXPECT_FALSE(parse_etcd_keepalive(R"({"ID":"1","TTL":"4"})", &error));
}

TEST(EtcdGateway, CampaignReturnsTheLeaderKeyDecoded) {
  std::string error;
  json answer{{"header", {{"revision", "17"}}},
              {"leader", {{"name", base64_encode("promwatch")},
                          {"key", base64_encode("promwatch/694d7b5a1c2f0a11")},
                          {"rev", "16"},
                          {"lease", "7587873413478412817"}}}};
  auto key = parse_etcd_campaign(answer.dump(), &error);
  ASSERT_TRUE(key) << error;
  EXPECT_EQ(key->name, "promwatch");
  EXPECT_EQ(key->key, "promwatch/694d7b5a1c2f0a11");
  EXPECT_EQ(key->rev, 16);
  EXPECT_EQ(key->lease, 7587873413478412817);
  EXPECT_FALSE(parse_etcd_campaign(R"({"leader":{"name":"cHJvbQ==","key":"***"}})", &error));
  EXPECT_FALSE(parse_etcd_campaign(R"({"header":{}})", &error));
}

TEST(EtcdGateway, RangeDecodesKeysValuesAndRevisions) {
  std::string error;
  json answer{{"header", {{"revision", "42"}}},
              {"kvs", json::array({json{{"key", base64_encode("promwatch/1")},
                                        {"create_revision", "3"},
                                        {"mod_revision", "3"},
                                        {"version", "1"},
                                        {"value", base64_encode("replica-a")},
                                        {"lease", "1"}},
                                   json{{"key", base64_encode("promwatch/2")},
                                        {"create_revision", "7"},
                                        {"mod_revision", "8"},
                                        {"value", base64_encode("replica-b")}}})},
              {"count", "2"}};
  auto range = parse_etcd_range(answer.dump(), &error);
  ASSERT_TRUE(range) << error;
  EXPECT_EQ(range->revision, 42);
  ASSERT_EQ(range->kvs.size(), 2u);
  EXPECT_EQ(range->kvs[0].value, "replica-a");
  EXPECT_EQ(range->kvs[1].key, "promwatch/2");
  EXPECT_EQ(range->kvs[1].mod_revision, 8);
  EXPECT_EQ(range->kvs[1].lease, 0);
  // No keys: etcd leaves kvs out.
  range = parse_etcd_range(R"({"header":{"revision":"42"}})", &error);
  ASSERT_TRUE(range);
  EXPECT_TRUE(range->kvs.empty());
  EXPECT_FALSE(parse_etcd_range(R"({"kvs":{}})", &error));
}

TEST(EtcdGateway, TxnSucceededIsLeftOutWhenFalse) {
  std::string error;
  auto ok = parse_etcd_txn(R"({"header":{"revision":"12"},"succeeded":true,"responses":[{"response_put":{}}]})", &error);
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->succeeded);
  EXPECT_EQ(ok->revision, 12);
  auto failed = parse_etcd_txn(R"({"header":{"revision":"12"}})", &error);
  ASSERT_TRUE(failed);
  EXPECT_FALSE(failed->succeeded);
}

TEST(EtcdGateway, GuardedTxnComparesTheLeaderKeysCreateRevision) {
  EtcdLeaderKey leader{"promwatch", "promwatch/694d7b5a1c2f0a11", 16, 99};
  json body = json::parse(etcd_txn_body(&leader, {EtcdWrite{"promwatch#state/nflog/x", std::string("{}")},
                                                  EtcdWrite{"promwatch#state/nflog/y", std::nullopt}}));
  ASSERT_EQ(body["compare"].size(), 1u);
  EXPECT_EQ(body["compare"][0]["key"], base64_encode("promwatch/694d7b5a1c2f0a11"));
  EXPECT_EQ(body["compare"][0]["target"], "CREATE");
  EXPECT_EQ(body["compare"][0]["result"], "EQUAL");
  EXPECT_EQ(body["compare"][0]["create_revision"], "16");
  ASSERT_EQ(body["success"].size(), 2u);
  EXPECT_EQ(body["success"][0]["request_put"]["key"], base64_encode("promwatch#state/nflog/x"));
  EXPECT_EQ(body["success"][0]["request_put"]["value"], base64_encode("{}"));
  EXPECT_EQ(body["success"][1]["request_delete_range"]["key"], base64_encode("promwatch#state/nflog/y"));
  // Without a leader key the writes are unconditional.
  EXPECT_FALSE(json::parse(etcd_txn_body(nullptr, {EtcdWrite{"k", std::string("v")}})).contains("compare"));
}

TEST(EtcdGateway, RangeBodyCoversThePrefixAndOnlyNewerKeys) {
  json all = json::parse(etcd_range_body("promwatch#state/", 0));
  EXPECT_EQ(base64_decode(all["key"].get<std::string>()), "promwatch#state/");
  EXPECT_EQ(base64_decode(all["range_end"].get<std::string>()), "promwatch#state0");
  EXPECT_FALSE(all.contains("min_mod_revision"));
  json newer = json::parse(etcd_range_body("promwatch/", 41));
  EXPECT_EQ(newer["min_mod_revision"], "42");
}

TEST(EtcdGateway, LogEntryRoundTrips) {
  NotificationLogEntry e;
  e.receiver = "ops \"pager\"";
  e.group_key = "{}/{severity=\"critical\"}:{alertname=\"Disk\\u00e9\"}";
  e.firing = {0xffffffffffffffffull, 1};
  e.resolved = {42};
  e.timestamp = TimePoint{} + std::chrono::milliseconds(1767225600123);
  std::string error;
  auto back = decode_log_entry(encode_log_entry(e), &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->receiver, e.receiver);
  EXPECT_EQ(back->group_key, e.group_key);
  EXPECT_EQ(back->firing, (std::vector<std::uint64_t>{1, 0xffffffffffffffffull}));  // sorted
  EXPECT_EQ(back->resolved, e.resolved);
  EXPECT_EQ(back->timestamp, e.timestamp);
  EXPECT_FALSE(decode_log_entry(R"({"receiver":"r","groupKey":"g","firing":["zz"],"resolved":[],"timestamp":1})", &error));
  EXPECT_FALSE(decode_log_entry("[]", &error));
}

}  // namespace
}  // namespace promwatch
