// etcd's v3 JSON gateway: the bodies promwatch sends, the answers it reads, and the client that
// sends them. Facts of the format (checked against Debian's etcd 3.4): keys and values are
// base64, int64s are JSON strings, fields with their default value are left out (a `false`
// `succeeded`, a zero TTL), field names are the proto names (`create_revision`), unary errors
// are `{"error": "...", "code": N, "message": "..."}` with a matching HTTP status, and a stream
// (keep-alive) wraps each message as `{"result": ...}` or `{"error": {...}}`.

#include <nlohmann/json.hpp>

#include <charconv>

#include "promwatch/base64.hpp"
#include "promwatch/cluster.hpp"

namespace promwatch {
namespace {

using json = nlohmann::json;

// Parses a body, or the first line of it: a stream answer is newline-separated messages and
// promwatch sends one request message, so the first is the one.
std::optional<json> parse_json(std::string_view body, std::string* error) {
  std::size_t newline = body.find('\n');
  if (newline != std::string_view::npos && newline + 1 < body.size()) body = body.substr(0, newline);
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    *error = body.empty() ? "empty answer from etcd" : "etcd answered with something that is not a JSON object";
    return std::nullopt;
  }
  if (auto e = j.find("error"); e != j.end()) {
    if (e->is_string()) {
      *error = e->get<std::string>();
    } else if (e->is_object() && e->contains("message") && (*e)["message"].is_string()) {
      *error = (*e)["message"].get<std::string>();
    } else {
      *error = "etcd reported an error";
    }
    if (error->empty()) *error = "etcd reported an error";
    return std::nullopt;
  }
  return j;
}

// int64 fields: strings in proto3 JSON, numbers accepted too; absent means 0.
bool read_i64(const json& j, const char* name, std::int64_t& out) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    out = 0;
    return true;
  }
  if (it->is_number_integer()) {
    out = it->get<std::int64_t>();
    return true;
  }
  if (!it->is_string()) return false;
  const std::string& s = it->get_ref<const std::string&>();
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool read_b64(const json& j, const char* name, std::string& out) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    out.clear();
    return true;
  }
  if (!it->is_string()) return false;
  auto decoded = base64_decode(it->get_ref<const std::string&>());
  if (!decoded) return false;
  out = std::move(*decoded);
  return true;
}

std::optional<EtcdKeyValue> read_kv(const json& j) {
  if (!j.is_object()) return std::nullopt;
  EtcdKeyValue kv;
  if (!read_b64(j, "key", kv.key) || !read_b64(j, "value", kv.value) ||
      !read_i64(j, "create_revision", kv.create_revision) || !read_i64(j, "mod_revision", kv.mod_revision) ||
      !read_i64(j, "lease", kv.lease)) {
    return std::nullopt;
  }
  return kv;
}

std::int64_t header_revision(const json& j) {
  std::int64_t rev = 0;
  if (auto h = j.find("header"); h != j.end() && h->is_object()) read_i64(*h, "revision", rev);
  return rev;
}

std::optional<EtcdLease> read_lease(const json& j, std::string* error) {
  EtcdLease lease;
  if (!read_i64(j, "ID", lease.id) || !read_i64(j, "TTL", lease.ttl_seconds)) {
    *error = "etcd's lease answer has a malformed ID or TTL";
    return std::nullopt;
  }
  return lease;
}

// The key right after every key that starts with `prefix` (etcd's range_end for a prefix).
std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

std::string i64_text(std::int64_t v) { return std::to_string(v); }

std::string hex16(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

std::optional<EtcdLease> parse_etcd_lease_grant(std::string_view body, std::string* error) {
  auto j = parse_json(body, error);
  if (!j) return std::nullopt;
  auto lease = read_lease(*j, error);
  if (lease && lease->id == 0) {
    *error = "etcd granted no lease ID";
    return std::nullopt;
  }
  return lease;
}

std::optional<EtcdLease> parse_etcd_keepalive(std::string_view body, std::string* error) {
  auto j = parse_json(body, error);
  if (!j) return std::nullopt;
  auto result = j->find("result");
  if (result == j->end() || !result->is_object()) {
    *error = "etcd's keep-alive answer has no result";
    return std::nullopt;
  }
  return read_lease(*result, error);
}

std::optional<EtcdLeaderKey> parse_etcd_campaign(std::string_view body, std::string* error) {
  auto j = parse_json(body, error);
  if (!j) return std::nullopt;
  auto leader = j->find("leader");
  if (leader == j->end() || !leader->is_object()) {
    *error = "etcd's campaign answer has no leader key";
    return std::nullopt;
  }
  EtcdLeaderKey key;
  if (!read_b64(*leader, "name", key.name) || !read_b64(*leader, "key", key.key) ||
      !read_i64(*leader, "rev", key.rev) || !read_i64(*leader, "lease", key.lease) || key.key.empty()) {
    *error = "etcd's campaign answer has a malformed leader key";
    return std::nullopt;
  }
  return key;
}

std::optional<EtcdRange> parse_etcd_range(std::string_view body, std::string* error) {
  auto j = parse_json(body, error);
  if (!j) return std::nullopt;
  EtcdRange range;
  range.revision = header_revision(*j);
  if (auto kvs = j->find("kvs"); kvs != j->end()) {
    if (!kvs->is_array()) {
      *error = "etcd's range answer has a malformed kvs list";
      return std::nullopt;
    }
    for (const auto& item : *kvs) {
      auto kv = read_kv(item);
      if (!kv) {
        *error = "etcd's range answer has a malformed key";
        return std::nullopt;
      }
      range.kvs.push_back(std::move(*kv));
    }
  }
  return range;
}

std::optional<EtcdTxnResult> parse_etcd_txn(std::string_view body, std::string* error) {
  auto j = parse_json(body, error);
  if (!j) return std::nullopt;
  EtcdTxnResult result;
  result.revision = header_revision(*j);
  if (auto s = j->find("succeeded"); s != j->end()) {
    if (!s->is_boolean()) {
      *error = "etcd's transaction answer has a malformed succeeded field";
      return std::nullopt;
    }
    result.succeeded = s->get<bool>();
  }
  return result;
}

bool parse_etcd_ack(std::string_view body, std::string* error) { return parse_json(body, error).has_value(); }

std::string etcd_txn_body(const EtcdLeaderKey* leader, const std::vector<EtcdWrite>& writes) {
  json body = json::object();
  if (leader) {
    body["compare"] = json::array({json{{"key", base64_encode(leader->key)},
                                        {"result", "EQUAL"},
                                        {"target", "CREATE"},
                                        {"create_revision", i64_text(leader->rev)}}});
  }
  json ops = json::array();
  for (const auto& w : writes) {
    if (w.value) {
      ops.push_back(json{{"request_put", json{{"key", base64_encode(w.key)}, {"value", base64_encode(*w.value)}}}});
    } else {
      ops.push_back(json{{"request_delete_range", json{{"key", base64_encode(w.key)}}}});
    }
  }
  body["success"] = std::move(ops);
  return body.dump();
}

std::string etcd_range_body(std::string_view prefix, std::int64_t after_revision) {
  json body{{"key", base64_encode(prefix)}, {"range_end", base64_encode(prefix_end(prefix))}};
  if (after_revision > 0) body["min_mod_revision"] = i64_text(after_revision + 1);
  return body.dump();
}

std::string encode_log_entry(const NotificationLogEntry& entry) {
  json firing = json::array();
  for (auto fp : entry.firing) firing.push_back(hex16(fp));
  json resolved = json::array();
  for (auto fp : entry.resolved) resolved.push_back(hex16(fp));
  json j{{"receiver", entry.receiver},
         {"groupKey", entry.group_key},
         {"firing", std::move(firing)},
         {"resolved", std::move(resolved)},
         {"timestamp", static_cast<std::int64_t>(entry.timestamp.time_since_epoch().count())}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<NotificationLogEntry> decode_log_entry(std::string_view text, std::string* error) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  auto bad = [&](const char* what) {
    *error = std::string("notification log entry: ") + what;
    return std::nullopt;
  };
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  NotificationLogEntry e;
  auto str = [&](const char* name, std::string& out) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  if (!str("receiver", e.receiver) || !str("groupKey", e.group_key)) return bad("missing receiver or groupKey");
  auto fps = [&](const char* name, std::vector<std::uint64_t>& out) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_array()) return false;
    for (const auto& v : *it) {
      if (!v.is_string()) return false;
      const std::string& s = v.get_ref<const std::string&>();
      std::uint64_t fp = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), fp, 16);
      if (ec != std::errc() || end != s.data() + s.size()) return false;
      out.push_back(fp);
    }
    std::sort(out.begin(), out.end());
    return true;
  };
  if (!fps("firing", e.firing) || !fps("resolved", e.resolved)) return bad("malformed fingerprints");
  auto ts = j.find("timestamp");
  if (ts == j.end() || !ts->is_number_integer()) return bad("missing timestamp");
  e.timestamp = TimePoint{} + Duration(ts->get<std::int64_t>());
  return e;
}

// ---- EtcdClient ----

EtcdClient::EtcdClient(HttpClient& http, std::vector<std::string> endpoints, HttpEndpointConfig options)
    : http_(http), endpoints_(std::move(endpoints)), options_(std::move(options)), alive_(std::make_shared<bool>(true)) {
  for (auto& e : endpoints_) {
    while (!e.empty() && e.back() == '/') e.pop_back();
  }
}

std::string EtcdClient::current_endpoint() const {
  return endpoints_.empty() ? std::string() : redact_url(endpoints_[current_]);
}

void EtcdClient::post(std::string path, std::string body, Duration timeout,
                      std::function<void(EtcdAnswer<std::string>)> done) {
  if (endpoints_.empty()) {
    done(EtcdAnswer<std::string>{{}, "no etcd endpoints"});
    return;
  }
  const std::size_t endpoint = current_;
  HttpRequest request;
  request.method = "POST";
  request.url = endpoints_[endpoint] + path;
  request.headers = options_.headers;
  request.headers.emplace_back("Content-Type", "application/json");
  if (options_.authorization) request.headers.emplace_back("Authorization", options_.authorization->header_value());
  request.basic_auth = options_.basic_auth;
  request.tls = options_.tls;
  request.proxy_url = options_.proxy_url;
  request.body = std::move(body);
  request.timeout = timeout;
  request.max_response_bytes = 64u << 20;
  http_.send(std::move(request), [this, alive = std::weak_ptr<bool>(alive_), endpoint, done = std::move(done)](
                                     HttpResponse response) {
    if (alive.expired()) return;
    EtcdAnswer<std::string> answer;
    if (!response.error.empty() || response.status >= 500) {
      // This member is down or has no quorum: the next request tries the next one.
      if (endpoint == current_) current_ = (current_ + 1) % endpoints_.size();
    }
    if (!response.error.empty()) {
      answer.error = response.error;
    } else if (response.status < 200 || response.status >= 300) {
      std::string message;
      if (parse_json(response.body, &message)) message.clear();
      answer.error = "HTTP " + std::to_string(response.status) + (message.empty() ? "" : ": " + message);
    } else {
      answer.value = std::move(response.body);
    }
    done(std::move(answer));
  });
}

namespace {

// Turns a raw answer into a typed one with `parse`.
template <typename T, typename Parse>
std::function<void(EtcdAnswer<std::string>)> typed(EtcdClient::Done<T> done, Parse parse) {
  return [done = std::move(done), parse](EtcdAnswer<std::string> raw) {
    EtcdAnswer<T> answer;
    if (!raw.ok()) {
      answer.error = std::move(raw.error);
    } else if (auto v = parse(raw.value, &answer.error)) {
      answer.value = std::move(*v);
    } else if (answer.error.empty()) {
      answer.error = "etcd's answer could not be read";
    }
    done(std::move(answer));
  };
}

std::optional<bool> ack(std::string_view body, std::string* error) {
  if (!parse_etcd_ack(body, error)) return std::nullopt;
  return true;
}

}  // namespace

void EtcdClient::grant(Duration ttl, Done<EtcdLease> done) {
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(ttl).count();
  post("/v3/lease/grant", json{{"TTL", i64_text(seconds)}}.dump(), options_.timeout,
       typed<EtcdLease>(std::move(done), parse_etcd_lease_grant));
}

void EtcdClient::keepalive(std::int64_t lease, Done<EtcdLease> done) {
  post("/v3/lease/keepalive", json{{"ID", i64_text(lease)}}.dump(), options_.timeout,
       typed<EtcdLease>(std::move(done), parse_etcd_keepalive));
}

void EtcdClient::revoke(std::int64_t lease, Done<bool> done) {
  post("/v3/lease/revoke", json{{"ID", i64_text(lease)}}.dump(), options_.timeout, typed<bool>(std::move(done), ack));
}

void EtcdClient::campaign(std::string_view name, std::int64_t lease, std::string_view value, Duration timeout,
                          Done<EtcdLeaderKey> done) {
  json body{{"name", base64_encode(name)}, {"lease", i64_text(lease)}, {"value", base64_encode(value)}};
  post("/v3/election/campaign", body.dump(), timeout, typed<EtcdLeaderKey>(std::move(done), parse_etcd_campaign));
}

void EtcdClient::resign(const EtcdLeaderKey& leader, Done<bool> done) {
  json body{{"leader", json{{"name", base64_encode(leader.name)},
                            {"key", base64_encode(leader.key)},
                            {"rev", i64_text(leader.rev)},
                            {"lease", i64_text(leader.lease)}}}};
  post("/v3/election/resign", body.dump(), options_.timeout, typed<bool>(std::move(done), ack));
}

void EtcdClient::range(std::string_view prefix, std::int64_t after_revision, Done<EtcdRange> done) {
  post("/v3/kv/range", etcd_range_body(prefix, after_revision), options_.timeout,
       typed<EtcdRange>(std::move(done), parse_etcd_range));
}

void EtcdClient::txn(const EtcdLeaderKey* leader, const std::vector<EtcdWrite>& writes, Done<EtcdTxnResult> done) {
  post("/v3/kv/txn", etcd_txn_body(leader, writes), options_.timeout,
       typed<EtcdTxnResult>(std::move(done), parse_etcd_txn));
}

}  // namespace promwatch
