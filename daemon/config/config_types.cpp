// The small value helpers declared in config.hpp: positions, errors, URL redaction, the
// endpoint options put on a request.

#include <cctype>
#include <cstdlib>

#include "promwatch/base64.hpp"
#include "promwatch/config.hpp"

namespace promwatch {

std::string SourcePos::to_string() const {
  if (line <= 0) return file;
  std::string out = file + ":" + std::to_string(line);
  if (column > 0) out += ":" + std::to_string(column);
  return out;
}

std::string ConfigError::to_string() const { return pos.to_string() + ": " + message; }

std::string Authorization::header_value() const {
  // Alibaba Cloud V1 instances take the bare token as the whole header value.
  if (type == "raw") return credentials;
  return type + " " + credentials;
}

void apply_http_endpoint(HttpRequest& request, const HttpEndpointConfig& http) {
  for (const auto& [name, value] : http.headers) request.headers.emplace_back(name, value);
  if (http.authorization) request.headers.emplace_back("Authorization", http.authorization->header_value());
  request.basic_auth = http.basic_auth;
  request.tls = http.tls;
  request.proxy_url = http.proxy_url;
  request.follow_redirects = false;
}

namespace {

void scrub(std::string& text, std::string_view secret) {
  if (secret.size() < 4) return;  // too short to be a credential worth hiding; avoid mangling text
  for (std::size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos)) {
    text.replace(pos, secret.size(), "<secret>");
    pos += 8;
  }
}

}  // namespace

void scrub_http_secrets(std::string& text, const HttpEndpointConfig& http) {
  if (http.basic_auth) {
    // A peer that echoes the request (a debugging proxy, an error page) shows the encoded form.
    scrub(text, base64_encode(http.basic_auth->username + ":" + http.basic_auth->password));
    scrub(text, http.basic_auth->password);
  }
  if (http.authorization) scrub(text, http.authorization->credentials);
  for (const auto& h : http.headers) scrub(text, h.second);
}

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

std::string redact_url(std::string_view url) {
  // Tokens live in paths (Slack, Discord, Teams), queries (DingTalk, WeCom) and userinfo, so
  // only the scheme and the host survive. Anything unparseable is hidden entirely.
  const std::size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) return "…";
  std::string_view scheme = url.substr(0, sep);
  for (char c : scheme) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return "…";
  }
  std::string_view rest = url.substr(sep + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  return std::string(scheme) + "://" + std::string(authority) + "/…";
}

}  // namespace promwatch
