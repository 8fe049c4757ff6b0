// `promwatch test-receiver`: one sample notification through the real receiver code path, so
// an operator can see the platform's own answer before trusting the configuration.

#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <openssl/evp.h>
#include <ostream>

#include "promwatch/app.hpp"
#include "promwatch/delivery.hpp"
#include "promwatch/http_client.hpp"

namespace promwatch {

namespace {

Notification sample_notification(const ReceiverConfig& receiver, const Config& config, bool resolved) {
  TimePoint t = now();
  Labels labels{{"alertname", "PromwatchTestNotification"}, {"severity", "info"}, {"instance", "promwatch"}};
  labels.add_missing(config.global.external_labels);
  Labels annotations{{"summary", "Test notification from promwatch"},
                     {"description", "Sent by `promwatch test-receiver` to check the receiver configuration."}};
  Notification n;
  n.receiver = receiver.name;
  n.group_labels = Labels{{"alertname", "PromwatchTestNotification"}};
  n.group_key = "{}:{alertname=\"PromwatchTestNotification\"}";
  n.group_interval = std::chrono::minutes(5);
  n.repeat_interval = std::chrono::hours(4);
  n.created_at = t;
  AlertEvent alert;
  alert.labels = labels;
  alert.annotations = annotations;
  alert.starts_at = t - std::chrono::minutes(5);
  alert.ends_at = resolved ? t : TimePoint{};
  alert.generator_url = config.global.external_url;
  n.common_labels = labels;
  n.common_annotations = annotations;
  n.external_url = config.global.external_url;
  n.alerts.push_back(NotifiedAlert{std::make_shared<const AlertEvent>(std::move(alert)), resolved});
  (resolved ? n.resolved : n.firing).push_back(labels.fingerprint());
  return n;
}

// Every secret of the receiver as it could come back in a platform's (or a proxy's) echo of
// the request: header values, credentials, the basic-auth pair in base64, the signing secret,
// the bot token, the type's own secrets, the URL and the values of its query parameters (DingTalk's access_token).
std::vector<std::string> receiver_secrets(const ReceiverConfig& r) {
  std::vector<std::string> secrets;
  for (const auto& [name, value] : r.http.headers) secrets.push_back(value);
  if (r.http.authorization) {
    secrets.push_back(r.http.authorization->credentials);
    secrets.push_back(r.http.authorization->header_value());
  }
  if (r.http.basic_auth) {
    secrets.push_back(r.http.basic_auth->password);
    std::string pair = r.http.basic_auth->username + ":" + r.http.basic_auth->password;
    std::string encoded(4 * ((pair.size() + 2) / 3), '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                            reinterpret_cast<const unsigned char*>(pair.data()), static_cast<int>(pair.size()));
    encoded.resize(static_cast<std::size_t>(std::max(n, 0)));
    secrets.push_back(encoded);
    // A quote cut short still leaks most of it.
    if (encoded.size() > 12) secrets.push_back(encoded.substr(0, encoded.size() - 4));
  }
  secrets.push_back(r.secret);
  secrets.push_back(r.bot_token);
  for (const auto& s : r.settings_secrets) secrets.push_back(s);  // the type's own (passwords, keys)
  secrets.push_back(r.url);
  if (auto q = r.url.find('?'); q != std::string::npos) {
    std::string query = r.url.substr(q + 1);
    std::size_t start = 0;
    while (start <= query.size()) {
      std::size_t end = query.find('&', start);
      std::string pair = query.substr(start, end == std::string::npos ? std::string::npos : end - start);
      if (auto eq = pair.find('='); eq != std::string::npos) secrets.push_back(pair.substr(eq + 1));
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  // Longest first, so a secret that contains another is replaced whole.
  std::sort(secrets.begin(), secrets.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  secrets.erase(std::remove_if(secrets.begin(), secrets.end(), [](const std::string& s) { return s.size() < 4; }),
                secrets.end());
  return secrets;
}

std::string scrub(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    for (std::size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos)) {
      text.replace(pos, secret.size(), "<secret>");
      pos += 8;
    }
  }
  return text;
}

}  // namespace

int run_test_receiver(const std::string& config_path, const std::string& name, bool resolved, std::ostream& out) {
  CompileResult result = compile_config(config_path);
  if (!result.compiled) {
    for (const auto& e : result.errors) out << e.to_string() << "\n";
    return kExitInvalidInput;
  }
  const Config& config = result.compiled->config;
  const ReceiverConfig* receiver_config = nullptr;
  ReceiverTemplates templates;
  for (std::size_t i = 0; i < config.receivers.size(); ++i) {
    if (config.receivers[i].name != name) continue;
    receiver_config = &config.receivers[i];
    templates = result.compiled->receiver_templates(i);
  }
  if (!receiver_config) {
    out << "no receiver named \"" << name << "\" in " << config_path << "\n";
    return kExitInvalidInput;
  }
  std::string error;
  auto receiver = make_receiver(*receiver_config, config.notify, templates, &error);
  if (!receiver) {
    out << error << "\n";
    return kExitInvalidInput;
  }
  std::vector<HttpRequest> requests = receiver->build_requests(sample_notification(*receiver_config, config, resolved), &error);
  if (requests.empty()) {
    out << "cannot build the message: " << error << "\n";
    return kExitRuntimeFailure;
  }
  const std::vector<std::string> secrets = receiver_secrets(*receiver_config);
  boost::asio::io_context io;
  HttpClient http(io);
  bool all_delivered = true;
  std::size_t index = 0;
  // Sent one after another, in order, as delivery does for a split message.
  std::function<void()> send_next = [&] {
    if (index == requests.size()) return;
    http.send(requests[index], [&](HttpResponse response) {
      DeliveryJudgement judgement = receiver->judge(response);
      response.body = scrub(std::move(response.body), secrets);
      response.error = scrub(std::move(response.error), secrets);
      judgement.reason = scrub(std::move(judgement.reason), secrets);
      out << "request " << (index + 1) << "/" << requests.size() << " to " << redact_url(requests[index].url) << ": ";
      if (!response.error.empty()) {
        out << response.error << "\n";
      } else {
        out << (requests[index].mail ? "SMTP " : "HTTP ") << response.status << "\n" << response.body
            << (response.body.empty() ? "" : "\n");
      }
      bool delivered = judgement.verdict == DeliveryVerdict::Delivered;
      out << (delivered ? "accepted" : "not accepted: " + judgement.reason) << "\n";
      all_delivered = all_delivered && delivered;
      ++index;
      if (delivered) send_next();
    });
  };
  send_next();
  io.run();
  return all_delivered && index == requests.size() ? kExitOk : kExitRuntimeFailure;
}

}  // namespace promwatch
