#include "http_api.hpp"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "api.hpp"
#include "promwatch/metrics.hpp"

namespace promwatch {

namespace {

ServerResponse api_error(int status, const std::string& type, const std::string& message) {
  // Prometheus's field order: status, errorType, error.
  nlohmann::ordered_json body;
  body["status"] = "error";
  body["errorType"] = type;
  body["error"] = message;
  return ServerResponse::json(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

ServerResponse alerts(DaemonView& daemon, const ServerRequest& request) {
  std::vector<std::vector<Matcher>> match;
  for (const auto& selector : request.query_params("match[]")) {
    std::string error;
    auto matchers = parse_selector(selector, &error);
    if (!matchers) return api_error(400, "bad_data", "invalid parameter \"match[]\": " + error);
    // As Prometheus's match[] everywhere: a selector that matches the empty label set is refused.
    bool non_empty = std::any_of(matchers->begin(), matchers->end(), [](const Matcher& m) { return !m.matches(Labels{}); });
    if (!non_empty) return api_error(400, "bad_data", "match[] must contain at least one non-empty matcher");
    match.push_back(std::move(*matchers));
  }
  return ServerResponse::json(200, render_alerts_json(daemon.rule_groups(), match));
}

ServerResponse rules(DaemonView& daemon, const ServerRequest& request) {
  RulesFilter filter;
  if (const auto* type = request.query_param("type")) {
    // Prometheus lower-cases the value and treats an empty one as absent.
    std::string t = *type;
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!t.empty() && t != "alert" && t != "record") {
      return api_error(400, "bad_data", "invalid parameter \"type\": not supported value \"" + t + "\"");
    }
    filter.type = t;
  }
  filter.rule_groups = request.query_params("rule_group[]");
  filter.rule_names = request.query_params("rule_name[]");
  filter.files = request.query_params("file[]");
  return ServerResponse::json(200, render_rules_json(daemon.rule_groups(), filter));
}

ServerResponse reload(DaemonView& daemon, const ServerRequest& request) {
  if (request.method != "POST" && request.method != "PUT") return ServerResponse::text(405, "use POST\n");
  if (!daemon.config().server.enable_lifecycle) {
    return ServerResponse::text(403, "lifecycle API is not enabled (server.enable_lifecycle = false)\n");
  }
  ServerResponse answer_later;
  answer_later.deferred = [&daemon](ServerResponder respond) {
    daemon.reload([respond = std::move(respond)](const std::string& errors) {
      respond(errors.empty() ? ServerResponse::text(200, "reloaded\n") : ServerResponse::text(400, errors));
    });
  };
  return answer_later;
}

// Enough for a few hundred alerts changing a few times in the window, small enough to render
// at every refresh.
constexpr std::size_t kStatusPageHistoryRows = 5000;

ServerResponse status_page(DaemonView& daemon, std::optional<std::vector<HistoryEntry>> history) {
  StatusPageInfo info;
  info.version = PROMWATCH_VERSION;
  info.datasource = redact_url(daemon.config().datasource.url);
  info.datasource_up = daemon.datasource_up();
  info.ready = daemon.ready();
  info.started_at = daemon.started_at();
  info.now = now();
  info.mute_status = [&daemon](const Alert& alert) { return daemon.mute_status(alert); };
  info.silences = daemon.silences();
  info.cluster = daemon.cluster_status();
  info.remote_write = daemon.remote_write_status();
  info.history = std::move(history);
  ServerResponse r;
  r.content_type = "text/html; charset=utf-8";
  r.body = render_status_page(daemon.rule_groups(), info);
  return r;
}

// The history is read on the store's worker: the page is rendered when it has arrived.
ServerResponse status_page(DaemonView& daemon) {
  ServerResponse answer_later;
  answer_later.deferred = [&daemon](ServerResponder respond) {
    auto shared = std::make_shared<ServerResponder>(std::move(respond));
    bool asked = daemon.recent_history(now() - StatusPageInfo{}.history_window, kStatusPageHistoryRows,
                                       [&daemon, shared](std::optional<std::vector<HistoryEntry>> history) {
                                         (*shared)(status_page(daemon, std::move(history)));
                                       });
    if (!asked) (*shared)(status_page(daemon, std::nullopt));
  };
  return answer_later;
}

}  // namespace

ServerResponse handle_http(DaemonView& daemon, const ServerRequest& request) {
  const std::string& path = request.path;
  bool get = request.method == "GET";
  if (path == "/healthz") return ServerResponse::text(200, "ok\n");
  if (path == "/readyz") return daemon.ready() ? ServerResponse::text(200, "ready\n") : ServerResponse::text(503, "not ready\n");
  if (path == "/-/reload") return reload(daemon, request);
  if (path.rfind("/api/v2/", 0) == 0) return daemon.alertmanager_api(request);
  if (!get) return ServerResponse::text(405, "method not allowed\n");
  if (path == "/api/v1/alerts/history") return daemon.alert_history(request);
  if (path == "/metrics") {
    ServerResponse r;
    r.content_type = std::string(Metrics::content_type);
    r.body = daemon.metrics_text();
    return r;
  }
  if (path == "/api/v1/alerts") return alerts(daemon, request);
  if (path == "/api/v1/rules") return rules(daemon, request);
  if (path == "/api/v1/status/cluster") return ServerResponse::json(200, render_cluster_json(daemon.cluster_status()));
  if (path == "/api/v1/heartbeats") return ServerResponse::json(200, render_heartbeats_json(daemon.rule_groups()));
  if (path == "/") return status_page(daemon);
  return ServerResponse::text(404, "not found\n");
}

}  // namespace promwatch
